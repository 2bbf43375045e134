//! Running the external peers and devices of the interop tests: the CLI device built for this
//! test run, and a program run to completion with a deadline.
//!
//! Uses `crate::paths` and `crate::features`: the including test declares
//! `#[path = "support/paths.rs"] mod paths;` and `#[path = "support/features.rs"] mod features;`.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The CLI device (`examples/client.rs`), built with the profile this test runs under.
pub fn build_cli_device() -> PathBuf {
    example("client")
}

/// The example binary `name`, built with this test's profile and target directory. `cargo test`
/// builds examples already, so this is a no-op then; it covers `cargo test --test <one>`.
pub fn example(name: &str) -> PathBuf {
    use crate::paths::{assert_ok, profile_dir, root};
    let profile_dir = profile_dir();
    let target_dir = profile_dir.parent().expect("<target>").to_path_buf();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("profile directory name")
        .to_string();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "--quiet", "--example", name, "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // This run's features: the library is not rebuilt (and deps/liblwm2mc.so, which the C
        // and Python suites load, not replaced).
        .args(crate::features::cargo_args())
        .stdin(std::process::Stdio::null());
    // The dev profile's directory is "debug"; every other profile's is its own name.
    if profile != "debug" {
        cmd.args(["--profile", &profile]);
    }
    let out = cmd.output().expect("run cargo build");
    assert_ok(&format!("cargo build --example {name}"), &out);
    let exe = profile_dir.join("examples").join(name);
    assert!(exe.is_file(), "{} missing after build", exe.display());
    exe
}

/// Runs `cmd` in a process group of its own, killing the whole group (the program and any
/// device it started) at `deadline`; returns its exit status (None if killed) and its stdout
/// followed by its stderr.
pub fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> (Option<ExitStatus>, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
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
        match child.try_wait().expect("wait for the child") {
            Some(status) => break Some(status),
            None if start.elapsed() > deadline => {
                // SAFETY: kill(2) on the process group we created for our own child.
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
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
