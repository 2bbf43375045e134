//! The CoAP message layer as a sans-I/O state machine (RFC 7252 §4 and §5.3).
//!
//! It owns message IDs, tokens, CON retransmission, NSTART queueing, duplicate detection and the
//! empty ACK/RST replies. It never touches a socket or a clock: datagrams and the current time
//! (`now`, milliseconds from any fixed origin) come in, datagrams and deadlines go out.
//!
//! Choices where RFC 7252 leaves room, with the reason:
//! - Message IDs: one counter per peer, random start, +1 (wrapping) per message. A MID comes
//!   back after 65536 messages to the same peer; at LwM2M rates that is far beyond
//!   EXCHANGE_LIFETIME, which is all §4.4 asks.
//! - NSTART (§4.7) counts CON messages still awaiting their ACK; an empty ACK ends the
//!   "outstanding interaction", so the next queued request starts while the first one waits for
//!   its separate response. NON requests do not wait in the queue.
//! - A CON response we cannot match gets RST (§4.2 "lacks context", §5.3.2 calls this normal; it
//!   is also how RFC 7641 §3.6 tells a notifier we no longer observe). Unmatched NON responses
//!   are silently dropped (§4.3 allows both).
//! - A request carrying Observe=0 whose response carries Observe stays registered after the
//!   response, so later notifications with its token surface as further `Response`s with the
//!   same id until `cancel` (RFC 7641 §3.2); used by test servers that observe a client.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use coap_lite::{MessageType, Packet};

use super::dedup::{Lookup, SeenCache};
use super::exchange::{Exchange, Kind, State};
use super::msg;
use super::options::unrecognised_critical;
use super::params::TransmissionParams;
use super::wire::{self, Header, ACK, CON, NON, RST};
use crate::rng::Rng;

/// Identifies one outgoing request (or one message sent with [`Endpoint::send`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExchangeId(u64);

impl ExchangeId {
    /// The raw number, for logs and foreign-language handles.
    pub fn value(self) -> u64 {
        self.0
    }
}

/// Why an outgoing request or message failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No ACK after MAX_RETRANSMIT retransmissions, or no separate response within
    /// EXCHANGE_LIFETIME after the empty ACK (or after sending a NON request).
    Timeout,
    /// The peer answered with RST.
    Reset,
}

/// What the endpoint hands to the layer above.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming<P> {
    /// A new request (duplicates are answered from the cache and never surface again).
    Request { peer: P, request: Packet },
    /// The response to one of our requests (piggybacked, or separate: a separate CON response is
    /// ACKed by the endpoint itself).
    Response {
        peer: P,
        id: ExchangeId,
        response: Packet,
    },
    /// Our request got RST, or no ACK after MAX_RETRANSMIT retransmissions, or no separate
    /// response within EXCHANGE_LIFETIME after an empty ACK.
    Failed {
        peer: P,
        id: ExchangeId,
        reason: Failure,
    },
}

/// Per-peer state: message-ID counter, duplicate cache and NSTART queue.
#[derive(Debug, Clone)]
struct PeerState {
    next_mid: u16,
    /// A MID we allocated stays reserved until then (RFC 7252 §4.4); the entry is kept at least
    /// that long so the counter is not re-randomised onto a MID still in use.
    mid_hold_until: u64,
    seen: SeenCache,
    queue: VecDeque<u64>,
}

/// The CoAP message layer for any number of peers, identified by `P`.
#[derive(Debug, Clone)]
pub struct Endpoint<P> {
    params: TransmissionParams,
    rng: Rng,
    /// The latest `now` seen, for `cancel`, which starts queued requests but has no `now`.
    now: u64,
    next_id: u64,
    exchanges: BTreeMap<u64, Exchange<P>>,
    peers: BTreeMap<P, PeerState>,
    outbox: VecDeque<(P, Vec<u8>)>,
}

