//! Running the external peers and devices of the interop tests: the CLI device built for this
//! test run, and a program run to completion with a deadline.
//!
//! Uses `crate::paths`: the including test declares `#[path = "support/paths.rs"] mod paths;`.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The CLI device (`examples/client.rs`), built with the profile this test runs under.
pub fn build_cli_device() -> PathBuf {
    crate::paths::example("client")
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
