//! A small Bootstrap-Server and LwM2M Server written on `lwm2mc::coap::Endpoint<u8>`, for the
//! in-memory benchmarks (`bench_core`, `fleet`): no sockets, the caller carries datagrams
//! between a client and them and advances time by hand. Each instance is the server's side of
//! one client (the peer key is always 0), so a fleet holds one pair per client and no server
//! ever scans the state of the others. Included with `#[path]` (a file here is no example of
//! its own); each benchmark uses part of it.
#![allow(dead_code)]

use coap_lite::Packet;
use lwm2mc::coap::{msg, Endpoint, ExchangeId, Incoming, TransmissionParams};
use lwm2mc::codec::tlv;
use lwm2mc::value::{Instances, Resources};
use lwm2mc::{Path, ResourceValue, Value};

/// Where the client thinks the servers are: only the port tells them apart.
pub const BS_PORT: u16 = 5783;
pub const DM_PORT: u16 = 5683;
/// The Short Server ID of the LwM2M Server account.
pub const SSID: u16 = 1;
/// Content-Format LwM2M TLV (11542).
pub const TLV: u16 = 11542;

pub fn uri(port: u16) -> String {
    format!("coap://127.0.0.1:{port}")
}

pub fn request(code: u8, path: &str, format: Option<u16>, payload: &[u8]) -> Packet {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut p = msg::new_request(code, &segments, &[]);
    if let Some(cf) = format {
        msg::set_content_format(&mut p, cf);
    }
    p.payload = payload.to_vec();
    p
}

fn tlv_instance(oid: u16, iid: u16, values: Vec<(u16, Value)>) -> Vec<u8> {
    let mut r = Resources::new();
    for (rid, v) in values {
        r.insert(rid, ResourceValue::Single(v));
    }
    let mut i = Instances::new();
    i.insert(iid, r);
    tlv::encode(&Path::instance(oid, iid), &i).expect("TLV encodes")
}

/// Delete everything, one NoSec server account (Security /0/1, Server /1/0, lifetime
/// `lifetime_s`), Finish.
pub fn bootstrap_plan(lifetime_s: i64) -> Vec<Packet> {
    let security = tlv_instance(
        0,
        1,
        vec![
            (0, Value::String(uri(DM_PORT))),
            (1, Value::Boolean(false)),
            (2, Value::Integer(3)),
            (3, Value::Opaque(vec![])),
            (4, Value::Opaque(vec![])),
            (5, Value::Opaque(vec![])),
            (10, Value::Integer(i64::from(SSID))),
        ],
    );
    let server = tlv_instance(
        1,
        0,
        vec![
            (0, Value::Integer(i64::from(SSID))),
            (1, Value::Integer(lifetime_s)),
            (6, Value::Boolean(false)),
            (7, Value::String("U".into())),
        ],
    );
    vec![
        request(msg::DELETE, "/", None, &[]),
        request(msg::PUT, "/0/1", Some(TLV), &security),
        request(msg::PUT, "/1/0", Some(TLV), &server),
        request(msg::POST, "/bs", None, &[]),
    ]
}

pub fn params() -> TransmissionParams {
    TransmissionParams::default()
}

/// Answers Bootstrap-Request 2.04, then sends its plan one request at a time.
pub struct FakeBs {
    pub ep: Endpoint<u8>,
    plan: Vec<Packet>,
    next: usize,
    waiting: Option<ExchangeId>,
    /// Codes of the answers to the plan's requests.
    pub answers: Vec<u8>,
}

/// What both fake servers do with the client's datagrams and their own timers.
pub trait FakeServer {
    /// The server's CoAP endpoint (the client is peer 0).
    fn endpoint(&mut self) -> &mut Endpoint<u8>;
    /// One thing the endpoint surfaced.
    fn handle(&mut self, now: u64, incoming: Incoming<u8>);

    /// A datagram from the client.
    fn receive(&mut self, now: u64, data: &[u8]) {
        if let Some(inc) = self.endpoint().handle_datagram(now, 0, data) {
            self.handle(now, inc);
        }
    }

    /// Runs the endpoint's due timers.
    fn timeout(&mut self, now: u64) {
        for inc in self.endpoint().handle_timeout(now) {
            self.handle(now, inc);
        }
    }
}

