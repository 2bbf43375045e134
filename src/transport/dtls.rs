//! DTLS 1.2 (RFC 6347) for `coaps://` peers of the UDP adapter (feature `dtls`).
//!
//! Two layers:
//!
//! - [`DtlsSession`]: one DTLS association, datagrams in and out (sans-I/O in its data: it never
//!   touches a socket). Client or server, PSK (Security Mode 0) with the cipher suites LwM2M
//!   mandates for PSK, `TLS_PSK_WITH_AES_128_CCM_8` and `TLS_PSK_WITH_AES_128_CBC_SHA256`
//!   (LwM2M Transport 1.1 §5.2.7.1; RFC 6655, RFC 5487). Certificate mode (Security Mode 2) on
//!   the client side ([`DtlsSession::client_cert`], [`CertCredentials`]): the client's X.509
//!   certificate and private key, the server's certificate matched exactly. Session resumption
//!   (RFC 5246 §7.3) through [`DtlsSession::session`] and the `resume` argument of
//!   [`DtlsSession::client_psk`] and [`DtlsSession::client_cert`].
//! - [`SecureLinks`] (crate-private): what `UdpClient` keeps per secured peer: the session,
//!   the datagrams the core emitted while the handshake runs (bounded), the back-off after a
//!   failed handshake, and the rehandshake before a Register.
//!
//! The stack is the system's OpenSSL (see the README's "DTLS" section for why). OpenSSL reads
//! its own clock for the handshake retransmission timer (RFC 6347 §4.2.4: 1 s, doubling):
//! [`DtlsSession::timeout`] says how long until it is due, [`DtlsSession::handle_timeout`]
//! runs it. Everything else is driven by the caller.
//!
//! Secrets: [`PskCredentials`] holds its copies in `Zeroizing` buffers (wiped on drop) and
//! its `Debug` shows only lengths; [`CertCredentials`] keeps the private key only as OpenSSL's
//! `EVP_PKEY` (OpenSSL clears its key material when it frees it) and shows none of it; no
//! error or event text contains key material.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSession, SslStream,
    SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use zeroize::Zeroizing;

use crate::event::Event;
use crate::peer::{PeerId, PeerInfo, SecurityMode};
use crate::uri::Scheme;

/// The PSK cipher suites offered, in order of preference: the two LwM2M makes mandatory for
/// PSK mode (Transport 1.1 §5.2.7.1), OpenSSL names.
pub const PSK_CIPHER_SUITES: &str = "PSK-AES128-CCM8:PSK-AES128-CBC-SHA256";

/// The Certificate mode cipher suites offered, in order of preference (OpenSSL names):
/// `TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8` (RFC 7251), the one LwM2M mandates for Certificate
/// mode, then `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256` and
/// `TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256` (RFC 5289), which LwM2M 1.1 and 1.0 name next to
/// it. ECDSA only: the server's certificate must carry an EC key (P-256 in LwM2M).
pub const CERT_CIPHER_SUITES: &str =
    "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256";

/// Longest PSK identity accepted (bytes). LwM2M asks clients to support identities up to 128
/// bytes (Core 1.1 Appendix E.1.1); OpenSSL allows 128 (`PSK_MAX_IDENTITY_LEN`).
pub const MAX_PSK_IDENTITY: usize = 128;

/// Longest PSK accepted (bytes): LwM2M asks for keys up to 64 bytes (Core 1.1 Appendix
/// E.1.1); OpenSSL 3 allows up to 512, we stop at 256.
pub const MAX_PSK_KEY: usize = 256;

/// Path MTU assumed for handshake fragmentation (RFC 6347 §4.1.1.1): the IPv6 minimum link MTU
/// (1280) less IPv6 and UDP headers.
pub const DTLS_MTU: usize = 1232;

/// Datagrams a session keeps unread, received before it could read them (bounded: a peer
/// controls how many arrive).
const MAX_INBOUND: usize = 16;

/// Datagrams the core emitted for a peer while its handshake runs or waits for a retry: kept
/// and sent once the session is up; beyond this, the oldest is dropped (CoAP retransmits).
pub const MAX_QUEUED: usize = 16;

/// A handshake that has not finished after this long has failed (OpenSSL alone would go on
/// retransmitting for minutes, RFC 6347 §4.2.4.1).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// First back-off after a failed handshake; doubles per failure up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// Longest back-off between two handshake attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// Largest plaintext read out of one record (a UDP datagram at most).
const MAX_PLAINTEXT: usize = 65_535;

/// `DTLS_CTRL_GET_TIMEOUT` and `DTLS_CTRL_HANDLE_TIMEOUT` of `<openssl/ssl.h>` (the
/// `DTLSv1_get_timeout` / `DTLSv1_handle_timeout` macros).
const DTLS_CTRL_GET_TIMEOUT: core::ffi::c_int = 73;
const DTLS_CTRL_HANDLE_TIMEOUT: core::ffi::c_int = 74;

/// A PSK identity (`/0/x/3`) and key (`/0/x/5`), wiped from memory when dropped.
#[derive(Clone)]
pub struct PskCredentials {
    identity: Zeroizing<Vec<u8>>,
    key: Zeroizing<Vec<u8>>,
}

impl PskCredentials {
    /// Checks the lengths (an empty identity or key, or one beyond [`MAX_PSK_IDENTITY`] /
    /// [`MAX_PSK_KEY`], is refused) and copies both.
    pub fn new(identity: &[u8], key: &[u8]) -> Result<PskCredentials, DtlsError> {
        if identity.is_empty() || identity.len() > MAX_PSK_IDENTITY {
            return Err(DtlsError::Setup(format!(
                "PSK identity of {} bytes (1..={MAX_PSK_IDENTITY})",
                identity.len()
            )));
        }
        if key.is_empty() || key.len() > MAX_PSK_KEY {
            return Err(DtlsError::Setup(format!(
                "PSK of {} bytes (1..={MAX_PSK_KEY})",
                key.len()
            )));
        }
        Ok(PskCredentials {
            identity: Zeroizing::new(identity.to_vec()),
            key: Zeroizing::new(key.to_vec()),
        })
    }

    /// The identity (sent in clear in the ClientKeyExchange, RFC 4279 §2).
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }
}

impl fmt::Debug for PskCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PskCredentials {{ identity: <redacted {} B>, key: <redacted {} B> }}",
            self.identity.len(),
            self.key.len()
        )
    }
}

