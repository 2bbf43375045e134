//! Runs the Python bindings' tests (bindings/python) against the library `cargo test` just
//! built: the pytest suite (API contract, Python transport and storage, an aiocoap
//! Bootstrap-Server, and aiocoap pushing firmware to the Python, CLI and C sample devices),
//! the whole device-management flow against the testkit servers, the example device, and
//! `pip install ./bindings/python` into a fresh environment.
//!
//! Python packages (pytest, aiocoap, DTLSSocket; pinned) go into a virtual environment under the target
//! directory, created on the first run (tests/support/python.rs).

#[path = "support/c_build.rs"]
mod c_build;
#[path = "support/features.rs"]
mod features;
#[path = "support/paths.rs"]
mod paths;
#[path = "support/process.rs"]
mod process;
#[path = "support/refusal.rs"]
mod refusal;

use paths::{assert_ok, library, profile_dir, root};

#[path = "support/python.rs"]
mod python_env;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use lwm2mc::testkit::{BootstrapConfig, BootstrapServer, Lwm2mServer};
use python_env::Python;

/// DTLSSocket (aiocoap's tinydtls transports, test_aiocoap_dtls.py) is an sdist: pip builds it
/// with Cython and a C compiler, its setup.py runs tinydtls' `autogen.sh` (autoreconf, from
/// Debian's `autoconf`, which .ci/run installs) and `configure`.
const PINS: &[&str] = &["pytest==8.3.4", "aiocoap==0.4.17", "DTLSSocket==0.2.3"];
/// DTLSSocket's build requirements (its pyproject.toml leaves them unpinned).
const BUILD_PINS: &[&str] = &[
    "Cython==3.1.2",
    "setuptools==84.2.1",
    "wheel==0.48.0",
    "packaging==26.4",
];
const CHECK: &str = "import sys, importlib.metadata as m, pytest, aiocoap.meta, DTLSSocket.dtls; \
    sys.exit(pytest.__version__ != '8.3.4' or aiocoap.meta.version != '0.4.17' \
    or m.version('DTLSSocket') != '0.2.3')";

fn python() -> &'static Python {
    static PY: OnceLock<Python> = OnceLock::new();
    PY.get_or_init(|| {
        python_env::python_with_build_pins(
            profile_dir().parent().unwrap(),
            "python",
            PINS,
            BUILD_PINS,
            CHECK,
        )
    })
}

fn with_bindings(cmd: &mut Command) -> &mut Command {
    cmd.env("LWM2MC_LIBRARY", library())
        .env("PYTHONDONTWRITEBYTECODE", "1")
}

/// A Bootstrap-Server that provisions every device with an account on `dm`.
fn servers() -> (Lwm2mServer, BootstrapServer) {
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .unwrap();
    (dm, bs)
}

/// The C sample device (examples/c/device.c) under ASan/UBSan/LSan, linked against a private
/// copy of this run's library, for the pytest firmware test (`LWM2MC_TEST_C_DEVICE`).
fn c_sample_device() -> PathBuf {
    let lib = c_build::lib_dir("python-fw-device");
    let exe = lib.join("device");
    c_build::compile_with(
        &root().join("examples/c/device.c"),
        &exe,
        &lib,
        true,
        &["-lm"],
    );
    exe
}

#[test]
fn pytest_suite() {
    let (_dm, bs) = servers();
    let bindings = root().join("bindings/python");
    let mut cmd = python().command(&[&bindings]);
    with_bindings(&mut cmd)
        .env("LWM2MC_TEST_BS_URI", bs.uri())
        // The sample devices the firmware tests start (conftest.py cli_device, c_device).
        .env("LWM2MC_TEST_CLI_DEVICE", process::build_cli_device())
        .env("LWM2MC_TEST_C_DEVICE", c_sample_device());
    // Read only by the sanitizer runtime, so by the C device alone (Python and the library
    // it loads are not instrumented): a sanitizer report makes the device exit non-zero.
    c_build::sanitized(&mut cmd)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs"])
        .arg(bindings.join("tests"))
        .current_dir(&bindings);
    let out = cmd.output().unwrap();
    assert_ok("pytest bindings/python/tests", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("skipped"), "no test may be skipped:\n{text}");
    println!("{text}");
}

