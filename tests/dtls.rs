//! Built-in DTLS (feature `dtls`) over real UDP on 127.0.0.1 against an independent DTLS stack:
//! libcoap's `coap-server` (Debian `libcoap3-bin`), in its GnuTLS and its OpenSSL builds, with a
//! PSK, and with certificates (Security Mode 2) made at test time. coap-server knows no LwM2M path, so it answers the device's Bootstrap-Request and
//! Register with 4.04: that answer, decrypted by the device, proves the DTLS exchange works
//! both ways. Then the full cycle (bootstrap, register, DM) against the testkit's servers
//! secured with DTLS PSK (OpenSSL's server side; the client side is the same code as with
//! coap-server).

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lwm2mc::accounts::factory;
use lwm2mc::coap::TransmissionParams;
use lwm2mc::config::Backoff;
use lwm2mc::testkit::{BootstrapConfig, BootstrapServer, DeviceThread, Lwm2mServer, PskTable};
use lwm2mc::transport::udp::UdpClient;
use lwm2mc::{Client, Config, Event, Store};

const KEY: &str = "lwm2mc-test-psk!";

/// A coap-server process, killed when dropped.
struct CoapServer {
    child: Child,
    /// Its coaps:// port (coap-server listens for DTLS on its CoAP port + 1).
    port: u16,
}

impl Drop for CoapServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which coap-server builds are installed (CI installs libcoap3-bin, see .ci/run).
fn coap_servers() -> Vec<&'static str> {
    let found: Vec<&str> = ["coap-server-gnutls", "coap-server-openssl"]
        .into_iter()
        .filter(|b| {
            Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    assert!(
        !found.is_empty(),
        "libcoap's coap-server (Debian libcoap3-bin) is not installed: .ci/run installs it"
    );
    found
}

/// Two free consecutive UDP ports p, p+1 on 127.0.0.1 (coap-server takes p for CoAP, p+1 for
/// CoAPS).
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p == u16::MAX {
            continue;
        }
        if UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

// The child is reaped by `CoapServer::drop`, which clippy does not follow.
#[allow(clippy::zombie_processes)]
fn start_server(bin: &str) -> CoapServer {
    let p = free_port_pair();
    let child = Command::new(bin)
        .args(["-A", "127.0.0.1", "-p", &p.to_string(), "-k", KEY])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    // Wait until it listens on the CoAPS port.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if UdpSocket::bind(("127.0.0.1", p + 1)).is_err() {
            return CoapServer { child, port: p + 1 };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{bin} did not bind 127.0.0.1:{}", p + 1);
}

fn config(ep: &str) -> Config {
    let mut c = Config::new(ep);
    c.seed = 11;
    c.transmission = TransmissionParams {
        ack_timeout_ms: 500,
        ..TransmissionParams::default()
    };
    c.bootstrap_retry = Backoff {
        base_ms: 300,
        max_ms: 2_000,
        attempts: 0,
    };
    c
}

fn psk_bootstrap_device(uri: &str, identity: &[u8], key: &[u8]) -> UdpClient {
    let mut s = Store::with_standard_objects();
    let iid = factory::add_bootstrap_account(&mut s, uri, 0).unwrap();
    factory::set_psk(&mut s, iid, identity, key).unwrap();
    factory::add_device(&mut s, "ACME", "DTLS-1", "0007").unwrap();
    let client = Client::new(config("dtls-dev"), s);
    UdpClient::bind(client, "127.0.0.1:0".parse().unwrap()).unwrap()
}

#[test]
fn bootstrap_request_over_coaps_is_answered_by_coap_server() {
    for bin in coap_servers() {
        let server = start_server(bin);
        let uri = format!("coaps://127.0.0.1:{}", server.port);
        let mut udp = psk_bootstrap_device(&uri, b"dtls-dev", KEY.as_bytes());
        udp.start().unwrap();
        let started = Instant::now();
        let events = udp
            .run_until(
                Duration::from_secs(20),
                |e| matches!(e, Event::BootstrapFailed { reason, .. } if reason.contains("4.04")),
            )
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        let suite = events.iter().find_map(|e| match e {
            Event::SecureSessionEstablished { cipher_suite, .. } => Some(cipher_suite.clone()),
            _ => None,
        });
        println!(
            "{bin}: handshake + Bootstrap-Request answered in {:?}, suite {suite:?}",
            started.elapsed()
        );
        assert!(
            matches!(
                suite.as_deref(),
                Some("TLS_PSK_WITH_AES_128_CCM_8" | "TLS_PSK_WITH_AES_128_CBC_SHA256")
            ),
            "{bin}: {events:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::SecureSessionFailed { .. })),
            "{bin}: {events:?}"
        );
    }
}

#[test]
fn register_over_coaps_is_answered_by_coap_server() {
    let bin = coap_servers()[0];
    let server = start_server(bin);
    let mut s = Store::with_standard_objects();
    let uri = format!("coaps://127.0.0.1:{}", server.port);
    factory::add_server_account(&mut s, 1, &uri, 60).unwrap();
    let iid = factory::security_instance_of(&s, 1).unwrap();
    factory::set_psk(&mut s, iid, b"dtls-dev", KEY.as_bytes()).unwrap();
    factory::add_device(&mut s, "ACME", "DTLS-1", "0007").unwrap();
    let mut udp = UdpClient::bind(
        Client::new(config("dtls-reg"), s),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    udp.start().unwrap();
    let events = udp
        .run_until(
            Duration::from_secs(20),
            |e| matches!(e, Event::RegistrationFailed { reason, .. } if reason.contains("4.04")),
        )
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::SecureSessionEstablished { .. })),
        "{events:?}"
    );
}

