//! Interoperability with an independent LwM2M Server: `tests/interop/node/lwm2m_server.js`
//! runs lwm2m-node-lib (Telefonica's Node.js LwM2M library, on node-coap) as the LwM2M Server
//! of each of our three devices in turn, over UDP on 127.0.0.1: the CLI device
//! (`examples/client.rs`), the C device (`examples/c/device.c`, under ASan/UBSan/LSan) and the
//! Python device (`bindings/python/examples/device.py`). The script starts the device with a
//! server account and a 10 s lifetime, then checks Register, Read (instance and resource),
//! Write, Execute (`/1/0/8`, which must bring an Update), Discover, Observe of a resource that
//! changes by itself (two notifications, then Cancel, which the device must report) and of
//! its instance, the lifetime Update and De-register on SIGTERM, printing PASS/FAIL per step
//! and `PASS all`.
//!
//! No block-wise step: lwm2m-node-lib 1.4.0 pins node-coap 0.22.0, whose client does Block2
//! only (lib/agent.js 197-252) and hands a Write's whole payload to coap-packet 0.1.14's
//! `generate`, which refuses any message over 1,280 bytes (index.js 40-41, "Max packet size
//! is 1280"); the agent turns that into an 'error' (lib/agent.js 323-327) and nothing is sent.
//! Block1 from an independent stack is covered by aiocoap (bindings/python/tests).
//!
//! Setup, done once per target directory and skipped when already in place: `npm ci` of the
//! committed `tests/interop/node/package-lock.json` into `<target>/node-peer`
//! (tests/support/node.rs). Needs `node` and `npm` and, the first time, the npm registry.

#[path = "support/c_build.rs"]
mod c_build;
#[path = "support/features.rs"]
mod features;
#[path = "support/node.rs"]
mod node;
#[path = "support/paths.rs"]
mod paths;
#[path = "support/process.rs"]
mod process;
#[path = "support/python.rs"]
mod python_env;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use paths::{library, profile_dir, root};
use process::run_with_deadline;

/// Registration lifetime given to every device: the Update comes after max(lifetime − 93 s,
/// lifetime / 2) = 5 s (src/registration.rs update_delay_ms), inside the run.
const LIFETIME_S: u32 = 10;
/// The script stops itself after this many seconds.
const SCRIPT_TIMEOUT_S: u64 = 40;
/// The backstop should Node itself hang.
const DEADLINE: Duration = Duration::from_secs(SCRIPT_TIMEOUT_S + 20);

fn peer() -> &'static node::Node {
    static PEER: OnceLock<node::Node> = OnceLock::new();
    PEER.get_or_init(|| {
        let t = Instant::now();
        let n = node::node_with(
            profile_dir().parent().expect("<target>"),
            "node-peer",
            &root().join("tests/interop/node"),
            &["lwm2m-node-lib"],
        );
        eprintln!(
            "node peer setup: {:.1} s (node {}, {})",
            t.elapsed().as_secs_f64(),
            n.version,
            n.modules.display()
        );
        n
    })
}

/// What the script prints for a run that passed, step by step.
const EXPECTED: &[&str] = &[
    "PASS register",
    "PASS read-instance",
    "PASS read-resource",
    "PASS write",
    "PASS execute",
    "PASS discover",
    "PASS observe",
    "PASS observe-instance",
    "PASS update",
    "PASS deregister",
    "PASS all",
];

/// How one device is started: the command (with `{server}` for the server's URI) and the
/// environment it needs.
struct Device {
    endpoint: &'static str,
    command: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// An Object Instance the device adds to the standard ones.
    extra_object: Option<&'static str>,
    /// A resource that changes by itself, for the Observe step.
    observe: &'static str,
}

/// A fresh --state-file directory: every run starts from the factory state.
fn state_dir(endpoint: &str) -> String {
    let dir = profile_dir().join("node-interop-state").join(endpoint);
    let _ = std::fs::remove_dir_all(&dir);
    dir.display().to_string()
}

fn path_arg(p: PathBuf) -> String {
    p.display().to_string()
}

