//! Interoperability with an independent CoAP stack: `tests/interop/lwm2m_peers.py` runs a
//! Bootstrap-Server and an LwM2M Server on aiocoap (pure-Python asyncio CoAP) and drives the real
//! CLI device (`examples/client.rs`) over UDP on 127.0.0.1. Our own testkit shares the crate's
//! CoAP layer, so a mistake made on both sides would pass there; here it cannot.
//!
//! Setup, done once per target directory and skipped when already in place: a virtual
//! environment `<target>/interop-venv` with a pinned aiocoap. Where `python3 -m venv` is
//! unusable (Debian without python3-venv), aiocoap goes to `<target>/interop-pydeps` with
//! `pip install --target` and the script runs with PYTHONPATH. Needs python3 (3.8+) and, the
//! first time, network access to PyPI.

#[path = "support/features.rs"]
mod features;
#[path = "support/python.rs"]
mod python_env;

use python_env::Python;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

const AIOCOAP: &str = "0.4.17";

/// The script stops itself after 30 s; this is the backstop should Python itself hang.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(45);

struct Setup {
    python: Python,
    device: PathBuf,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `<target>/<profile>` of this very test binary (`<target>/<profile>/deps/interop-…`), so a
/// custom CARGO_TARGET_DIR or profile is honoured without guessing.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"))
}

fn ok_or_panic(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The device binary, built with the profile this test runs under. `cargo test` builds
/// examples already; building again is a no-op then, and covers `cargo test --test interop`.
fn build_device() -> PathBuf {
    let profile_dir = profile_dir();
    let target_dir = profile_dir.parent().expect("<target>").to_path_buf();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("profile directory name")
        .to_string();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--example", "client", "--manifest-path"])
        .arg(manifest_dir().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // This run's features: the library is not rebuilt (and deps/liblwm2mc.so not replaced).
        .args(features::cargo_args());
    // The dev profile's directory is "debug"; every other profile's is its own name.
    if profile != "debug" {
        cmd.args(["--profile", &profile]);
    }
    ok_or_panic(&run(&mut cmd), "cargo build --example client");
    let device = profile_dir.join("examples").join("client");
    assert!(device.is_file(), "{} missing after build", device.display());
    device
}

/// A Python that imports the pinned aiocoap (tests/support/python.rs).
fn python_with_aiocoap() -> Python {
    let target_dir = profile_dir().parent().expect("<target>").to_path_buf();
    let check = format!("import sys, aiocoap.meta; sys.exit(aiocoap.meta.version != '{AIOCOAP}')");
    python_env::python_with(
        &target_dir,
        "interop",
        &[&format!("aiocoap=={AIOCOAP}")],
        &check,
    )
}

/// Done once per test binary; both scenarios wait for it.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let t = Instant::now();
        let device = build_device();
        let python = python_with_aiocoap();
        eprintln!(
            "interop setup: {:.1} s ({}{})",
            t.elapsed().as_secs_f64(),
            python.exe.display(),
            python
                .path
                .as_ref()
                .map(|p| format!(", PYTHONPATH={}", p.display()))
                .unwrap_or_default()
        );
        Setup { python, device }
    })
}

/// Runs one scenario of the peers script and fails the test with its transcript unless it
/// printed PASS and exited 0. The script bounds itself to 30 s.
fn scenario(name: &str) {
    let setup = setup();
    let script = manifest_dir()
        .join("tests")
        .join("interop")
        .join("lwm2m_peers.py");
    let t = Instant::now();
    let mut cmd = Command::new(&setup.python.exe);
    cmd.arg(&script)
        .arg(&setup.device)
        .args(["--scenario", name, "--timeout", "30"])
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(p) = &setup.python.path {
        cmd.env("PYTHONPATH", p);
    }
    let (status, transcript) = run_with_deadline(&mut cmd, SCRIPT_DEADLINE);
    assert!(
        status.as_ref().is_some_and(|s| s.success())
            && transcript.contains(&format!("PASS {name}")),
        "interop scenario '{name}' failed ({}) after {:.1} s:\n{transcript}",
        status.map_or_else(|| "killed at the deadline".to_string(), |s| s.to_string()),
        t.elapsed().as_secs_f64()
    );
    println!("{transcript}");
}

/// Runs `cmd`, killing it at `deadline`; returns its exit status (None if killed) and its
/// stdout followed by its stderr.
fn run_with_deadline(
    cmd: &mut Command,
    deadline: Duration,
) -> (Option<std::process::ExitStatus>, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("wait for the peers script") {
            Some(status) => break Some(status),
            None if start.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(20)),
        }
    };
    let transcript = format!(
        "{}{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    (status, transcript)
}

#[test]
fn aiocoap_bootstrap_server_provisions_and_server_manages_the_device() {
    scenario("bootstrap");
}

#[test]
fn aiocoap_server_manages_a_device_configured_at_the_factory() {
    scenario("direct");
}