/// A wrong PSK: the handshake fails, is reported as an event and retried after a back-off;
/// nothing from the server reaches the core (no 4.04, the Bootstrap-Request never answered).
#[test]
fn wrong_psk_is_reported_and_retried_with_backoff() {
    let bin = coap_servers()[0];
    let server = start_server(bin);
    let uri = format!("coaps://127.0.0.1:{}", server.port);
    let mut udp = psk_bootstrap_device(&uri, b"dtls-dev", b"not-the-right-key");
    udp.set_handshake_timeout(Duration::from_millis(1_500));
    udp.start().unwrap();
    let mut failures = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(12);
    while Instant::now() < deadline && failures.len() < 2 {
        for e in udp.turn(Duration::from_millis(100)).unwrap() {
            match e {
                Event::SecureSessionFailed {
                    reason, retry_at, ..
                } => failures.push((udp.now(), reason, retry_at)),
                Event::SecureSessionEstablished { .. } => panic!("connected with a wrong key"),
                Event::BootstrapFailed { ref reason, .. } => {
                    assert!(!reason.contains("4.04"), "an answer got through: {e:?}")
                }
                Event::Bootstrapped => panic!("bootstrapped with a wrong key"),
                _ => {}
            }
        }
    }
    assert!(failures.len() >= 2, "{failures:?}");
    // Back-off: the second attempt started no earlier than the first failure said.
    let (t1, _, retry1) = &failures[0];
    let retry1 = retry1.expect("a retry is scheduled");
    assert!(retry1 >= t1 + 1_900, "{failures:?}");
    let (_, _, retry2) = &failures[1];
    let retry2 = retry2.expect("a retry is scheduled");
    assert!(
        retry2 - failures[1].0 >= 3_900,
        "doubling back-off: {failures:?}"
    );
    println!("{bin}, wrong key: {failures:?}");
}

const BS_KEY: &[u8] = b"bootstrap-psk-0123";
const DM_KEY: &[u8] = b"dm-server-psk-4567";