/// Certificate mode keys (Security Mode 2, Core 1.1 §E.1.1): the client's certificate
/// (`/0/x/3`, DER X.509v3), its private key (`/0/x/5`, DER: RFC 5958 OneAsymmetricKey, i.e.
/// PKCS #8, or the algorithm's own form) and the server's certificate (`/0/x/4`, DER).
///
/// The server is authenticated by an exact match of the certificate it presents with
/// `/0/x/4`: Certificate Usage 3, "domain-issued certificate" (RFC 6698 §2.1.1: the
/// certificate must match, no PKIX path validation), which is what an account without
/// Certificate Usage `/0/x/15` means (Core 1.1 §E.1, `0-1_1.xml`). A certificate that does not
/// match fails the handshake with `bad_certificate` before the client sends its own key
/// exchange, and again after the handshake should OpenSSL have let it through.
#[derive(Clone)]
pub struct CertCredentials {
    cert: X509,
    key: PKey<Private>,
    server_cert: Arc<Vec<u8>>,
}

impl CertCredentials {
    /// Parses and checks the three: DER certificates, a DER private key matching the client's
    /// certificate. Nothing of a key is ever put into an error.
    pub fn new(
        client_cert_der: &[u8],
        private_key_der: &[u8],
        server_cert_der: &[u8],
    ) -> Result<CertCredentials, DtlsError> {
        let cert = X509::from_der(client_cert_der).map_err(|_| {
            DtlsError::Setup("client certificate (/0/x/3) is not a DER X.509 certificate".into())
        })?;
        let key = PKey::private_key_from_der(private_key_der).map_err(|_| {
            DtlsError::Setup("private key (/0/x/5) is not a DER private key".into())
        })?;
        let matches = cert
            .public_key()
            .map(|public| public.public_eq(&key))
            .unwrap_or(false);
        if !matches {
            return Err(DtlsError::Setup(
                "private key (/0/x/5) does not belong to the client certificate (/0/x/3)".into(),
            ));
        }
        // Parsed to refuse what is no certificate; kept as OpenSSL encodes it (the DER as
        // received for a well-formed certificate).
        let server = X509::from_der(server_cert_der).map_err(|_| {
            DtlsError::Setup("server certificate (/0/x/4) is not a DER X.509 certificate".into())
        })?;
        let server_cert = server
            .to_der()
            .map_err(|e| DtlsError::Setup(stack_text(&e)))?;
        Ok(CertCredentials {
            cert,
            key,
            server_cert: Arc::new(server_cert),
        })
    }
}

impl fmt::Debug for CertCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CertCredentials {{ key: <redacted>, server_cert: {} B }}",
            self.server_cert.len()
        )
    }
}

/// True when `cert` is the pinned server certificate (byte for byte, DER).
fn is_pinned(cert: Option<&openssl::x509::X509Ref>, pinned: &[u8]) -> bool {
    cert.and_then(|c| c.to_der().ok())
        .is_some_and(|der| der.as_slice() == pinned)
}

/// Why a DTLS session could not be set up or went down.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtlsError {
    /// The keys or the OpenSSL context could not be set up (nothing was sent).
    #[error("DTLS setup failed: {0}")]
    Setup(String),
    /// The handshake failed: an alert from the peer (a wrong PSK gives `decrypt_error` or
    /// `handshake_failure`), a message we refused, or no answer in [`HANDSHAKE_TIMEOUT`].
    #[error("DTLS handshake failed: {0}")]
    Handshake(String),
    /// The established session ended: the peer's `close_notify` or a fatal alert.
    #[error("DTLS session closed: {0}")]
    Closed(String),
}

/// OpenSSL's error queue as one line (never holds key material: OpenSSL reports reasons and
/// alerts, not buffers).
fn describe(e: &openssl::ssl::Error) -> String {
    match e.ssl_error() {
        Some(stack) => stack
            .errors()
            .iter()
            .map(|x| x.reason().unwrap_or("unknown").to_string())
            .collect::<Vec<_>>()
            .join("; "),
        None => e.to_string(),
    }
}

