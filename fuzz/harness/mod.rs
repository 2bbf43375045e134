//! Fuzz harnesses for lwm2mc, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/`) and the
//! corpus replay test of the main crate (`tests/fuzz_corpus.rs`), which includes this file with
//! `#[path]`. Each harness takes arbitrary bytes, must never panic on its own account, and
//! panics (with a message) when the code under test breaks a property.
//!
//! They use only the public API, so they need no feature or `cfg` in the library.

pub mod client;
pub mod coap_endpoint;
pub mod codecs;
pub mod input;
pub mod seeds;
pub mod snapshot;

/// A harness: takes the fuzz input, panics when a property breaks.
pub type Harness = fn(&[u8]);

/// Every target: its name (the `fuzz/fuzz_targets/<name>.rs` binary, the
/// `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/` directories) and its harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("tlv", codecs::tlv),
    ("text", codecs::text),
    ("opaque", codecs::opaque),
    ("link", codecs::link_format),
    ("senml_json", codecs::senml_json),
    ("senml_cbor", codecs::senml_cbor),
    ("lwm2m_json", codecs::lwm2m_json),
    ("coap_endpoint", coap_endpoint::run),
    ("snapshot", snapshot::run),
    ("client_bootstrap", client::run_bootstrap),
    ("client_registered", client::run_registered),
];
