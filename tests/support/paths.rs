//! Where things are for the test drivers, and how they report a failed program.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile> of this test binary (target/<profile>/deps/<test>), so a custom
/// CARGO_TARGET_DIR or profile is honoured.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps")
        .to_path_buf()
}

/// The shared library of this test run: deps/ holds the build with the dev-dependency's
/// features (ffi-test-hooks); the copy uplifted to target/<profile> may be another build's.
pub fn library() -> PathBuf {
    let so = profile_dir().join("deps").join("liblwm2mc.so");
    assert!(
        so.exists(),
        "{} missing: cargo test builds it with the library",
        so.display()
    );
    so
}

/// Fails with the program's output unless it exited 0.
pub fn assert_ok(what: &str, o: &Output) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The example binary `name`, built with this test's profile and target directory. `cargo test`
/// builds examples already, so this is a no-op then; it covers `cargo test --test <one>`.
pub fn example(name: &str) -> PathBuf {
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
