//! What the client tells its application (DESIGN §1: `poll_event`).

use alloc::string::String;
use alloc::vec::Vec;

use crate::path::Path;
use crate::peer::PeerId;

/// Something the application may want to act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A bootstrap session was finished and its configuration committed.
    Bootstrapped,
    /// A bootstrap attempt failed; another attempt is scheduled at `retry_at` (ms), if any.
    BootstrapFailed {
        reason: String,
        retry_at: Option<u64>,
    },
    /// The Bootstrap-Server's Finish was answered 4.06 because the configuration it wrote is
    /// inconsistent (`reason` is the diagnostic sent back). The session stays open for
    /// corrections until EXCHANGE_LIFETIME after the last command (Core 1.1 §5.2.6, §5.2.3.3);
    /// nothing has been committed.
    BootstrapFinishRefused { reason: String },
    /// Registered with the server whose Short Server ID is `ssid`.
    Registered { ssid: u16, location: String },
    /// A registration Update was accepted.
    RegistrationUpdated { ssid: u16 },
    /// Register or Update failed; `retry_at` says when the next attempt is due.
    RegistrationFailed {
        ssid: u16,
        reason: String,
        retry_at: Option<u64>,
    },
    /// De-registered (on `stop`, or because the server account was removed).
    Deregistered { ssid: u16 },
    /// A server executed a resource the application owns (e.g. `/3/0/4` Reboot). The client has
    /// already answered 2.04; what happens next is the application's decision.
    Executed {
        ssid: u16,
        path: Path,
        args: Vec<u8>,
    },
    /// A server wrote a value (after the write was applied).
    Written { ssid: u16, path: Path },
    /// A server created the instance `path` (`/O/I`).
    Created { ssid: u16, path: Path },
    /// A server deleted the instance `path` (`/O/I`).
    Deleted { ssid: u16, path: Path },
    /// Saving or loading the persistent configuration failed.
    StorageError { reason: String },
    /// The smartcard's bootstrap data was applied (Bootstrap from Smartcard).
    SmartcardProvisioned,
    /// The smartcard's data went away; what it provisioned was removed.
    SmartcardRemoved,
    /// The Bootstrap-Server account was purged after its Account Timeout (`/0/x/12`).
    BootstrapAccountPurged,
    /// The client no longer talks to this peer: transports may release it.
    PeerClosed { peer: PeerId },
    /// A transport adapter could not send a datagram to `peer` (too large for UDP, no route,
    /// the host's send callback failed). It counts as one lost datagram: CoAP retransmits or
    /// the exchange fails on its own. Reported by the adapters (`UdpClient`, the C transport
    /// hook), never by the sans-I/O core.
    SendFailed { peer: PeerId, reason: String },
    /// `count` older events were dropped because nobody took them while the queue was full
    /// (`Limits::max_queued_events`). Reported before the events that were kept.
    EventsDropped { count: u64 },
    /// Server `ssid` observes `path` (Core 1.1 §5.5.1): notifications follow its changes.
    ObservationStarted { ssid: u16, path: Path },
    /// The observation of `path` by `ssid` ended: cancelled by the server (Observe=1, RST),
    /// its confirmable notification went unanswered, its target went away, or the
    /// registration ended or was renewed.
    ObservationCancelled { ssid: u16, path: Path },
    /// Server `ssid` accepted a Send (2.04).
    SendCompleted { ssid: u16 },
    /// Server `ssid` refused a Send, or it went unanswered; `reason` says which.
    SendRejected { ssid: u16, reason: String },
}

/// A bounded queue of events: when full, the oldest is dropped and counted, and the next
/// `pop` reports the count as `Event::EventsDropped` before the events that were kept. An
/// application (or a C host) that never takes its events cannot make the client grow without
/// bound. The core and the C ABI's own queue both use it.
#[derive(Debug, Clone, Default)]
pub struct EventQueue {
    queue: alloc::collections::VecDeque<Event>,
    dropped: u64,
}

impl EventQueue {
    /// Adds `event`, dropping the oldest while `max` (at least 1) are queued.
    pub fn push(&mut self, event: Event, max: usize) {
        while self.queue.len() >= max.max(1) {
            self.queue.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        self.queue.push_back(event);
    }

    /// The oldest event, after an `EventsDropped` if any were dropped since the last call.
    pub fn pop(&mut self) -> Option<Event> {
        if self.dropped > 0 {
            let count = core::mem::take(&mut self.dropped);
            return Some(Event::EventsDropped { count });
        }
        self.queue.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.dropped == 0 && self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_are_dropped_and_counted_first() {
        let mut q = EventQueue::default();
        for ssid in 1..=5 {
            q.push(Event::Deregistered { ssid }, 3);
        }
        assert_eq!(q.pop(), Some(Event::EventsDropped { count: 2 }));
        assert_eq!(q.pop(), Some(Event::Deregistered { ssid: 3 }));
        assert_eq!(q.pop(), Some(Event::Deregistered { ssid: 4 }));
        assert_eq!(q.pop(), Some(Event::Deregistered { ssid: 5 }));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }
}
