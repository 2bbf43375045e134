//! Replays the fuzz corpora and every crash ever found (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`) through the same harnesses the cargo-fuzz targets run, without
//! instrumentation, so that `cargo test` keeps every input a campaign found interesting.
//!
//! `LWM2MC_WRITE_SEEDS=1 cargo test --all-features --test fuzz_corpus every_seed` (re)writes the
//! hand-made seeds into `fuzz/corpus/` (see `scripts/fuzz.sh`).

#[path = "../fuzz/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Runs `harness` on every input; returns the inputs that panicked, with the message.
fn replay(target: &str, harness: harness::Harness, inputs: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, bytes) in inputs {
        let result = catch_unwind(AssertUnwindSafe(|| harness(bytes)));
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{target}/{name}: {msg}"));
        }
    }
    failures
}

#[test]
fn every_corpus_and_regression_input_passes() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (target, harness) in harness::TARGETS {
        let mut inputs = Vec::new();
        for kind in ["corpus", "regressions"] {
            for path in files(&fuzz_dir().join(kind).join(target)) {
                let bytes = std::fs::read(&path).unwrap();
                let name = format!("{kind}/{}", path.file_name().unwrap().to_string_lossy());
                inputs.push((name, bytes));
            }
        }
        for (t, name, bytes) in harness::seeds::all() {
            if t == *target {
                inputs.push((format!("seeds/{name}"), bytes));
            }
        }
        count += inputs.len();
        failures.extend(replay(target, *harness, &inputs));
    }
    eprintln!("replayed {count} fuzz inputs");
    assert!(
        failures.is_empty(),
        "{} of {count} fuzz inputs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every target has seeds, and the seeds exercise what they are meant to (a seed that only hits
/// an early error path would be a poor start for a campaign).
#[test]
fn seeds_reach_their_targets() {
    let seeds = harness::seeds::all();
    for (target, _) in harness::TARGETS {
        assert!(
            seeds.iter().any(|(t, ..)| t == target),
            "no seeds for {target}"
        );
    }
    // The bootstrap seeds' first plan ends in a successful Finish.
    let (_, _, plan) = seeds
        .iter()
        .find(|(t, ..)| *t == "client_bootstrap")
        .unwrap();
    let mut sim = harness::client::bootstrap_session();
    harness::client::bootstrap_frames(&mut sim, plan);
    assert!(
        sim.events
            .iter()
            .any(|e| matches!(e, lwm2mc::Event::Bootstrapped)),
        "the first bootstrap seed does not bootstrap: {:?}",
        sim.events
    );
}

/// Every hand-made seed is for a target with a committed corpus (a campaign minimises the
/// seeds away, keeping what they reached); with LWM2MC_WRITE_SEEDS set this also (re)writes
/// them into that corpus (`scripts/fuzz.sh` does, before a campaign).
#[test]
fn every_seed_belongs_to_a_target_with_a_corpus() {
    let write = std::env::var_os("LWM2MC_WRITE_SEEDS").is_some();
    let seeds = harness::seeds::all();
    assert!(!seeds.is_empty());
    for (target, name, bytes) in seeds {
        let dir = fuzz_dir().join("corpus").join(target);
        assert!(
            dir.is_dir(),
            "seed {name} is for {target}, which has no fuzz/corpus/{target}/"
        );
        if write {
            std::fs::write(dir.join(name), &bytes).unwrap();
        }
    }
}
