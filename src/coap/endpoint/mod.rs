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
//!
//! Layout: the public surface and the shared plumbing live here; `outgoing` sends our requests
//! and messages (NSTART queue, CON retransmission), `incoming` handles received datagrams
//! (duplicates, ACK/RST, response matching), `peers` keeps the per-peer state (MID counter,
//! duplicate cache, queue). The exchange state itself is in `coap::exchange`, the duplicate cache
//! in `coap::dedup`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use core::borrow::Borrow;

use coap_lite::Packet;

use super::exchange::{Exchange, Kind, State};
use super::message::{option, Message, RequestRef};
use super::message_buf::MessageBuf;
use super::msg;
use super::params::TransmissionParams;
use super::wire::{self, ACK, CON, NON};
use crate::rng::Rng;

mod incoming;
mod outbox;
mod outgoing;
mod peers;

use outbox::Outbox;

use peers::PeerState;

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
    Request {
        /// Who sent it.
        peer: P,
        /// The request; answer it with [`Endpoint::respond`].
        request: Packet,
    },
    /// The response to one of our requests (piggybacked, or separate: a separate CON response is
    /// ACKed by the endpoint itself).
    Response {
        /// Who sent it.
        peer: P,
        /// The request it answers, as [`Endpoint::request`] returned it.
        id: ExchangeId,
        /// The response (for an observation, one notification).
        response: Packet,
    },
    /// Our request got RST, or no ACK after MAX_RETRANSMIT retransmissions, or no separate
    /// response within EXCHANGE_LIFETIME after an empty ACK.
    Failed {
        /// The peer the request or message was for.
        peer: P,
        /// The request or message, as [`Endpoint::request`] or [`Endpoint::send`] returned it.
        id: ExchangeId,
        /// RST or timeout.
        reason: Failure,
    },
}

/// The CoAP message layer for any number of peers, identified by `P`.
#[derive(Debug, Clone)]
pub struct Endpoint<P> {
    params: TransmissionParams,
    rng: Rng,
    /// The latest `now` seen, for `cancel`, which starts queued requests but has no `now`.
    now: u64,
    next_id: u64,
    /// Requests and CON messages in flight (NON messages are in `non_watch`), by an id that
    /// only grows (so each is appended); emptied back to no allocation in `collect_garbage`.
    /// A `VecMap`: a BTreeMap's first leaf was ~1.4 KB for one exchange (issue 15).
    exchanges: crate::vec_map::VecMap<u64, Exchange<P>>,
    peers: crate::vec_map::VecMap<P, PeerState>,
    /// Datagrams to send, oldest first, in one buffer reused from burst to burst.
    outbox: Outbox<P>,
    /// NON messages sent (notifications), each watched for an RST until NON_LIFETIME (RFC 7252
    /// §4.3), oldest first: they all live as long, so the front expires first. Kept apart
    /// from `exchanges` because an observed value changing every second keeps ~145 of them,
    /// which every `poll_timeout` and `handle_timeout` would otherwise walk (issue 15).
    non_watch: VecDeque<NonWatch<P>>,
    /// Responses in Block2 blocks (or with Block1) surface as they are: the layer above puts
    /// them together itself. Off by default, where such a response is rejected so that a
    /// fragment is never taken for the whole body.
    block_responses: bool,
}

/// What [`Endpoint::receive`] hands over: a request read in place, or anything else.
#[derive(Debug)]
pub(crate) enum Received<'a, P> {
    /// A new request (see [`Incoming::Request`]).
    Request { peer: P, request: Message<'a> },
    /// The response to one of our requests (see [`Incoming::Response`]).
    Response {
        peer: P,
        id: ExchangeId,
        response: Message<'a>,
    },
    /// A response or a failure, as `handle_datagram` gives them.
    Other(Incoming<P>),
}

/// The most NON messages watched for an RST at once. Past it the oldest watch ends early: an
/// RST to that message is then ignored, and the observation ends only when the server rejects
/// a later notification (RFC 7641 §3.6). 256 is over four minutes of one notification a
/// second, longer than NON_LIFETIME.
const MAX_NON_WATCHES: usize = 256;

