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
    /// `count` older events were dropped because nobody took them while the queue was full
    /// (`Limits::max_queued_events`). Reported before the events that were kept.
    EventsDropped { count: u64 },
}
