//! The crate features this test binary was built with. A driver that builds an example with
//! cargo itself passes the same ones, so that cargo reuses this run's build of the library
//! instead of rebuilding it with other features (which would also replace the
//! deps/liblwm2mc.so that the C and Python suites load).
#![allow(dead_code)]

/// Every feature in Cargo.toml's [features] but `default`, and whether it is on
/// (tests/features.rs checks that the list is complete).
pub const ALL: &[(&str, bool)] = &[
    ("std", cfg!(feature = "std")),
    ("json", cfg!(feature = "json")),
    ("cbor", cfg!(feature = "cbor")),
    ("testkit", cfg!(feature = "testkit")),
    ("ffi-test-hooks", cfg!(feature = "ffi-test-hooks")),
    ("dtls", cfg!(feature = "dtls")),
];

/// The enabled features.
pub fn enabled() -> Vec<&'static str> {
    ALL.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect()
}

/// `cargo build` arguments selecting exactly the features of this build.
pub fn cargo_args() -> Vec<String> {
    let mut args = vec!["--no-default-features".to_string()];
    let on = enabled();
    if !on.is_empty() {
        args.push("--features".into());
        args.push(on.join(","));
    }
    args
}
