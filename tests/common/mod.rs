//! A deterministic network for driving a `Client` without sockets or sleeps: scripted
//! Bootstrap-Server and LwM2M Server built on the same sans-I/O CoAP endpoint, a hand-driven
//! clock, and an optional seeded loss/duplication model.
#![allow(dead_code)]

use std::collections::BTreeMap;

use coap_lite::{CoapOption, Packet};
use lwm2mc::accounts::factory;
use lwm2mc::coap::{msg, Endpoint, ExchangeId, Incoming, TransmissionParams};
use lwm2mc::codec::tlv;
use lwm2mc::rng::Rng;
use lwm2mc::value::{Instances, ResourceValue, Resources};
use lwm2mc::{Client, Config, Event, Path, PeerId, Store, Transmit, Value};

pub const BS_PORT: u16 = 5783;
pub const DM_PORT: u16 = 5683;
pub const DM2_PORT: u16 = 5693;

pub fn uri(port: u16) -> String {
    format!("coap://127.0.0.1:{port}")
}

/// A datagram seen on the simulated wire.
#[derive(Debug, Clone)]
pub struct Wire {
    pub at: u64,
    pub to_client: bool,
    pub port: u16,
    pub bytes: Vec<u8>,
}

/// One answered request as a server saw it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub request: String,
    pub code: u8,
    pub content_format: Option<u16>,
    pub payload: Vec<u8>,
    /// The Observe option: an Observe response or a notification.
    pub observe: Option<u32>,
    /// When it arrived (simulated ms).
    pub at: u64,
}

/// A scripted Bootstrap-Server: answers Bootstrap-Request 2.04, then sends its plan one request
/// at a time.
pub struct FakeBs {
    pub ep: Endpoint<u8>,
    pub plan: Vec<Packet>,
    next: usize,
    waiting: Option<ExchangeId>,
    pub answers: Vec<Answer>,
    pub requests_seen: Vec<String>,
    pub request_code: u8,
}

/// A scripted LwM2M Server: answers Register 2.01 (location /rd/N), Update 2.04 (4.04 once
/// `forget` was called), De-register 2.02; sends what the test queues.
pub struct FakeDm {
    pub ep: Endpoint<u8>,
    pub registers: Vec<Vec<String>>,
    pub updates: Vec<Vec<String>>,
    pub deregisters: usize,
    pub register_payloads: Vec<String>,
    pub location: Option<String>,
    pub forgotten: bool,
    pub refuse_register: Option<u8>,
    /// Send payloads received on `POST /dp`: (Content-Format, payload).
    pub sends: Vec<(Option<u16>, Vec<u8>)>,
    /// The code `POST /dp` is answered with (2.04 by default).
    pub send_answer: u8,
    pending: BTreeMap<ExchangeId, String>,
    pub answers: Vec<Answer>,
    count: u32,
    /// Block1 options of the requests received, as (NUM, M, SZX, payload length, Size1).
    pub block1_seen: Vec<(u32, bool, u8, usize, Option<u32>)>,
    /// The body of a request arriving in Block1 blocks, put together so far.
    block1_body: Vec<u8>,
    /// The block size this server asks for in its 2.31 (RFC 7959 §2.3), if smaller.
    pub block1_szx: Option<u8>,
    /// Files served to GET in Block2 blocks (a firmware file server), by path `a/b`.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Block2 of each file request: (NUM, SZX, whether Size2 was asked).
    pub file_gets: Vec<(u32, u8, bool)>,
    /// The ETag of the files served (changing it mid-download: another file).
    pub file_etag: Vec<u8>,
    /// The largest block this file server sends (SZX).
    pub file_szx: u8,
    /// From this block on, another ETag (the file was replaced mid-download).
    pub file_replaced_at: Option<u32>,
}

// Test fakes held in a map a few at a time: their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Server {
    Bs(FakeBs),
    Dm(FakeDm),
}

pub struct Net {
    pub client: Client,
    pub now: u64,
    pub servers: BTreeMap<u16, Server>,
    pub events: Vec<(u64, Event)>,
    pub wire: Vec<Wire>,
    rng: Rng,
    pub loss: u32,
    pub dup: u32,
    /// Ports the network delivers nothing to (a dead server).
    pub dead: Vec<u16>,
    /// Each datagram copy is delayed by a random 0..=delay_max ms, so copies can overtake each
    /// other and a retransmission can arrive after the next request.
    pub delay_max: u64,
    inflight: Vec<(u64, bool, u16, Vec<u8>)>,
    /// Whether the net takes the client's events after each step (an application that polls).
    pub poll_events: bool,
    /// Whether the client's datagrams are taken with `poll_transmit_into` into one reused
    /// buffer (`send_buf`) rather than with `poll_transmit`.
    pub reuse_buffer: bool,
    send_buf: Vec<u8>,
}

