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
#[path = "support/paths.rs"]
mod paths;
#[path = "support/process.rs"]
mod process;
#[path = "support/python.rs"]
mod python_env;

use paths::{profile_dir, root};
use process::{build_cli_device, run_with_deadline};
use python_env::Python;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const AIOCOAP: &str = "0.4.17";

/// The script stops itself after 30 s; this is the backstop should Python itself hang.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(45);

struct Setup {
    python: Python,
    device: PathBuf,
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
        let device = build_cli_device();
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
    let script = root().join("tests").join("interop").join("lwm2m_peers.py");
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

#[test]
fn aiocoap_bootstrap_server_provisions_and_server_manages_the_device() {
    scenario("bootstrap");
}

#[test]
fn aiocoap_server_manages_a_device_configured_at_the_factory() {
    scenario("direct");
}
