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

/// The shared library of this test run: deps/ holds the build with this run's features
/// (ffi-test-hooks with `cargo test --all-features`); the copy uplifted to target/<profile> may be another build's.
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