fn params() -> TransmissionParams {
    TransmissionParams::default()
}

impl FakeBs {
    pub fn new(seed: u64, plan: Vec<Packet>) -> FakeBs {
        FakeBs {
            ep: Endpoint::new(seed, params()),
            plan,
            next: 0,
            waiting: None,
            answers: vec![],
            requests_seen: vec![],
            request_code: msg::CHANGED,
        }
    }

    pub fn finished(&self) -> bool {
        self.next >= self.plan.len() && self.waiting.is_none() && !self.plan.is_empty()
    }

    /// Server-initiated bootstrap: start the plan without a Bootstrap-Request.
    pub fn push(&mut self, now: u64) {
        self.next = 0;
        self.send_next(now);
    }

    fn send_next(&mut self, now: u64) {
        if let Some(p) = self.plan.get(self.next).cloned() {
            self.next += 1;
            self.waiting = Some(self.ep.request(now, 0, p, true));
        }
    }

    fn on(&mut self, now: u64, inc: Incoming<u8>) {
        match inc {
            Incoming::Request { request, .. } => {
                self.requests_seen.push(lwm2mc::trace::describe(
                    &request.to_bytes().unwrap_or_default(),
                ));
                let mut resp = msg::new_response(self.request_code);
                resp.payload.clear();
                self.ep.respond(now, 0, &request, resp);
                if self.request_code == msg::CHANGED {
                    self.next = 0;
                    self.send_next(now);
                }
            }
            Incoming::Response { id, response, .. } if Some(id) == self.waiting => {
                let req = self
                    .plan
                    .get(self.next - 1)
                    .map(|p| lwm2mc::trace::describe(&p.to_bytes().unwrap_or_default()))
                    .unwrap_or_default();
                self.answers.push(Answer {
                    request: req,
                    code: msg::code_of(&response),
                    content_format: msg::content_format(&response),
                    payload: response.payload.clone(),
                    observe: msg::observe(&response),
                    at: now,
                });
                self.waiting = None;
                self.send_next(now);
            }
            Incoming::Failed { id, .. } if Some(id) == self.waiting => {
                self.waiting = None;
            }
            _ => {}
        }
    }
}

impl FakeDm {
    pub fn new(seed: u64) -> FakeDm {
        let mut ep = Endpoint::new(seed, params());
        ep.accept_block_responses(true); // block-wise answers are looked at one by one
        FakeDm {
            ep,
            registers: vec![],
            updates: vec![],
            deregisters: 0,
            register_payloads: vec![],
            location: None,
            forgotten: false,
            refuse_register: None,
            sends: vec![],
            send_answer: msg::CHANGED,
            pending: BTreeMap::new(),
            answers: vec![],
            count: 0,
            block1_seen: vec![],
            block1_body: vec![],
            block1_szx: None,
            files: BTreeMap::new(),
            file_gets: vec![],
            file_etag: vec![0xE7],
            file_szx: 6,
            file_replaced_at: None,
        }
    }