/// `--server {server} --endpoint EP --lifetime N --state-file DIR`, the flags all three
/// devices share.
fn device_flags(endpoint: &str) -> Vec<String> {
    [
        "--server",
        "{server}",
        "--endpoint",
        endpoint,
        "--lifetime",
        &LIFETIME_S.to_string(),
        "--state-file",
        &state_dir(endpoint),
    ]
    .map(String::from)
    .to_vec()
}

/// Runs the script against `device` and fails with its transcript unless every step passed.
fn manage(device: Device) {
    let node = peer();
    let script = root().join("tests/interop/node/lwm2m_server.js");
    let mut cmd = node.command(&script);
    cmd.args(["--endpoint", device.endpoint])
        .args(["--lifetime", &LIFETIME_S.to_string()])
        .args(["--observe", device.observe])
        .args(["--timeout", &SCRIPT_TIMEOUT_S.to_string()]);
    if let Some(o) = device.extra_object {
        cmd.args(["--expect-object", o]);
    }
    cmd.arg("--").args(&device.command);
    // The script starts the device; it inherits this environment.
    for (k, v) in &device.env {
        cmd.env(k, v);
    }
    let t = Instant::now();
    let (status, transcript) = run_with_deadline(&mut cmd, DEADLINE);
    let elapsed = t.elapsed().as_secs_f64();
    // Each expected line, in order, as a line of its own or followed by " (details)".
    let mut lines = transcript.lines();
    let missing = EXPECTED.iter().find(|want| {
        !lines
            .by_ref()
            .any(|l| l == **want || l.starts_with(&format!("{want} (")))
    });
    assert!(
        status.as_ref().is_some_and(|s| s.success()) && missing.is_none(),
        "lwm2m-node-lib against {} failed ({}{}) after {elapsed:.1} s:\n{transcript}",
        device.endpoint,
        status.map_or_else(|| "killed at the deadline".to_string(), |s| s.to_string()),
        missing
            .map(|m| format!(", no \"{m}\" line"))
            .unwrap_or_default(),
    );
    println!("{transcript}({elapsed:.1} s)");
}

#[test]
fn node_server_manages_the_cli_device() {
    let exe = process::build_cli_device();
    let endpoint = "node-cli";
    let mut command = vec![path_arg(exe)];
    command.extend(device_flags(endpoint));
    command.push("--verbose".into());
    manage(Device {
        endpoint,
        command,
        env: vec![],
        extra_object: None,
        // Current Time: the CLI device sets it every turn of its loop.
        observe: "/3/0/13",
    });
}

#[test]
fn node_server_manages_the_c_device() {
    let lib = c_build::lib_dir("node-device");
    let exe = lib.join("device");
    c_build::compile_with(
        &root().join("examples/c/device.c"),
        &exe,
        &lib,
        true,
        &["-lm"],
    );
    let endpoint = "node-c";
    let mut command = vec![path_arg(exe)];
    command.extend(device_flags(endpoint));
    manage(Device {
        endpoint,
        command,
        // The script passes its environment on to the device.
        env: c_build::SANITIZER_ENV
            .iter()
            .map(|&(k, v)| (k, v.to_string()))
            .collect(),
        extra_object: Some("/3303/0"),
        // The C device has no Current Time; its temperature follows a sine of the clock.
        observe: "/3303/0/5700",
    });
}

#[test]
fn node_server_manages_the_python_device() {
    let endpoint = "node-py";
    let bindings = root().join("bindings/python");
    let mut command = vec![
        path_arg(python_env::system_python()),
        path_arg(bindings.join("examples/device.py")),
    ];
    command.extend(device_flags(endpoint));
    manage(Device {
        endpoint,
        command,
        env: vec![
            ("LWM2MC_LIBRARY", path_arg(library())),
            ("PYTHONPATH", path_arg(bindings)),
            ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ],
        extra_object: Some("/3303/0"),
        // Current Time: the Python device sets it every poll.
        observe: "/3/0/13",
    });
}
