//! Whole-`Client` harnesses: a client brought to an open bootstrap session (its
//! Bootstrap-Request answered 2.04) or to a registration with an LwM2M Server, then fed the
//! input as datagrams from that peer, interleaved with time steps.
//!
//! The harness is both servers' transport: it answers the client's own requests at once
//! (Bootstrap-Request 2.04, Register 2.01 with a Location-Path, Update 2.04, De-register 2.02)
//! so that the client stays in session / registered, and drops everything else it sends.
//!
//! Checked after every step:
//! - every datagram the client sends is a CoAP message we can parse;
//! - a confirmable request with a fresh message ID, sent while the peer is the client's
//!   Bootstrap-Server in session or a server it is registered with, is answered at once (an
//!   ACK, piggybacked or empty, or a RST with that message ID: RFC 7252 §4.2);
//! - after `handle_timeout(now)`, `poll_timeout()` is not at or before `now` (a host loop
//!   would spin);
//! - bootstrap target: until an `Event::Bootstrapped`, the committed store is exactly what it
//!   was when the session opened (Bootstrap-Server operations work on a staged copy).

use std::collections::{BTreeMap, BTreeSet};

use coap_lite::{CoapOption, MessageType, Packet};
use lwm2mc::accounts::factory;
use lwm2mc::coap::msg;
use lwm2mc::persist::MemoryStorage;
use lwm2mc::{Client, Config, Event, PeerId, Store};

use super::codecs::schema;
use super::input::Input;

pub const BS_PORT: u16 = 5783;
pub const DM_PORT: u16 = 5683;
pub const SSID: u16 = 101;

/// Frames per input: enough for long sessions, few enough to keep executions fast.
const MAX_FRAMES: usize = 256;

/// `LWM2MC_FUZZ_TRACE=1` prints every datagram (for reading a reproducer).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("LWM2MC_FUZZ_TRACE").is_some())
}

fn trace(now: u64, dir: &str, port: u16, bytes: &[u8]) {
    if tracing() {
        eprintln!("{now:>12} {dir} {port}: {}", lwm2mc::trace::describe(bytes));
    }
}

pub struct Sim {
    pub client: Client,
    pub now: u64,
    /// The port of every peer the client told us about, until its `PeerClosed`.
    ports: BTreeMap<PeerId, u16>,
    /// Bootstrap-Requests the harness answered 2.04.
    pub bootstrap_requests: u32,
    /// Registrations the harness handed out (`/rd/<n>`).
    registrations: u32,
    /// Message IDs the harness has sent to the client, per port.
    used_mids: BTreeSet<(u16, u16)>,
    /// MIDs of the ACK/RST datagrams the client sent during the last `pump`, per port.
    acked: BTreeSet<(u16, u16)>,
    next_mid: u16,
    pub events: Vec<Event>,
}

/// The store the client starts from: the standard objects, the fuzz object of the codec
/// harnesses (one resource of every type, single and multiple; instances 0 and 1 with values),
/// and the given accounts.
fn store(with_server: bool) -> Store {
    let mut s = Store::with_standard_objects();
    if let Some(def) = schema().def(super::codecs::FUZZ_OID) {
        s.define(def.clone(), true);
        let _ = s.set_instances(super::codecs::FUZZ_OID, super::seeds::every_type());
    }
    let _ = factory::add_bootstrap_account(&mut s, &format!("coap://127.0.0.1:{BS_PORT}"), 0);
    if with_server {
        let _ =
            factory::add_server_account(&mut s, SSID, &format!("coap://127.0.0.1:{DM_PORT}"), 60);
    }
    let _ = factory::add_device(&mut s, "ACME", "Fuzz-1", "0001");
    s
}

fn config() -> Config {
    let mut c = Config::new("fuzz-device");
    c.seed = 7;
    c
}

impl Sim {
    fn new(client: Client) -> Sim {
        Sim {
            client,
            now: 1_000,
            ports: BTreeMap::new(),
            bootstrap_requests: 0,
            registrations: 0,
            used_mids: BTreeSet::new(),
            acked: BTreeSet::new(),
            next_mid: 0x1000,
            events: Vec::new(),
        }
    }

