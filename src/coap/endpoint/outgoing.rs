//! Sending: the NSTART queue, first transmission and CON retransmission (RFC 7252 §4.2, §4.7).

use alloc::vec::Vec;

use super::{Endpoint, ExchangeId, Failure, Incoming};
use crate::coap::exchange::{Exchange, Kind, State};

impl<P: Copy + Ord + core::fmt::Debug> Endpoint<P> {
    pub(super) fn enqueue(
        &mut self,
        now: u64,
        peer: P,
        bytes: Vec<u8>,
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
                state: State::Queued(bytes),
            },
        );
        if !confirmable {
            self.start(now, id);
        } else if self.may_start_now(peer) {
            // Nothing waits and an NSTART slot is free: it starts at once, never queued (the
            // queue would be allocated for it only to be emptied again).
            self.start(now, id);
        } else {
            self.peer_mut(peer).queue.push_back(id);
            self.start_queued(now, peer);
        }
        ExchangeId(id)
    }

    /// Whether a CON message to `peer` may go out now (§4.7): none queued before it, and fewer
    /// than NSTART awaiting their ACK.
    fn may_start_now(&self, peer: P) -> bool {
        let queued = self.peers.get(&peer).is_some_and(|p| !p.queue.is_empty());
        !queued && self.in_flight(peer) < self.params.effective_nstart()
    }

    /// CON messages to `peer` awaiting their ACK.
    fn in_flight(&self, peer: P) -> usize {
        self.exchanges
            .values()
            .filter(|e| e.peer == peer && matches!(e.state, State::AwaitAck { .. }))
            .count()
    }

    /// [`Endpoint::send`] of a NON message the caller encodes itself under the `Head` (NON, a
    /// fresh MID, `token`) the endpoint chose; watched for an RST like any NON message.
    pub(crate) fn send_non_encoded(
        &mut self,
        now: u64,
        peer: P,
        token: &[u8],
        encode: impl FnOnce(super::Head<'_>, &mut Vec<u8>),
    ) -> ExchangeId {
        self.touch(now);
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mid = self.alloc_mid(now, peer);
        let head = super::Head {
            ty: super::NON,
            mid,
            token,
        };
        self.watch_non(super::NonWatch {
            id,
            peer,
            mid,
            until: now.saturating_add(self.params.non_lifetime_ms()),
        });
        self.outbox.push_with(peer, |out| encode(head, out));
        ExchangeId(id)
    }

    /// Starts queued CON messages for `peer` while fewer than NSTART await their ACK (§4.7).
    pub(super) fn start_queued(&mut self, now: u64, peer: P) {
        loop {
            if self.in_flight(peer) >= self.params.effective_nstart() {
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
        let State::Queued(bytes) = &mut ex.state else {
            return;
        };
        let mut bytes = core::mem::take(bytes);
        if let Some(at) = bytes.get_mut(2..4) {
            at.copy_from_slice(&mid.to_be_bytes());
        }
        if !confirmable && kind == Kind::Message {
            // Watched for an RST only (see `Endpoint::non_watch`).
            self.exchanges.remove(&id);
            self.watch_non(super::NonWatch {
                id,
                peer,
                mid,
                until: now.saturating_add(lifetime),
            });
            self.push(peer, &bytes);
            return;
        }
        // The datagram goes out as a copy in the outbox; a CON keeps it for retransmission.
        self.outbox.push(peer, &bytes);
        ex.state = if confirmable {
            // §4.2: the initial timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT × factor].
            State::AwaitAck {
                mid,
                bytes,
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
    }

    /// A deadline has passed: retransmit (§4.2, doubling the timeout) or give up.
    pub(super) fn expire_exchange(&mut self, now: u64, id: u64) -> Option<Incoming<P>> {
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
                self.outbox.push(peer, bytes);
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
}
