//! Builds and runs the C test programs against the shared library `cargo test` just built
//! (target/<profile>/deps/liblwm2mc.so, with the `ffi-test-hooks` feature: this target requires
//! it), under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer, with
//! `-std=c99 -Wall -Wextra -Wpedantic -Werror`. Also compiles the header as C++ and checks the
//! export list and the sample device.

#[path = "support/paths.rs"]
mod paths;
#[path = "support/refusal.rs"]
mod refusal;

use paths::{assert_ok, profile_dir, root};

#[path = "support/c_build.rs"]
mod c_build;

use c_build::{compile, compile_with, lib_dir, sanitized};

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
fn firmware_update_by_push_and_download_through_the_c_callbacks() {
    run_c_program("test_firmware", &[]);
}

#[test]
fn queue_mode_and_the_registration_state_from_c() {
    run_c_program("test_servers", &[]);
}

#[test]
fn observe_changed_and_the_observation_list_from_c() {
    run_c_program("test_observe", &[]);
}

#[test]
fn an_object_with_more_instances_than_the_first_buffer_lists_them_all() {
    run_c_program("test_many_instances", &[]);
}

#[test]
fn a_peer_handle_given_out_twice_is_refused() {
    run_c_program("test_duplicate_handle", &[]);
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

/// `--bootstrap coaps://... --psk-identity TEXT --psk-key HEX`: the C sample device's factory
/// Bootstrap-Server account is a PSK one (`lwm2mc_config_set_psk`); it bootstraps and
/// registers over DTLS, answers a Read there, and prints neither key.
#[cfg(feature = "dtls")]
#[test]
fn sample_device_bootstraps_over_coaps_with_the_psk_flags() {
    use lwm2mc::coap::TransmissionParams;
    use lwm2mc::testkit::PskTable;
    const BS_KEY: &[u8] = b"c-bootstrap-key!";
    const DM_KEY: &[u8] = b"c-dm-key-01234567";
    let lib = lib_dir("sample-psk");
    let exe = lib.join("device");
    compile_with(
        &root().join("examples/c/device.c"),
        &exe,
        &lib,
        true,
        &["-lm"],
    );
    let params = TransmissionParams::default();
    let dm = Lwm2mServer::start_psk(params, PskTable::new().with(b"c-dm", DM_KEY)).unwrap();
    let bs = BootstrapServer::start_psk(
        BootstrapConfig::new()
            .delete("/")
            .server_account_psk(1, &dm.uri(), 60, b"c-dm", DM_KEY)
            .finish(),
        params,
        PskTable::new().with(b"c-bs", BS_KEY),
    )
    .unwrap();
    let hex: String = BS_KEY.iter().map(|b| format!("{b:02x}")).collect();
    let child = sanitized(&mut Command::new(&exe))
        .args(["--bootstrap", &bs.uri(), "--endpoint", "c-psk"])
        .args(["--psk-identity", "c-bs", "--psk-key", &hex])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Duration::from_secs(15);
    let read = dm
        .wait_registration("c-psk", t)
        .and_then(|_| dm.read("c-psk", "/3303/0/5701", None));
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let dereg = dm.wait_deregistration("c-psk", t);
    let out = child.wait_with_output().unwrap();
    assert_ok("sample device", &out);
    assert_eq!(read.unwrap().payload, b"Cel");
    dereg.unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        printed.matches("secure_session_established").count(),
        2,
        "{printed}"
    );
    assert!(
        !printed.contains(&hex) && !printed.contains("c-dm-key"),
        "{printed}"
    );
}

/// The shell block of README.md's "Using it from C" section, line by line.
fn readme_c_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Using it from C\n")
        .nth(1)
        .expect("README.md has a \"Using it from C\" section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a ```sh block in \"Using it from C\"");
    block.lines().map(String::from).collect()
}