/// Bootstrap over coaps:// (the device's factory account is PSK), the Bootstrap-Server hands
/// it a PSK account on the LwM2M Server, and the device registers and is managed over
/// coaps://: Read, Write, Execute, Discover. The first datagram of each handshake is lost on
/// the way, so both recover by the DTLS retransmission timer (RFC 6347 §4.2.4).
#[test]
fn full_cycle_over_coaps_with_testkit_servers() {
    let fast = TransmissionParams {
        ack_timeout_ms: 500,
        ..TransmissionParams::default()
    };
    let dm = Lwm2mServer::start_psk(fast, PskTable::new().with(b"dev-dm", DM_KEY)).unwrap();
    assert!(dm.uri().starts_with("coaps://"));
    let bs = BootstrapServer::start_psk(
        BootstrapConfig::new()
            .delete("/")
            .server_account_psk(1, &dm.uri(), 60, b"dev-dm", DM_KEY)
            .finish(),
        fast,
        PskTable::new().with(b"dev-bs", BS_KEY),
    )
    .unwrap();
    bs.drop_next_datagrams(1);
    dm.drop_next_datagrams(1);
    let mut s = Store::with_standard_objects();
    let iid = factory::add_bootstrap_account(&mut s, &bs.uri(), 0).unwrap();
    factory::set_psk(&mut s, iid, b"dev-bs", BS_KEY).unwrap();
    factory::add_device(&mut s, "ACME", "DTLS-1", "0007").unwrap();
    let started = Instant::now();
    let device = DeviceThread::start(Client::new(config("dtls-full"), s), None).unwrap();
    let mut seen = Vec::new();
    device
        .wait_event(
            Duration::from_secs(30),
            |e| matches!(e, Event::Registered { ssid: 1, .. }),
            |e| seen.push(e.clone()),
        )
        .unwrap_or_else(|e| panic!("{e}: {seen:?} {:#?}", bs.transcript()));
    println!(
        "bootstrapped and registered over coaps:// in {:?}",
        started.elapsed()
    );
    let sessions = seen
        .iter()
        .filter(|e| matches!(e, Event::SecureSessionEstablished { .. }))
        .count();
    assert_eq!(sessions, 2, "one session per server: {seen:?}");
    assert!(seen.iter().any(|e| matches!(e, Event::Bootstrapped)));
    let session = bs.wait_session(Duration::from_secs(5)).unwrap();
    assert!(session.finished());
    dm.wait_registration("dtls-full", Duration::from_secs(5))
        .unwrap();

    let r = dm.read("dtls-full", "/3/0/0", None).unwrap();
    assert_eq!(
        (r.code_string(), r.payload.as_slice()),
        ("2.05".into(), &b"ACME"[..])
    );
    let w = dm
        .write("dtls-full", "/3/0/14", 0, b"+02:00".to_vec())
        .unwrap();
    assert_eq!(w.code_string(), "2.04");
    let r = dm.read("dtls-full", "/3/0/14", None).unwrap();
    assert_eq!(r.payload, b"+02:00");
    let x = dm.execute("dtls-full", "/1/0/8", None).unwrap();
    assert_eq!(x.code_string(), "2.04");
    dm.wait_update("dtls-full", Duration::from_secs(10))
        .unwrap();
    let d = dm.discover("dtls-full", "/3/0").unwrap();
    assert_eq!(d.code_string(), "2.05");
    // The Update went over the same session: no new handshake.
    let later = device.drain_events();
    assert!(
        !later.iter().any(|e| matches!(
            e,
            Event::SecureSessionEstablished { .. } | Event::SecureSessionFailed { .. }
        )),
        "{later:?}"
    );
    let (_, last) = device.stop().unwrap();
    assert!(
        last.iter()
            .any(|e| matches!(e, Event::Deregistered { ssid: 1 })),
        "{last:?}"
    );
}

/// A testkit server secured with DTLS answers nothing in clear: a NoSec device pointed at
/// it (coap:// to the same port) never bootstraps.
#[test]
fn a_secured_server_ignores_plain_coap() {
    let bs = BootstrapServer::start_psk(
        BootstrapConfig::new().finish(),
        TransmissionParams::default(),
        PskTable::new().with(b"dev-bs", BS_KEY),
    )
    .unwrap();
    let plain = bs.uri().replacen("coaps://", "coap://", 1);
    let mut s = Store::with_standard_objects();
    factory::add_bootstrap_account(&mut s, &plain, 0).unwrap();
    let mut udp = UdpClient::bind(
        Client::new(config("plain"), s),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    udp.start().unwrap();
    let r = udp.run_until(Duration::from_secs(2), |e| matches!(e, Event::Bootstrapped));
    assert!(r.is_err(), "{r:?}");
}

type KeyPair = (
    openssl::x509::X509,
    openssl::pkey::PKey<openssl::pkey::Private>,
);

/// A P-256 key and a certificate for it (valid from now for a day), made here with OpenSSL:
/// nothing is shipped. Self-signed without `issuer`; `ca` makes it a CA (basicConstraints
/// CA:TRUE, keyCertSign).
fn certificate(cn: &str, issuer: Option<&KeyPair>, ca: bool) -> KeyPair {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::{BasicConstraints, KeyUsage};
    use openssl::x509::{X509Builder, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |i| i.0.subject_name()))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
    }
    b.sign(issuer.map_or(&key, |i| &i.1), MessageDigest::sha256())
        .unwrap();
    (b.build(), key)
}

