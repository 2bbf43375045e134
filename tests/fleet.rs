//! `examples/fleet.rs`, the load-testing fleet: in memory, every client registers and none
//! fails; over real UDP on 127.0.0.1 against the testkit servers started here, the servers see
//! every client bootstrap, register and de-register; shared sockets are refused with the reason.

#[path = "support/features.rs"]
mod features;
#[path = "support/paths.rs"]
mod paths;
#[path = "support/process.rs"]
mod process;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use lwm2mc::testkit::{Activity, BootstrapConfig, BootstrapServer, Lwm2mServer};

/// Runs the fleet example with `args`; its exit code and output.
fn fleet(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(process::example("fleet"));
    cmd.args(args);
    let (status, out) = process::run_with_deadline(&mut cmd, Duration::from_secs(30));
    (status.and_then(|s| s.code()), out)
}

/// The text after `label` on its line of `out`.
fn field<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{out}"))
        .trim()
}

#[test]
fn in_memory_every_client_bootstraps_and_registers() {
    let (code, out) = fleet(&["--clients", "200", "--for", "600"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(field(&out, "registered:"), "200 of 200", "{out}");
    assert!(
        field(&out, "failures:").starts_with("0 (") && out.contains(", 0 clients not registered"),
        "{out}"
    );
    // Lifetime 300 s: every client updated within 600 simulated seconds.
    let then = field(&out, "then registered for:");
    let updates: usize = then
        .split(", ")
        .find_map(|p| p.strip_suffix(" Updates"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(updates >= 200, "{out}");
    assert!(
        field(&out, "heap per client, own:").ends_with("(clients alone, the fake servers dropped)")
    );
}

#[test]
fn in_memory_factory_provisioned_clients_register_at_the_rate_and_answer_reads() {
    let (code, out) = fleet(&[
        "--clients",
        "100",
        "--no-bootstrap",
        "--rate",
        "50",
        "--read-every",
        "60",
        "--for",
        "300",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(field(&out, "registered:"), "100 of 100", "{out}");
    assert!(field(&out, "failures:").starts_with("0 ("), "{out}");
    // 100 starts at 50 per simulated second: the last one 1.98 s after the first.
    let time = field(&out, "time to register all:");
    assert!(time.ends_with("simulated 1.980 s"), "{out}");
    // Every client is read every 60 s for 300 s (five times each), and none fails.
    let then = field(&out, "then registered for:");
    assert!(
        then.contains(" 500 server Reads answered (0 failed)"),
        "{out}"
    );
}

#[test]
fn over_udp_the_testkit_servers_see_every_client_register_and_deregister() {
    let dm = Lwm2mServer::start().expect("LwM2M Server");
    let bs = BootstrapServer::start(
        BootstrapConfig::new()
            .delete("/")
            .server_account(1, &dm.uri(), 60)
            .finish(),
    )
    .expect("Bootstrap-Server");
    let (code, out) = fleet(&[
        "--udp",
        &bs.uri(),
        "--clients",
        "20",
        "--rate",
        "100",
        "--prefix",
        "udp-fleet",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(field(&out, "registered:"), "20 of 20", "{out}");
    assert!(field(&out, "failures:").starts_with("0 ("), "{out}");
    // Four bootstrap requests per client (Delete, two Writes, Finish), all answered.
    assert!(
        field(&out, "server requests:").starts_with("80 received, 80 answered"),
        "{out}"
    );

    let mut registered = BTreeSet::new();
    let mut deregistered = BTreeSet::new();
    while let Ok(activity) = dm.wait_activity(Duration::from_secs(2)) {
        match activity {
            Activity::Registered(r) => {
                registered.insert(r.endpoint);
            }
            Activity::Deregistered(e) => {
                deregistered.insert(e);
            }
            Activity::Updated(_) => {}
        }
        if deregistered.len() == 20 {
            break;
        }
    }
    let expected: BTreeSet<String> = (0..20).map(|i| format!("udp-fleet-{i}")).collect();
    assert_eq!(registered, expected, "{out}");
    assert_eq!(deregistered, expected, "{out}");
    let mut finished = 0;
    while let Ok(session) = bs.wait_session(Duration::ZERO) {
        assert!(session.finished(), "{session:?}");
        finished += 1;
    }
    assert_eq!(finished, 20);
}

#[test]
fn shared_sockets_are_refused_with_the_reason() {
    let (code, out) = fleet(&["--udp", "coap://127.0.0.1:5683", "--sockets", "shared:4"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("each client needs a source port of its own"),
        "{out}"
    );
}
