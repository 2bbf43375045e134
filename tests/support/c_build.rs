//! Compiling C programs against the shared library of this test run, with the C suite's
//! warnings and sanitizers (AddressSanitizer, UndefinedBehaviorSanitizer, LeakSanitizer).
//!
//! Uses `crate::paths`: the including test declares `#[path = "support/paths.rs"] mod paths;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::{profile_dir, root};

/// A private copy of the library with its soname link, so programs link and run against
/// exactly this build (and cargo rewriting target/ meanwhile does not matter).
pub fn lib_dir(name: &str) -> PathBuf {
    let dir = profile_dir().join("c-tests").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    // deps/ holds the build made for this test run (with the dev-dependency's features,
    // including ffi-test-hooks); the copy uplifted to target/<profile> may be another build's.
    let so = profile_dir().join("deps").join("liblwm2mc.so");
    assert!(
        so.exists(),
        "{} missing: cargo test builds it with the library",
        so.display()
    );
    std::fs::copy(&so, dir.join("liblwm2mc.so.0")).unwrap();
    let link = dir.join("liblwm2mc.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("liblwm2mc.so.0", &link).unwrap();
    dir
}

pub const CFLAGS: &[&str] = &[
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-g",
    "-fno-omit-frame-pointer",
    "-DLWM2MC_TEST_HOOKS",
];
pub const SANITIZE: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
];

/// Compiles `source` into `out` against the library in `lib`.
pub fn compile(source: &Path, out: &Path, lib: &Path, sanitize: bool) {
    compile_with(source, out, lib, sanitize, &[]);
}

/// [`compile`] with `extra` arguments after the sources (libraries such as `-lm`).
pub fn compile_with(source: &Path, out: &Path, lib: &Path, sanitize: bool, extra: &[&str]) {
    let mut cmd = Command::new("cc");
    cmd.args(CFLAGS);
    if sanitize {
        cmd.args(SANITIZE);
    }
    cmd.arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("tests/c"));
    cmd.arg(source).arg("-o").arg(out);
    cmd.arg(format!("-L{}", lib.display()))
        .arg("-llwm2mc")
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    cmd.args(extra);
    let o = cmd.output().expect("cc");
    assert!(
        o.status.success(),
        "compiling {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The sanitizers' settings for a program built with [`SANITIZE`]: a leak, an error or
/// undefined behaviour ends it with a distinct exit code (86 ASan, 87 UBSan, 88 LSan).
pub const SANITIZER_ENV: &[(&str, &str)] = &[
    (
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=86",
    ),
    (
        "UBSAN_OPTIONS",
        "halt_on_error=1:print_stacktrace=1:exitcode=87",
    ),
    // Without use_stacks/use_registers=0, LSan treats stale pointers left on the stack or in
    // registers as references and can miss a leaked Rust allocation (seen with a leaked Box).
    ("LSAN_OPTIONS", "exitcode=88:use_stacks=0:use_registers=0"),
];

/// `cmd` with [`SANITIZER_ENV`].
pub fn sanitized(cmd: &mut Command) -> &mut Command {
    cmd.envs(SANITIZER_ENV.iter().copied())
}
