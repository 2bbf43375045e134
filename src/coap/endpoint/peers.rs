//! Per-peer bookkeeping: message IDs, tokens and dropping state nobody needs any more.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::Endpoint;
use crate::coap::dedup::SeenCache;
use crate::rng::Rng;
use crate::vec_map::VecMap;

/// Per-peer state: message-ID counter, duplicate cache and NSTART queue.
#[derive(Debug, Clone)]
pub(super) struct PeerState {
    pub(super) next_mid: u16,
    /// A MID we allocated stays reserved until then (RFC 7252 §4.4); the entry is kept at least
    /// that long so the counter is not re-randomised onto a MID still in use.
    pub(super) mid_hold_until: u64,
    pub(super) seen: SeenCache,
    pub(super) queue: VecDeque<u64>,
}

impl<P: Copy + Ord + core::fmt::Debug> Endpoint<P> {
    pub(super) fn peer_mut(&mut self, peer: P) -> &mut PeerState {
        state_of(&mut self.peers, &mut self.rng, peer)
    }

    pub(super) fn alloc_mid(&mut self, now: u64, peer: P) -> u16 {
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
    pub(super) fn fresh_token(&mut self, peer: P) -> Vec<u8> {
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
    pub(super) fn collect_garbage(&mut self, now: u64) {
        let exchanges = &self.exchanges;
        self.peers.retain(|peer, s| {
            s.seen.expire(now);
            exchanges.values().any(|e| e.peer == *peer)
                || !s.seen.is_empty()
                || !s.queue.is_empty()
                || now < s.mid_hold_until
        });
        // What stays allocated between exchanges is what they still need (issue 15: a
        // registered idle client holds its state, not the room a burst of traffic left).
        self.exchanges.shrink();
        self.peers.shrink();
        self.outbox.trim();
        for state in self.peers.values_mut() {
            if state.queue.is_empty() {
                state.queue = VecDeque::new();
            }
        }
    }
}

/// `peer`'s state, made on first use (a free function, so that the caller can hold another
/// field of the endpoint meanwhile, such as a datagram just written into the outbox).
pub(super) fn state_of<'a, P: Copy + Ord>(
    peers: &'a mut VecMap<P, PeerState>,
    rng: &mut Rng,
    peer: P,
) -> &'a mut PeerState {
    peers.get_or_insert_with(peer, || PeerState {
        // §4.4: start at a random MID so that a restarted endpoint is unlikely to reuse IDs
        // its peer still remembers.
        next_mid: rng.next_u64() as u16,
        mid_hold_until: 0,
        seen: SeenCache::default(),
        queue: VecDeque::new(),
    })
}
