//! Receiving: empty messages, requests, piggybacked and separate responses, duplicate replay
//! (RFC 7252 §4.2–§4.5, §5.2).

use super::{Endpoint, ExchangeId, Failure, Incoming, Received};
use crate::coap::dedup::Lookup;
use crate::coap::exchange::{Kind, State};
use crate::coap::message::{option, Message};
use crate::coap::msg;
use crate::coap::wire::{self, Header, ACK, CON, NON, RST};

/// GET and FETCH: safe methods (RFC 7252 §5.1, RFC 8132 §2), served again when duplicated.
pub(super) fn is_safe(code: u8) -> bool {
    matches!(code, msg::GET | msg::FETCH)
}

impl<P: Copy + Ord + core::fmt::Debug> Endpoint<P> {
    pub(super) fn on_empty(&mut self, now: u64, peer: P, header: &Header) -> Option<Incoming<P>> {
        match header.ty {
            // §4.2/§4.3: an Empty CON cannot be processed; the RST that answers it is the
            // "CoAP ping" reply.
            CON => self.push(peer, &wire::empty(RST, header.mid)),
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
                let id = match self.find(|e| e.peer == peer && e.resettable_by(header.mid)) {
                    Some(id) => {
                        self.exchanges.remove(&id);
                        id
                    }
                    // §4.3: an RST to one of our NON messages.
                    None => {
                        let at = self
                            .non_watch
                            .iter()
                            .position(|w| w.peer == peer && w.mid == header.mid && now < w.until)?;
                        self.non_watch.remove(at)?.id
                    }
                };
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

    pub(super) fn on_request<'a>(
        &mut self,
        now: u64,
        peer: P,
        message: Message<'a>,
    ) -> Option<Received<'a, P>> {
        let header = message.header();
        // §4.5: "This rule MAY be relaxed in case the Confirmable message transports a request
        // that is idempotent (see Section 5.1) or can be handled in an idempotent fashion" (and
        // the same for Non-confirmable ones). A safe request (GET, FETCH: Read, Discover,
        // Observe) changes nothing, so a duplicate is simply served again: nothing of it is
        // remembered, which keeps the duplicate cache to the requests that change state (issue
        // 15: 64 cached Read answers were 6 KB per peer). Writes, Executes, Creates and
        // Deletes are still processed once.
        let remembered = !is_safe(header.code);
        if remembered && self.replay_duplicate(now, peer, header) {
            return None;
        }
        let expires = now.saturating_add(self.params.exchange_lifetime_ms());
        if message.unrecognised_critical().is_some() {
            if header.ty == CON {
                // §5.4.1: "Unrecognized options of class 'critical' that occur in a Confirmable
                // request MUST cause the return of a 4.02 (Bad Option) response."
                if remembered {
                    self.peer_mut(peer).seen.insert(header.mid, expires, None);
                }
                let bad_option = msg::new_response(msg::BAD_OPTION);
                self.respond_packet(now, peer, message.reply_to(), bad_option);
            }
            // In a NON they "MUST cause the message to be rejected": silently here.
            return None;
        }
        if remembered {
            self.peer_mut(peer).seen.insert(header.mid, expires, None);
        }
        Some(Received::Request {
            peer,
            request: message,
        })
    }

    pub(super) fn on_piggybacked<'a>(
        &mut self,
        now: u64,
        peer: P,
        response: Message<'a>,
    ) -> Option<Received<'a, P>> {
        let mid = response.header().mid;
        let id = self.find(|e| {
            e.peer == peer && e.awaits_ack(mid) && matches!(e.kind, Kind::Request { .. })
        })?;
        let token_matches = self
            .exchanges
            .get(&id)
            .is_some_and(|e| e.token == response.token());
        // §5.3.2: a piggybacked response must carry the request's token; §5.4.1: an ACK whose
        // response has an unrecognised critical option is rejected. Rejecting an ACK means
        // ignoring it (§4.2); the request keeps being retransmitted.
        let unrecognised = response.unrecognised_in_response(self.block_responses);
        if !token_matches || unrecognised.is_some() {
            return None;
        }
        Some(self.complete(now, peer, id, response))
    }

    pub(super) fn on_separate<'a>(
        &mut self,
        now: u64,
        peer: P,
        response: Message<'a>,
    ) -> Option<Received<'a, P>> {
        let header = *response.header();
        let header = &header;
        if self.replay_duplicate(now, peer, header) {
            return None;
        }
        let expires = now.saturating_add(self.params.exchange_lifetime_ms());
        let matched = self.find(|e| e.peer == peer && e.awaits_response(response.token()));
        let acceptable = response
            .unrecognised_in_response(self.block_responses)
            .is_none();
        match matched {
            Some(id) if acceptable => {
                if header.ty == CON {
                    // §5.2.2: a separate CON response is acknowledged with an empty ACK.
                    let ack = wire::empty(ACK, header.mid);
                    self.peer_mut(peer)
                        .seen
                        .insert(header.mid, expires, Some(&ack));
                    self.push(peer, &ack);
                } else {
                    self.peer_mut(peer).seen.insert(header.mid, expires, None);
                }
                Some(self.complete(now, peer, id, response))
            }
            _ => {
                if header.ty == CON {
                    // §4.2 and §5.4.1: reject with RST, and repeat the same RST to duplicates.
                    let rst = wire::empty(RST, header.mid);
                    self.peer_mut(peer)
                        .seen
                        .insert(header.mid, expires, Some(&rst));
                    self.push(peer, &rst);
                }
                None
            }
        }
    }

    /// A response arrived for exchange `id`: surface it and end the exchange, unless it is an
    /// observation that continues (RFC 7641 §3.2: notifications carry Observe; a response
    /// without it, or an error, ends the observation).
    fn complete<'a>(
        &mut self,
        now: u64,
        peer: P,
        id: u64,
        response: Message<'a>,
    ) -> Received<'a, P> {
        if let Some(ex) = self.exchanges.get_mut(&id) {
            let continues = ex.kind == Kind::Request { observe: true }
                && response.first_option(option::OBSERVE).is_some()
                && response.code() >> 5 == 2;
            if continues {
                ex.state = State::Observing;
            } else {
                self.exchanges.remove(&id);
            }
        }
        self.start_queued(now, peer);
        Received::Response {
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
                    if let Some(bytes) = reply {
                        self.outbox.push(peer, bytes);
                    }
                }
                true
            }
        }
    }

    /// Rejects a message we cannot process: RST for a CON (§4.2), silence for the others (§4.3
    /// makes RST optional for NON; ACK and RST are rejected by ignoring them).
    pub(super) fn reject(&mut self, peer: P, header: &Header) {
        if header.ty == CON {
            self.push(peer, &wire::empty(RST, header.mid));
        }
    }
}