/// A NON message waiting, until `until`, for an RST that would mean its peer rejects it.
#[derive(Debug, Clone)]
struct NonWatch<P> {
    id: u64,
    peer: P,
    mid: u16,
    until: u64,
}

/// What the endpoint fixes in a response's header: its type (ACK or NON), Message ID and the
/// request's token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a> {
    pub ty: u8,
    pub mid: u16,
    pub token: &'a [u8],
}

impl<P: Copy + Ord + core::fmt::Debug> Endpoint<P> {
    /// An endpoint with no peers yet. `seed` drives tokens, initial message IDs and
    /// retransmission jitter (see [`Rng`]); `params` are the RFC 7252 §4.8 parameters.
    pub fn new(seed: u64, params: TransmissionParams) -> Self {
        Endpoint {
            params,
            rng: Rng::new(seed),
            now: 0,
            next_id: 1,
            exchanges: Default::default(),
            peers: Default::default(),
            outbox: Outbox::default(),
            non_watch: VecDeque::new(),
            block_responses: false,
        }
    }

    /// The transmission parameters in use.
    pub fn params(&self) -> &TransmissionParams {
        &self.params
    }

    /// Sends a request. The caller fills code, options and payload; the endpoint sets type CON
    /// (NON if `confirmable` is false), a fresh message ID and a fresh random 8-byte token. With
    /// NSTART confirmable requests to `peer` already awaiting their ACK, it waits in a per-peer
    /// FIFO and is sent when one of them completes.
    ///
    /// The request is encoded at once; a caller that keeps it (block-wise does) lends it.
    pub fn request(
        &mut self,
        now: u64,
        peer: P,
        packet: impl Borrow<Packet>,
        confirmable: bool,
    ) -> ExchangeId {
        let packet = packet.borrow();
        let observe = msg::observe(packet) == Some(0);
        self.request_encoded(now, peer, observe, confirmable, |ty, token| {
            msg::to_bytes_as(packet, ty, 0, token)
        })
    }

    /// [`request`](Self::request) of a message held encoded (the client's own requests).
    pub(crate) fn request_message(
        &mut self,
        now: u64,
        peer: P,
        message: &MessageBuf,
        confirmable: bool,
    ) -> ExchangeId {
        let observe = message.uint(option::OBSERVE) == Some(0);
        self.request_encoded(now, peer, observe, confirmable, |ty, token| {
            message.encode_as(ty, 0, token)
        })
    }

    /// A request whose datagram `encode` writes under type and token (message ID 0, set when
    /// it starts).
    fn request_encoded(
        &mut self,
        now: u64,
        peer: P,
        observe: bool,
        confirmable: bool,
        encode: impl FnOnce(u8, &[u8]) -> Vec<u8>,
    ) -> ExchangeId {
        self.touch(now);
        let token = self.fresh_token(peer);
        let bytes = encode(if confirmable { CON } else { NON }, &token);
        self.enqueue(
            now,
            peer,
            bytes,
            token,
            Kind::Request { observe },
            confirmable,
        )
    }

    /// Sends a message that expects no response, only an ACK if `confirmable` (e.g. an Observe
    /// notification; the caller sets its token). A CON one is retransmitted like a request and
    /// reports `Failed` on RST or timeout; a NON one reports `Failed{Reset}` if RST arrives within
    /// NON_LIFETIME. Success is silent. The token must be at most 8 bytes (RFC 7252 §3).
    pub fn send(
        &mut self,
        now: u64,
        peer: P,
        packet: impl Borrow<Packet>,
        confirmable: bool,
    ) -> ExchangeId {
        self.touch(now);
        let packet = packet.borrow();
        let token = packet.get_token().to_vec();
        let ty = if confirmable { CON } else { NON };
        let bytes = msg::to_bytes_as(packet, ty, 0, &token);
        self.enqueue(now, peer, bytes, token, Kind::Message, confirmable)
    }

