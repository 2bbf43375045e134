//! The test command is `cargo test --all-features` (README). Tests and examples that need the
//! `testkit` or `ffi-test-hooks` feature declare it as `required-features` in Cargo.toml, so
//! that the published crate, where no dev-dependency can turn features on, still builds without
//! them; cargo then skips those targets without a word. These tests make that skip loud, and
//! keep the declarations in step with what the sources use.

#[path = "support/features.rs"]
mod features;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What a source that needs `testkit` or `ffi-test-hooks` contains (split, so that this file does
/// not match itself).
const USES_TESTKIT: &str = concat!("lwm2mc::", "testkit");
const USES_TEST_HOOKS: [&str; 2] = [
    concat!("LWM2MC_", "TEST_HOOKS"),
    concat!("lwm2mc_", "test_panic"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> toml::Table {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    text.parse().expect("Cargo.toml parses")
}

#[test]
fn the_test_command_enables_every_feature() {
    let off: Vec<&str> = features::ALL
        .iter()
        .filter(|(_, on)| !on)
        .map(|(n, _)| *n)
        .collect();
    assert!(
        off.is_empty(),
        "built without the features {off:?}, so the tests and examples that need them were \
         skipped: run `cargo test --all-features` (README)"
    );
}

#[test]
fn the_drivers_know_every_feature() {
    let manifest = manifest();
    let declared: BTreeSet<&str> = manifest["features"]
        .as_table()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|f| *f != "default")
        .collect();
    let known: BTreeSet<&str> = features::ALL.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        declared, known,
        "tests/support/features.rs must list every feature of Cargo.toml"
    );
}

/// name → required-features of the [[test]] or [[example]] entries.
fn required(manifest: &toml::Table, kind: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut map = BTreeMap::new();
    for target in manifest
        .get(kind)
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        let name = target["name"].as_str().unwrap().to_string();
        let features = target
            .get("required-features")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        map.insert(name, features);
    }
    map
}

/// The source of a target with the modules it pulls in by `#[path = "…"]` or `mod name;`.
fn source_with_modules(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let dir = file.parent().unwrap();
    let mut all = text.clone();
    for line in text.lines().map(str::trim) {
        let module = if let Some(rest) = line.strip_prefix("#[path = \"") {
            rest.split('"').next().map(|p| dir.join(p))
        } else if let Some(name) = line.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            [
                dir.join(name).join("mod.rs"),
                dir.join(format!("{name}.rs")),
            ]
            .into_iter()
            .find(|p| p.is_file())
        } else {
            None
        };
        if let Some(m) = module.filter(|m| m.is_file()) {
            all.push_str(&std::fs::read_to_string(m).unwrap());
        }
    }
    all
}

/// Examples a source runs through `cargo build … --example NAME`.
fn examples_run(source: &str) -> Vec<String> {
    source
        .split("\"--example\",")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next())
        .map(String::from)
        .collect()
}

#[test]
fn targets_that_need_a_feature_declare_it() {
    let manifest = manifest();
    let tests = required(&manifest, "test");
    let examples = required(&manifest, "example");
    let mut errors = Vec::new();
    for (kind, dir, declared) in [
        ("test", "tests", &tests),
        ("example", "examples", &examples),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        for file in files {
            let name = file.file_stem().unwrap().to_str().unwrap().to_string();
            let source = source_with_modules(&file);
            let mut needs = BTreeSet::new();
            if source.contains(USES_TESTKIT) {
                needs.insert("testkit".to_string());
            }
            if USES_TEST_HOOKS.iter().any(|s| source.contains(s)) {
                needs.insert("ffi-test-hooks".to_string());
            }
            for example in examples_run(&source) {
                needs.extend(examples.get(&example).cloned().unwrap_or_default());
            }
            let has = declared.get(&name).cloned().unwrap_or_default();
            let missing: Vec<&String> = needs.difference(&has).collect();
            if !missing.is_empty() {
                errors.push(format!(
                    "{dir}/{name}.rs needs {missing:?}: declare them in Cargo.toml as \
                     [[{kind}]] name = \"{name}\" required-features = {:?}",
                    needs.iter().collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_check_sees_what_the_sources_use() {
    // The detection above is textual; make sure it still finds the known cases.
    let c_api = source_with_modules(&root().join("tests/c_api.rs"));
    assert!(c_api.contains(USES_TESTKIT) && c_api.contains(USES_TEST_HOOKS[0]));
    let demo = source_with_modules(&root().join("tests/demo.rs"));
    assert_eq!(examples_run(&demo), ["demo"]);
}