    /// The Block2 block a GET of a file asks for (RFC 7959 §2.4), with ETag and, when asked,
    /// Size2 (§4).
    fn serve_file(&mut self, request: &Packet, file: &[u8]) -> Packet {
        let asked = request
            .get_first_option(CoapOption::Block2)
            .map(|v| v.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b)))
            .unwrap_or(6);
        let (num, szx) = (asked >> 4, ((asked & 7) as u8).min(self.file_szx));
        let size2 = request.get_first_option(CoapOption::Size2).is_some();
        self.file_gets.push((num, szx, size2));
        let size = 16usize << szx;
        // A smaller size than asked keeps the asked offset (§2.4).
        let offset = (num as usize) * (16usize << (asked & 7));
        let end = (offset + size).min(file.len());
        let mut r = msg::new_response(msg::CONTENT);
        let mut etag = self.file_etag.clone();
        if self.file_replaced_at.is_some_and(|at| num >= at) {
            etag.push(1);
        }
        r.add_option(CoapOption::ETag, etag);
        let more = end < file.len();
        let value = (((offset / size) as u32) << 4) | (u32::from(more) << 3) | u32::from(szx);
        r.add_option(CoapOption::Block2, msg::encode_uint(value));
        if size2 {
            r.add_option(CoapOption::Size2, msg::encode_uint(file.len() as u32));
        }
        r.payload = file.get(offset..end).unwrap_or(&[]).to_vec();
        r
    }

    /// Puts a request in Block1 blocks together (RFC 7959 §2.3): `None` once a 2.31 went out
    /// for a block before the last, the whole request on the last block.
    fn reassemble(&mut self, now: u64, mut request: Packet) -> Option<Packet> {
        let value = request.get_first_option(CoapOption::Block1)?.clone();
        let v = value.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
        let (num, more, szx) = (v >> 4, v & 8 != 0, (v & 7) as u8);
        let size1 = msg::uint_option(&request, CoapOption::Size1);
        self.block1_seen
            .push((num, more, szx, request.payload.len(), size1));
        if num == 0 {
            self.block1_body.clear();
        }
        self.block1_body.extend_from_slice(&request.payload);
        if more {
            let szx = self.block1_szx.map_or(szx, |s| s.min(szx));
            let mut r = msg::new_response(msg::CONTINUE);
            r.add_option(
                CoapOption::Block1,
                msg::encode_uint((num << 4) | 8 | u32::from(szx)),
            );
            self.ep.respond(now, 0, &request, r);
            return None;
        }
        request.payload = std::mem::take(&mut self.block1_body);
        Some(request)
    }

    /// Queues a request to the registered client; its answer lands in `answers`.
    pub fn send(&mut self, now: u64, p: Packet) -> ExchangeId {
        let label = lwm2mc::trace::describe(&p.to_bytes().unwrap_or_default());
        let id = self.ep.request(now, 0, p, true);
        self.pending.insert(id, label);
        id
    }

    /// Stops listening to an observation: its next notification is answered with RST.
    pub fn forget(&mut self, id: ExchangeId) {
        self.ep.cancel(id);
        self.pending.remove(&id);
    }

    fn on(&mut self, now: u64, inc: Incoming<u8>) {
        match inc {
            Incoming::Request { request, .. } => {
                let request = match request.get_first_option(CoapOption::Block1) {
                    Some(_) => match self.reassemble(now, request) {
                        Some(whole) => whole,
                        None => return,
                    },
                    None => request,
                };
                let path = msg::uri_path(&request).unwrap_or_default();
                let q = msg::uri_query(&request).unwrap_or_default();
                let code = msg::code_of(&request);
                let file = self.files.get(&path.join("/")).cloned();
                let resp = if let (msg::GET, Some(file)) = (code, file) {
                    self.serve_file(&request, &file)
                } else if code == msg::POST && path == ["rd"] {
                    if let Some(c) = self.refuse_register {
                        msg::new_response(c)
                    } else {
                        self.count += 1;
                        self.registers.push(q);
                        self.register_payloads
                            .push(String::from_utf8_lossy(&request.payload).into_owned());
                        self.forgotten = false;
                        let loc = format!("{}", self.count);
                        self.location = Some(format!("/rd/{loc}"));
                        let mut r = msg::new_response(msg::CREATED);
                        msg::add_location_path(&mut r, &["rd", &loc]);
                        r
                    }
                } else if code == msg::POST && path == ["dp"] {
                    self.sends
                        .push((msg::content_format(&request), request.payload.clone()));
                    msg::new_response(self.send_answer)
                } else if Some(format!("/{}", path.join("/"))) == self.location {
                    if code == msg::POST && !self.forgotten {
                        self.updates.push(q);
                        msg::new_response(msg::CHANGED)
                    } else if code == msg::DELETE {
                        self.deregisters += 1;
                        self.location = None;
                        msg::new_response(msg::DELETED)
                    } else {
                        msg::new_response(msg::NOT_FOUND)
                    }
                } else {
                    msg::new_response(msg::NOT_FOUND)
                };
                self.ep.respond(now, 0, &request, resp);
            }
            Incoming::Response { id, response, .. } => {
                // An observation's exchange stays open for its notifications (RFC 7641 §3.2).
                let observing = msg::observe(&response).is_some();
                let label = match observing {
                    true => self.pending.get(&id).cloned(),
                    false => self.pending.remove(&id),
                };
                if let Some(label) = label {
                    self.answers.push(Answer {
                        request: label,
                        code: msg::code_of(&response),
                        content_format: msg::content_format(&response),
                        payload: response.payload.clone(),
                        observe: msg::observe(&response),
                        at: now,
                    });
                }
            }
            Incoming::Failed { id, .. } => {
                self.pending.remove(&id);
            }
        }
    }
}

