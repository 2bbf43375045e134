//! What the client tells its application (DESIGN §1: `poll_event`).

use alloc::string::String;
use alloc::vec::Vec;

use crate::path::Path;
use crate::peer::PeerId;

/// Something the application may want to act on.
#[derive(Debug, Clone, PartialEq)]
// More kinds come with new features: a `match` needs a `_` arm.
#[non_exhaustive]
pub enum Event {
    /// A bootstrap session was finished and its configuration committed.
    Bootstrapped,
    /// A bootstrap attempt failed; another attempt is scheduled at `retry_at` (ms), if any.
    BootstrapFailed {
        /// What went wrong, for logs (no Bootstrap-Server account, an error response, a
        /// timeout, smartcard data that could not be applied, ...).
        reason: String,
        /// When the next Bootstrap-Request is due, in ms on the clock the owner passes as
        /// `now`; `None` when no attempt is scheduled.
        retry_at: Option<u64>,
    },
    /// The Bootstrap-Server's Finish was answered 4.06 because the configuration it wrote is
    /// inconsistent (`reason` is the diagnostic sent back). The session stays open for
    /// corrections until EXCHANGE_LIFETIME after the last command (Core 1.1 §5.2.6, §5.2.3.3);
    /// nothing has been committed.
    BootstrapFinishRefused {
        /// The diagnostic payload of the 4.06 answer: which check the configuration failed.
        reason: String,
    },
    /// Registered with the server whose Short Server ID is `ssid`.
    Registered {
        /// Short Server ID (`/1/x/0`) of the server.
        ssid: u16,
        /// The Location-Path segments of the server's 2.01, as one path (`/rd/5a3f`): where
        /// Update and De-register go (Transport 1.1 §6.2.1).
        location: String,
    },
    /// A registration Update was accepted.
    RegistrationUpdated {
        /// Short Server ID (`/1/x/0`) of the server.
        ssid: u16,
    },
    /// Register or Update failed; `retry_at` says when the next attempt is due.
    RegistrationFailed {
        /// Short Server ID (`/1/x/0`) of the server.
        ssid: u16,
        /// What went wrong, for logs (an error response, a timeout, an unusable server URI).
        reason: String,
        /// When the next Register is due, in ms on the clock the owner passes as `now`;
        /// `None` when this server gets no further attempt.
        retry_at: Option<u64>,
    },
    /// De-registered (on `stop`, or because the server account was removed).
    Deregistered {
        /// Short Server ID (`/1/x/0`) of the server.
        ssid: u16,
    },
    /// A server executed a resource the application owns (e.g. `/3/0/4` Reboot). The client has
    /// already answered 2.04; what happens next is the application's decision.
    Executed {
        /// Short Server ID of the server that sent the Execute.
        ssid: u16,
        /// The executed resource, `/O/I/R`.
        path: Path,
        /// The Execute payload as received: the argument list of Core 1.1 §5.4.5
        /// (e.g. `0='ab',1`), empty when the server sent none.
        args: Vec<u8>,
    },
    /// A server wrote a value (after the write was applied).
    Written {
        /// Short Server ID of the server that wrote.
        ssid: u16,
        /// The path the Write targeted: `/O/I`, `/O/I/R` or `/O/I/R/RI`.
        path: Path,
    },
    /// A server created the instance `path` (`/O/I`).
    Created {
        /// Short Server ID of the server that created it.
        ssid: u16,
        /// The new instance, `/O/I`.
        path: Path,
    },
    /// A server deleted the instance `path` (`/O/I`).
    Deleted {
        /// Short Server ID of the server that deleted it.
        ssid: u16,
        /// The instance that is gone, `/O/I`.
        path: Path,
    },
    /// Saving or loading the persistent configuration failed.
    StorageError {
        /// The storage's error, as text.
        reason: String,
    },
    /// The smartcard's bootstrap data was applied (Bootstrap from Smartcard).
    SmartcardProvisioned,
    /// The smartcard's data went away; what it provisioned was removed.
    SmartcardRemoved,
    /// The Bootstrap-Server account was purged after its Account Timeout (`/0/x/12`).
    BootstrapAccountPurged,
    /// A transport adapter could not send a datagram to `peer` (too large for UDP, no route,
    /// the host's send callback failed). It counts as one lost datagram: CoAP retransmits or
    /// the exchange fails on its own. Reported by the adapters (`UdpClient`, the C transport
    /// hook), never by the sans-I/O core.
    SendFailed {
        /// The peer the datagram was for.
        peer: PeerId,
        /// Why it could not be sent (the OS error, or what the send callback reported).
        reason: String,
    },
    /// A DTLS session with `peer` is up (feature `dtls`, reported by `UdpClient`): the
    /// datagrams the core queued for it go out now.
    SecureSessionEstablished {
        /// The peer the session is with.
        peer: PeerId,
        /// The negotiated cipher suite's IANA name, e.g. `TLS_PSK_WITH_AES_128_CCM_8`.
        cipher_suite: String,
        /// True when an earlier session was resumed (abbreviated handshake, RFC 5246 §7.3).
        resumed: bool,
    },
    /// The DTLS handshake with `peer` failed (a wrong PSK, an alert, no answer), an
    /// established session went down, or the peer cannot be secured (Security Mode not
    /// supported, `coaps://` with NoSec). Nothing from the peer reached the core; the
    /// adapter tries again at `retry_at` (ms on the adapter's clock), `None`: never.
    /// Reported by the transport adapters, never by the sans-I/O core.
    SecureSessionFailed {
        /// The peer the session is with.
        peer: PeerId,
        /// What went wrong (the alert or OpenSSL's reason; never key material).
        reason: String,
        /// When the next handshake may start, if one will.
        retry_at: Option<u64>,
    },
    /// `count` older events were dropped because nobody took them while the queue was full
    /// (`Limits::max_queued_events`). Reported before the events that were kept.
    EventsDropped {
        /// How many events were dropped since the last `EventsDropped`.
        count: u64,
    },
    /// Server `ssid` observes `path` (Core 1.1 §5.5.1): notifications follow its changes.
    ObservationStarted {
        /// Short Server ID of the observing server.
        ssid: u16,
        /// The observed path (object, instance, resource or resource instance).
        path: Path,
    },
    /// The observation of `path` by `ssid` ended: cancelled by the server (Observe=1, RST),
    /// its confirmable notification went unanswered, its target went away, or the
    /// registration ended or was renewed.
    ObservationCancelled {
        /// Short Server ID of the server that observed.
        ssid: u16,
        /// The path that was observed.
        path: Path,
    },
    /// Server `ssid` accepted a Send (2.04).
    SendCompleted {
        /// Short Server ID of the server the data was sent to.
        ssid: u16,
    },
    /// Server `ssid` refused a Send, or it went unanswered; `reason` says which.
    SendRejected {
        /// Short Server ID of the server the data was sent to.
        ssid: u16,
        /// The server's response code (`answered 4.04`), or why no answer came.
        reason: String,
    },
    /// A server executed Update (`/5/0/2`) and the firmware installer asked to defer it
    /// (`FirmwareInstaller::defer_update`): Update Result is 11 until the user agrees
    /// (`Client::firmware_accept_update`) or Maximum Defer Period (`/5/0/13`) runs out.
    FirmwareUpdateAwaitingUser,
    /// Queue mode: MAX_TRANSMIT_WAIT has passed since the last datagram and nothing is in
    /// flight; the device may sleep (radio off) until `Client::poll_timeout`.
    Sleeping,
    /// Queue mode: the client is awake again (it has a datagram to send, or one came in).
    Awake,
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

    /// Gives back the queue's room when it is empty.
    pub(crate) fn trim(&mut self) {
        if self.queue.is_empty() {
            self.queue = alloc::collections::VecDeque::new();
        }
    }

    /// True when [`pop`](Self::pop) would return `None`: no event queued and none dropped
    /// unreported.
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