/// Serialises a packet we built. `to_bytes_unlimited` fails only if its own 4-byte header
/// buffer is too small, which it allocates itself; an empty result is never sent. Sizes are the
/// upper layers' business (block-wise), hence no 1280-byte limit here.
fn encode(packet: &Packet) -> Vec<u8> {
    packet.to_bytes_unlimited().unwrap_or_default()
}

impl<P: Copy + Ord + core::fmt::Debug> Endpoint<P> {
    pub fn new(seed: u64, params: TransmissionParams) -> Self {
        Endpoint {
            params,
            rng: Rng::new(seed),
            now: 0,
            next_id: 1,
            exchanges: BTreeMap::new(),
            peers: BTreeMap::new(),
            outbox: VecDeque::new(),
        }
    }

    pub fn params(&self) -> &TransmissionParams {
        &self.params
    }

    /// Sends a request. The caller fills code, options and payload; the endpoint sets type CON
    /// (NON if `confirmable` is false), a fresh message ID and a fresh random 8-byte token. With
    /// NSTART confirmable requests to `peer` already awaiting their ACK, it waits in a per-peer
    /// FIFO and is sent when one of them completes.
    pub fn request(
        &mut self,
        now: u64,
        peer: P,
        mut packet: Packet,
        confirmable: bool,
    ) -> ExchangeId {
        self.touch(now);
        let token = self.fresh_token(peer);
        packet.set_token(token.clone());
        let observe = msg::observe(&packet) == Some(0);
        self.enqueue(
            now,
            peer,
            packet,
            token,
            Kind::Request { observe },
            confirmable,
        )
    }

    /// Sends a message that expects no response, only an ACK if `confirmable` (e.g. an Observe
    /// notification; the caller sets its token). A CON one is retransmitted like a request and
    /// reports `Failed` on RST or timeout; a NON one reports `Failed{Reset}` if RST arrives within
    /// NON_LIFETIME. Success is silent. The token must be at most 8 bytes (RFC 7252 §3).
    pub fn send(&mut self, now: u64, peer: P, packet: Packet, confirmable: bool) -> ExchangeId {
        self.touch(now);
        let token = packet.get_token().to_vec();
        self.enqueue(now, peer, packet, token, Kind::Message, confirmable)
    }

    /// Cancels an outgoing request: no more retransmissions, and a later response is not
    /// surfaced (a CON one is answered with RST, see the module notes).
    pub fn cancel(&mut self, id: ExchangeId) {
        let Some(ex) = self.exchanges.remove(&id.0) else {
            return;
        };
        if let Some(p) = self.peers.get_mut(&ex.peer) {
            p.queue.retain(|q| *q != id.0);
        }
        self.start_queued(self.now, ex.peer);
    }

    /// Feeds a datagram received from `peer`.
    pub fn handle_datagram(&mut self, now: u64, peer: P, bytes: &[u8]) -> Option<Incoming<P>> {
        self.touch(now);
        // Short or wrong-version datagrams are silently ignored (RFC 7252 §3).
        let header = wire::read_header(bytes)?;
        if !wire::well_formed(&header, bytes) {
            self.reject(peer, &header);
            return None;
        }
        let Ok(packet) = Packet::from_bytes(bytes) else {
            self.reject(peer, &header);
            return None;
        };
        if header.code == 0 {
            return self.on_empty(now, peer, &header);
        }
        if msg::is_request_code(header.code) {
            // §4.2/§4.3: a request can only travel in CON or NON; in an ACK or RST it is
            // rejected, which for those types means silently ignored.
            return match header.ty {
                CON | NON => self.on_request(now, peer, &header, packet),
                _ => None,
            };
        }
        if msg::is_response_code(header.code) {
            return match header.ty {
                ACK => self.on_piggybacked(now, peer, &header, packet),
                CON | NON => self.on_separate(now, peer, &header, packet),
                _ => None,
            };
        }
        // §3 and §4.2: a code of a reserved class (1, 3, 6, 7) cannot be processed.
        self.reject(peer, &header);
        None
    }

