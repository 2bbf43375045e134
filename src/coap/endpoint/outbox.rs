//! Datagrams waiting to be sent, back to back in one buffer.
//!
//! Every answer, retransmission and notification used to be its own `Vec`, allocated when it
//! was encoded and freed by the application once sent: one allocation per datagram (issue 15).
//! Here they are written into one buffer that is emptied, not freed, each time the last one is
//! taken, so the steady state allocates nothing. The application takes a datagram into a
//! buffer of its own ([`Outbox::pop_into`], `Client::poll_transmit_into`), or as a `Vec`
//! ([`Outbox::pop`], the `poll_transmit` of old). The room is given back when the client goes
//! idle (`trim`, from `collect_garbage`), so an idle client holds none.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// The room taken at the first datagram: an answer or two, or a Register with its object list.
const FIRST_ROOM: usize = 256;

#[derive(Debug, Clone)]
pub(super) struct Outbox<P> {
    /// The datagrams not yet taken, from `start` on, back to back.
    bytes: Vec<u8>,
    /// Where the oldest datagram not yet taken begins.
    start: usize,
    /// Each datagram's peer and where it ends, oldest first.
    queue: VecDeque<(P, usize)>,
}

impl<P> Default for Outbox<P> {
    fn default() -> Self {
        Outbox {
            bytes: Vec::new(),
            start: 0,
            queue: VecDeque::new(),
        }
    }
}

impl<P: Copy + PartialEq> Outbox<P> {
    /// Queues the datagram `write` appends to the buffer it is given, and returns it; nothing
    /// is queued if it appends nothing (an encoder that could not encode).
    pub(super) fn push_with(&mut self, peer: P, write: impl FnOnce(&mut Vec<u8>)) -> &[u8] {
        if self.bytes.capacity() == 0 {
            // Room for a typical burst at once, rather than growing datagram by datagram.
            self.bytes.reserve(FIRST_ROOM);
        }
        let at = self.bytes.len();
        write(&mut self.bytes);
        let end = self.bytes.len();
        if end > at {
            self.queue.push_back((peer, end));
        }
        self.bytes.get(at..).unwrap_or_default()
    }

    /// Queues a copy of `datagram` (empty: nothing).
    pub(super) fn push(&mut self, peer: P, datagram: &[u8]) {
        self.push_with(peer, |out| out.extend_from_slice(datagram));
    }

    /// The oldest datagram, written into `out` (cleared first); its peer.
    pub(super) fn pop_into(&mut self, out: &mut Vec<u8>) -> Option<P> {
        out.clear();
        self.pop_with(|datagram| out.extend_from_slice(datagram))
    }

    /// The oldest datagram as a `Vec` of its own.
    pub(super) fn pop(&mut self) -> Option<(P, Vec<u8>)> {
        let mut out = Vec::new();
        self.pop_with(|datagram| out = datagram.to_vec())
            .map(|peer| (peer, out))
    }

    fn pop_with(&mut self, take: impl FnOnce(&[u8])) -> Option<P> {
        let (peer, end) = self.queue.pop_front()?;
        take(self.bytes.get(self.start..end).unwrap_or_default());
        if self.queue.is_empty() {
            // The last one taken: the room serves the next datagrams from its start.
            self.bytes.clear();
            self.start = 0;
        } else {
            self.start = end;
            // An application that takes fewer datagrams per turn than the client queues never
            // empties the outbox: the bytes already taken are dropped once they are half of
            // it, so what it holds stays bounded by what waits.
            if self.start >= FIRST_ROOM && self.start * 2 >= self.bytes.len() {
                self.bytes.drain(..self.start);
                for (_, end) in self.queue.iter_mut() {
                    *end -= self.start;
                }
                self.start = 0;
            }
        }
        Some(peer)
    }

    /// Whether a datagram to `peer` waits.
    pub(super) fn has_for(&self, peer: P) -> bool {
        self.queue.iter().any(|(p, _)| *p == peer)
    }

    /// Gives back the room once nothing waits.
    pub(super) fn trim(&mut self) {
        if self.queue.is_empty() {
            *self = Outbox::default();
        }
    }

    /// Bytes of room held (for tests of `trim`).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_come_out_in_order_with_their_peers() {
        let mut out = Outbox::default();
        out.push(1u8, b"one");
        assert_eq!(out.push_with(2, |b| b.extend_from_slice(b"two")), b"two");
        out.push(1, b"three");
        assert!(out.has_for(2));
        let mut buf = alloc::vec![9; 40];
        assert_eq!(out.pop_into(&mut buf), Some(1));
        assert_eq!(buf, b"one");
        assert_eq!(out.pop(), Some((2, b"two".to_vec())));
        assert!(!out.has_for(2));
        assert_eq!(out.pop_into(&mut buf), Some(1));
        assert_eq!(buf, b"three");
        assert_eq!(out.pop_into(&mut buf), None);
        assert!(buf.is_empty());
        assert_eq!(out.pop(), None);
    }

    #[test]
    fn nothing_written_is_nothing_queued() {
        let mut out = Outbox::default();
        assert_eq!(out.push_with(1u8, |_| {}), b"");
        out.push(1, b"");
        assert_eq!(out.pop(), None);
        assert!(!out.has_for(1));
    }

    #[test]
    fn the_room_is_reused_once_emptied_and_given_back_by_trim() {
        let mut out = Outbox::default();
        out.push(1u8, &[7; 100]);
        let room = out.capacity();
        let mut buf = Vec::new();
        assert_eq!(out.pop_into(&mut buf), Some(1));
        // Emptied: the next datagram starts at the front of the same room.
        out.push(1, &[8; 100]);
        assert_eq!(out.capacity(), room);
        // Trim keeps the room while a datagram waits, and gives it back after.
        out.trim();
        assert_eq!(out.capacity(), room);
        assert_eq!(out.pop_into(&mut buf), Some(1));
        assert_eq!(buf, [8; 100]);
        out.trim();
        assert_eq!(out.capacity(), 0);
    }

    /// One datagram always waits, because each turn queues one and takes one: the outbox
    /// never empties, yet what it holds stays bounded by what waits, and every datagram comes
    /// out whole and in order.
    #[test]
    fn an_outbox_never_emptied_does_not_grow_past_what_waits() {
        let mut out = Outbox::default();
        let mut buf = Vec::new();
        out.push(1u8, &[0; 100]);
        for n in 1..2_000u32 {
            out.push(1, &[n as u8; 100]);
            assert_eq!(out.pop_into(&mut buf), Some(1));
            assert_eq!(buf, [(n - 1) as u8; 100]);
            assert!(
                out.bytes.len() <= FIRST_ROOM + 200,
                "{} bytes",
                out.bytes.len()
            );
        }
        assert_eq!(out.pop_into(&mut buf), Some(1));
        assert_eq!(buf, [(1_999 % 256) as u8; 100]);
        assert_eq!(out.pop_into(&mut buf), None);
    }

    #[test]
    fn a_datagram_queued_while_others_wait_is_kept_whole() {
        let mut out = Outbox::default();
        out.push(1u8, b"ab");
        let mut buf = Vec::new();
        out.push(2, b"cde");
        assert_eq!(out.pop_into(&mut buf), Some(1));
        out.push(3, b"f");
        assert_eq!(out.pop_into(&mut buf), Some(2));
        assert_eq!(buf, b"cde");
        assert_eq!(out.pop_into(&mut buf), Some(3));
        assert_eq!(buf, b"f");
    }
}
