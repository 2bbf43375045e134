//! Duplicate detection for messages received from one peer (RFC 7252 §4.5).
//!
//! A peer retransmits a CON until it sees our ACK; each copy must be acknowledged "using the same
//! Acknowledgement or Reset message" while the request or response inside is processed "only
//! once", and duplicate NONs are ignored. We therefore remember, per message ID, that a message
//! was seen, for EXCHANGE_LIFETIME, and what we answered to the latest few.
//!
//! Memory is bounded (issue 15: the whole cache of one peer once took 2.5 KB of a client's 4 KiB):
//! - at most [`SeenCache::CAP`] message IDs per peer, 8 bytes each, the oldest evicted first.
//!   Eviction can only let a very late duplicate through again as a new message, which is the
//!   same outcome as expiry;
//! - the answers to the latest [`SeenCache::REPLIES`] of them only. A CON duplicate of an older
//!   message is still never processed again, but gets no answer. A peer keeps at most NSTART
//!   (1 by default, §4.7) requests outstanding, so by the time it sent several newer ones it
//!   had our answer to the old one: a copy that arrives now was delayed in the network, not
//!   retransmitted, and nobody waits for its answer.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

/// One message ID seen, until when. The expiry is kept in whole seconds, rounded up, so that
/// an entry takes 8 bytes: an entry lives at most a second past EXCHANGE_LIFETIME, which only
/// keeps a duplicate out for that second longer.
#[derive(Debug, Clone, Copy)]
struct Seen {
    expires_s: u32,
    mid: u16,
}

impl Seen {
    fn expires_ms(self) -> u64 {
        match self.expires_s {
            u32::MAX => u64::MAX,
            s => u64::from(s) * 1000,
        }
    }

    fn live(self, now: u64) -> bool {
        now < self.expires_ms()
    }
}

/// `expires` (ms) as whole seconds, rounded up; past u32's range (year 2106 in Unix ms) an
/// entry is kept until the cap evicts it.
fn seconds(expires: u64) -> u32 {
    u32::try_from(expires.div_ceil(1000)).unwrap_or(u32::MAX)
}

/// The datagram sent in answer to `mid` (piggybacked response, empty ACK or RST).
#[derive(Debug, Clone)]
struct Answer {
    mid: u16,
    reply: Reply,
}

/// Up to this many bytes of a reply are kept in the entry itself: an empty ACK or RST (4),
/// a 2.04 or 2.02 with an 8-byte token (12), a 2.01 with a short Location-Path. Longer ones
/// (answers with a payload) get their own allocation.
const INLINE: usize = 21;

/// A remembered reply, without an allocation when it is short (issue 15: one block per
/// cached answer made a full cache ~6 KB per peer).
#[derive(Debug, Clone)]
enum Reply {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Reply {
    fn of(b: &[u8]) -> Reply {
        if b.len() > INLINE {
            return Reply::Heap(b.into());
        }
        let mut bytes = [0u8; INLINE];
        if let Some(room) = bytes.get_mut(..b.len()) {
            room.copy_from_slice(b);
        }
        Reply::Inline {
            len: b.len() as u8,
            bytes,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Reply::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Reply::Heap(b) => b,
        }
    }
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup<'a> {
    New,
    Duplicate(Option<&'a [u8]>),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SeenCache {
    /// Oldest first.
    seen: VecDeque<Seen>,
    /// Oldest first; each for an ID in `seen`.
    answers: VecDeque<Answer>,
}

impl SeenCache {
    pub(crate) const CAP: usize = 64;
    pub(crate) const REPLIES: usize = 4;

    pub(crate) fn lookup(&self, mid: u16, now: u64) -> Lookup<'_> {
        if !self.seen.iter().any(|e| e.mid == mid && e.live(now)) {
            return Lookup::New;
        }
        Lookup::Duplicate(self.answer(mid))
    }

    fn answer(&self, mid: u16) -> Option<&[u8]> {
        let a = self.answers.iter().find(|a| a.mid == mid)?;
        Some(a.reply.bytes())
    }

    /// Records `mid` as seen until `expires`, with the reply if one was already sent. Replaces
    /// an earlier (possibly expired) entry for the same ID.
    pub(crate) fn insert(&mut self, mid: u16, expires: u64, reply: Option<&[u8]>) {
        // At most one entry per ID: find it rather than `retain`, which moves every entry.
        if let Some(at) = self.seen.iter().position(|e| e.mid == mid) {
            self.seen.remove(at);
        }
        self.forget_answer(mid);
        while self.seen.len() >= Self::CAP {
            if let Some(old) = self.seen.pop_front() {
                self.forget_answer(old.mid);
            }
        }
        self.seen.push_back(Seen {
            expires_s: seconds(expires),
            mid,
        });
        if let Some(reply) = reply {
            self.keep_answer(mid, reply);
        }
    }