fn stack_text(e: &ErrorStack) -> String {
    e.errors()
        .iter()
        .map(|x| x.reason().unwrap_or("unknown").to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The in-memory datagram pipe under the OpenSSL session: each `read` hands over one received
/// datagram, each `write` is one datagram to send (DTLS keeps records within datagrams,
/// RFC 6347 §4.1.1).
#[derive(Default)]
struct Pipe {
    inbound: VecDeque<Vec<u8>>,
    outbound: VecDeque<Vec<u8>>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(d) = self.inbound.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        // A datagram larger than OpenSSL's buffer is cut, which makes its record invalid and
        // silently discarded (RFC 6347 §4.1.2.7).
        let n = d.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), d.get(..n)) {
            dst.copy_from_slice(src);
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbound.push_back(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Which PSK a server uses for an identity (`None`: unknown identity, handshake refused).
pub type PskLookup = Arc<dyn Fn(&[u8]) -> Option<Zeroizing<Vec<u8>>> + Send + Sync>;

/// One DTLS 1.2 association.
pub struct DtlsSession {
    stream: SslStream<Pipe>,
    connected: bool,
    closed: bool,
    identity_index: Option<Index<Ssl, Vec<u8>>>,
    /// Certificate mode: the server certificate the peer must present (checked once more when
    /// the handshake ends).
    pinned: Option<Arc<Vec<u8>>>,
}

impl fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsSession")
            .field("connected", &self.connected)
            .field("cipher_suite", &self.cipher_suite())
            .finish()
    }
}

fn dtls12_only(b: &mut SslContextBuilder) -> Result<(), ErrorStack> {
    dtls12_with(b, PSK_CIPHER_SUITES)
}

fn dtls12_with(b: &mut SslContextBuilder, suites: &str) -> Result<(), ErrorStack> {
    b.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
    b.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
    b.set_cipher_list(suites)?;
    // The MTU is ours (DTLS_MTU), not the BIO's: there is no socket to query.
    b.set_options(SslOptions::NO_QUERY_MTU);
    // Plaintext of at most one datagram per record; no renegotiation (RFC 6347 §4.2.8 allows
    // it, LwM2M has no use for it and it is a known attack surface).
    b.set_options(SslOptions::NO_RENEGOTIATION);
    Ok(())
}

impl DtlsSession {
    /// A client session with `psk`, its ClientHello queued (take it with
    /// [`DtlsSession::poll_transmit`]). With `resume`, it offers that earlier session for an
    /// abbreviated handshake (RFC 5246 §7.3); the server may refuse and run a full one.
    pub fn client_psk(
        psk: &PskCredentials,
        resume: Option<&SslSession>,
    ) -> Result<DtlsSession, DtlsError> {
        let setup = |e: ErrorStack| DtlsError::Setup(stack_text(&e));
        let mut b = SslContext::builder(SslMethod::dtls_client()).map_err(setup)?;
        dtls12_only(&mut b).map_err(setup)?;
        let creds = psk.clone();
        // RFC 4279 §5.1: the identity is sent as is; OpenSSL wants it NUL-terminated in
        // `identity_out` (MAX_PSK_IDENTITY + 1 bytes).
        b.set_psk_client_callback(move |_ssl, _hint, identity_out, key_out| {
            let id = creds.identity.as_slice();
            let key = creds.key.as_slice();
            let (Some(id_dst), Some(key_dst)) = (
                identity_out.get_mut(..=id.len()),
                key_out.get_mut(..key.len()),
            ) else {
                return Err(ErrorStack::get());
            };
            let (text, nul) = id_dst.split_at_mut(id.len());
            text.copy_from_slice(id);
            nul.fill(0);
            key_dst.copy_from_slice(key);
            Ok(key.len())
        });
        Self::connect(b, resume, None)
    }

    /// The client side of a context built by `client_psk` or `client_cert`: the session,
    /// resumed from `resume` when OpenSSL takes it, in the connect state.
    fn connect(
        b: openssl::ssl::SslContextBuilder,
        resume: Option<&SslSession>,
        pinned: Option<Arc<Vec<u8>>>,
    ) -> Result<DtlsSession, DtlsError> {
        let setup = |e: ErrorStack| DtlsError::Setup(stack_text(&e));
        let ctx = b.build();
        let mut ssl = Ssl::new(&ctx).map_err(setup)?;
        ssl.set_mtu(DTLS_MTU as u32).map_err(setup)?;
        if let Some(s) = resume {
            // SAFETY: `s` was taken from a session of a context built by the same function
            // as this one (same method, same cipher list); OpenSSL only requires the session
            // to belong to a compatible context, and refuses (full handshake) otherwise.
            unsafe { ssl.set_session(s) }.map_err(setup)?;
        }
        ssl.set_connect_state();
        Self::start(ssl, false, None, pinned)
    }

    /// A client session in Certificate mode (Security Mode 2): presents `creds`' certificate
    /// (the server asks for it in a CertificateRequest, RFC 5246 §7.4.4) and accepts only the
    /// server certificate of `creds` (see [`CertCredentials`]). `resume` as for
    /// [`DtlsSession::client_psk`].
    pub fn client_cert(
        creds: &CertCredentials,
        resume: Option<&SslSession>,
    ) -> Result<DtlsSession, DtlsError> {
        let setup = |e: ErrorStack| DtlsError::Setup(stack_text(&e));
        let mut b = SslContext::builder(SslMethod::dtls_client()).map_err(setup)?;
        dtls12_with(&mut b, CERT_CIPHER_SUITES).map_err(setup)?;
        b.set_certificate(&creds.cert).map_err(setup)?;
        b.set_private_key(&creds.key).map_err(setup)?;
        b.check_private_key().map_err(setup)?;
        let pinned = creds.server_cert.clone();
        // Certificate Usage 3 (RFC 6698 §2.1.1): the end-entity certificate (depth 0) must be
        // /0/x/4; OpenSSL's own verdict on the chain (self-signed, unknown issuer) does not
        // count, so the certificates above it are let through and the leaf decides.
        b.set_verify_callback(SslVerifyMode::PEER, move |_preverified, ctx| {
            if ctx.error_depth() != 0 {
                return true;
            }
            is_pinned(ctx.current_cert(), &pinned)
        });
        Self::connect(b, resume, Some(creds.server_cert.clone()))
    }

    /// A server session: `lookup` gives the PSK for the identity the client sends. Feed the
    /// client's first datagram with [`DtlsSession::handle_datagram`]. (No cookie exchange:
    /// for the testkit's servers on loopback; RFC 6347 §4.2.1 wants one on open networks.)
    pub fn server_psk(lookup: PskLookup) -> Result<DtlsSession, DtlsError> {
        Self::server_psk_suites(lookup, PSK_CIPHER_SUITES)
    }

    /// [`DtlsSession::server_psk`] accepting only `suites` (an OpenSSL cipher list, e.g.
    /// `PSK-AES128-CBC-SHA256`).
    pub fn server_psk_suites(lookup: PskLookup, suites: &str) -> Result<DtlsSession, DtlsError> {
        let setup = |e: ErrorStack| DtlsError::Setup(stack_text(&e));
        let mut b = SslContext::builder(SslMethod::dtls_server()).map_err(setup)?;
        dtls12_only(&mut b).map_err(setup)?;
        b.set_cipher_list(suites).map_err(setup)?;
        let index = Ssl::new_ex_index::<Vec<u8>>().map_err(setup)?;
        b.set_psk_server_callback(move |ssl, identity, key_out| {
            let identity = identity.unwrap_or(&[]);
            if identity.len() > MAX_PSK_IDENTITY {
                return Ok(0);
            }
            let Some(key) = lookup(identity) else {
                // 0: unknown identity, OpenSSL answers with a fatal alert.
                return Ok(0);
            };
            let Some(dst) = key_out.get_mut(..key.len()) else {
                return Ok(0);
            };
            dst.copy_from_slice(&key);
            ssl.set_ex_data(index, identity.to_vec());
            Ok(key.len())
        });
        let ctx = b.build();
        let mut ssl = Ssl::new(&ctx).map_err(setup)?;
        ssl.set_mtu(DTLS_MTU as u32).map_err(setup)?;
        ssl.set_accept_state();
        Self::start(ssl, true, Some(index), None)
    }

    /// A server session in Certificate mode with `cert` and `key` (PEM or DER parsed by the
    /// caller), asking the client for its certificate and accepting any (the caller checks
    /// [`DtlsSession::peer_certificate`]). For tests; no cookie exchange, as `server_psk`.
    pub fn server_cert(cert: &X509, key: &PKey<Private>) -> Result<DtlsSession, DtlsError> {
        let setup = |e: ErrorStack| DtlsError::Setup(stack_text(&e));
        let mut b = SslContext::builder(SslMethod::dtls_server()).map_err(setup)?;
        dtls12_with(&mut b, CERT_CIPHER_SUITES).map_err(setup)?;
        b.set_certificate(cert).map_err(setup)?;
        b.set_private_key(key).map_err(setup)?;
        b.check_private_key().map_err(setup)?;
        b.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            |_, _| true,
        );
        let ctx = b.build();
        let mut ssl = Ssl::new(&ctx).map_err(setup)?;
        ssl.set_mtu(DTLS_MTU as u32).map_err(setup)?;
        ssl.set_accept_state();
        Self::start(ssl, true, None, None)
    }

    /// The certificate the peer presented (DER), once connected.
    pub fn peer_certificate(&self) -> Option<Vec<u8>> {
        if !self.connected {
            return None;
        }
        self.stream.ssl().peer_certificate()?.to_der().ok()
    }

    fn start(
        ssl: Ssl,
        server: bool,
        identity_index: Option<Index<Ssl, Vec<u8>>>,
        pinned: Option<Arc<Vec<u8>>>,
    ) -> Result<DtlsSession, DtlsError> {
        let stream =
            SslStream::new(ssl, Pipe::default()).map_err(|e| DtlsError::Setup(stack_text(&e)))?;
        let mut s = DtlsSession {
            stream,
            connected: false,
            closed: false,
            identity_index,
            pinned,
        };
        if !server {
            // The client speaks first: queue the ClientHello.
            s.drive()?;
        }
        Ok(s)
    }

    /// True once the handshake has finished.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The negotiated cipher suite's IANA name (`TLS_PSK_WITH_AES_128_CCM_8`), once connected.
    pub fn cipher_suite(&self) -> Option<&'static str> {
        if !self.connected {
            return None;
        }
        self.stream
            .ssl()
            .current_cipher()
            .and_then(|c| c.standard_name().or(Some(c.name())))
    }

    /// Whether the handshake resumed an earlier session (abbreviated, RFC 5246 §7.3).
    pub fn resumed(&self) -> bool {
        self.connected && self.stream.ssl().session_reused()
    }

    /// The session to resume later, once connected.
    pub fn session(&self) -> Option<SslSession> {
        if !self.connected {
            return None;
        }
        self.stream.ssl().session().map(|s| s.to_owned())
    }

    /// On a server session: the PSK identity the client authenticated with.
    pub fn peer_identity(&self) -> Option<&[u8]> {
        let idx = self.identity_index?;
        self.stream.ssl().ex_data(idx).map(|v| v.as_slice())
    }

    /// Feeds one received datagram; returns the application data it carried (CoAP messages,
    /// only ever from an authenticated record). Records that do not verify are dropped
    /// silently (RFC 6347 §4.1.2.7); an error means the session is unusable.
    pub fn handle_datagram(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>, DtlsError> {
        if self.closed {
            return Err(DtlsError::Closed("session already closed".into()));
        }
        let inbound = &mut self.stream.get_mut().inbound;
        if inbound.len() >= MAX_INBOUND {
            inbound.pop_front();
        }
        inbound.push_back(data.to_vec());
        self.drive()
    }

    /// Encrypts one datagram's worth of application data (only once connected).
    pub fn send(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        if !self.connected || self.closed {
            return Err(DtlsError::Closed("session not established".into()));
        }
        match self.stream.ssl_write(data) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.closed = true;
                Err(DtlsError::Closed(describe(&e)))
            }
        }
    }

    /// The next datagram to put on the wire, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.stream.get_mut().outbound.pop_front()
    }

    /// How long until the handshake retransmission timer is due (`None`: no timer runs).
    pub fn timeout(&self) -> Option<Duration> {
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        // SAFETY: `DTLSv1_get_timeout(ssl, &tv)`: a live SSL owned by `self.stream`, and a
        // pointer to a `struct timeval` that outlives the call; OpenSSL only writes to it.
        let r = unsafe {
            openssl_sys::SSL_ctrl(
                self.stream.ssl().as_ptr(),
                DTLS_CTRL_GET_TIMEOUT,
                0,
                (&mut tv as *mut libc::timeval).cast(),
            )
        };
        if r <= 0 {
            return None;
        }
        let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
        let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
        Some(Duration::from_secs(secs) + Duration::from_micros(micros))
    }

    /// Runs the retransmission timer if it is due: resends the last flight (RFC 6347
    /// §4.2.4). Returns application data that became readable, like `handle_datagram`.
    pub fn handle_timeout(&mut self) -> Result<Vec<Vec<u8>>, DtlsError> {
        if self.closed {
            return Ok(Vec::new());
        }
        // SAFETY: `DTLSv1_handle_timeout(ssl)`: a live SSL owned by `self.stream`; the call
        // writes the retransmitted flight to our BIO (the `Pipe`), nothing else.
        let r = unsafe {
            openssl_sys::SSL_ctrl(
                self.stream.ssl().as_ptr(),
                DTLS_CTRL_HANDLE_TIMEOUT,
                0,
                core::ptr::null_mut(),
            )
        };
        if r < 0 {
            self.closed = true;
            return Err(DtlsError::Handshake(
                "too many retransmissions (RFC 6347 §4.2.4.1)".into(),
            ));
        }
        self.drive()
    }

    /// Sends `close_notify` (RFC 5246 §7.2.1) and ends the session; take the alert with
    /// [`DtlsSession::poll_transmit`].
    pub fn close(&mut self) {
        if self.connected && !self.closed {
            let _ = self.stream.shutdown();
        }
        self.closed = true;
    }

    /// Advances the handshake, then reads every record that became readable.
    fn drive(&mut self) -> Result<Vec<Vec<u8>>, DtlsError> {
        let mut out = Vec::new();
        if !self.connected {
            match self.stream.do_handshake() {
                Ok(()) => {
                    // Certificate mode: the verify callback already refused any other server
                    // certificate; checked once more before any data is trusted.
                    if let Some(pinned) = &self.pinned {
                        if !is_pinned(self.stream.ssl().peer_certificate().as_deref(), pinned) {
                            self.closed = true;
                            return Err(DtlsError::Handshake(
                                "the server certificate is not /0/x/4".into(),
                            ));
                        }
                    }
                    self.connected = true;
                }
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {
                    return Ok(out)
                }
                Err(e) => {
                    self.closed = true;
                    return Err(DtlsError::Handshake(describe(&e)));
                }
            }
        }
        let mut buf = vec![0u8; MAX_PLAINTEXT];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.push(buf.get(..n).unwrap_or(&[]).to_vec()),
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => break,
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.closed = true;
                    return if out.is_empty() {
                        Err(DtlsError::Closed("close_notify from the peer".into()))
                    } else {
                        Ok(out)
                    };
                }
                Err(e) => {
                    self.closed = true;
                    return Err(DtlsError::Closed(describe(&e)));
                }
            }
        }
        Ok(out)
    }

    /// True once the session can carry nothing more.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// True for a DTLS 1.2 record carrying application data at an epoch after the handshake