    /// The peer the client knows for `port`, as a transport maps an incoming datagram.
    pub fn peer(&mut self, port: u16) -> Option<PeerId> {
        self.resolve();
        self.ports
            .iter()
            .find(|(_, p)| **p == port)
            .map(|(id, _)| *id)
    }

    fn port(&self, peer: PeerId) -> Option<u16> {
        self.ports.get(&peer).copied()
    }

    /// Learns the ports of new peers. Like `UdpClient`, a peer keeps its address until
    /// `Event::PeerClosed`, so that datagrams queued for it before (the 2.04 to a
    /// Bootstrap-Finish that removed the Bootstrap-Server account) still go out.
    fn resolve(&mut self) {
        for (id, info) in self.client.peers() {
            self.ports.entry(id).or_insert(info.uri.port);
        }
    }

    /// The harness's answer to one of the client's own requests, if it is one we answer.
    fn answer(&mut self, port: u16, request: &Packet) -> Option<Packet> {
        let path = msg::uri_path(request)?;
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let code = msg::code_of(request);
        let mut response = match (port, code, path.as_slice()) {
            (BS_PORT, msg::POST, ["bs"]) => {
                self.bootstrap_requests += 1;
                msg::new_response(msg::CHANGED)
            }
            (DM_PORT, msg::POST, ["rd"]) => {
                self.registrations += 1;
                let mut r = msg::new_response(msg::CREATED);
                let n = self.registrations.to_string();
                msg::add_location_path(&mut r, &["rd", &n]);
                r
            }
            (DM_PORT, msg::POST, ["rd", _]) => msg::new_response(msg::CHANGED),
            (DM_PORT, msg::DELETE, ["rd", _]) => msg::new_response(msg::DELETED),
            _ => return None,
        };
        response.set_token(request.get_token().to_vec());
        match request.header.get_type() {
            MessageType::Confirmable => {
                response.header.set_type(MessageType::Acknowledgement);
                response.header.message_id = request.header.message_id;
            }
            _ => {
                response.header.set_type(MessageType::NonConfirmable);
                response.header.message_id = self.fresh_mid();
            }
        }
        Some(response)
    }

    fn fresh_mid(&mut self) -> u16 {
        self.next_mid = self.next_mid.wrapping_add(1);
        self.next_mid
    }

