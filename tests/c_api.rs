//! Builds and runs the C test programs against the shared library `cargo test` just built
//! (target/<profile>/liblwm2mc.so, with the `ffi-test-hooks` feature through the
//! dev-dependency), under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer, with
//! `-std=c99 -Wall -Wextra -Wpedantic -Werror`. Also compiles the header as C++ and checks the
//! export list and the sample device.

#[path = "support/paths.rs"]
mod paths;

use paths::{assert_ok, profile_dir, root};

#[path = "support/c_build.rs"]
mod c_build;

use c_build::{compile, compile_with, lib_dir, sanitized};

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use lwm2mc::testkit::{BootstrapConfig, BootstrapServer, Lwm2mServer};

#[test]
fn api_contract() {
    let lib = lib_dir("contract");
    let exe = lib.join("test_api_contract");
    compile(
        &root().join("tests/c/test_api_contract.c"),
        &exe,
        &lib,
        true,
    );
    let o = sanitized(&mut Command::new(&exe)).output().unwrap();
    assert_ok("test_api_contract", &o);
}

/// Builds `tests/c/<name>.c` (sanitized) against this run's library and runs it to success.
fn run_c_program(name: &str, extra: &[&str]) {
    let lib = lib_dir(name);
    let exe = lib.join(name);
    compile_with(
        &root().join("tests/c").join(format!("{name}.c")),
        &exe,
        &lib,
        true,
        extra,
    );
    let o = sanitized(&mut Command::new(&exe)).output().unwrap();
    assert_ok(name, &o);
}

#[test]
fn callbacks_may_return_any_value() {
    run_c_program("test_callback_codes", &[]);
}

#[test]
fn free_from_callbacks_and_calls_from_other_threads() {
    run_c_program("test_lifecycle", &["-pthread"]);
}

#[test]
fn failed_bind_udp_leaves_the_client_usable() {
    run_c_program("test_bind_udp", &[]);
}

#[test]
fn config_refuses_duplicate_accounts_and_null_storage_means_none() {
    run_c_program("test_config_checks", &[]);
}

#[test]
fn a_datagram_too_large_for_udp_does_not_stop_poll_udp() {
    run_c_program("test_send_failures", &[]);
}