#[test]
fn flow_against_the_testkit() {
    let (dm, bs) = servers();
    let bindings = root().join("bindings/python");
    let mut cmd = python().command(&[&bindings]);
    with_bindings(&mut cmd)
        .arg(bindings.join("tests/flow_device.py"))
        .arg(bs.uri())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let t = Duration::from_secs(15);
    let ep = "py-flow";
    let result = (|| -> Result<(), String> {
        let reg = dm.wait_registration(ep, t).map_err(|e| e.to_string())?;
        if !reg.links.contains("</3303/0>") {
            return Err(format!("Python object not announced: {}", reg.links));
        }
        let r = dm
            .read(ep, "/3303/0/5700", None)
            .map_err(|e| e.to_string())?;
        if (r.code, r.payload.as_slice()) != (0x45, &b"21.5"[..]) {
            return Err(format!("read 5700: {} {:?}", r.code_string(), r.payload));
        }
        let r = dm
            .read(ep, "/3303/0/5701", None)
            .map_err(|e| e.to_string())?;
        if r.code != 0xA0 {
            return Err(format!(
                "a raising read must answer 5.00, got {}",
                r.code_string()
            ));
        }
        // The object lists its resources (Object.present): Discover reads none of them, so
        // the raising 5701 is not read again (the device counts exactly one re-raise).
        let r = dm.discover(ep, "/3303/0").map_err(|e| e.to_string())?;
        let links = String::from_utf8_lossy(&r.payload).into_owned();
        if links != "</3303/0>,</3303/0/5700>,</3303/0/5701>,</3303/0/5750>" {
            return Err(format!("discover: {} {links}", r.code_string()));
        }
        let r = dm
            .write(ep, "/3303/0/5750", 0, b"far too long".to_vec())
            .map_err(|e| e.to_string())?;
        if r.code != 0x80 {
            return Err(format!(
                "BadRequest from Python must answer 4.00, got {}",
                r.code_string()
            ));
        }
        for (path, value) in [
            ("/3303/0/5750", &b"office"[..]),
            ("/3/0/14", &b"+03:00"[..]),
        ] {
            let r = dm
                .write(ep, path, 0, value.to_vec())
                .map_err(|e| e.to_string())?;
            if r.code != 0x44 {
                return Err(format!("write {path}: {}", r.code_string()));
            }
        }
        // Accepted by the object's write, refused by its validate: 4.00, rolled back.
        let r = dm
            .write(ep, "/3303/0/5750", 0, b"nope".to_vec())
            .map_err(|e| e.to_string())?;
        if r.code != 0x80 {
            return Err(format!(
                "a refused validate must answer 4.00, got {}",
                r.code_string()
            ));
        }
        let r = dm
            .execute(ep, "/3/0/4", Some("1='now'"))
            .map_err(|e| e.to_string())?;
        if r.code != 0x44 {
            return Err(format!("execute: {}", r.code_string()));
        }
        let mut create = lwm2mc::testkit::request(0x02, "/3303");
        lwm2mc::coap::msg::set_content_format(&mut create, 11542);
        let r = dm.request(ep, create).map_err(|e| e.to_string())?;
        if r.code != 0x41 {
            return Err(format!("create: {}", r.code_string()));
        }
        let r = dm
            .request(ep, lwm2mc::testkit::request(0x04, "/3303/0"))
            .map_err(|e| e.to_string())?;
        if r.code != 0x42 {
            return Err(format!("delete: {}", r.code_string()));
        }
        drop(child.stdin.take());
        dm.wait_deregistration(ep, t).map_err(|e| e.to_string())?;
        Ok(())
    })();
    let out = child.wait_with_output().unwrap();
    assert_ok("flow_device.py", &out);
    result.unwrap();
}

