//! The CoAP message layer: one `Endpoint` (the one under test) talks to peer 0, a second,
//! well-behaved `Endpoint` that answers its requests, and to peers 1 and 2, which send whatever
//! the input says. The input also moves the clock, sends requests and messages, cancels them,
//! forgets peers, and drops, duplicates and reorders the datagrams between the two endpoints.
//!
//! Checked after every step: every datagram sent is a well-formed CoAP message; a response or
//! failure is reported only for an exchange that is still live (never twice, never after
//! `cancel` or `forget_peer`); after `handle_timeout(now)` no deadline is left at or before
//! `now` (a caller polling the timeout would otherwise spin).

use std::collections::{BTreeMap, BTreeSet};

use coap_lite::Packet;
use lwm2mc::coap::{msg, Endpoint, ExchangeId, Incoming, TransmissionParams};

use super::input::Input;

/// What the test knows of an exchange it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Live {
    Request { peer: u8, observe: bool },
    Message { peer: u8 },
}

struct World {
    now: u64,
    ep: Endpoint<u8>,
    /// Peer 0.
    mirror: Endpoint<u8>,
    /// Datagrams on the way from `ep` to peer 0 and back.
    to_mirror: Vec<Vec<u8>>,
    to_ep: Vec<Vec<u8>>,
    live: BTreeMap<ExchangeId, Live>,
    /// Requests `ep` surfaced and has not answered yet.
    unanswered: Vec<(u8, Packet)>,
    /// Ids the harness issued (to check that nothing unknown is reported).
    issued: BTreeSet<ExchangeId>,
}

/// Requests and messages per input: an LwM2M client has a handful open at a time, and the
/// endpoint's per-peer scans are linear in the number of exchanges.
const MAX_ISSUED: usize = 64;

/// Steps per input.
const MAX_STEPS: usize = 512;

const CODES: [u8; 6] = [
    msg::CONTENT,
    msg::CHANGED,
    msg::CREATED,
    msg::NOT_FOUND,
    msg::BAD_REQUEST,
    msg::DELETED,
];

fn params(inp: &mut Input<'_>) -> TransmissionParams {
    let b = inp.u8();
    TransmissionParams {
        // At least 1 ms: with 0 every retransmission would be due at once, for ever.
        ack_timeout_ms: 1 + u64::from(inp.u16()),
        ack_random_factor: (u64::from(b & 3) + 1, 1 + u64::from((b >> 2) & 1)),
        max_retransmit: u32::from((b >> 3) & 7),
        nstart: usize::from(b >> 6),
    }
}

/// A datagram `ep` sent must be one we can read back as a CoAP message.
fn check_datagram(bytes: &[u8]) {
    assert!(
        bytes.len() >= 4,
        "datagram shorter than a header: {bytes:02x?}"
    );
    assert_eq!(bytes[0] >> 6, 1, "datagram with version != 1: {bytes:02x?}");
    if let Err(e) = Packet::from_bytes(bytes) {
        panic!("endpoint sent an unparsable datagram {bytes:02x?}: {e:?}");
    }
}

impl World {
    /// Exchanges the endpoint has queued or in flight, over every peer.
    fn open(&self) -> usize {
        (0..3).map(|p| self.ep.outstanding(p)).sum()
    }

    fn drain(&mut self) {
        while let Some((peer, bytes)) = self.ep.poll_transmit() {
            check_datagram(&bytes);
            if peer == 0 {
                self.to_mirror.push(bytes);
            }
        }
        while let Some((_, bytes)) = self.mirror.poll_transmit() {
            self.to_ep.push(bytes);
        }
    }

    fn on_incoming(&mut self, inc: Incoming<u8>, inp: &mut Input<'_>) {
        match inc {
            Incoming::Request { peer, request } => {
                if inp.u8() & 1 == 0 {
                    let code = CODES[usize::from(inp.u8()) % CODES.len()];
                    self.ep
                        .respond(self.now, peer, &request, msg::new_response(code));
                } else {
                    self.unanswered.push((peer, request));
                }
            }
            Incoming::Response { peer, id, .. } => {
                assert!(self.issued.contains(&id), "response for unknown {id:?}");
                match self.live.get(&id) {
                    Some(Live::Request { peer: p, observe }) => {
                        assert_eq!(*p, peer, "response for {id:?} from another peer");
                        if !observe {
                            self.live.remove(&id);
                        }
                    }
                    other => panic!("response for {id:?} which is {other:?}"),
                }
            }
            Incoming::Failed { peer, id, .. } => {
                assert!(self.issued.contains(&id), "failure of unknown {id:?}");
                match self.live.remove(&id) {
                    Some(Live::Request { peer: p, .. } | Live::Message { peer: p }) => {
                        assert_eq!(p, peer, "failure of {id:?} from another peer");
                    }
                    None => panic!("failure of {id:?}, which was no longer live"),
                }
            }
        }
    }