    /// Answers a request that `handle_datagram` returned: to a CON with a piggybacked ACK
    /// (the request's MID and token), to a NON with a NON response (a new MID, the request's
    /// token). A CON answer is cached for duplicates for EXCHANGE_LIFETIME.
    pub fn respond(&mut self, now: u64, peer: P, request: &Packet, mut response: Packet) {
        self.touch(now);
        let token = request.get_token();
        if token.len() > 8 {
            return; // not a request we parsed; no valid response exists (§3)
        }
        response.set_token(token.to_vec());
        response.header.set_version(1);
        if request.header.get_type() == MessageType::Confirmable {
            // §5.2.1: piggybacked in the ACK, same Message ID.
            let mid = request.header.message_id;
            response.header.set_type(MessageType::Acknowledgement);
            response.header.message_id = mid;
            let bytes = encode(&response);
            let expires = now.saturating_add(self.params.exchange_lifetime_ms());
            self.peer_mut(peer)
                .seen
                .set_reply(mid, expires, bytes.clone());
            self.push(peer, bytes);
        } else {
            // §5.2.3: a NON request is answered by a NON response with a fresh Message ID.
            response.header.set_type(MessageType::NonConfirmable);
            response.header.message_id = self.alloc_mid(now, peer);
            let bytes = encode(&response);
            self.push(peer, bytes);
        }
    }