#[test]
fn example_device_bootstraps_and_deregisters_on_sigterm() {
    let (dm, bs) = servers();
    let bindings = root().join("bindings/python");
    let state = profile_dir().join("python-example-state");
    let _ = std::fs::remove_dir_all(&state);
    let mut cmd = python().command(&[&bindings]);
    with_bindings(&mut cmd)
        .arg(bindings.join("examples/device.py"))
        .args([
            "--bootstrap",
            &bs.uri(),
            "--endpoint",
            "py-example",
            "--pct",
            "110",
            "--state-file",
        ])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let t = Duration::from_secs(15);
    let checks = (|| -> Result<(), String> {
        let session = bs.wait_session(t).map_err(|e| e.to_string())?;
        if !session.queries.contains(&"pct=110".to_string()) {
            return Err(format!("no pct=110 in {:?}", session.queries));
        }
        dm.wait_registration("py-example", t)
            .map_err(|e| e.to_string())?;
        let r = dm
            .read("py-example", "/3303/0/5701", None)
            .map_err(|e| e.to_string())?;
        if r.payload != b"Cel" {
            return Err(format!("{r:?}"));
        }
        Ok(())
    })();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let dereg = dm.wait_deregistration("py-example", t);
    let out = child.wait_with_output().unwrap();
    assert_ok("examples/device.py", &out);
    checks.unwrap();
    dereg.unwrap();
    assert!(
        std::fs::read_dir(&state)
            .map(|d| d.count() > 0)
            .unwrap_or(false),
        "state saved"
    );
}

#[test]
fn pip_install_into_a_fresh_environment() {
    // A fresh environment every time: `pip install ./bindings/python` (whose build compiles
    // the library with `cargo build --release --lib` into this target directory), then
    // `import lwm2mc` from elsewhere with no LWM2MC_LIBRARY and no PYTHONPATH: the library
    // must be bundled in the installed package.
    let dir = profile_dir().join("pip-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let venv = dir.join("venv");
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    let (py, pythonpath): (PathBuf, Option<PathBuf>) = if created.status.success() {
        (venv.join("bin/python"), None)
    } else {
        (PathBuf::from("python3"), Some(dir.join("site")))
    };
    let mut install = Command::new(&py);
    install.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
    ]);
    if let Some(site) = &pythonpath {
        install.arg("--target").arg(site);
    }
    install
        .arg(root().join("bindings/python"))
        .env("LWM2MC_BUNDLE_LIBRARY", library())
        .env_remove("LWM2MC_LIBRARY");
    assert_ok("pip install ./bindings/python", &install.output().unwrap());
    let mut check = Command::new(&py);
    check
        .args([
            "-c",
            "import pathlib, lwm2mc; \
             here = pathlib.Path(lwm2mc.__file__).parent; \
             assert (here / 'liblwm2mc.so').exists(), 'library not bundled'; \
             c = lwm2mc.Client('pip-check', bootstrap='coap://127.0.0.1:9'); \
             assert c.get('/3/0/0') == 'lwm2mc project'; c.close(); \
             print(lwm2mc.__version__, lwm2mc.library_version())",
        ])
        .current_dir(&dir)
        .env_remove("LWM2MC_LIBRARY")
        .env_remove("PYTHONPATH");
    if let Some(site) = &pythonpath {
        check.env("PYTHONPATH", site);
    }
    let out = check.output().unwrap();
    assert_ok("import lwm2mc after pip install", &out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0.1.0 0.1.0");
}