    /// Peer 0 answers every request it gets, at once.
    fn mirror_receive(&mut self, bytes: &[u8], inp: &mut Input<'_>) {
        if let Some(Incoming::Request { peer, request }) =
            self.mirror.handle_datagram(self.now, 0, bytes)
        {
            let mut response = msg::new_response(CODES[usize::from(inp.u8()) % CODES.len()]);
            if msg::observe(&request) == Some(0) && inp.u8() & 1 == 0 {
                msg::set_observe(&mut response, 1);
            }
            self.mirror.respond(self.now, peer, &request, response);
        }
    }
}

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let p = params(&mut inp);
    let seed = u64::from(inp.u32());
    let mut w = World {
        now: u64::from(inp.u32()),
        ep: Endpoint::new(seed, p),
        mirror: Endpoint::new(seed ^ 0x5a5a, p),
        to_mirror: Vec::new(),
        to_ep: Vec::new(),
        live: BTreeMap::new(),
        unanswered: Vec::new(),
        issued: BTreeSet::new(),
    };
    let mut steps = 0;
    while !inp.is_empty() && steps < MAX_STEPS {
        steps += 1;
        let op = inp.u8();
        let peer = (op >> 4) % 3;
        let mut timed_out = false;
        match op & 0x0F {
            // Raw datagram from the peer the op names.
            0..=3 => {
                let bytes = inp.chunk8();
                if let Some(inc) = w.ep.handle_datagram(w.now, peer, bytes) {
                    w.on_incoming(inc, &mut inp);
                }
            }
            // Deliver (or duplicate) a datagram from peer 0 to the endpoint.
            4 => {
                if !w.to_ep.is_empty() {
                    let i = usize::from(inp.u8()) % w.to_ep.len();
                    let bytes = if op & 0x80 != 0 {
                        w.to_ep[i].clone()
                    } else {
                        w.to_ep.remove(i)
                    };
                    if let Some(inc) = w.ep.handle_datagram(w.now, 0, &bytes) {
                        w.on_incoming(inc, &mut inp);
                    }
                }
            }
            // Deliver (or duplicate) a datagram from the endpoint to peer 0.
            5 => {
                if !w.to_mirror.is_empty() {
                    let i = usize::from(inp.u8()) % w.to_mirror.len();
                    let bytes = if op & 0x80 != 0 {
                        w.to_mirror[i].clone()
                    } else {
                        w.to_mirror.remove(i)
                    };
                    w.mirror_receive(&bytes, &mut inp);
                }
            }
            // Time passes.
            6 | 7 => {
                let scale = [1u64, 100, 10_000, 1 << 30][usize::from(op >> 6)];
                w.now = w.now.saturating_add(u64::from(inp.u16()) * scale);
                for inc in w.ep.handle_timeout(w.now) {
                    w.on_incoming(inc, &mut inp);
                }
                for inc in w.mirror.handle_timeout(w.now) {
                    if let Incoming::Request { peer, request } = inc {
                        w.mirror
                            .respond(w.now, peer, &request, msg::new_response(msg::CONTENT));
                    }
                }
                timed_out = true;
            }
            // A request.
            8 | 9 if w.issued.len() < MAX_ISSUED => {
                let mut req = msg::new_request(msg::GET, &["3", "0"], &[]);
                let observe = op & 0x80 != 0;
                if observe {
                    msg::set_observe(&mut req, 0);
                }
                let id = w.ep.request(w.now, peer, req, op & 1 == 0);
                w.issued.insert(id);
                w.live.insert(id, Live::Request { peer, observe });
            }
            // A message without response (a notification), with a token from the input.
            10 if w.issued.len() < MAX_ISSUED => {
                let mut m = msg::new_response(msg::CONTENT);
                let token = inp.token();
                m.set_token(token);
                let id = w.ep.send(w.now, peer, m, op & 0x80 != 0);
                w.issued.insert(id);
                w.live.insert(id, Live::Message { peer });
            }
            // Cancel one of the live exchanges.
            11 => {
                if !w.live.is_empty() {
                    let i = usize::from(inp.u8()) % w.live.len();
                    if let Some(id) = w.live.keys().nth(i).copied() {
                        w.ep.cancel(id);
                        w.live.remove(&id);
                    }
                }
            }
            // Answer a request surfaced earlier.
            12 => {
                if !w.unanswered.is_empty() {
                    let i = usize::from(inp.u8()) % w.unanswered.len();
                    let (peer, request) = w.unanswered.remove(i);
                    w.ep.respond(w.now, peer, &request, msg::new_response(msg::CHANGED));
                }
            }
            // Forget a peer: its exchanges vanish without a report.
            13 => {
                w.ep.forget_peer(peer);
                w.live.retain(|_, l| match l {
                    Live::Request { peer: p, .. } | Live::Message { peer: p } => *p != peer,
                });
            }
            8..=10 => {}
            // A well-formed request from a raw peer, with the MID and token the input gives
            // (so that duplicates and token reuse are easy to reach).
            _ => {
                let mut req = msg::new_request(msg::GET, &["3", "0", "0"], &[]);
                req.header.message_id = inp.u16();
                req.set_token(inp.token());
                req.header.set_type(if op & 0x80 != 0 {
                    coap_lite::MessageType::NonConfirmable
                } else {
                    coap_lite::MessageType::Confirmable
                });
                if let Ok(bytes) = req.to_bytes_unlimited() {
                    if let Some(inc) = w.ep.handle_datagram(w.now, peer.max(1), &bytes) {
                        w.on_incoming(inc, &mut inp);
                    }
                }
            }
        }
        w.drain();
        if timed_out && w.now < u64::MAX / 2 {
            if let Some(t) = w.ep.poll_timeout() {
                assert!(
                    t > w.now,
                    "after handle_timeout({}) the next timeout is {t}, not in the future",
                    w.now
                );
            }
        }
    }
    let outstanding = w.open();
    assert!(
        outstanding <= w.live.len(),
        "{outstanding} exchanges outstanding, but only {} live",
        w.live.len()
    );
}