impl Server {
    fn ep(&mut self) -> &mut Endpoint<u8> {
        match self {
            Server::Bs(b) => &mut b.ep,
            Server::Dm(d) => &mut d.ep,
        }
    }
    fn on(&mut self, now: u64, inc: Incoming<u8>) {
        match self {
            Server::Bs(b) => b.on(now, inc),
            Server::Dm(d) => d.on(now, inc),
        }
    }
}

impl Net {
    pub fn new(client: Client) -> Net {
        Net {
            client,
            now: 1_000,
            servers: BTreeMap::new(),
            events: vec![],
            wire: vec![],
            rng: Rng::new(99),
            loss: 0,
            dup: 0,
            dead: vec![],
            delay_max: 0,
            inflight: vec![],
            poll_events: true,
            reuse_buffer: false,
            send_buf: Vec::new(),
        }
    }

    /// The client's next datagram, taken the way `reuse_buffer` says.
    fn next_datagram(&mut self) -> Option<Transmit> {
        if !self.reuse_buffer {
            return self.client.poll_transmit();
        }
        let peer = self.client.poll_transmit_into(&mut self.send_buf)?;
        Some(Transmit {
            peer,
            data: self.send_buf.clone(),
        })
    }

    pub fn with_loss(mut self, seed: u64, loss_pct: u32, dup_pct: u32) -> Net {
        self.rng = Rng::new(seed);
        self.loss = loss_pct;
        self.dup = dup_pct;
        self
    }

    pub fn bs(&mut self) -> &mut FakeBs {
        match self.servers.get_mut(&BS_PORT) {
            Some(Server::Bs(b)) => b,
            _ => panic!("no bootstrap server"),
        }
    }

    pub fn dm(&mut self, port: u16) -> &mut FakeDm {
        match self.servers.get_mut(&port) {
            Some(Server::Dm(d)) => d,
            _ => panic!("no dm server on {port}"),
        }
    }

    fn peer_of(&self, port: u16) -> Option<PeerId> {
        self.client
            .peers()
            .find(|(_, i)| i.uri.port == port)
            .map(|(p, _)| p)
    }

    /// How many copies of a datagram the network delivers (0, 1 or 2).
    fn copies(&mut self) -> usize {
        if self.loss > 0 && self.rng.range(0, 99) < u64::from(self.loss) {
            return 0;
        }
        if self.dup > 0 && self.rng.range(0, 99) < u64::from(self.dup) {
            return 2;
        }
        1
    }

    /// Moves every queued datagram once; returns whether anything moved.
    fn shuttle(&mut self) -> bool {
        let mut moved = false;
        while let Some(t) = self.next_datagram() {
            moved = true;
            let Some(port) = self.client.peer_info(t.peer).map(|i| i.uri.port) else {
                continue;
            };
            self.wire.push(Wire {
                at: self.now,
                to_client: false,
                port,
                bytes: t.data.clone(),
            });
            if self.dead.contains(&port) {
                continue;
            }
            for _ in 0..self.copies() {
                let at = self.now + self.rng.range(0, self.delay_max);
                self.inflight.push((at, false, port, t.data.clone()));
            }
        }
        let ports: Vec<u16> = self.servers.keys().copied().collect();
        for port in ports {
            while let Some((_, data)) = self
                .servers
                .get_mut(&port)
                .and_then(|s| s.ep().poll_transmit())
            {
                moved = true;
                self.wire.push(Wire {
                    at: self.now,
                    to_client: true,
                    port,
                    bytes: data.clone(),
                });
                for _ in 0..self.copies() {
                    let at = self.now + self.rng.range(0, self.delay_max);
                    self.inflight.push((at, true, port, data.clone()));
                }
            }
        }
        // Deliver what is due, in arrival order.
        self.inflight.sort_by_key(|(at, ..)| *at);
        let due = self
            .inflight
            .iter()
            .take_while(|(at, ..)| *at <= self.now)
            .count();
        let batch: Vec<_> = self.inflight.drain(..due).collect();
        for (_, to_client, port, data) in batch {
            moved = true;
            let now = self.now;
            if to_client {
                if let Some(peer) = self.peer_of(port) {
                    self.client.handle_datagram(now, peer, &data);
                }
            } else if let Some(server) = self.servers.get_mut(&port) {
                if let Some(inc) = server.ep().handle_datagram(now, 0, &data) {
                    server.on(now, inc);
                }
            }
        }
        while let Some(e) = self.poll_events.then(|| self.client.poll_event()).flatten() {
            self.events.push((self.now, e));
        }
        moved
    }

