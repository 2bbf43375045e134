//! Embedded LwM2M servers for tests, the demo, and trying a device without installing a
//! server (feature `testkit`): a Bootstrap-Server and an LwM2M Server over UDP on 127.0.0.1
//! with ephemeral ports. They use this crate's CoAP layer; the interop tests check the device
//! against an independent CoAP implementation as well.

mod bootstrap_server;
mod device;
mod lwm2m_server;
mod net;

pub use bootstrap_server::{BootstrapConfig, BootstrapServer, Session};
pub use device::DeviceThread;
pub use lwm2m_server::{request, Lwm2mServer, Registration, Update};

use coap_lite::Packet;

use crate::coap::msg;

/// A device's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u8,
    pub content_format: Option<u16>,
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

    /// "2.05" etc.
    pub fn code_string(&self) -> String {
        msg::code_string(self.code)
    }
}

/// Why a testkit call did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("endpoint {0:?} is not registered")]
    UnknownEndpoint(String),
    #[error("a testkit thread panicked")]
    Poisoned,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