#[test]
fn example_device_prints_a_refused_bootstrap_finish() {
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(refusal::refused_plan(&dm.uri())).unwrap();
    let bindings = root().join("bindings/python");
    let mut cmd = python().command(&[&bindings]);
    with_bindings(&mut cmd)
        .arg(bindings.join("examples/device.py"))
        .args(["--bootstrap", &bs.uri(), "--endpoint", "py-refused"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let session = bs.wait_session(Duration::from_secs(15));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_ok("examples/device.py", &out);
    assert_eq!(session.unwrap().codes().last(), Some(&0x86));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.lines().any(|l| l
            == format!(
                "event bootstrap_finish_refused ssid=0  {}",
                refusal::DIAGNOSTIC
            )),
        "{printed}"
    );
}

/// The Python device's default transport is the C library's built-in UDP socket
/// (`lwm2mc_client_bind_udp`, the same `UdpClient`), so it speaks DTLS too: a NoSec bootstrap
/// hands it a PSK account on a `coaps://` server, and it registers and answers a Read there.
#[cfg(feature = "dtls")]
#[test]
fn example_device_registers_over_coaps_after_a_nosec_bootstrap() {
    use lwm2mc::coap::TransmissionParams;
    use lwm2mc::testkit::PskTable;
    const KEY: &[u8] = b"python-dm-psk-0123";
    let dm = Lwm2mServer::start_psk(
        TransmissionParams::default(),
        PskTable::new().with(b"py-coaps", KEY),
    )
    .unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account_psk(1, &dm.uri(), 60, b"py-coaps", KEY)
            .finish(),
    )
    .unwrap();
    let bindings = root().join("bindings/python");
    let mut cmd = python().command(&[&bindings]);
    with_bindings(&mut cmd)
        .arg(bindings.join("examples/device.py"))
        .args(["--bootstrap", &bs.uri(), "--endpoint", "py-coaps"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let t = Duration::from_secs(15);
    let checks = (|| -> Result<(), String> {
        dm.wait_registration("py-coaps", t)
            .map_err(|e| e.to_string())?;
        let r = dm
            .read("py-coaps", "/3303/0/5701", None)
            .map_err(|e| e.to_string())?;
        if r.payload != b"Cel" {
            return Err(format!("{r:?}"));
        }
        Ok(())
    })();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let dereg = dm.wait_deregistration("py-coaps", t);
    let out = child.wait_with_output().unwrap();
    assert_ok("examples/device.py", &out);
    checks.unwrap();
    dereg.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("secure_session_established"),
        "the DTLS session is reported: {stdout}"
    );
}

/// `--bootstrap coaps://... --psk-identity TEXT --psk-key HEX`: the Python sample device's
/// factory Bootstrap-Server account is a PSK one; it bootstraps and registers over DTLS, and
/// prints neither key.
#[cfg(feature = "dtls")]
#[test]
fn example_device_bootstraps_over_coaps_with_the_psk_flags() {
    use lwm2mc::coap::TransmissionParams;
    use lwm2mc::testkit::PskTable;
    const BS_KEY: &[u8] = b"py-bootstrap-key";
    const DM_KEY: &[u8] = b"py-dm-key-0123456";
    let params = TransmissionParams::default();
    let dm = Lwm2mServer::start_psk(params, PskTable::new().with(b"py-dm", DM_KEY)).unwrap();
    let bs = BootstrapServer::start_psk(
        BootstrapConfig::new()
            .delete("/")
            .server_account_psk(1, &dm.uri(), 60, b"py-dm", DM_KEY)
            .finish(),
        params,
        PskTable::new().with(b"py-bs", BS_KEY),
    )
    .unwrap();
    let hex: String = BS_KEY.iter().map(|b| format!("{b:02x}")).collect();
    let bindings = root().join("bindings/python");
    let mut cmd = python().command(&[&bindings]);
    with_bindings(&mut cmd)
        .arg(bindings.join("examples/device.py"))
        .args(["--bootstrap", &bs.uri(), "--endpoint", "py-psk-flags"])
        .args(["--psk-identity", "py-bs", "--psk-key", &hex])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let t = Duration::from_secs(15);
    let registered = dm.wait_registration("py-psk-flags", t);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let dereg = dm.wait_deregistration("py-psk-flags", t);
    let out = child.wait_with_output().unwrap();
    assert_ok("examples/device.py", &out);
    registered.unwrap();
    dereg.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let sessions = stdout.matches("secure_session_established").count();
    assert_eq!(
        sessions, 2,
        "Bootstrap-Server and LwM2M Server sessions: {stdout}"
    );
    assert!(
        !stdout.contains(&hex) && !stdout.contains("py-dm-key"),
        "{stdout}"
    );
}