    /// Attaches the reply to the entry for `mid`, or records a new entry expiring at `expires`
    /// if there is none (it was evicted, or the request never passed through this cache).
    pub(crate) fn set_reply(&mut self, mid: u16, expires: u64, reply: &[u8]) {
        // The window stays counted from the first copy: the peer stops retransmitting
        // MAX_TRANSMIT_SPAN after it, well inside EXCHANGE_LIFETIME.
        if self.seen.iter().any(|e| e.mid == mid) {
            self.forget_answer(mid);
            self.keep_answer(mid, reply);
        } else {
            self.insert(mid, expires, Some(reply));
        }
    }

    fn keep_answer(&mut self, mid: u16, reply: &[u8]) {
        while self.answers.len() >= Self::REPLIES {
            self.answers.pop_front();
        }
        self.answers.push_back(Answer {
            mid,
            reply: Reply::of(reply),
        });
    }

    fn forget_answer(&mut self, mid: u16) {
        if let Some(at) = self.answers.iter().position(|a| a.mid == mid) {
            self.answers.remove(at);
        }
    }

    pub(crate) fn expire(&mut self, now: u64) {
        self.seen.retain(|e| e.live(now));
        let seen = &self.seen;
        self.answers.retain(|a| seen.iter().any(|e| e.mid == a.mid));
        if self.seen.is_empty() {
            self.seen = VecDeque::new();
        }
        if self.answers.is_empty() {
            self.answers = VecDeque::new();
        }
    }

    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.seen.iter().map(|e| e.expires_ms()).min()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::{Lookup, SeenCache, INLINE};

    #[test]
    fn lookup_reply_expiry_and_cap() {
        let mut c = SeenCache::default();
        assert_eq!(c.lookup(7, 0), Lookup::New);
        c.insert(7, 100_000, None);
        assert_eq!(c.lookup(7, 99_999), Lookup::Duplicate(None));
        c.set_reply(7, 100_000, &[1, 2]);
        assert_eq!(c.lookup(7, 50), Lookup::Duplicate(Some(&[1, 2][..])));
        assert_eq!(c.lookup(7, 100_000), Lookup::New);
        assert_eq!(c.next_expiry(), Some(100_000));
        // Replies of every length come back as they were kept, in the entry or beside it.
        for len in [0, 4, 12, INLINE, INLINE + 1, 300] {
            let reply: alloc::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
            c.set_reply(7, 100_000, &reply);
            assert_eq!(
                c.lookup(7, 50),
                Lookup::Duplicate(Some(&reply[..])),
                "{len}"
            );
        }
        c.expire(100_000);
        assert!(c.is_empty());

        for mid in 0..100u16 {
            c.insert(mid, 1_000_000 + 1000 * u64::from(mid), None);
        }
        assert_eq!(c.len(), SeenCache::CAP);
        assert_eq!(c.lookup(35, 0), Lookup::New); // evicted
        assert_eq!(c.lookup(36, 0), Lookup::Duplicate(None));
        assert_eq!(c.next_expiry(), Some(1_036_000));
    }

    #[test]
    fn expiry_is_rounded_up_to_the_second() {
        let mut c = SeenCache::default();
        c.insert(1, 2_001, None);
        assert_eq!(c.next_expiry(), Some(3_000));
        assert_eq!(c.lookup(1, 2_999), Lookup::Duplicate(None));
        assert_eq!(c.lookup(1, 3_000), Lookup::New);
        // Beyond u32 seconds the entry stays until the cap evicts it.
        c.insert(2, u64::MAX, None);
        assert_eq!(c.lookup(2, u64::MAX - 1), Lookup::Duplicate(None));
    }

    #[test]
    fn only_the_latest_answers_are_kept_and_older_ids_stay_duplicates() {
        let mut c = SeenCache::default();
        for mid in 0..10u16 {
            c.insert(mid, 10_000, None);
            c.set_reply(mid, 10_000, &[0x60, 0x44, 0, mid as u8]);
        }
        for mid in 0..10u16 {
            let want = if usize::from(mid) >= 10 - SeenCache::REPLIES {
                Lookup::Duplicate(Some(&[0x60, 0x44, 0, mid as u8][..]))
            } else {
                // Seen, so never processed again; its answer is gone.
                Lookup::Duplicate(None)
            };
            assert_eq!(c.lookup(mid, 0), want, "mid {mid}");
        }
        // Giving an ID a new answer keeps one answer for it, not two.
        c.set_reply(9, 10_000, &[1]);
        assert_eq!(c.lookup(9, 0), Lookup::Duplicate(Some(&[1][..])));
        assert_eq!(c.answers.len(), SeenCache::REPLIES);
        // Re-inserting an ID drops its old answer; evicting an ID drops its answer.
        c.insert(8, 10_000, None);
        assert_eq!(c.lookup(8, 0), Lookup::Duplicate(None));
        for mid in 100..100 + SeenCache::CAP as u16 {
            c.insert(mid, 10_000, None);
        }
        assert!(c.answers.is_empty());
        // Expiry drops the answers with their IDs and gives the room back.
        c.set_reply(100, 10_000, &[2]);
        c.expire(10_000);
        assert!(c.is_empty());
        assert_eq!(c.answers.capacity(), 0);
        assert_eq!(c.seen.capacity(), 0);
    }
}
