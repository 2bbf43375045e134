//! Duplicate detection for messages received from one peer (RFC 7252 §4.5).
//!
//! A peer retransmits a CON until it sees our ACK; each copy must be acknowledged "using the same
//! Acknowledgement or Reset message" while the request or response inside is processed "only
//! once", and duplicate NONs are ignored. We therefore remember, per message ID, what we answered
//! (if anything yet) for EXCHANGE_LIFETIME. Memory is bounded: at most [`SeenCache::CAP`] entries
//! per peer, the oldest evicted first. Eviction can only let a very late duplicate through again
//! as a new message, which is the same outcome as expiry.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

#[derive(Debug, Clone)]
struct Seen {
    mid: u16,
    expires: u64,
    /// The datagram sent in answer (piggybacked response, empty ACK or RST); none until the
    /// upper layer responds, and for NON messages.
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
    None,
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Reply {
    fn of(bytes: Option<&[u8]>) -> Reply {
        match bytes {
            None => Reply::None,
            Some(b) if b.len() <= INLINE => {
                let mut inline = [0u8; INLINE];
                if let Some(room) = inline.get_mut(..b.len()) {
                    room.copy_from_slice(b);
                }
                Reply::Inline {
                    len: b.len() as u8,
                    bytes: inline,
                }
            }
            Some(b) => Reply::Heap(b.into()),
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::None => None,
            Reply::Inline { len, bytes } => bytes.get(..usize::from(*len)),
            Reply::Heap(b) => Some(b),
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
    entries: VecDeque<Seen>,
}

impl SeenCache {
    pub(crate) const CAP: usize = 64;

    pub(crate) fn lookup(&self, mid: u16, now: u64) -> Lookup<'_> {
        match self
            .entries
            .iter()
            .find(|e| e.mid == mid && now < e.expires)
        {
            None => Lookup::New,
            Some(e) => Lookup::Duplicate(e.reply.bytes()),
        }
    }

    /// Records `mid` as seen until `expires`, with the reply if one was already sent. Replaces
    /// an earlier (possibly expired) entry for the same ID.
    pub(crate) fn insert(&mut self, mid: u16, expires: u64, reply: Option<&[u8]>) {
        // At most one entry per ID: find it rather than `retain`, which moves every entry.
        if let Some(at) = self.entries.iter().position(|e| e.mid == mid) {
            self.entries.remove(at);
        }
        while self.entries.len() >= Self::CAP {
            self.entries.pop_front();
        }
        self.entries.push_back(Seen {
            mid,
            expires,
            reply: Reply::of(reply),
        });
    }

    /// Attaches the reply to the entry for `mid`, or records a new entry expiring at `expires`
    /// if there is none (it was evicted, or the request never passed through this cache).
    pub(crate) fn set_reply(&mut self, mid: u16, expires: u64, reply: &[u8]) {
        match self.entries.iter_mut().find(|e| e.mid == mid) {
            // The window stays counted from the first copy: the peer stops retransmitting
            // MAX_TRANSMIT_SPAN after it, well inside EXCHANGE_LIFETIME.
            Some(e) => e.reply = Reply::of(Some(reply)),
            None => self.insert(mid, expires, Some(reply)),
        }
    }

    pub(crate) fn expire(&mut self, now: u64) {
        self.entries.retain(|e| now < e.expires);
        if self.entries.is_empty() {
            self.entries = VecDeque::new();
        }
    }

    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.entries.iter().map(|e| e.expires).min()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::{Lookup, SeenCache, INLINE};

    #[test]
    fn lookup_reply_expiry_and_cap() {
        let mut c = SeenCache::default();
        assert_eq!(c.lookup(7, 0), Lookup::New);
        c.insert(7, 100, None);
        assert_eq!(c.lookup(7, 99), Lookup::Duplicate(None));
        c.set_reply(7, 100, &[1, 2]);
        assert_eq!(c.lookup(7, 50), Lookup::Duplicate(Some(&[1, 2][..])));
        assert_eq!(c.lookup(7, 100), Lookup::New);
        assert_eq!(c.next_expiry(), Some(100));
        // Replies of every length come back as they were kept, in the entry or beside it.
        for len in [0, 4, 12, INLINE, INLINE + 1, 300] {
            let reply: alloc::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
            c.set_reply(7, 100, &reply);
            assert_eq!(
                c.lookup(7, 50),
                Lookup::Duplicate(Some(&reply[..])),
                "{len}"
            );
        }
        c.expire(100);
        assert!(c.is_empty());

        for mid in 0..100u16 {
            c.insert(mid, 1000 + u64::from(mid), None);
        }
        assert_eq!(c.len(), SeenCache::CAP);
        assert_eq!(c.lookup(35, 0), Lookup::New); // evicted
        assert_eq!(c.lookup(36, 0), Lookup::Duplicate(None));
        assert_eq!(c.next_expiry(), Some(1036));
    }
}
