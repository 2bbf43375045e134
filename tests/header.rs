//! `include/lwm2mc.h` must be what cbindgen generates from the current source (DESIGN §4:
//! committed, and checked). `LWM2MC_BLESS=1 cargo test --test header` rewrites it.

use std::path::PathBuf;

#[test]
fn header_is_current() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&root)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header")
        .write(&mut generated);
    let path = root.join("include/lwm2mc.h");
    if std::env::var_os("LWM2MC_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/lwm2mc.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/lwm2mc.h is stale: run `LWM2MC_BLESS=1 cargo test --test header` and commit it"
    );
}
