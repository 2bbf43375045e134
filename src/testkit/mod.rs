//! Embedded LwM2M servers for tests, the demo, and trying a device without installing a
//! server (feature `testkit`): a [`BootstrapServer`] and an [`Lwm2mServer`] over UDP on
//! 127.0.0.1 with ephemeral ports, plus [`DeviceThread`] to run a client next to them.
//!
//! Each server runs this crate's CoAP endpoint on its own thread; every method takes `&self`,
//! every wait and every request is bounded by a timeout, and dropping a server stops its thread.
//! Because they share the client's CoAP layer, the interop tests also check the device against
//! an independent CoAP implementation.
//!
//! ```no_run
//! use std::time::Duration;
//! use lwm2mc::testkit::{BootstrapConfig, BootstrapServer, Lwm2mServer};
//!
//! let dm = Lwm2mServer::start().unwrap();
//! let bs = BootstrapServer::start(
//!     BootstrapConfig::new().delete("/").server_account(1, &dm.uri(), 60),
//! )
//! .unwrap();
//! println!("point the device at {}", bs.uri());
//! let session = bs.wait_session(Duration::from_secs(60)).unwrap();
//! assert!(session.finished());
//! let reg = dm.wait_registration("my-device", Duration::from_secs(10)).unwrap();
//! let manufacturer = dm.read(&reg.endpoint, "/3/0/0", None).unwrap();
//! println!("{} {:?}", manufacturer.code_string(), manufacturer.payload);
//! ```

#![warn(missing_docs)]

mod bootstrap_server;
mod device;
mod lwm2m_server;
mod net;

pub use bootstrap_server::{BootstrapConfig, BootstrapServer, Session};
pub use device::DeviceThread;
pub use lwm2m_server::{request, Activity, Lwm2mServer, Registration, Update};

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

#[cfg(feature = "dtls")]
use net::Security;

/// The PSK identities and keys a secured testkit server accepts (feature `dtls`; see
/// [`BootstrapServer::start_psk`], [`Lwm2mServer::start_psk`]). The keys are wiped when
/// dropped and never shown by `Debug`.
#[cfg(feature = "dtls")]
#[derive(Clone, Default)]
pub struct PskTable {
    entries: Vec<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)>,
}

#[cfg(feature = "dtls")]
impl PskTable {
    /// An empty table (every handshake refused).
    pub fn new() -> PskTable {
        PskTable::default()
    }

    /// Accepts `identity` with `key` (a later entry for the same identity wins).
    pub fn with(mut self, identity: &[u8], key: &[u8]) -> PskTable {
        self.entries.retain(|(i, _)| i.as_slice() != identity);
        self.entries
            .push((identity.to_vec(), zeroize::Zeroizing::new(key.to_vec())));
        self
    }

    fn security(self) -> Security {
        let entries = self.entries;
        Security {
            psk: Some(std::sync::Arc::new(move |identity: &[u8]| {
                entries
                    .iter()
                    .find(|(i, _)| i.as_slice() == identity)
                    .map(|(_, k)| k.clone())
            })),
        }
    }
}

#[cfg(feature = "dtls")]
impl std::fmt::Debug for PskTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PskTable {{ {} entries }}", self.entries.len())
    }
}
use std::time::Duration;

/// 127.0.0.1 on an ephemeral port: where the servers bind unless told otherwise.
const LOOPBACK_EPHEMERAL: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

use coap_lite::Packet;

use crate::coap::{msg, Failure};

/// How long a request sent by a testkit server may take by default: long enough for the CoAP
/// retransmissions of a lost datagram (RFC 7252 §4.8: 2-3 s, 4-6 s, ...), short enough not to
/// hang a test.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A device's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The CoAP response code, e.g. `0x45` for 2.05 (see [`crate::coap::msg`]).
    pub code: u8,
    /// The Content-Format option, if any.
    pub content_format: Option<u16>,
    /// The payload (empty if none).
    pub payload: Vec<u8>,
}

impl Response {
    fn from_packet(p: &Packet) -> Response {
        Response {
            code: msg::code_of(p),
            content_format: msg::content_format(p),
            payload: p.payload.clone(),
        }
    }

    /// The code in dotted form: "2.05" etc.
    pub fn code_string(&self) -> String {
        msg::code_string(self.code)
    }
}

/// Why a testkit call did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// Nothing (or not the awaited thing) arrived in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The peer refused the request with a CoAP Reset (RFC 7252 §4.2).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The endpoint name is not registered with this server.
    #[error("endpoint {0:?} is not registered")]
    UnknownEndpoint(String),
    /// A testkit thread panicked or went away.
    #[error("a testkit thread panicked")]
    Poisoned,
    /// A socket operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl TestkitError {
    /// The error for a request of ours that failed in the CoAP layer.
    fn from_failure(what: &str, f: Failure) -> TestkitError {
        match f {
            Failure::Timeout => {
                TestkitError::Timeout(format!("{what}: no answer (MAX_RETRANSMIT)"))
            }
            Failure::Reset => TestkitError::Rejected(format!("{what}: the peer sent RST")),
        }
    }
}

/// A duration as whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
