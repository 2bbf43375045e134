//! DTLS PSK handshake cost on this machine (not a test, DESIGN §6): `n` client/server
//! handshakes in memory (the same `DtlsSession` the UDP adapter uses), wall time and CPU time
//! per handshake, for each mandatory PSK cipher suite.
//!
//!   cargo run --release --example bench_dtls [-- N]

use std::sync::Arc;
use std::time::Instant;

use lwm2mc::transport::dtls::{DtlsSession, PskCredentials, PskLookup};
fn key() -> Vec<u8> {
    b"bench-psk-0123456".to_vec()
}

fn cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is a valid value; getrusage(2) fills the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn handshake(suites: &str) -> Option<String> {
    let creds = PskCredentials::new(b"bench", &key()).ok()?;
    let lookup: PskLookup = Arc::new(|_: &[u8]| Some(zeroize::Zeroizing::new(key())));
    let mut c = DtlsSession::client_psk(&creds, None).ok()?;
    let mut s = DtlsSession::server_psk_suites(lookup, suites).ok()?;
    for _ in 0..20 {
        let mut moved = false;
        while let Some(d) = c.poll_transmit() {
            moved = true;
            s.handle_datagram(&d).ok()?;
        }
        while let Some(d) = s.poll_transmit() {
            moved = true;
            c.handle_datagram(&d).ok()?;
        }
        if !moved {
            break;
        }
    }
    c.cipher_suite().map(str::to_string)
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    for suites in ["PSK-AES128-CCM8", "PSK-AES128-CBC-SHA256"] {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let mut name = None;
        for _ in 0..n {
            name = handshake(suites);
        }
        let wall = t0.elapsed().as_secs_f64() / f64::from(n);
        let cpu = (cpu_seconds() - c0) / f64::from(n);
        println!(
            "{}: {n} handshakes, {:.0} µs wall, {:.0} µs CPU (client + server) each",
            name.unwrap_or_else(|| "FAILED".into()),
            wall * 1e6,
            cpu * 1e6
        );
    }
}