    /// Runs due retransmissions and deadlines; returns the failures.
    pub fn handle_timeout(&mut self, now: u64) -> Vec<Incoming<P>> {
        self.touch(now);
        let mut failed = Vec::new();
        let due: Vec<u64> = self
            .exchanges
            .iter()
            .filter(|(_, e)| e.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(f) = self.expire_exchange(now, id) {
                failed.push(f);
            }
        }
        self.collect_garbage(now);
        failed
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<(P, Vec<u8>)> {
        self.outbox.pop_front()
    }

    /// The earliest time `handle_timeout` must be called (a retransmission, a separate-response
    /// deadline or a duplicate-cache expiry), or `None` when nothing is pending.
    pub fn poll_timeout(&self) -> Option<u64> {
        let exchanges = self.exchanges.values().filter_map(Exchange::deadline).min();
        let caches = self
            .peers
            .values()
            .filter_map(|p| p.seen.next_expiry())
            .min();
        match (exchanges, caches) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops every piece of state for `peer` (e.g. its server account was removed): its
    /// requests vanish without a `Failed`, its duplicate cache and MID counter are forgotten.
    /// Datagrams already queued for sending stay queued, so that a final response (such as the
    /// 2.04 to Bootstrap-Finish) still goes out.
    pub fn forget_peer(&mut self, peer: P) {
        self.exchanges.retain(|_, e| e.peer != peer);
        self.peers.remove(&peer);
    }

    /// Requests to `peer` in flight or queued: queued, awaiting ACK, or awaiting a separate
    /// response. Established observations and NON messages without a response do not count.
    pub fn outstanding(&self, peer: P) -> usize {
        self.exchanges
            .values()
            .filter(|e| e.peer == peer)
            .filter(|e| match e.state {
                State::Queued(_) | State::AwaitAck { .. } => true,
                State::AwaitResponse { .. } => matches!(e.kind, Kind::Request { .. }),
                State::Observing => false,
            })
            .count()
    }

    // ----- outgoing -----

    fn enqueue(
        &mut self,
        now: u64,
        peer: P,
        packet: Packet,
        token: Vec<u8>,
        kind: Kind,
        confirmable: bool,
    ) -> ExchangeId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.exchanges.insert(
            id,
            Exchange {
                peer,
                token,
                kind,
                confirmable,
                state: State::Queued(packet),
            },
        );
        if confirmable {
            self.peer_mut(peer).queue.push_back(id);
            self.start_queued(now, peer);
        } else {
            self.start(now, id);
        }
        ExchangeId(id)
    }

    /// Starts queued CON messages for `peer` while fewer than NSTART await their ACK (§4.7).
    fn start_queued(&mut self, now: u64, peer: P) {
        loop {
            let in_flight = self
                .exchanges
                .values()
                .filter(|e| e.peer == peer && matches!(e.state, State::AwaitAck { .. }))
                .count();
            if in_flight >= self.params.effective_nstart() {
                return;
            }
            let Some(next) = self.peers.get_mut(&peer).and_then(|p| p.queue.pop_front()) else {
                return;
            };
            self.start(now, next);
        }
    }

    /// First transmission of a queued exchange.
    fn start(&mut self, now: u64, id: u64) {
        let Some((peer, confirmable, kind)) = self
            .exchanges
            .get(&id)
            .filter(|e| matches!(e.state, State::Queued(_)))
            .map(|e| (e.peer, e.confirmable, e.kind))
        else {
            return;
        };
        let mid = self.alloc_mid(now, peer);
        let initial = self.rng.range(
            self.params.ack_timeout_ms,
            self.params.max_initial_timeout_ms(),
        );
        let lifetime = match kind {
            Kind::Request { .. } => self.params.exchange_lifetime_ms(),
            Kind::Message => self.params.non_lifetime_ms(),
        };
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        let State::Queued(packet) = &mut ex.state else {
            return;
        };
        let mut packet = core::mem::take(packet);
        packet.header.set_version(1);
        packet.header.message_id = mid;
        packet.header.set_type(if confirmable {
            MessageType::Confirmable
        } else {
            MessageType::NonConfirmable
        });
        let bytes = encode(&packet);
        ex.state = if confirmable {
            // §4.2: the initial timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT × factor].
            State::AwaitAck {
                mid,
                bytes: bytes.clone(),
                sent: 1,
                interval: initial,
                deadline: now.saturating_add(initial),
            }
        } else {
            State::AwaitResponse {
                mid,
                deadline: now.saturating_add(lifetime),
            }
        };
        self.push(peer, bytes);
    }

    /// A deadline has passed: retransmit (§4.2, doubling the timeout) or give up.
    fn expire_exchange(&mut self, now: u64, id: u64) -> Option<Incoming<P>> {
        let max_retransmit = self.params.max_retransmit;
        let ex = self.exchanges.get_mut(&id)?;
        let peer = ex.peer;
        if let State::AwaitAck {
            bytes,
            sent,
            interval,
            deadline,
            ..
        } = &mut ex.state
        {
            // `sent - 1` retransmissions so far; MAX_RETRANSMIT of them are allowed.
            if *sent <= max_retransmit {
                *sent = sent.saturating_add(1);
                *interval = interval.saturating_mul(2);
                *deadline = now.saturating_add(*interval);
                let bytes = bytes.clone();
                self.push(peer, bytes);
                return None;
            }
        }
        let ex = self.exchanges.remove(&id)?;
        let was_awaiting_ack = matches!(ex.state, State::AwaitAck { .. });
        if was_awaiting_ack {
            self.start_queued(now, peer);
        }
        // A NON message that drew no RST within NON_LIFETIME simply went through.
        let silent = !was_awaiting_ack && ex.kind == Kind::Message;
        (!silent).then_some(Incoming::Failed {
            peer,
            id: ExchangeId(id),
            reason: Failure::Timeout,
        })
    }

    // ----- incoming -----

    fn on_empty(&mut self, now: u64, peer: P, header: &Header) -> Option<Incoming<P>> {
        match header.ty {
            // §4.2/§4.3: an Empty CON cannot be processed; the RST that answers it is the
            // "CoAP ping" reply.
            CON => self.push(peer, wire::empty(RST, header.mid).to_vec()),
            // §4.3: a NON "MUST NOT be Empty"; rejecting a NON may be silent.
            NON => {}
            ACK => {
                let id = self.find(|e| e.peer == peer && e.awaits_ack(header.mid))?;
                let lifetime = self.params.exchange_lifetime_ms();
                let ex = self.exchanges.get_mut(&id)?;
                match ex.kind {
                    Kind::Message => {
                        self.exchanges.remove(&id);
                    }
                    // §5.2.2: an empty ACK announces a separate response; wait for it for
                    // EXCHANGE_LIFETIME.
                    Kind::Request { .. } => {
                        ex.state = State::AwaitResponse {
                            mid: header.mid,
                            deadline: now.saturating_add(lifetime),
                        };
                    }
                }
                self.start_queued(now, peer);
            }
            _ => {
                let id = self.find(|e| e.peer == peer && e.resettable_by(header.mid))?;
                self.exchanges.remove(&id);
                self.start_queued(now, peer);
                return Some(Incoming::Failed {
                    peer,
                    id: ExchangeId(id),
                    reason: Failure::Reset,
                });
            }
        }
        None
    }

    fn on_request(
        &mut self,
        now: u64,
        peer: P,
        header: &Header,
        packet: Packet,
    ) -> Option<Incoming<P>> {
        if self.replay_duplicate(now, peer, header) {
            return None;
        }
        let expires = now.saturating_add(self.params.exchange_lifetime_ms());
        if unrecognised_critical(&packet).is_some() {
            if header.ty == CON {
                // §5.4.1: "Unrecognized options of class 'critical' that occur in a Confirmable
                // request MUST cause the return of a 4.02 (Bad Option) response."
                self.peer_mut(peer).seen.insert(header.mid, expires, None);
                self.respond(now, peer, &packet, msg::new_response(msg::BAD_OPTION));
            }
            // In a NON they "MUST cause the message to be rejected": silently here.
            return None;
        }
        self.peer_mut(peer).seen.insert(header.mid, expires, None);
        Some(Incoming::Request {
            peer,
            request: packet,
        })
    }

    fn on_piggybacked(
        &mut self,
        now: u64,
        peer: P,
        header: &Header,
        packet: Packet,
    ) -> Option<Incoming<P>> {
        let id = self.find(|e| {
            e.peer == peer && e.awaits_ack(header.mid) && matches!(e.kind, Kind::Request { .. })
        })?;
        let token_matches = self
            .exchanges
            .get(&id)
            .is_some_and(|e| e.token == packet.get_token());
        // §5.3.2: a piggybacked response must carry the request's token; §5.4.1: an ACK whose
        // response has an unrecognised critical option is rejected. Rejecting an ACK means
        // ignoring it (§4.2); the request keeps being retransmitted.
        if !token_matches || unrecognised_critical(&packet).is_some() {
            return None;
        }
        Some(self.complete(now, peer, id, packet))
    }

    fn on_separate(
        &mut self,
        now: u64,
        peer: P,
        header: &Header,
        packet: Packet,
    ) -> Option<Incoming<P>> {
        if self.replay_duplicate(now, peer, header) {
            return None;
        }
        let expires = now.saturating_add(self.params.exchange_lifetime_ms());
        let matched = self.find(|e| e.peer == peer && e.awaits_response(packet.get_token()));
        let acceptable = unrecognised_critical(&packet).is_none();
        match matched {
            Some(id) if acceptable => {
                if header.ty == CON {
                    // §5.2.2: a separate CON response is acknowledged with an empty ACK.
                    let ack = wire::empty(ACK, header.mid).to_vec();
                    self.peer_mut(peer)
                        .seen
                        .insert(header.mid, expires, Some(ack.clone()));
                    self.push(peer, ack);
                } else {
                    self.peer_mut(peer).seen.insert(header.mid, expires, None);
                }
                Some(self.complete(now, peer, id, packet))
            }
            _ => {
                if header.ty == CON {
                    // §4.2 and §5.4.1: reject with RST, and repeat the same RST to duplicates.
                    let rst = wire::empty(RST, header.mid).to_vec();
                    self.peer_mut(peer)
                        .seen
                        .insert(header.mid, expires, Some(rst.clone()));
                    self.push(peer, rst);
                }
                None
            }
        }
    }

    /// A response arrived for exchange `id`: surface it and end the exchange, unless it is an
    /// observation that continues (RFC 7641 §3.2: notifications carry Observe; a response
    /// without it, or an error, ends the observation).
    fn complete(&mut self, now: u64, peer: P, id: u64, response: Packet) -> Incoming<P> {
        if let Some(ex) = self.exchanges.get_mut(&id) {
            let continues = ex.kind == Kind::Request { observe: true }
                && msg::observe(&response).is_some()
                && msg::code_of(&response) >> 5 == 2;
            if continues {
                ex.state = State::Observing;
            } else {
                self.exchanges.remove(&id);
            }
        }
        self.start_queued(now, peer);
        Incoming::Response {
            peer,
            id: ExchangeId(id),
            response,
        }
    }

    /// §4.5: a CON or NON seen before within EXCHANGE_LIFETIME is not processed again; a CON
    /// duplicate gets the same reply as the first copy (none yet if the upper layer has not
    /// responded). Returns whether it was a duplicate.
    fn replay_duplicate(&mut self, now: u64, peer: P, header: &Header) -> bool {
        let Some(state) = self.peers.get(&peer) else {
            return false;
        };
        match state.seen.lookup(header.mid, now) {
            Lookup::New => false,
            Lookup::Duplicate(reply) => {
                if header.ty == CON {
                    if let Some(bytes) = reply.map(<[u8]>::to_vec) {
                        self.push(peer, bytes);
                    }
                }
                true
            }
        }
    }

    /// Rejects a message we cannot process: RST for a CON (§4.2), silence for the others (§4.3
    /// makes RST optional for NON; ACK and RST are rejected by ignoring them).
    fn reject(&mut self, peer: P, header: &Header) {
        if header.ty == CON {
            self.push(peer, wire::empty(RST, header.mid).to_vec());
        }
    }

    // ----- bookkeeping -----

    fn touch(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    fn push(&mut self, peer: P, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.outbox.push_back((peer, bytes));
        }
    }

    fn find(&self, pred: impl Fn(&Exchange<P>) -> bool) -> Option<u64> {
        self.exchanges
            .iter()
            .find(|(_, e)| pred(e))
            .map(|(id, _)| *id)
    }

    fn peer_mut(&mut self, peer: P) -> &mut PeerState {
        let rng = &mut self.rng;
        self.peers.entry(peer).or_insert_with(|| PeerState {
            // §4.4: start at a random MID so that a restarted endpoint is unlikely to reuse
            // IDs its peer still remembers.
            next_mid: rng.next_u64() as u16,
            mid_hold_until: 0,
            seen: SeenCache::default(),
            queue: VecDeque::new(),
        })
    }

    fn alloc_mid(&mut self, now: u64, peer: P) -> u16 {
        let hold = now.saturating_add(self.params.exchange_lifetime_ms());
        let state = self.peer_mut(peer);
        let mid = state.next_mid;
        state.next_mid = mid.wrapping_add(1);
        state.mid_hold_until = state.mid_hold_until.max(hold);
        mid
    }

    /// A fresh random 8-byte token, distinct from the tokens of this peer's live exchanges
    /// (§5.3.1). SplitMix64 never repeats within 2^64 draws, so the loop ends at once in
    /// practice; the bound only makes termination obvious.
    fn fresh_token(&mut self, peer: P) -> Vec<u8> {
        let mut token = self.rng.next_u64().to_be_bytes().to_vec();
        for _ in 0..16 {
            if !self
                .exchanges
                .values()
                .any(|e| e.peer == peer && e.token == token)
            {
                break;
            }
            token = self.rng.next_u64().to_be_bytes().to_vec();
        }
        token
    }

    /// Drops expired duplicate-cache entries and peers that hold nothing any more.
    fn collect_garbage(&mut self, now: u64) {
        let busy: alloc::collections::BTreeSet<P> =
            self.exchanges.values().map(|e| e.peer).collect();
        for state in self.peers.values_mut() {
            state.seen.expire(now);
        }
        self.peers.retain(|peer, s| {
            busy.contains(peer)
                || !s.seen.is_empty()
                || !s.queue.is_empty()
                || now < s.mid_hold_until
        });
    }
}

#[cfg(test)]
mod tests;