    /// Cancels an outgoing request: no more retransmissions, and a later response is not
    /// surfaced (a CON one is answered with RST, see the module notes).
    pub fn cancel(&mut self, id: ExchangeId) {
        self.non_watch.retain(|w| w.id != id.0);
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
        match self.receive(now, peer, bytes)? {
            Received::Request { peer, request } => Some(Incoming::Request {
                peer,
                request: request.as_packet()?,
            }),
            Received::Response { peer, id, response } => Some(Incoming::Response {
                peer,
                id,
                response: response.as_packet()?,
            }),
            Received::Other(incoming) => Some(incoming),
        }
    }

    /// [`handle_datagram`](Self::handle_datagram) with a request handed over as read in
    /// place, not parsed into a `Packet` (the client's path; see `coap::message`).
    pub(crate) fn receive<'a>(
        &mut self,
        now: u64,
        peer: P,
        bytes: &'a [u8],
    ) -> Option<Received<'a, P>> {
        self.touch(now);
        // Short or wrong-version datagrams are silently ignored (RFC 7252 §3).
        let header = wire::read_header(bytes)?;
        if msg::is_request_code(header.code) {
            // One walk checks the request's format and indexes its options.
            let Some(message) = Message::parse(bytes, header) else {
                self.reject(peer, &header);
                return None;
            };
            // §4.2/§4.3: a request can only travel in CON or NON; in an ACK or RST it is
            // rejected, which for those types means silently ignored.
            return match header.ty {
                CON | NON => self.on_request(now, peer, message),
                _ => None,
            };
        }
        if header.code == 0 {
            if !wire::well_formed(&header, bytes) {
                self.reject(peer, &header);
                return None;
            }
            return self.on_empty(now, peer, &header).map(Received::Other);
        }
        if msg::is_response_code(header.code) {
            // Read in place like a request, in the one walk that checks its format.
            let Some(response) = Message::parse(bytes, header) else {
                self.reject(peer, &header);
                return None;
            };
            return match header.ty {
                ACK => self.on_piggybacked(now, peer, response),
                CON | NON => self.on_separate(now, peer, response),
                _ => None,
            };
        }
        // §3 and §4.2: a code of a reserved class (1, 3, 6, 7) cannot be processed.
        self.reject(peer, &header);
        None
    }

    /// Answers a request that `handle_datagram` returned: to a CON with a piggybacked ACK
    /// (the request's MID and token), to a NON with a NON response (a new MID, the request's
    /// token). A CON answer is cached for duplicates for EXCHANGE_LIFETIME, unless the request
    /// was a GET or FETCH, whose duplicates are served again.
    pub fn respond(&mut self, now: u64, peer: P, request: &Packet, response: Packet) {
        self.respond_packet(now, peer, RequestRef::of_packet(request), response);
    }

    /// [`respond`](Self::respond) to a request known by its [`RequestRef`].
    pub(crate) fn respond_packet(
        &mut self,
        now: u64,
        peer: P,
        request: RequestRef<'_>,
        response: Packet,
    ) {
        self.respond_encoded(now, peer, request, |head, out| {
            out.extend_from_slice(&msg::to_bytes_as(&response, head.ty, head.mid, head.token))
        });
    }

    /// [`respond`](Self::respond) for a response the caller encodes itself from the `Head`
    /// (type, Message ID and token) the endpoint chose; used by the client to write its answers
    /// straight into their datagram (issue 15). `encode` appends the datagram to the buffer it
    /// is given (the outbox's); appending nothing sends nothing.
    pub(crate) fn respond_encoded(
        &mut self,
        now: u64,
        peer: P,
        request: RequestRef<'_>,
        encode: impl FnOnce(Head<'_>, &mut Vec<u8>),
    ) {
        self.touch(now);
        let token = request.token;
        if token.len() > 8 {
            return; // not a request we parsed; no valid response exists (§3)
        }
        if request.confirmable {
            // §5.2.1: piggybacked in the ACK, same Message ID.
            let mid = request.mid;
            let head = Head {
                ty: ACK,
                mid,
                token,
            };
            let bytes = self.outbox.push_with(peer, |out| encode(head, out));
            // A safe request's duplicate is served again (see `on_request`), so only the
            // answers to the others are kept.
            if !incoming::is_safe(request.code) && !bytes.is_empty() {
                let expires = now.saturating_add(self.params.exchange_lifetime_ms());
                peers::state_of(&mut self.peers, &mut self.rng, peer)
                    .seen
                    .set_reply(mid, expires, bytes);
            }
        } else {
            // §5.2.3: a NON request is answered by a NON response with a fresh Message ID.
            let mid = self.alloc_mid(now, peer);
            let head = Head {
                ty: NON,
                mid,
                token,
            };
            self.outbox.push_with(peer, |out| encode(head, out));
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
        // A NON that drew no RST within NON_LIFETIME simply went through.
        while self.non_watch.front().is_some_and(|w| w.until <= now) {
            self.non_watch.pop_front();
        }
        self.collect_garbage(now);
        failed
    }

    /// Lets responses carrying Block1 or Block2 options surface (for a layer above that does
    /// block-wise transfer itself, such as a test server reading a client's blocks).
    pub fn accept_block_responses(&mut self, accept: bool) {
        self.block_responses = accept;
    }

    /// Whether a datagram to `peer` waits in the outbox.
    pub fn has_queued(&self, peer: P) -> bool {
        self.outbox.has_for(peer)
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<(P, Vec<u8>)> {
        self.outbox.pop()
    }

    /// The next datagram to send written into `out` (cleared first; its room reused, so
    /// sending allocates nothing): its peer, or `None` (and `out` empty) when there is none.
    pub fn poll_transmit_into(&mut self, out: &mut Vec<u8>) -> Option<P> {
        self.outbox.pop_into(out)
    }

    /// The earliest time `handle_timeout` must be called (a retransmission, a separate-response
    /// deadline or a duplicate-cache expiry), or `None` when nothing is pending.
    pub fn poll_timeout(&self) -> Option<u64> {
        let exchanges = self.exchanges.values().filter_map(Exchange::deadline).min();
        let watched = self.non_watch.front().map(|w| w.until);
        let exchanges = [exchanges, watched].into_iter().flatten().min();
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

    /// The earliest retransmission or exchange deadline, leaving out duplicate-cache expiries
    /// and the end of a NON message's RST watch (both are swept at the next call anyway):
    /// what a device that sleeps between exchanges must wake up for.
    pub fn poll_exchange_timeout(&self) -> Option<u64> {
        self.exchanges.values().filter_map(Exchange::deadline).min()
    }

    /// Drops every piece of state for `peer` (e.g. its server account was removed): its
    /// requests vanish without a `Failed`, its duplicate cache and MID counter are forgotten.
    /// Datagrams already queued for sending stay queued, so that a final response (such as the
    /// 2.04 to Bootstrap-Finish) still goes out.
    pub fn forget_peer(&mut self, peer: P) {
        self.exchanges.retain(|_, e| e.peer != peer);
        self.non_watch.retain(|w| w.peer != peer);
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

    /// Watches a NON message for an RST, forgetting the oldest watch past `MAX_NON_WATCHES`:
    /// how many there are follows how fast observed values change, which a server's
    /// attributes (pmin 0) let go as fast as the application sets them.
    fn watch_non(&mut self, watch: NonWatch<P>) {
        while self.non_watch.len() >= MAX_NON_WATCHES {
            self.non_watch.pop_front();
        }
        self.non_watch.push_back(watch);
    }

    fn touch(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    fn push(&mut self, peer: P, bytes: &[u8]) {
        self.outbox.push(peer, bytes);
    }

    fn find(&self, pred: impl Fn(&Exchange<P>) -> bool) -> Option<u64> {
        self.exchanges
            .iter()
            .find(|(_, e)| pred(e))
            .map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests;
