//! `examples/servers.rs`, the newcomer's peer: the CLI device bootstraps and registers against
//! it over UDP on 127.0.0.1, the operations given on its command line run, and it reports the
//! de-registration and exits by itself.

#[path = "support/features.rs"]
mod features;
#[path = "support/paths.rs"]
mod paths;
#[path = "support/process.rs"]
mod process;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// Kills the process when dropped, so a failing test leaves nothing running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `child`'s stdout lines on a thread.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let (tx, rx) = channel();
    let out = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Collects lines until one satisfies `want`; fails with everything seen after `limit`.
fn wait_line(rx: &Receiver<String>, seen: &mut Vec<String>, want: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if want(&line) {
                    return line;
                }
            }
            Err(_) => panic!("line not seen; output so far:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn servers_example_bootstraps_registers_and_manages_the_cli_device() {
    let servers = process::example("servers");
    let client = process::example("client");
    let srv = Command::new(&servers)
        .args(["--bs-port", "0", "--dm-port", "0", "--lifetime", "30"])
        .args(["--exit-after-deregister", "--max-seconds", "40"])
        .args(["read /3/0/0", "write /3/0/14 +02:00", "read /3/0/14"])
        .args(["exec /1/0/8", "discover /3/0/14", "read /3/0/99", "bogus"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the servers example");
    // "bogus" is not an operation: refused before anything listens.
    let refused = srv.wait_with_output().expect("servers exit");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("\"bogus\": expected \"VERB /PATH ...\""),
        "{refused:?}"
    );

    let mut srv = KillOnDrop(
        Command::new(&servers)
            .args(["--bs-port", "0", "--dm-port", "0", "--lifetime", "30"])
            .args(["--exit-after-deregister", "--max-seconds", "40"])
            .args(["read /3/0/0", "write /3/0/14 +02:00", "read /3/0/14"])
            .args(["exec /1/0/8", "discover /3/0/14", "read /3/0/99"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the servers example"),
    );
    let rx = lines_of(&mut srv.0);
    let mut seen = Vec::new();
    let bs_uri = wait_line(&rx, &mut seen, |l| {
        l.starts_with("bootstrap-server coap://127.0.0.1:")
    })
    .trim_start_matches("bootstrap-server ")
    .to_string();
    let mut dev = KillOnDrop(
        Command::new(&client)
            .args(["--bootstrap", &bs_uri, "--endpoint", "newcomer-1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the CLI device"),
    );
    // The Bootstrap-Server prints its session when it ends and the LwM2M Server prints the
    // Register and the operations as they come: the device registers at once after Finish,
    // so the two streams interleave in any order. Everything up to the Update that the
    // Registration Update Trigger brings is collected, then checked.
    let start = seen.len();
    let last_op = "newcomer-1 read /3/0/99";
    while !(seen[start..].iter().any(|l| l.starts_with(last_op))
        && seen[start..]
            .iter()
            .any(|l| l.starts_with("updated newcomer-1")))
    {
        wait_line(&rx, &mut seen, |l| {
            l.starts_with(last_op) || l.starts_with("updated newcomer-1")
        });
    }
    let lines = &seen[start..];
    assert!(
        lines.iter().any(|l| l == "bootstrap newcomer-1: finished"),
        "{lines:?}"
    );
    let reg = lines
        .iter()
        .find(|l| l.starts_with("registered newcomer-1 "))
        .cloned()
        .unwrap_or_default();
    assert!(
        reg.contains(" lt=30 lwm2m=1.1 b=U </>;rt=\"oma.lwm2m\";ct=110,"),
        "{reg}"
    );
    let ops: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("newcomer-1 "))
        .collect();
    assert_eq!(
        ops,
        [
            "newcomer-1 read /3/0/0 -> 2.05 ct=text \"lwm2mc project\"",
            "newcomer-1 write /3/0/14 +02:00 -> 2.04",
            "newcomer-1 read /3/0/14 -> 2.05 ct=text \"+02:00\"",
            "newcomer-1 exec /1/0/8 -> 2.04",
            "newcomer-1 discover /3/0/14 -> 2.05 ct=link \"</3/0/14>\"",
            "newcomer-1 read /3/0/99 -> 4.04 \"/3/0/99 not found\"",
        ]
    );
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(dev.0.id() as libc::pid_t, libc::SIGTERM) };
    wait_line(&rx, &mut seen, |l| l == "deregistered newcomer-1");
    assert!(dev.0.wait().expect("device exit").success());
    let status = srv.0.wait().expect("servers exit");
    assert!(status.success(), "{status}:\n{}", seen.join("\n"));
}