#[test]
fn install_script_and_pkg_config() {
    // README.md's C lines, run as written by sh, with HOME a fresh directory (so
    // "$HOME/.local" is a prefix that neither pkg-config nor the loader searches) and with
    // neither PKG_CONFIG_PATH nor LD_LIBRARY_PATH inherited: only what the README sets. Two
    // stand-ins: this run's library is staged as the release build instead of running the
    // `cargo rustc --release` line (CARGO_TARGET_DIR, which install.sh honours), and the
    // device bootstraps from a testkit server instead of 127.0.0.1:5783.
    let lines = readme_c_lines();
    let (first, rest) = lines.split_first().expect("README C block is empty");
    let (run, middle) = rest.split_last().expect("README C block has a run line");
    assert!(
        first.starts_with("cargo rustc --release --lib --crate-type cdylib,staticlib"),
        "{first}"
    );
    assert!(run.starts_with("./device "), "{run}");
    const README_BOOTSTRAP: &str = "coap://127.0.0.1:5783";
    assert!(run.contains(README_BOOTSTRAP), "{run}");

    let base = profile_dir().join("c-tests").join("readme");
    let _ = std::fs::remove_dir_all(&base);
    let stage = base.join("target");
    std::fs::create_dir_all(stage.join("release")).unwrap();
    for lib in ["liblwm2mc.so", "liblwm2mc.a"] {
        std::fs::copy(
            profile_dir().join("deps").join(lib),
            stage.join("release").join(lib),
        )
        .unwrap();
    }
    // The README's relative paths (scripts/, examples/) are the repository's; `device` and
    // `./state` land here, not in the source tree.
    let work = base.join("work");
    let home = base.join("home");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    for entry in [
        "Cargo.toml",
        "lwm2mc.pc.in",
        "scripts",
        "include",
        "examples",
    ] {
        std::os::unix::fs::symlink(root().join(entry), work.join(entry)).unwrap();
    }

    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .unwrap();
    // `exec`, so that the device is this child and gets the SIGTERM itself.
    let script = format!(
        "set -e\n{}\nexec {}\n",
        middle.join("\n"),
        run.replace(README_BOOTSTRAP, &bs.uri())
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("HOME", &home)
        .env("CARGO_TARGET_DIR", &stage)
        .env_remove("PKG_CONFIG_PATH")
        .env_remove("PKG_CONFIG_LIBDIR")
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let prefix_lib = home.join(".local/lib");
    let mut checks = (|| -> Result<(), String> {
        // Installing and compiling come first: a longer wait for the bootstrap, given up as
        // soon as the script stops (a README line failed).
        let deadline = Instant::now() + Duration::from_secs(60);
        while bs.wait_session(Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("the script ended ({status}) before a bootstrap"));
            }
            if Instant::now() > deadline {
                return Err("no bootstrap within 60 s".into());
            }
        }
        let t = Duration::from_secs(15);
        dm.wait_registration("my-dev", t)
            .map_err(|e| e.to_string())?;
        // The loader took the installed copy (through LD_LIBRARY_PATH), not another one.
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        let installed = std::fs::canonicalize(prefix_lib.join("liblwm2mc.so.0"))
            .map_err(|e| format!("lib/liblwm2mc.so.0: {e}"))?;
        let installed = installed.to_string_lossy();
        if !maps.lines().any(|l| l.ends_with(&*installed)) {
            return Err(format!("{installed} is not mapped by the device:\n{maps}"));
        }
        let r = dm
            .read("my-dev", "/3303/0/5700", None)
            .map_err(|e| e.to_string())?;
        let celsius: f64 = String::from_utf8_lossy(&r.payload)
            .parse()
            .map_err(|_| format!("{r:?}"))?;
        if r.code != 0x45 || !(19.0..=23.0).contains(&celsius) {
            return Err(format!("temperature read: {} {celsius}", r.code_string()));
        }
        Ok(())
    })();
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    if checks.is_ok() {
        checks = dm
            .wait_deregistration("my-dev", Duration::from_secs(15))
            .map(|_| ())
            .map_err(|e| format!("no de-registration after SIGTERM: {e}"));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Err(e) = checks {
        panic!(
            "{e}\n--- script\n{script}--- stdout\n{stdout}--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_ok("the README's C lines", &out);
    for f in [
        "liblwm2mc.so.0",
        "liblwm2mc.so",
        "liblwm2mc.a",
        "pkgconfig/lwm2mc.pc",
    ] {
        assert!(prefix_lib.join(f).exists(), "lib/{f} not installed");
    }
    assert!(home.join(".local/include/lwm2mc.h").exists());
    // install.sh told the user exactly the README's export lines.
    let home = home.to_str().unwrap();
    for export in middle.iter().filter(|l| l.starts_with("export ")) {
        let expected = export.replace("$HOME", home);
        assert!(
            stdout.lines().any(|l| l == expected),
            "install.sh did not print {expected:?}:\n{stdout}"
        );
    }
    assert!(
        work.join("state").is_dir(),
        "the device kept its configuration in ./state"
    );
}

#[test]
fn sample_device_prints_a_refused_bootstrap_finish() {
    let lib = lib_dir("sample-refused");
    let exe = lib.join("device");
    compile_with(
        &root().join("examples/c/device.c"),
        &exe,
        &lib,
        true,
        &["-lm"],
    );
    let dm = Lwm2mServer::start().unwrap();
    let bs = BootstrapServer::start(refusal::refused_plan(&dm.uri())).unwrap();
    let child = sanitized(&mut Command::new(&exe))
        .args(["--bootstrap", &bs.uri(), "--endpoint", "c-refused"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let session = bs.wait_session(Duration::from_secs(15));
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_ok("sample device", &out);
    assert_eq!(session.unwrap().codes().last(), Some(&0x86));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed
            .lines()
            .any(|l| l == format!("bootstrap_finish_refused ssid=0 {}", refusal::DIAGNOSTIC)),
        "{printed}"
    );
}

/// The C programs that need no server, run under valgrind's memcheck against the library as
/// cargo built it. AddressSanitizer instruments only the C side, so a use-after-free, an
/// uninitialised read or a leak inside the Rust library would pass the other tests unseen.
#[test]
fn standalone_c_programs_are_clean_under_valgrind() {
    let version = Command::new("valgrind").arg("--version").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "valgrind is needed (.ci/run installs it from Debian's packages)"
    );
    let programs: [(&str, &[&str]); 11] = [
        ("test_api_contract", &[]),
        ("test_callback_codes", &[]),
        ("test_lifecycle", &["-pthread"]),
        ("test_many_instances", &[]),
        ("test_duplicate_handle", &[]),
        ("test_bind_udp", &[]),
        ("test_config_checks", &[]),
        ("test_send_failures", &[]),
        ("test_observe", &[]),
        ("test_firmware", &[]),
        ("test_servers", &[]),
    ];
    for (name, extra) in programs {
        let lib = lib_dir(&format!("{name}-valgrind"));
        let exe = lib.join(name);
        compile_with(
            &root().join("tests/c").join(format!("{name}.c")),
            &exe,
            &lib,
            false,
            extra,
        );
        let o = Command::new("valgrind")
            .args([
                "--quiet",
                "--error-exitcode=97",
                "--leak-check=full",
                "--show-leak-kinds=definite",
                "--errors-for-leak-kinds=definite",
            ])
            .arg(&exe)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_ok(&format!("valgrind {name}"), &o);
    }
}