    /// Runs until `done` holds or `limit_ms` of simulated time passed. Returns whether `done`.
    pub fn run_until(&mut self, limit_ms: u64, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        let end = self.now + limit_ms;
        loop {
            while self.shuttle() {}
            if done(self) {
                return true;
            }
            let mut next = self.client.poll_timeout();
            if let Some((at, ..)) = self.inflight.first() {
                next = Some(next.map_or(*at, |n| n.min(*at)));
            }
            for s in self.servers.values_mut() {
                if let Some(t) = s.ep().poll_timeout() {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            let Some(next) = next else { return false };
            if next > end {
                return false;
            }
            self.now = self.now.max(next);
            let now = self.now;
            self.client.handle_timeout(now);
            let ports: Vec<u16> = self.servers.keys().copied().collect();
            for port in ports {
                if let Some(server) = self.servers.get_mut(&port) {
                    for inc in server.ep().handle_timeout(now) {
                        server.on(now, inc);
                    }
                }
            }
        }
    }

    pub fn has_event(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(|(_, e)| f(e))
    }

    pub fn count_events(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| f(e)).count()
    }
}

// ---- building blocks ----

pub fn device(store: &mut Store) {
    factory::add_device(store, "ACME", "Sim-1", "0001").unwrap();
}

/// Factory state: only a Bootstrap-Server account.
pub fn factory_bs_only(hold_off_s: i64) -> Store {
    let mut s = Store::with_standard_objects();
    factory::add_bootstrap_account(&mut s, &uri(BS_PORT), hold_off_s).unwrap();
    device(&mut s);
    s
}

pub fn config(seed: u64) -> Config {
    let mut c = Config::new("sim-device");
    c.seed = seed;
    c
}

fn single(v: Value) -> ResourceValue {
    ResourceValue::Single(v)
}

/// TLV payload of a NoSec Security instance for an LwM2M Server.
pub fn security_tlv(iid: u16, port: u16, ssid: u16) -> Vec<u8> {
    let mut r = Resources::new();
    r.insert(0, single(Value::String(uri(port))));
    r.insert(1, single(Value::Boolean(false)));
    r.insert(2, single(Value::Integer(3)));
    r.insert(3, single(Value::Opaque(vec![])));
    r.insert(4, single(Value::Opaque(vec![])));
    r.insert(5, single(Value::Opaque(vec![])));
    r.insert(10, single(Value::Integer(i64::from(ssid))));
    let mut i = Instances::new();
    i.insert(iid, r);
    tlv::encode(&Path::instance(0, iid), &i).unwrap()
}

/// TLV payload of a Server instance.
pub fn server_tlv(iid: u16, ssid: u16, lifetime: i64) -> Vec<u8> {
    server_tlv_with(iid, ssid, lifetime, &[])
}

/// TLV payload of a Server instance with more resources (e.g. the 1.1 registration ones).
pub fn server_tlv_with(iid: u16, ssid: u16, lifetime: i64, more: &[(u16, Value)]) -> Vec<u8> {
    let mut r = Resources::new();
    r.insert(0, single(Value::Integer(i64::from(ssid))));
    r.insert(1, single(Value::Integer(lifetime)));
    r.insert(6, single(Value::Boolean(false)));
    r.insert(7, single(Value::String("U".into())));
    for (rid, v) in more {
        r.insert(*rid, single(v.clone()));
    }
    let mut i = Instances::new();
    i.insert(iid, r);
    tlv::encode(&Path::instance(1, iid), &i).unwrap()
}

pub fn put(path: &str, cf: u16, payload: Vec<u8>) -> Packet {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut p = msg::new_request(msg::PUT, &segs, &[]);
    msg::set_content_format(&mut p, cf);
    p.payload = payload;
    p
}

pub fn req(code: u8, path: &str) -> Packet {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    msg::new_request(code, &segs, &[])
}

pub fn get(path: &str, accept: Option<u16>) -> Packet {
    let mut p = req(msg::GET, path);
    if let Some(a) = accept {
        msg::set_accept(&mut p, a);
    }
    p
}

pub fn finish() -> Packet {
    req(msg::POST, "/bs")
}

/// The usual plan: delete everything, write one server account, finish.
pub fn standard_plan(ssid: u16, lifetime: i64) -> Vec<Packet> {
    vec![
        req(msg::DELETE, "/"),
        put("/0/1", 11542, security_tlv(1, DM_PORT, ssid)),
        put("/1/0", 11542, server_tlv(0, ssid, lifetime)),
        finish(),
    ]
}

/// A network with a BS (given plan) and a DM server, around a client with only a BS account.
pub fn bootstrap_net(seed: u64, plan: Vec<Packet>) -> Net {
    let client = Client::new(config(seed), factory_bs_only(0));
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(seed ^ 1, plan)));
    net.servers
        .insert(DM_PORT, Server::Dm(FakeDm::new(seed ^ 2)));
    net
}

