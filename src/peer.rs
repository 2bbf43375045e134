//! Remote peers as the core sees them: an opaque id, plus what a transport needs to reach it.
//!
//! The core never resolves names or opens sockets. It hands out a `PeerId` per server URI and
//! describes the peer in `PeerInfo`; the adapter (UDP loop, C transport hook) maps ids to its own
//! addresses or DTLS sessions and feeds datagrams back in with the same id.

use alloc::string::String;
use alloc::vec::Vec;

use crate::uri::ServerUri;

/// Identifies one remote peer (a Bootstrap-Server or an LwM2M Server) for this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// Security Mode (`/0/x/2`), Core 1.1 §E.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityMode {
    /// 0: Pre-Shared Key mode.
    PreSharedKey,
    /// 1: Raw Public Key mode.
    RawPublicKey,
    /// 2: Certificate mode.
    Certificate,
    /// 3: NoSec mode, plain CoAP without DTLS.
    NoSec,
    /// 4: Certificate mode with EST (LwM2M 1.1).
    CertificateWithEst,
}

impl SecurityMode {
    /// The mode for a `/0/x/2` value; `None` for numbers outside 0–4.
    pub fn from_i64(v: i64) -> Option<SecurityMode> {
        Some(match v {
            0 => SecurityMode::PreSharedKey,
            1 => SecurityMode::RawPublicKey,
            2 => SecurityMode::Certificate,
            3 => SecurityMode::NoSec,
            4 => SecurityMode::CertificateWithEst,
            _ => return None,
        })
    }
    /// The `/0/x/2` value of this mode.
    pub fn as_i64(self) -> i64 {
        match self {
            SecurityMode::PreSharedKey => 0,
            SecurityMode::RawPublicKey => 1,
            SecurityMode::Certificate => 2,
            SecurityMode::NoSec => 3,
            SecurityMode::CertificateWithEst => 4,
        }
    }
}

/// What a transport needs to talk to a peer: where, and with which keys (from its Security
/// instance), so that a host stack can run DTLS itself. Its `Debug` shows the lengths of the
/// keys, never their bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// `/0/x/0`, parsed: scheme, host and port to reach.
    pub uri: ServerUri,
    /// `/0/x/2`: how the transport must secure the link.
    pub security_mode: SecurityMode,
    /// `/0/x/3`: PSK identity, or the client's public key / certificate.
    pub public_key_or_identity: Vec<u8>,
    /// `/0/x/4`: the server's public key or certificate.
    pub server_public_key: Vec<u8>,
    /// `/0/x/5`: PSK or the client's private key.
    pub secret_key: Vec<u8>,
    /// True for the Bootstrap-Server.
    pub bootstrap: bool,
    /// The URI as written in `/0/x/0`.
    pub uri_text: String,
}

impl core::fmt::Debug for PeerInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        struct Redacted(usize);
        impl core::fmt::Debug for Redacted {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "<redacted {} B>", self.0)
            }
        }
        f.debug_struct("PeerInfo")
            .field("uri", &self.uri)
            .field("security_mode", &self.security_mode)
            .field(
                "public_key_or_identity",
                &Redacted(self.public_key_or_identity.len()),
            )
            .field("server_public_key", &Redacted(self.server_public_key.len()))
            .field("secret_key", &Redacted(self.secret_key.len()))
            .field("bootstrap", &self.bootstrap)
            .field("uri_text", &self.uri_text)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::ServerUri;

    #[test]
    fn debug_redacts_the_keys() {
        let info = PeerInfo {
            uri: ServerUri::parse("coaps://h:5684").unwrap(),
            security_mode: SecurityMode::PreSharedKey,
            public_key_or_identity: b"identity-bytes".to_vec(),
            server_public_key: Vec::new(),
            secret_key: b"very-secret".to_vec(),
            bootstrap: true,
            uri_text: "coaps://h:5684".into(),
        };
        let d = alloc::format!("{info:?}");
        assert!(
            !d.contains("very-secret") && !d.contains("identity-bytes"),
            "{d}"
        );
        assert!(d.contains("<redacted 11 B>"), "{d}");
    }
}
