//! The main job stays green: runs the demo example (built by `cargo test` with the tests) and
//! requires exit status 0 and the success line.

#[path = "support/features.rs"]
mod features;

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap();
    profile_dir.join("examples").join(name)
}

#[test]
fn demo_succeeds() {
    let demo = example("demo");
    if !demo.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "demo"])
            .args(features::cargo_args())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let out = Command::new(&demo).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("OK: every step succeeded"), "{stdout}");
    for step in [
        "CON POST /bs?ep=demo-device",
        "CON POST /rd?ep=demo-device",
        "CON GET /3/0 accept=tlv",
        "CON DELETE /rd/",
    ] {
        assert!(
            stdout.contains(step),
            "missing {step:?} in the transcript:\n{stdout}"
        );
    }
}

/// `demo --secure`: the same steps over coaps:// (DTLS PSK), the keys never printed.
#[test]
fn demo_succeeds_secured() {
    let demo = example("demo");
    let out = Command::new(&demo).arg("--secure").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo --secure failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("OK: every step succeeded over coaps://"),
        "{stdout}"
    );
    assert!(stdout.contains("Bootstrap-Server coaps://"), "{stdout}");
    assert!(stdout.contains("CON POST /rd?ep=demo-device"), "{stdout}");
    for secret in ["demo bootstrap key", "demo server key"] {
        assert!(!stdout.contains(secret), "a key was printed:\n{stdout}");
    }
}
