//! The CLI device (`examples/client.rs`) over real UDP on 127.0.0.1: what it prints. By
//! default one line per state change; per-request and per-datagram lines only with
//! `--verbose`; and never a secret, even then: a bootstrap that provisions a PSK account
//! leaves no key bytes in its output.

#[path = "support/features.rs"]
mod features;
#[path = "support/paths.rs"]
mod paths;
#[path = "support/process.rs"]
mod process;
#[path = "support/refusal.rs"]
mod refusal;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use lwm2mc::testkit::{BootstrapConfig, BootstrapServer, Lwm2mServer};

const TLV: u16 = 11542;
const PSK: &[u8] = b"s3cr3t-psk-0123!";
const PSK_IDENTITY: &[u8] = b"cli-psk-identity";

/// One TLV entry with an 8-bit identifier (`kind` 0x00: Object Instance, 0xC0: Resource).
fn tlv(kind: u8, id: u8, value: &[u8]) -> Vec<u8> {
    let mut out = match u8::try_from(value.len()) {
        Ok(n) if n < 8 => vec![kind | n, id],
        Ok(n) => vec![kind | 0x08, id, n],
        Err(_) => {
            let n = u16::try_from(value.len()).expect("short test values");
            let [hi, lo] = n.to_be_bytes();
            vec![kind | 0x10, id, hi, lo]
        }
    };
    out.extend_from_slice(value);
    out
}

/// A Bootstrap-Server that provisions a NoSec account on `dm` (Short Server ID 1) and turns
/// the device's own Bootstrap-Server account (/0/0) into a PSK one (coaps://, identity and key
/// set), as a Bootstrap-Server hands a device its DTLS credentials.
fn bootstrap_with_a_psk_account(dm: &Lwm2mServer) -> BootstrapServer {
    let mut sec = Vec::new();
    sec.extend(tlv(0xC0, 0, b"coaps://127.0.0.1:5684"));
    sec.extend(tlv(0xC0, 1, &[1])); // Bootstrap-Server
    sec.extend(tlv(0xC0, 2, &[0])); // Security Mode 0: PSK
    sec.extend(tlv(0xC0, 3, PSK_IDENTITY));
    sec.extend(tlv(0xC0, 4, b""));
    sec.extend(tlv(0xC0, 5, PSK));
    sec.extend(tlv(0xC0, 11, &[0]));
    BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm.uri(), 60)
            .write("/0/0", TLV, tlv(0x00, 0, &sec))
            .finish(),
    )
    .unwrap()
}

/// Runs the CLI device until it registered with `dm` (Short Server ID 1), stops it with
/// SIGTERM and returns everything it printed.
fn run_device(bs: &BootstrapServer, dm: &Lwm2mServer, endpoint: &str, extra: &[&str]) -> String {
    let mut child = Command::new(process::example("client"))
        .args(["--bootstrap", &bs.uri(), "--endpoint", endpoint])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the CLI device");
    let registered = dm.wait_registration(endpoint, Duration::from_secs(15));
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = dm.wait_deregistration(endpoint, Duration::from_secs(10));
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().expect("device exit");
    assert!(
        registered.is_ok() && status.success(),
        "device {endpoint}: {registered:?}, {status}\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    out + &err
}

fn assert_no_secret(out: &str) {
    for secret in [PSK, PSK_IDENTITY] {
        let text = String::from_utf8_lossy(secret);
        assert!(!out.contains(&*text), "{text:?} printed:\n{out}");
    }
}

#[test]
fn default_output_is_state_changes_and_no_key() {
    let dm = Lwm2mServer::start().unwrap();
    let bs = bootstrap_with_a_psk_account(&dm);
    let out = run_device(&bs, &dm, "cli-psk-quiet", &[]);
    assert_no_secret(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"state: bootstrapped"), "{out}");
    assert!(
        lines.contains(&"state: registered with server 1 at /rd/1"),
        "{out}"
    );
    assert!(
        lines.contains(&"state: de-registered from server 1"),
        "{out}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("<-") || l.starts_with("->") || l.starts_with("request:")),
        "per-request lines without --verbose:\n{out}"
    );
}

#[test]
fn verbose_output_shows_requests_with_the_keys_redacted() {
    let dm = Lwm2mServer::start().unwrap();
    let bs = bootstrap_with_a_psk_account(&dm);
    let out = run_device(&bs, &dm, "cli-psk-verbose", &["--verbose"]);
    assert_no_secret(&out);
    let write = out
        .lines()
        .find(|l| l.starts_with("<- ") && l.contains("CON PUT /0/0 ct=tlv"))
        .unwrap_or_else(|| panic!("no Bootstrap-Write of /0/0 printed:\n{out}"));
    assert!(
        write.ends_with(
            "{OI0{R0=\"coaps://127.0.0.1:5684\" R1=1 R2=0 R3=<redacted 16 B> \
             R4=<redacted 0 B> R5=<redacted 16 B> R11=0}}"
        ),
        "{write}"
    );
}

#[test]
fn a_refused_bootstrap_finish_is_printed_by_default() {
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(refusal::refused_plan(&dm.uri())).unwrap();
    let mut child = Command::new(process::example("client"))
        .args(["--bootstrap", &bs.uri(), "--endpoint", "cli-refused"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the CLI device");
    let session = bs.wait_session(Duration::from_secs(15));
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    let _ = child.wait();
    let session = session.unwrap();
    assert_eq!(session.codes().last(), Some(&0x86), "{session:?}");
    assert!(
        out.lines().any(|l| l
            == format!(
                "state: bootstrap configuration refused (4.06 to Finish): {}",
                refusal::DIAGNOSTIC
            )),
        "{out}"
    );
}

/// `--bootstrap coaps://... --psk-identity --psk-key HEX`: the factory account is PSK, the
/// device bootstraps and registers over DTLS with the secured testkit servers, prints the
/// sessions (cipher suite) and neither key.
#[test]
fn psk_flags_bootstrap_and_register_over_coaps() {
    use lwm2mc::coap::TransmissionParams;
    use lwm2mc::testkit::PskTable;
    const DM_KEY: &[u8] = b"cli-dm-key-abcdef";
    let params = TransmissionParams::default();
    let dm = Lwm2mServer::start_psk(params, PskTable::new().with(b"cli-dm", DM_KEY)).unwrap();
    let bs = BootstrapServer::start_psk(
        BootstrapConfig::new()
            .delete("/")
            .server_account_psk(1, &dm.uri(), 60, b"cli-dm", DM_KEY)
            .finish(),
        params,
        PskTable::new().with(PSK_IDENTITY, PSK),
    )
    .unwrap();
    let hex: String = PSK.iter().map(|b| format!("{b:02x}")).collect();
    let identity = String::from_utf8_lossy(PSK_IDENTITY).to_string();
    let out = run_device(
        &bs,
        &dm,
        "cli-coaps",
        &["--psk-identity", &identity, "--psk-key", &hex],
    );
    let sessions = out
        .lines()
        .filter(|l| l.starts_with("dtls: session up, TLS_PSK_WITH_AES_128_"))
        .count();
    assert_eq!(sessions, 2, "{out}");
    assert!(!out.contains(&hex), "the hex key was printed:\n{out}");
    assert!(!out.contains("cli-dm-key"), "{out}");
}