/// (RFC 6347 §4.1: type 23, version {254, 253}, epoch ≥ 1): the only records from an unknown
/// address worth offering to an established session.
fn is_application_record(data: &[u8]) -> bool {
    matches!(data, [23, 254, 253, e0, e1, ..] if u16::from_be_bytes([*e0, *e1]) >= 1)
}

/// What the adapter must do after a call into [`SecureLinks`].
#[derive(Default)]
pub(crate) struct Output {
    /// Datagrams to send to the peer's address.
    pub(crate) wire: Vec<(PeerId, Vec<u8>)>,
    /// Decrypted CoAP messages for the core.
    pub(crate) plaintext: Vec<(PeerId, Vec<u8>)>,
    /// Events for the application.
    pub(crate) events: Vec<Event>,
}

impl Output {
    fn drain_session(&mut self, peer: PeerId, s: &mut DtlsSession) {
        while let Some(d) = s.poll_transmit() {
            self.wire.push((peer, d));
        }
    }
}

/// What secures a peer, from its Security instance.
enum Credentials {
    Psk(PskCredentials),
    Cert(CertCredentials),
    /// A mode this build cannot secure (RPK, EST), or `coaps://` with NoSec, or
    /// keys that do not fit: nothing is ever sent to the peer, in clear or otherwise.
    Unusable(String),
}