    /// Moves datagrams until the client has nothing more to say: checks each, answers the
    /// client's own requests, records which MIDs it acknowledged.
    fn pump(&mut self) {
        self.acked.clear();
        for _ in 0..64 {
            self.resolve();
            let mut replies = Vec::new();
            while let Some(t) = self.client.poll_transmit() {
                let packet = match Packet::from_bytes(&t.data) {
                    Ok(p) => p,
                    Err(e) => panic!("client sent an unparsable datagram {:02x?}: {e:?}", t.data),
                };
                assert_eq!(t.data[0] >> 6, 1, "client sent CoAP version != 1");
                let Some(port) = self.port(t.peer) else {
                    continue;
                };
                trace(self.now, "client ->", port, &t.data);
                let ty = packet.header.get_type();
                if matches!(ty, MessageType::Acknowledgement | MessageType::Reset) {
                    self.acked.insert((port, packet.header.message_id));
                }
                let code = msg::code_of(&packet);
                if msg::is_request_code(code)
                    && matches!(ty, MessageType::Confirmable | MessageType::NonConfirmable)
                {
                    if let Some(r) = self.answer(port, &packet) {
                        replies.push((t.peer, r));
                    }
                }
            }
            while let Some(change) = self.client.poll_peer_change() {
                if let lwm2mc::PeerChange::Closed(peer) = change {
                    self.ports.remove(&peer);
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.events.push(e);
            }
            if replies.is_empty() {
                return;
            }
            for (peer, r) in replies {
                if let Ok(bytes) = r.to_bytes_unlimited() {
                    trace(self.now, "auto   ->", self.port(peer).unwrap_or(0), &bytes);
                    self.client.handle_datagram(self.now, peer, &bytes);
                }
            }
        }
    }

    fn timeout(&mut self) {
        self.client.handle_timeout(self.now);
        self.pump();
        if self.now < u64::MAX / 2 {
            if let Some(t) = self.client.poll_timeout() {
                assert!(
                    t > self.now,
                    "after handle_timeout({}) the next timeout is {t}, not in the future",
                    self.now
                );
            }
        }
    }

    /// Runs timers until `done` or `limit` steps passed.
    fn run_until(&mut self, limit: usize, done: impl Fn(&Sim) -> bool) -> bool {
        self.pump();
        for _ in 0..limit {
            if done(self) {
                return true;
            }
            let Some(t) = self.client.poll_timeout() else {
                return false;
            };
            self.now = self.now.max(t);
            self.timeout();
        }
        done(self)
    }

    /// Delivers a datagram from `port`'s peer. `fresh_con_mid` is the MID of a confirmable
    /// request we built, for the answered-at-once check.
    fn deliver(&mut self, port: u16, bytes: &[u8], fresh_con_mid: Option<u16>, must_answer: bool) {
        let Some(peer) = self.peer(port) else {
            return;
        };
        let seen_before = fresh_con_mid.is_some_and(|m| !self.used_mids.insert((port, m)));
        if fresh_con_mid.is_none() {
            if let [_, _, hi, lo, ..] = bytes {
                self.used_mids
                    .insert((port, u16::from_be_bytes([*hi, *lo])));
            }
        }
        trace(self.now, "fuzz   ->", port, bytes);
        self.client.handle_datagram(self.now, peer, bytes);
        self.pump();
        if let (Some(mid), false, true) = (fresh_con_mid, seen_before, must_answer) {
            assert!(
                self.acked.contains(&(port, mid)),
                "confirmable request MID {mid:#06x} from port {port} got no ACK or RST"
            );
        }
    }
}

// ---- building requests from the input ----

const CODES: [u8; 7] = [
    msg::GET,
    msg::PUT,
    msg::POST,
    msg::DELETE,
    msg::FETCH,
    msg::IPATCH,
    msg::GET,
];

pub const FORMATS: [u16; 11] = [0, 40, 42, 60, 110, 112, 11542, 11543, 1541, 1542, 1543];

fn segment(inp: &mut Input<'_>) -> Vec<u8> {
    let b = inp.u8();
    match b & 15 {
        0..=3 => (b & 3).to_string().into_bytes(),
        4 => super::codecs::FUZZ_OID.to_string().into_bytes(),
        5 => b"bs".to_vec(),
        6 => b"rd".to_vec(),
        7 => Vec::new(),
        8 => inp.u8().to_string().into_bytes(),
        9 => inp.u16().to_string().into_bytes(),
        10 => inp.chunk8().to_vec(),
        _ => (b >> 4).to_string().into_bytes(),
    }
}

fn format(inp: &mut Input<'_>) -> Option<u16> {
    let b = inp.u8();
    match b >> 4 {
        0..=10 => FORMATS.get(usize::from(b & 15) % FORMATS.len()).copied(),
        11 => Some(inp.u16()),
        _ => None,
    }
}

/// A request built from the input: method, type, MID (fresh or given), token, path, queries,
/// Content-Format, Accept, Observe and payload. Returns the datagram and whether it is a CON
/// with a fresh MID.
fn request(sim: &mut Sim, inp: &mut Input<'_>, op: u8) -> (Vec<u8>, Option<u16>) {
    let flags = inp.u8();
    let mut p = Packet::new();
    let code = match flags & 7 {
        7 => inp.u8(),
        n => CODES[usize::from(n)],
    };
    msg::set_code(&mut p, code);
    let confirmable = flags & 8 == 0;
    p.header.set_type(if confirmable {
        MessageType::Confirmable
    } else {
        MessageType::NonConfirmable
    });
    let given_mid = flags & 16 != 0;
    p.header.message_id = if given_mid {
        inp.u16()
    } else {
        sim.fresh_mid()
    };
    p.set_token(inp.token());
    for _ in 0..(op >> 5) % 6 {
        p.add_option(CoapOption::UriPath, segment(inp));
    }
    if flags & 32 != 0 {
        for _ in 0..1 + inp.u8() % 3 {
            p.add_option(CoapOption::UriQuery, inp.chunk8().to_vec());
        }
    }
    if flags & 64 != 0 {
        if let Some(cf) = format(inp) {
            msg::set_content_format(&mut p, cf);
        }
        if let Some(a) = format(inp) {
            msg::set_accept(&mut p, a);
        }
    }
    if flags & 128 != 0 {
        msg::set_observe(&mut p, u32::from(inp.u8() & 1));
    }
    p.payload = inp.chunk16().to_vec();
    // Unlimited: `to_bytes` refuses messages over 1280 bytes, which a peer may still send.
    match p.to_bytes_unlimited() {
        Ok(bytes) => {
            let fresh = (confirmable && !given_mid).then_some(p.header.message_id);
            (bytes, fresh)
        }
        Err(_) => (Vec::new(), None),
    }
}

/// Feeds the frames of `data` from `port`; `answered` says whether a CON from `port` must be
/// answered at once in the current state; `check` runs after every frame.
fn frames(
    sim: &mut Sim,
    data: &[u8],
    port: u16,
    answered: impl Fn(&Sim) -> bool,
    mut check: impl FnMut(&Sim),
) {
    let mut inp = Input::new(data);
    let mut n = 0;
    while !inp.is_empty() && n < MAX_FRAMES {
        n += 1;
        let op = inp.u8();
        match op & 7 {
            // A raw datagram.
            0 | 1 => {
                let bytes = inp.chunk16().to_vec();
                sim.deliver(port, &bytes, None, false);
            }
            // A well-formed request.
            2..=4 => {
                let (bytes, fresh) = request(sim, &mut inp, op);
                let must = answered(sim);
                sim.deliver(port, &bytes, fresh, must);
            }
            // The same, from the other server's port.
            5 => {
                let other = if port == BS_PORT { DM_PORT } else { BS_PORT };
                let (bytes, _) = request(sim, &mut inp, op);
                sim.deliver(other, &bytes, None, false);
            }
            // Time passes.
            6 => {
                let scale = [1u64, 100, 10_000, 1_000_000][usize::from(op >> 6)];
                sim.now = sim.now.saturating_add(u64::from(inp.u16()) * scale);
                sim.timeout();
            }
            // Straight to the next timer.
            _ => {
                if let Some(t) = sim.client.poll_timeout() {
                    sim.now = sim.now.max(t);
                }
                sim.timeout();
            }
        }
        check(sim);
    }
}

/// A client whose Bootstrap-Request has just been answered 2.04.
pub fn bootstrap_session() -> Sim {
    let client = Client::new(config(), store(false));
    let mut sim = Sim::new(client);
    sim.client.start(sim.now);
    let open = sim.run_until(20, |s| {
        s.bootstrap_requests > 0 && s.client.is_bootstrapping()
    });
    assert!(open, "the client did not start bootstrapping");
    sim
}

/// A client registered with the LwM2M Server on `DM_PORT`.
pub fn registered() -> Sim {
    let client = Client::with_storage(config(), store(true), Box::new(MemoryStorage::new()));
    let mut sim = Sim::new(client);
    sim.client.start(sim.now);
    let ok = sim.run_until(20, |s| s.client.registered_servers().contains(&SSID));
    assert!(ok, "the client did not register");
    sim
}

pub fn run_bootstrap(data: &[u8]) {
    let mut sim = bootstrap_session();
    bootstrap_frames(&mut sim, data);
}

/// The frames of `data` from the Bootstrap-Server, with the bootstrap target's checks.
pub fn bootstrap_frames(sim: &mut Sim, data: &[u8]) {
    let committed = sim.client.store().clone();
    let mut finished = false;
    frames(
        sim,
        data,
        BS_PORT,
        |s| s.client.is_bootstrapping(),
        |s| {
            finished = finished || s.events.iter().any(|e| matches!(e, Event::Bootstrapped));
            assert!(
                finished || *s.client.store() == committed,
                "the committed store changed without a successful Bootstrap-Finish"
            );
        },
    );
}

pub fn run_registered(data: &[u8]) {
    let mut sim = registered();
    frames(
        &mut sim,
        data,
        DM_PORT,
        |s| s.client.registered_servers().contains(&SSID),
        |_| {},
    );
}