fn self_signed(cn: &str) -> KeyPair {
    certificate(cn, None, false)
}

/// coap-server with a certificate and key (PEM files in `dir`), requiring a client
/// certificate issued by `trust` (`-R`; coap-server also takes any self-signed one).
// The child is reaped by `CoapServer::drop`, which clippy does not follow.
#[allow(clippy::zombie_processes)]
fn start_cert_server(
    bin: &str,
    dir: &std::path::Path,
    server: &KeyPair,
    trust: &openssl::x509::X509,
) -> CoapServer {
    std::fs::create_dir_all(dir).unwrap();
    let (cert, key, trust_file) = (
        dir.join("server.pem"),
        dir.join("server.key"),
        dir.join("trust.pem"),
    );
    std::fs::write(&cert, server.0.to_pem().unwrap()).unwrap();
    std::fs::write(&key, server.1.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(&trust_file, trust.to_pem().unwrap()).unwrap();
    let p = free_port_pair();
    let child = Command::new(bin)
        .args(["-A", "127.0.0.1", "-p", &p.to_string()])
        .arg("-c")
        .arg(&cert)
        .arg("-j")
        .arg(&key)
        .arg("-R")
        .arg(&trust_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if UdpSocket::bind(("127.0.0.1", p + 1)).is_err() {
            return CoapServer { child, port: p + 1 };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{bin} did not bind 127.0.0.1:{}", p + 1);
}

/// A device whose factory server account is in Certificate mode (Security Mode 2).
fn cert_device(
    uri: &str,
    client: &(
        openssl::x509::X509,
        openssl::pkey::PKey<openssl::pkey::Private>,
    ),
    server_cert: &openssl::x509::X509,
) -> UdpClient {
    let mut s = Store::with_standard_objects();
    factory::add_server_account(&mut s, 1, uri, 60).unwrap();
    let iid = factory::security_instance_of(&s, 1).unwrap();
    factory::set_certificate(
        &mut s,
        iid,
        &client.0.to_der().unwrap(),
        &server_cert.to_der().unwrap(),
        &client.1.private_key_to_pkcs8().unwrap(),
    )
    .unwrap();
    factory::add_device(&mut s, "ACME", "DTLS-1", "0007").unwrap();
    UdpClient::bind(
        Client::new(config("dtls-cert"), s),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap()
}

/// Certificate mode (Security Mode 2) against coap-server on GnuTLS and on OpenSSL, which
/// require the device's certificate (/0/x/3, key /0/x/5) and check it was issued by the test
/// CA: the Register goes over
/// the session and coap-server's 4.04 comes back. The device accepts exactly the server
/// certificate of /0/x/4 (Certificate Usage 3, the default).
#[test]
fn certificate_mode_register_is_answered_by_coap_server() {
    let ca = certificate("lwm2mc test CA", None, true);
    let client = certificate("dtls-cert", Some(&ca), false);
    let server = self_signed("coap-server");
    for bin in coap_servers() {
        let dir = std::env::temp_dir().join(format!("lwm2mc-cert-{}-{bin}", std::process::id()));
        let coap = start_cert_server(bin, &dir, &server, &ca.0);
        let uri = format!("coaps://127.0.0.1:{}", coap.port);
        let mut udp = cert_device(&uri, &client, &server.0);
        udp.start().unwrap();
        let started = Instant::now();
        let events = udp
            .run_until(
                Duration::from_secs(20),
                |e| matches!(e, Event::RegistrationFailed { reason, .. } if reason.contains("4.04")),
            )
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        let suite = events.iter().find_map(|e| match e {
            Event::SecureSessionEstablished { cipher_suite, .. } => Some(cipher_suite.clone()),
            _ => None,
        });
        println!(
            "{bin}, certificates: handshake + Register answered in {:?}, suite {suite:?}",
            started.elapsed()
        );
        assert!(
            suite
                .as_deref()
                .is_some_and(|s| s.starts_with("TLS_ECDHE_ECDSA_WITH_AES_128_")),
            "{bin}: {events:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A server whose certificate is not /0/x/4 (same subject, another key) is refused in the
/// handshake: reported, retried later, and nothing it sends reaches the core.
#[test]
fn certificate_mode_refuses_another_server_certificate() {
    let ca = certificate("lwm2mc test CA", None, true);
    let client = certificate("dtls-cert", Some(&ca), false);
    let expected = self_signed("coap-server");
    let impostor = self_signed("coap-server");
    let bin = coap_servers()[0];
    let dir = std::env::temp_dir().join(format!("lwm2mc-cert-wrong-{}", std::process::id()));
    let coap = start_cert_server(bin, &dir, &impostor, &ca.0);
    let uri = format!("coaps://127.0.0.1:{}", coap.port);
    let mut udp = cert_device(&uri, &client, &expected.0);
    udp.start().unwrap();
    let mut failure = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && failure.is_none() {
        for e in udp.turn(Duration::from_millis(100)).unwrap() {
            match e {
                Event::SecureSessionFailed {
                    reason, retry_at, ..
                } => failure = Some((reason, retry_at)),
                Event::SecureSessionEstablished { .. } => {
                    panic!("connected to a server whose certificate is not /0/x/4")
                }
                Event::RegistrationFailed { ref reason, .. } => {
                    assert!(!reason.contains("4.04"), "an answer got through: {e:?}")
                }
                Event::Registered { .. } => panic!("registered with the wrong server"),
                _ => {}
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (reason, retry_at) = failure.expect("the handshake failure is reported");
    println!("{bin}, another server certificate: {reason}");
    assert!(reason.contains("certificate"), "{reason}");
    assert!(retry_at.is_some(), "retried after a back-off");
}

/// The device's certificate is what coap-server checks: one issued by a CA it does not trust
/// (`-R` names another) fails the handshake on the server's side, and nothing reaches the core.
#[test]
fn certificate_mode_client_certificate_is_checked_by_coap_server() {
    let rogue = certificate("rogue CA", None, true);
    let client = certificate("dtls-cert", Some(&rogue), false);
    let trusted_other = certificate("lwm2mc test CA", None, true);
    let server = self_signed("coap-server");
    for bin in coap_servers() {
        let dir = std::env::temp_dir().join(format!(
            "lwm2mc-cert-untrusted-{}-{bin}",
            std::process::id()
        ));
        let coap = start_cert_server(bin, &dir, &server, &trusted_other.0);
        let uri = format!("coaps://127.0.0.1:{}", coap.port);
        let mut udp = cert_device(&uri, &client, &server.0);
        udp.set_handshake_timeout(Duration::from_millis(1_500));
        udp.start().unwrap();
        let events = udp
            .run_until(Duration::from_secs(10), |e| {
                matches!(e, Event::SecureSessionFailed { .. })
            })
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            !events.iter().any(|e| matches!(
                e,
                Event::SecureSessionEstablished { .. } | Event::RegistrationFailed { .. }
            )),
            "{bin}: {events:?}"
        );
        println!("{bin}, untrusted client certificate: {:?}", events.last());
    }
}

/// A Certificate mode account whose keys do not fit (a private key that is not the
/// certificate's) is reported once and never contacted: not a datagram reaches its address.
#[test]
fn certificate_mode_with_unusable_keys_sends_nothing() {
    let client = self_signed("dtls-cert");
    let other = self_signed("other");
    let server = self_signed("server");
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let uri = format!("coaps://127.0.0.1:{}", sink.local_addr().unwrap().port());
    // The certificate of `client` with the key of `other`.
    let mixed = (client.0.clone(), other.1.clone());
    let mut udp = cert_device(&uri, &mixed, &server.0);
    udp.start().unwrap();
    let events = udp
        .run_until(Duration::from_secs(5), |e| {
            matches!(e, Event::SecureSessionFailed { .. })
        })
        .unwrap();
    let reason = events
        .iter()
        .find_map(|e| match e {
            Event::SecureSessionFailed {
                reason,
                retry_at: None,
                ..
            } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("reported as unusable, no retry: {events:?}"));
    assert!(reason.contains("/0/x/5"), "{reason}");
    for _ in 0..10 {
        udp.turn(Duration::from_millis(50)).unwrap();
    }
    let mut buf = [0u8; 2048];
    assert!(sink.recv_from(&mut buf).is_err(), "something was sent");
}
