//! Link settings for the C library. Never writes into the source tree (DESIGN §4); the header
//! is generated and checked by tests/header.rs instead.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if os == "linux" {
        // A versioned soname, so that installed copies can coexist and C programs record
        // liblwm2mc.so.<major>. (rustc already exports only the #[no_mangle] lwm2mc_* symbols.)
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liblwm2mc.so.{major}");
    }
}