pub fn registered(net: &mut Net) -> bool {
    net.has_event(|e| matches!(e, Event::Registered { .. }))
}

/// Wraps instance payloads (resource TLVs) in Object-Instance TLVs, for writes on `/O`.
pub fn object_tlv(instances: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (iid, body) in instances {
        tlv::write_entry(&mut out, tlv::TlvKind::ObjectInstance, *iid, body).unwrap();
    }
    out
}

/// A storage that loses power at its `cut_at`-th write: that write stores only half the data
/// (or nothing), and every later call fails, like a device that died mid-write.
#[derive(Clone)]
pub struct FaultyStorage {
    pub inner: std::sync::Arc<std::sync::Mutex<lwm2mc::persist::MemoryStorage>>,
    pub writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub cut_at: usize,
    pub half: bool,
}

impl FaultyStorage {
    pub fn new(cut_at: usize, half: bool) -> FaultyStorage {
        FaultyStorage {
            inner: Default::default(),
            writes: Default::default(),
            cut_at,
            half,
        }
    }
    fn dead(&self) -> bool {
        self.writes.load(std::sync::atomic::Ordering::SeqCst) > self.cut_at
    }
}

impl lwm2mc::persist::Storage for FaultyStorage {
    fn load(&mut self, key: &str) -> Result<Option<Vec<u8>>, lwm2mc::persist::StorageError> {
        if self.dead() {
            return Err(lwm2mc::persist::StorageError::Io("power cut".into()));
        }
        self.inner.lock().unwrap().load(key)
    }
    fn store(&mut self, key: &str, data: &[u8]) -> Result<(), lwm2mc::persist::StorageError> {
        let n = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n > self.cut_at {
            return Err(lwm2mc::persist::StorageError::Io("power cut".into()));
        }
        if n == self.cut_at {
            if self.half {
                let _ = self
                    .inner
                    .lock()
                    .unwrap()
                    .store(key, &data[..data.len() / 2]);
            }
            return Err(lwm2mc::persist::StorageError::Io("power cut".into()));
        }
        self.inner.lock().unwrap().store(key, data)
    }
    fn erase(&mut self, key: &str) -> Result<(), lwm2mc::persist::StorageError> {
        let n = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n >= self.cut_at {
            return Err(lwm2mc::persist::StorageError::Io("power cut".into()));
        }
        self.inner.lock().unwrap().erase(key)
    }
}

/// Sends one request from the LwM2M Server on DM_PORT and returns (code, format, payload).
pub fn ask(net: &mut Net, p: coap_lite::Packet) -> (u8, Option<u16>, Vec<u8>) {
    let before = net.dm(DM_PORT).answers.len();
    let now = net.now;
    net.dm(DM_PORT).send(now, p);
    assert!(net.run_until(60_000, |n| n.dm(DM_PORT).answers.len() > before));
    let a = net.dm(DM_PORT).answers.last().unwrap().clone();
    (a.code, a.content_format, a.payload)
}

/// A POST with an optional Content-Format.
pub fn post(path: &str, cf: Option<u16>, payload: &[u8]) -> Packet {
    let mut p = req(msg::POST, path);
    if let Some(cf) = cf {
        msg::set_content_format(&mut p, cf);
    }
    p.payload = payload.to_vec();
    p
}