struct Link {
    creds: Credentials,
    session: Option<DtlsSession>,
    /// When the running handshake started (adapter ms).
    started_at: u64,
    /// Plaintext the core emitted while no session was up (bounded by [`MAX_QUEUED`]).
    queue: VecDeque<Vec<u8>>,
    failures: u32,
    /// No handshake before this time (back-off after a failure).
    retry_at: Option<u64>,
    /// The last established session, for an abbreviated handshake if this one goes down.
    resumable: Option<SslSession>,
    /// Whether the current session has carried application data.
    used: bool,
    /// Message ID of the last Register sent, so that its retransmissions do not rehandshake.
    last_register_mid: Option<u16>,
    /// Whether the next handshake is a fresh, full one (before a Register).
    fresh: bool,
    reported_unusable: bool,
}

/// The DTLS side of `UdpClient`: one [`Link`] per `coaps://` peer.
#[derive(Default)]
pub(crate) struct SecureLinks {
    links: BTreeMap<PeerId, Link>,
    /// [`HANDSHAKE_TIMEOUT`] unless the adapter's owner set another.
    handshake_timeout: Option<Duration>,
}

/// True when a peer's datagrams go through DTLS: its URI says `coaps://` (RFC 7252 §6.2).
pub(crate) fn is_secure(info: &PeerInfo) -> bool {
    info.uri.scheme == Scheme::Coaps
}

/// The message ID of a CoAP Register (`POST /rd`, Transport 1.1 §6.2.1): the datagram before
/// which a new DTLS session is started.
fn register_mid(data: &[u8]) -> Option<u16> {
    let p = coap_lite::Packet::from_bytes(data).ok()?;
    if p.header.code != coap_lite::MessageClass::Request(coap_lite::RequestType::Post) {
        return None;
    }
    let path = p.get_option(coap_lite::CoapOption::UriPath)?;
    let mut segs = path.iter();
    match (segs.next(), segs.next()) {
        (Some(first), None) if first.as_slice() == b"rd" => Some(p.header.message_id),
        _ => None,
    }
}

fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .checked_mul(1u32 << shift)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SecureLinks {
    /// Sets how long a handshake may take before it counts as failed.
    pub(crate) fn set_handshake_timeout(&mut self, d: Duration) {
        self.handshake_timeout = Some(d);
    }

    fn deadline(&self, link: &Link) -> u64 {
        link.started_at
            .saturating_add(ms(self.handshake_timeout.unwrap_or(HANDSHAKE_TIMEOUT)))
    }

    /// Whether `peer` is secured by a link.
    pub(crate) fn contains(&self, peer: PeerId) -> bool {
        self.links.contains_key(&peer)
    }

    /// Takes the keys of a `coaps://` peer (from its Security instance, `/0/x/2`, `/3`, `/5`).
    pub(crate) fn open(&mut self, peer: PeerId, info: &PeerInfo) {
        let creds = match info.security_mode {
            SecurityMode::PreSharedKey => {
                match PskCredentials::new(&info.public_key_or_identity, &info.secret_key) {
                    Ok(c) => Credentials::Psk(c),
                    Err(e) => Credentials::Unusable(e.to_string()),
                }
            }
            SecurityMode::Certificate => match CertCredentials::new(
                &info.public_key_or_identity,
                &info.secret_key,
                &info.server_public_key,
            ) {
                Ok(c) => Credentials::Cert(c),
                Err(e) => Credentials::Unusable(e.to_string()),
            },
            SecurityMode::NoSec => Credentials::Unusable(
                "coaps:// URI with Security Mode 3 (NoSec): not sent in clear".into(),
            ),
            other => Credentials::Unusable(format!(
                "Security Mode {} is not supported by the built-in DTLS (PSK and Certificate only)",
                other.as_i64()
            )),
        };
        self.links.insert(
            peer,
            Link {
                creds,
                session: None,
                started_at: 0,
                queue: VecDeque::new(),
                failures: 0,
                retry_at: None,
                resumable: None,
                used: false,
                last_register_mid: None,
                fresh: true,
                reported_unusable: false,
            },
        );
    }

    /// Forgets `peer`, sending `close_notify` if a session is up (Core 1.1 §5.2.5: the
    /// session of a removed account is closed).
    pub(crate) fn close(&mut self, peer: PeerId, out: &mut Output) {
        if let Some(mut link) = self.links.remove(&peer) {
            if let Some(s) = link.session.as_mut() {
                s.close();
                out.drain_session(peer, s);
            }
        }
    }

    /// The core emitted `data` for `peer`: encrypt it, or queue it and start a handshake.
    pub(crate) fn send(&mut self, now: u64, peer: PeerId, data: Vec<u8>, out: &mut Output) {
        let Some(link) = self.links.get_mut(&peer) else {
            return;
        };
        if let Credentials::Unusable(reason) = &link.creds {
            if !link.reported_unusable {
                link.reported_unusable = true;
                out.events.push(Event::SecureSessionFailed {
                    peer,
                    reason: reason.clone(),
                    retry_at: None,
                });
            }
            return;
        }
        // A new DTLS session before a Register that follows earlier traffic (the client then
        // registers again on the new session, Transport 1.1 §5.2.x "when a new DTLS session is
        // started ... the Client MUST register again"); retransmissions of the same Register
        // keep the session. Updates never rehandshake.
        if let Some(mid) = register_mid(&data) {
            if link.last_register_mid != Some(mid) {
                link.last_register_mid = Some(mid);
                if link.used {
                    if let Some(s) = link.session.as_mut() {
                        s.close();
                        out.drain_session(peer, s);
                    }
                    link.session = None;
                    link.fresh = true;
                    link.used = false;
                }
            }
        }
        if let Some(s) = link.session.as_mut() {
            if s.is_connected() {
                match s.send(&data) {
                    Ok(()) => {
                        link.used = true;
                        out.drain_session(peer, s);
                        return;
                    }
                    Err(e) => {
                        link.session = None;
                        out.events.push(Event::SecureSessionFailed {
                            peer,
                            reason: e.to_string(),
                            retry_at: Some(now),
                        });
                    }
                }
            }
        }
        if link.queue.len() >= MAX_QUEUED {
            link.queue.pop_front();
        }
        link.queue.push_back(data);
        Self::maybe_start(now, peer, link, out);
    }

    /// Starts a handshake if none runs, the back-off allows it, and something waits.
    fn maybe_start(now: u64, peer: PeerId, link: &mut Link, out: &mut Output) {
        if link.session.is_some() || link.queue.is_empty() {
            return;
        }
        if link.retry_at.is_some_and(|t| now < t) {
            return;
        }
        let resume = if link.fresh {
            None
        } else {
            link.resumable.as_ref()
        };
        let started = match &link.creds {
            Credentials::Psk(creds) => DtlsSession::client_psk(creds, resume),
            Credentials::Cert(creds) => DtlsSession::client_cert(creds, resume),
            Credentials::Unusable(_) => return,
        };
        match started {
            Ok(mut s) => {
                out.drain_session(peer, &mut s);
                link.session = Some(s);
                link.started_at = now;
                link.retry_at = None;
            }
            Err(e) => Self::failed(now, peer, link, e, out),
        }
    }

    fn failed(now: u64, peer: PeerId, link: &mut Link, e: DtlsError, out: &mut Output) {
        link.session = None;
        link.failures = link.failures.saturating_add(1);
        let at = now.saturating_add(ms(backoff(link.failures)));
        link.retry_at = Some(at);
        // A failed handshake starts over from scratch.
        link.fresh = true;
        out.events.push(Event::SecureSessionFailed {
            peer,
            reason: e.to_string(),
            retry_at: Some(at),
        });
    }

    /// A datagram from `peer`'s address. Returns false when `peer` has no link (the caller
    /// hands the datagram to the core as plain CoAP).
    pub(crate) fn receive(
        &mut self,
        now: u64,
        peer: PeerId,
        data: &[u8],
        out: &mut Output,
    ) -> bool {
        let Some(link) = self.links.get_mut(&peer) else {
            return false;
        };
        let Some(s) = link.session.as_mut() else {
            // No session: nothing from this address can be authenticated; dropped.
            return true;
        };
        let was_connected = s.is_connected();
        let res = s.handle_datagram(data);
        out.drain_session(peer, s);
        Self::after_progress(now, peer, link, was_connected, res, out);
        true
    }

    fn after_progress(
        now: u64,
        peer: PeerId,
        link: &mut Link,
        was_connected: bool,
        res: Result<Vec<Vec<u8>>, DtlsError>,
        out: &mut Output,
    ) {
        match res {
            Ok(plain) => {
                out.plaintext.extend(plain.into_iter().map(|p| (peer, p)));
                let Some(s) = link.session.as_mut() else {
                    return;
                };
                if !was_connected && s.is_connected() {
                    link.failures = 0;
                    link.fresh = false;
                    link.resumable = s.session();
                    out.events.push(Event::SecureSessionEstablished {
                        peer,
                        cipher_suite: s.cipher_suite().unwrap_or("unknown").to_string(),
                        resumed: s.resumed(),
                    });
                    while let Some(d) = link.queue.pop_front() {
                        if let Err(e) = s.send(&d) {
                            out.events.push(Event::SecureSessionFailed {
                                peer,
                                reason: e.to_string(),
                                retry_at: Some(now),
                            });
                            link.session = None;
                            return;
                        }
                        link.used = true;
                    }
                    out.drain_session(peer, s);
                }
            }
            Err(e) => {
                if was_connected {
                    // An established session went down: report it; the next datagram from
                    // the core resumes it (abbreviated handshake, RFC 5246 §7.3).
                    link.session = None;
                    out.events.push(Event::SecureSessionFailed {
                        peer,
                        reason: e.to_string(),
                        retry_at: Some(now),
                    });
                } else {
                    Self::failed(now, peer, link, e, out);
                }
            }
        }
    }

    /// A DTLS application record from an address that is no peer's: offered to each
    /// established session (bounded by the number of peers). The one whose keys authenticate
    /// it is the sender, whose address changed (DESIGN §3: with DTLS a peer is its security
    /// context, not its address; RFC 6347 §4.1.2.7 drops what does not verify). Returns that
    /// peer.
    pub(crate) fn migrate(&mut self, now: u64, data: &[u8], out: &mut Output) -> Option<PeerId> {
        if !is_application_record(data) {
            return None;
        }
        for (peer, link) in self.links.iter_mut() {
            let Some(s) = link.session.as_mut() else {
                continue;
            };
            if !s.is_connected() {
                continue;
            }
            match s.handle_datagram(data) {
                Ok(plain) if !plain.is_empty() => {
                    out.drain_session(*peer, s);
                    out.plaintext.extend(plain.into_iter().map(|p| (*peer, p)));
                    return Some(*peer);
                }
                Ok(_) => {}
                Err(e) => {
                    let peer = *peer;
                    Self::after_progress(now, peer, link, true, Err(e), out);
                }
            }
        }
        None
    }

    /// The earliest time (adapter ms) [`SecureLinks::handle_timeout`] has work.
    pub(crate) fn poll_timeout(&self, now: u64) -> Option<u64> {
        self.links
            .values()
            .filter_map(|l| match &l.session {
                Some(s) if !s.is_connected() => {
                    let retransmit = s.timeout().map(|d| now.saturating_add(ms(d)));
                    let deadline = self.deadline(l);
                    Some(retransmit.map_or(deadline, |r| r.min(deadline)))
                }
                Some(_) => None,
                None if !l.queue.is_empty() => l.retry_at,
                None => None,
            })
            .min()
    }

    /// Runs due handshake timers: retransmissions, the handshake deadline, retries after the
    /// back-off.
    pub(crate) fn handle_timeout(&mut self, now: u64, out: &mut Output) {
        let limit = self.handshake_timeout.unwrap_or(HANDSHAKE_TIMEOUT);
        for (peer, link) in self.links.iter_mut() {
            let peer = *peer;
            match link.session.as_mut() {
                Some(s) if !s.is_connected() => {
                    if now >= link.started_at.saturating_add(ms(limit)) {
                        Self::failed(
                            now,
                            peer,
                            link,
                            DtlsError::Handshake(format!(
                                "not finished after {} ms (a wrong PSK gives no alert: the \
                                 peer drops the Finished it cannot verify)",
                                limit.as_millis()
                            )),
                            out,
                        );
                        continue;
                    }
                    if s.timeout().is_some_and(|d| d.is_zero()) {
                        let res = s.handle_timeout();
                        out.drain_session(peer, s);
                        Self::after_progress(now, peer, link, false, res, out);
                    }
                }
                Some(_) => {}
                None => Self::maybe_start(now, peer, link, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair_lookup(id: &'static [u8], key: &'static [u8]) -> PskLookup {
        Arc::new(move |i: &[u8]| (i == id).then(|| Zeroizing::new(key.to_vec())))
    }

    /// Moves datagrams between the two until neither has anything to send; `drop` decides
    /// which datagrams (by running count) are lost on the way.
    fn pump(
        c: &mut DtlsSession,
        s: &mut DtlsSession,
        n: &mut usize,
        drop: &dyn Fn(usize) -> bool,
    ) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Option<DtlsError>) {
        let (mut to_c, mut to_s) = (Vec::new(), Vec::new());
        loop {
            let mut moved = false;
            while let Some(d) = c.poll_transmit() {
                moved = true;
                *n += 1;
                if !drop(*n) {
                    match s.handle_datagram(&d) {
                        Ok(p) => to_s.extend(p),
                        Err(e) => return (to_c, to_s, Some(e)),
                    }
                }
            }
            while let Some(d) = s.poll_transmit() {
                moved = true;
                *n += 1;
                if !drop(*n) {
                    match c.handle_datagram(&d) {
                        Ok(p) => to_c.extend(p),
                        Err(e) => return (to_c, to_s, Some(e)),
                    }
                }
            }
            if !moved {
                return (to_c, to_s, None);
            }
        }
    }

    #[test]
    fn psk_handshake_and_data_both_ways() {
        let creds = PskCredentials::new(b"dev-1", b"0123456789abcdef").unwrap();
        let mut c = DtlsSession::client_psk(&creds, None).unwrap();
        let mut s = DtlsSession::server_psk(pair_lookup(b"dev-1", b"0123456789abcdef")).unwrap();
        let mut n = 0;
        let (_, _, err) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert_eq!(err, None);
        assert!(c.is_connected() && s.is_connected());
        assert_eq!(c.cipher_suite(), Some("TLS_PSK_WITH_AES_128_CCM_8"));
        assert_eq!(s.peer_identity(), Some(&b"dev-1"[..]));
        c.send(b"hello").unwrap();
        let (_, to_s, _) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert_eq!(to_s, vec![b"hello".to_vec()]);
        s.send(b"world").unwrap();
        let (to_c, _, _) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert_eq!(to_c, vec![b"world".to_vec()]);
    }

    #[test]
    fn cbc_sha256_is_offered_too() {
        let creds = PskCredentials::new(b"dev-1", b"0123456789abcdef").unwrap();
        let mut c = DtlsSession::client_psk(&creds, None).unwrap();
        let mut s = DtlsSession::server_psk_suites(
            pair_lookup(b"dev-1", b"0123456789abcdef"),
            "PSK-AES128-CBC-SHA256",
        )
        .unwrap();
        let mut n = 0;
        let (_, _, err) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert_eq!(err, None);
        assert_eq!(c.cipher_suite(), Some("TLS_PSK_WITH_AES_128_CBC_SHA256"));
        c.send(b"cbc").unwrap();
        let (_, to_s, _) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert_eq!(to_s, vec![b"cbc".to_vec()]);
    }

    #[test]
    fn wrong_psk_fails_the_handshake_on_both_sides() {
        let creds = PskCredentials::new(b"dev-1", b"wrong-key-wrong!").unwrap();
        let mut c = DtlsSession::client_psk(&creds, None).unwrap();
        let mut s = DtlsSession::server_psk(pair_lookup(b"dev-1", b"0123456789abcdef")).unwrap();
        let mut n = 0;
        let (to_c, to_s, _) = pump(&mut c, &mut s, &mut n, &|_| false);
        // The Finished encrypted under the wrong key does not verify: OpenSSL drops it
        // silently (RFC 6347 §4.1.2.7), so neither side ever connects and the client's
        // handshake deadline turns this into a failure (SecureLinks).
        assert!(to_c.is_empty() && to_s.is_empty());
        assert!(!c.is_connected() && !s.is_connected());
        assert!(
            c.send(b"x").is_err(),
            "nothing goes out before the handshake"
        );
    }

    #[test]
    fn unknown_identity_fails() {
        let creds = PskCredentials::new(b"stranger", b"0123456789abcdef").unwrap();
        let mut c = DtlsSession::client_psk(&creds, None).unwrap();
        let mut s = DtlsSession::server_psk(pair_lookup(b"dev-1", b"0123456789abcdef")).unwrap();
        let mut n = 0;
        let (_, _, err) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert!(matches!(err, Some(DtlsError::Handshake(_))), "{err:?}");
    }

    #[test]
    fn resumption_is_abbreviated() {
        let creds = PskCredentials::new(b"dev-1", b"0123456789abcdef").unwrap();
        let lookup = pair_lookup(b"dev-1", b"0123456789abcdef");
        // One server context for both handshakes: resumption needs the server's session cache.
        let mut c = DtlsSession::client_psk(&creds, None).unwrap();
        let mut s = DtlsSession::server_psk(lookup.clone()).unwrap();
        let mut n = 0;
        pump(&mut c, &mut s, &mut n, &|_| false);
        assert!(c.is_connected() && !c.resumed());
        let saved = c.session().unwrap();
        // A fresh server context has no cache entry: the server falls back to a full
        // handshake, which must still succeed.
        let mut c2 = DtlsSession::client_psk(&creds, Some(&saved)).unwrap();
        let mut s2 = DtlsSession::server_psk(lookup).unwrap();
        let (_, _, err) = pump(&mut c2, &mut s2, &mut n, &|_| false);
        assert_eq!(err, None);
        assert!(c2.is_connected());
    }

    /// The handshake over a lossy link: the first flights are lost and come again after the
    /// retransmission timer (RFC 6347 §4.2.4: 1 s, then 2 s).
    #[test]
    fn lossy_handshake_recovers_by_retransmission() {
        let creds = PskCredentials::new(b"dev-1", b"0123456789abcdef").unwrap();
        let mut c = DtlsSession::client_psk(&creds, None).unwrap();
        let mut s = DtlsSession::server_psk(pair_lookup(b"dev-1", b"0123456789abcdef")).unwrap();
        let mut n = 0;
        // Lose the first ClientHello and the server's first flight.
        let lose = |k: usize| k == 1 || k == 3;
        let started = std::time::Instant::now();
        for _ in 0..200 {
            pump(&mut c, &mut s, &mut n, &lose);
            if c.is_connected() && s.is_connected() {
                break;
            }
            let wait = [c.timeout(), s.timeout()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(Duration::from_millis(50));
            std::thread::sleep(wait.min(Duration::from_millis(500)));
            c.handle_timeout().unwrap();
            s.handle_timeout().unwrap();
        }
        assert!(c.is_connected() && s.is_connected(), "after {n} datagrams");
        assert!(started.elapsed() < Duration::from_secs(15));
    }

    /// A P-256 key and a self-signed certificate for it, valid from now for a day.
    fn self_signed(cn: &str) -> (X509, PKey<Private>) {
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::x509::{X509Builder, X509NameBuilder};
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap();
        b.set_serial_number(&serial).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    fn client_creds(client: &(X509, PKey<Private>), server: &X509) -> CertCredentials {
        CertCredentials::new(
            &client.0.to_der().unwrap(),
            &client.1.private_key_to_pkcs8().unwrap(),
            &server.to_der().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn certificate_handshake_with_the_pinned_server_certificate() {
        let client = self_signed("lwm2mc-device");
        let server = self_signed("lwm2m-server");
        let creds = client_creds(&client, &server.0);
        let mut c = DtlsSession::client_cert(&creds, None).unwrap();
        let mut s = DtlsSession::server_cert(&server.0, &server.1).unwrap();
        let mut n = 0;
        let (_, _, err) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert_eq!(err, None);
        assert!(c.is_connected() && s.is_connected());
        assert_eq!(c.cipher_suite(), Some("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"));
        // The server got the client's certificate (/0/x/3).
        assert_eq!(s.peer_certificate(), Some(client.0.to_der().unwrap()));
        assert_eq!(c.peer_certificate(), Some(server.0.to_der().unwrap()));
        c.send(b"register").unwrap();
        let (_, to_s, _) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert_eq!(to_s, vec![b"register".to_vec()]);
        s.send(b"created").unwrap();
        let (to_c, _, _) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert_eq!(to_c, vec![b"created".to_vec()]);
        // Resumption works in this mode too (a fresh server context: full handshake again).
        let saved = c.session().unwrap();
        let mut c2 = DtlsSession::client_cert(&creds, Some(&saved)).unwrap();
        let mut s2 = DtlsSession::server_cert(&server.0, &server.1).unwrap();
        let (_, _, err) = pump(&mut c2, &mut s2, &mut n, &|_| false);
        assert_eq!(err, None);
        assert!(c2.is_connected());
    }

    #[test]
    fn another_server_certificate_is_refused() {
        let client = self_signed("lwm2mc-device");
        let server = self_signed("lwm2m-server");
        // Same subject, another key: a certificate an attacker could make.
        let impostor = self_signed("lwm2m-server");
        let creds = client_creds(&client, &server.0);
        let mut c = DtlsSession::client_cert(&creds, None).unwrap();
        let mut s = DtlsSession::server_cert(&impostor.0, &impostor.1).unwrap();
        let mut n = 0;
        let (to_c, to_s, err) = pump(&mut c, &mut s, &mut n, &|_| false);
        assert!(matches!(&err, Some(DtlsError::Handshake(_))), "{err:?}");
        assert!(to_c.is_empty() && to_s.is_empty());
        assert!(!c.is_connected());
        assert!(c.send(b"x").is_err());
    }

    #[test]
    fn certificate_credentials_are_checked_and_redacted() {
        let client = self_signed("lwm2mc-device");
        let server = self_signed("lwm2m-server");
        let (cert, key) = (
            client.0.to_der().unwrap(),
            client.1.private_key_to_pkcs8().unwrap(),
        );
        let server_der = server.0.to_der().unwrap();
        // The traditional (SEC1) form of an EC key is taken too.
        let sec1 = client.1.private_key_to_der().unwrap();
        assert!(CertCredentials::new(&cert, &sec1, &server_der).is_ok());
        let refused = [
            CertCredentials::new(b"not a certificate", &key, &server_der),
            CertCredentials::new(&cert, b"not a key", &server_der),
            CertCredentials::new(&cert, &key, b""),
            // The server's key with the client's certificate.
            CertCredentials::new(
                &cert,
                &server.1.private_key_to_pkcs8().unwrap(),
                &server_der,
            ),
        ];
        for r in refused {
            let e = r.unwrap_err();
            assert!(matches!(e, DtlsError::Setup(_)), "{e:?}");
        }
        let dbg = format!("{:?}", client_creds(&client, &server.0));
        assert!(dbg.contains("redacted") && !dbg.contains("BEGIN"), "{dbg}");
    }

    #[test]
    fn credentials_are_bounded_and_redacted() {
        assert!(PskCredentials::new(b"", b"k").is_err());
        assert!(PskCredentials::new(&[b'a'; 129], b"k").is_err());
        assert!(PskCredentials::new(b"id", &[]).is_err());
        assert!(PskCredentials::new(b"id", &[1; 257]).is_err());
        let c = PskCredentials::new(b"my-identity", b"super-secret").unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("super") && !dbg.contains("my-identity"),
            "{dbg}"
        );
    }

    #[test]
    fn register_detection() {
        let mut p = coap_lite::Packet::new();
        p.header.code = coap_lite::MessageClass::Request(coap_lite::RequestType::Post);
        p.header.message_id = 7;
        p.add_option(coap_lite::CoapOption::UriPath, b"rd".to_vec());
        assert_eq!(register_mid(&p.to_bytes().unwrap()), Some(7));
        p.add_option(coap_lite::CoapOption::UriPath, b"5a3f".to_vec());
        assert_eq!(register_mid(&p.to_bytes().unwrap()), None, "an Update");
        assert_eq!(register_mid(&[0xff, 0]), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(100), MAX_BACKOFF);
    }

    #[test]
    fn application_records_only() {
        assert!(is_application_record(&[23, 254, 253, 0, 1, 0, 0]));
        assert!(!is_application_record(&[23, 254, 253, 0, 0, 0, 0]));
        assert!(!is_application_record(&[22, 254, 253, 0, 1]));
        assert!(!is_application_record(&[0x40, 1, 0, 1]));
    }
}