impl FakeServer for FakeBs {
    fn endpoint(&mut self) -> &mut Endpoint<u8> {
        &mut self.ep
    }
    fn handle(&mut self, now: u64, incoming: Incoming<u8>) {
        FakeBs::handle(self, now, incoming)
    }
}

impl FakeServer for FakeDm {
    fn endpoint(&mut self) -> &mut Endpoint<u8> {
        &mut self.ep
    }
    fn handle(&mut self, now: u64, incoming: Incoming<u8>) {
        FakeDm::handle(self, now, incoming)
    }
}

impl FakeBs {
    /// A Bootstrap-Server whose plan writes a server account with lifetime `lifetime_s`.
    pub fn new(seed: u64, lifetime_s: i64) -> FakeBs {
        FakeBs {
            ep: Endpoint::new(seed, params()),
            plan: bootstrap_plan(lifetime_s),
            next: 0,
            waiting: None,
            answers: Vec::new(),
        }
    }

    /// Whether every request of the plan was sent and answered (or failed).
    pub fn done(&self) -> bool {
        self.next == self.plan.len() && self.waiting.is_none()
    }

    fn send_next(&mut self, now: u64) {
        if let Some(p) = self.plan.get(self.next).cloned() {
            self.next += 1;
            self.waiting = Some(self.ep.request(now, 0, p, true));
        }
    }

    fn handle(&mut self, now: u64, incoming: Incoming<u8>) {
        match incoming {
            Incoming::Request { request, .. } => {
                let bootstrap_request = msg::code_of(&request) == msg::POST
                    && msg::uri_path(&request).is_some_and(|p| p == ["bs"]);
                let code = if bootstrap_request {
                    msg::CHANGED
                } else {
                    msg::NOT_FOUND
                };
                self.ep.respond(now, 0, &request, msg::new_response(code));
                if bootstrap_request {
                    self.next = 0;
                    self.send_next(now);
                }
            }
            Incoming::Response { id, response, .. } if Some(id) == self.waiting => {
                self.answers.push(msg::code_of(&response));
                self.waiting = None;
                self.send_next(now);
            }
            Incoming::Failed { id, .. } if Some(id) == self.waiting => self.waiting = None,
            _ => {}
        }
    }
}

/// Answers Register 2.01 (Location /rd/1), Update 2.04, De-register 2.02; sends the requests
/// its owner makes and keeps the last answer.
pub struct FakeDm {
    pub ep: Endpoint<u8>,
    pub registers: usize,
    pub updates: usize,
    /// The last answer or notification: code, Content-Format, payload length, Observe.
    pub last: Option<(u8, Option<u16>, usize, Option<u32>)>,
    pub notifications: usize,
    /// Answers to this server's requests (notifications included), and requests that failed
    /// (RST or timeout).
    pub answered: usize,
    pub failed: usize,
}

impl FakeDm {
    pub fn new(seed: u64) -> FakeDm {
        FakeDm {
            ep: Endpoint::new(seed, params()),
            registers: 0,
            updates: 0,
            last: None,
            notifications: 0,
            answered: 0,
            failed: 0,
        }
    }

    fn handle(&mut self, now: u64, incoming: Incoming<u8>) {
        match incoming {
            Incoming::Request { request, .. } => {
                let path = msg::uri_path(&request).unwrap_or_default();
                let code = msg::code_of(&request);
                let response = match (code, path.as_slice()) {
                    (msg::POST, [rd]) if rd == "rd" => {
                        self.registers += 1;
                        let mut r = msg::new_response(msg::CREATED);
                        msg::add_location_path(&mut r, &["rd", "1"]);
                        r
                    }
                    (msg::POST, [rd, one]) if rd == "rd" && one == "1" => {
                        self.updates += 1;
                        msg::new_response(msg::CHANGED)
                    }
                    (msg::DELETE, [rd, one]) if rd == "rd" && one == "1" => {
                        msg::new_response(msg::DELETED)
                    }
                    _ => msg::new_response(msg::NOT_FOUND),
                };
                self.ep.respond(now, 0, &request, response);
            }
            Incoming::Response { response, .. } => {
                let observe = msg::observe(&response);
                if observe.is_some() {
                    self.notifications += 1;
                }
                self.answered += 1;
                self.last = Some((
                    msg::code_of(&response),
                    msg::content_format(&response),
                    response.payload.len(),
                    observe,
                ));
            }
            Incoming::Failed { .. } => {
                self.failed += 1;
                self.last = None;
            }
        }
    }
}