#[test]
fn whole_flow_through_the_c_api() {
    let lib = lib_dir("flow");
    let exe = lib.join("test_flow");
    compile(&root().join("tests/c/test_flow.c"), &exe, &lib, true);

    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .unwrap();
    let mut child = sanitized(&mut Command::new(&exe))
        .arg(bs.uri())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Duration::from_secs(15);
    let result = (|| -> Result<(), String> {
        let reg = dm
            .wait_registration("c-device", t)
            .map_err(|e| e.to_string())?;
        if !reg.links.contains("</3303/0>") {
            return Err(format!("the C object is not announced: {}", reg.links));
        }
        let r = dm
            .read("c-device", "/3303/0/5700", None)
            .map_err(|e| e.to_string())?;
        if (r.code, r.payload.as_slice()) != (0x45, &b"21.5"[..]) {
            return Err(format!(
                "read through the C callback: {} {:?}",
                r.code_string(),
                r.payload
            ));
        }
        // The C callback fails: the server gets 5.00.
        let r = dm
            .read("c-device", "/3303/0/5701", None)
            .map_err(|e| e.to_string())?;
        if r.code != 0xA0 {
            return Err(format!("failing callback answered {}", r.code_string()));
        }
        let r = dm
            .write("c-device", "/3/0/14", 0, b"+02:00".to_vec())
            .map_err(|e| e.to_string())?;
        if r.code != 0x44 {
            return Err(format!("write answered {}", r.code_string()));
        }
        let r = dm
            .execute("c-device", "/3/0/4", None)
            .map_err(|e| e.to_string())?;
        if r.code != 0x44 {
            return Err(format!("execute answered {}", r.code_string()));
        }
        // Create and Delete reach the C callbacks.
        let mut create = lwm2mc::testkit::request(0x02, "/3303");
        lwm2mc::coap::msg::set_content_format(&mut create, 11542);
        let r = dm.request("c-device", create).map_err(|e| e.to_string())?;
        if r.code != 0x41 {
            return Err(format!("create answered {}", r.code_string()));
        }
        let r = dm
            .request("c-device", lwm2mc::testkit::request(0x04, "/3303/0"))
            .map_err(|e| e.to_string())?;
        if r.code != 0x42 {
            return Err(format!("delete answered {}", r.code_string()));
        }
        // Stop phase 1: the program de-registers, then restarts from its storage.
        drop(child.stdin.take());
        dm.wait_deregistration("c-device", t)
            .map_err(|e| e.to_string())?;
        dm.wait_registration("c-device", t)
            .map_err(|e| e.to_string())?;
        dm.wait_deregistration("c-device", t)
            .map_err(|e| e.to_string())?;
        Ok(())
    })();
    let out = child.wait_with_output().unwrap();
    assert_ok("test_flow", &out);
    if let Err(e) = result {
        panic!(
            "{e}\n--- program stdout\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // One bootstrap session only: phase 2 registered from storage.
    bs.wait_session(Duration::from_secs(1)).unwrap();
    assert!(
        bs.wait_session(Duration::from_millis(100)).is_err(),
        "a second bootstrap happened"
    );
}

#[test]
fn header_compiles_as_cpp() {
    let dir = profile_dir().join("c-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("header_check.cpp");
    let mut f = std::fs::File::create(&src).unwrap();
    writeln!(f, "#include \"lwm2mc.h\"\nint main() {{ return lwm2mc_result_str(LWM2MC_RESULT_OK) ? 0 : 1; }}").unwrap();
    let o = Command::new("c++")
        .args([
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(root().join("include"))
        .arg(&src)
        .output()
        .expect("c++");
    assert_ok("c++ -fsyntax-only", &o);
}

#[test]
fn shared_library_exports_only_lwm2mc_symbols() {
    let so = profile_dir().join("deps").join("liblwm2mc.so");
    let Ok(o) = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
    else {
        eprintln!("nm not available; skipping the export check");
        return;
    };
    let text = String::from_utf8_lossy(&o.stdout);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(names.contains(&"lwm2mc_client_new"), "{names:?}");
    let foreign: Vec<&&str> = names.iter().filter(|n| !n.starts_with("lwm2mc_")).collect();
    assert!(
        foreign.is_empty(),
        "exported non-lwm2mc symbols: {foreign:?}"
    );
    let soname = Command::new("readelf").arg("-d").arg(&so).output();
    if let Ok(r) = soname {
        let d = String::from_utf8_lossy(&r.stdout);
        assert!(d.contains("Library soname: [liblwm2mc.so.0]"), "{d}");
    }
}

#[test]
fn sample_device_runs_against_the_testkit() {
    let lib = lib_dir("sample");
    let exe = lib.join("device");
    compile_with(
        &root().join("examples/c/device.c"),
        &exe,
        &lib,
        true,
        &["-lm"],
    );
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .unwrap();
    let state = lib.join("state");
    let _ = std::fs::remove_dir_all(&state);
    let child = sanitized(&mut Command::new(&exe))
        .args([
            "--bootstrap",
            &bs.uri(),
            "--endpoint",
            "c-sample",
            "--pct",
            "112",
            "--state-file",
        ])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let t = Duration::from_secs(15);
    let checks = (|| -> Result<(), String> {
        let session = bs.wait_session(t).map_err(|e| e.to_string())?;
        if !session.queries.contains(&"pct=112".to_string()) {
            return Err(format!(
                "Bootstrap-Request without pct: {:?}",
                session.queries
            ));
        }
        dm.wait_registration("c-sample", t)
            .map_err(|e| e.to_string())?;
        let r = dm
            .read("c-sample", "/3303/0/5700", None)
            .map_err(|e| e.to_string())?;
        let celsius: f64 = String::from_utf8_lossy(&r.payload)
            .parse()
            .map_err(|_| format!("{r:?}"))?;
        if r.code != 0x45 || !(19.0..=23.0).contains(&celsius) {
            return Err(format!("temperature read: {} {celsius}", r.code_string()));
        }
        let r = dm
            .read("c-sample", "/3303/0/5701", None)
            .map_err(|e| e.to_string())?;
        if r.payload != b"Cel" {
            return Err(format!("units read: {r:?}"));
        }
        Ok(())
    })();
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let dereg = dm.wait_deregistration("c-sample", t);
    let out = child.wait_with_output().unwrap();
    assert_ok("sample device", &out);
    checks.unwrap();
    dereg.unwrap();
    // Events are printed by name (lwm2mc_event_kind_str), with the registration location.
    let printed = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert!(lines.contains(&"bootstrapped ssid=0"), "{printed}");
    assert!(lines.contains(&"registered ssid=1 /rd/1"), "{printed}");
    assert!(lines.contains(&"deregistered ssid=1"), "{printed}");
    assert!(
        state.join("lwm2mc.a").exists() || state.join("lwm2mc.b").exists(),
        "configuration saved to --state-file"
    );
}

#[test]
fn install_script_and_pkg_config() {
    // Stage this run's library as a "release" build, install it under a temporary prefix, and
    // build the sample device the way the README tells C users to.
    let stage = profile_dir().join("c-tests").join("install-stage");
    let prefix = profile_dir().join("c-tests").join("install-prefix");
    let _ = std::fs::remove_dir_all(&stage);
    let _ = std::fs::remove_dir_all(&prefix);
    std::fs::create_dir_all(stage.join("release")).unwrap();
    std::fs::copy(
        profile_dir().join("deps/liblwm2mc.so"),
        stage.join("release/liblwm2mc.so"),
    )
    .unwrap();
    std::fs::copy(
        profile_dir().join("deps/liblwm2mc.a"),
        stage.join("release/liblwm2mc.a"),
    )
    .unwrap();
    let o = Command::new("sh")
        .arg(root().join("scripts/install.sh"))
        .arg(&prefix)
        .env("CARGO_TARGET_DIR", &stage)
        .output()
        .unwrap();
    assert_ok("install.sh", &o);
    for f in [
        "lib/liblwm2mc.so.0",
        "lib/liblwm2mc.so",
        "lib/liblwm2mc.a",
        "include/lwm2mc.h",
        "lib/pkgconfig/lwm2mc.pc",
    ] {
        assert!(prefix.join(f).exists(), "{f} not installed");
    }
    let pc = Command::new("pkg-config")
        .args(["--cflags", "--libs", "lwm2mc"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("pkg-config (.ci/run installs it)");
    assert_ok("pkg-config", &pc);
    let flags = String::from_utf8(pc.stdout).unwrap();
    assert!(flags.contains("-llwm2mc"), "{flags}");
    let exe = prefix.join("device");
    let mut cc = Command::new("cc");
    cc.args(["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .arg(root().join("examples/c/device.c"));
    cc.args(flags.split_whitespace())
        .arg("-lm")
        .arg("-o")
        .arg(&exe);
    assert_ok(
        "cc $(pkg-config --cflags --libs lwm2mc)",
        &cc.output().unwrap(),
    );
    // The program loads the installed library through its soname and answers a bad command
    // line with its usage (exit 2).
    let run = Command::new(&exe)
        .env("LD_LIBRARY_PATH", prefix.join("lib"))
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("usage: device"));
}
