#!/usr/bin/env bash
# Runs a fuzzing campaign with cargo-fuzz (libFuzzer), one target after another, one process.
# Usage: scripts/fuzz.sh [TARGET|all] [RUNS]      (default: all targets, 1000000 runs each)
#
# Environment:
#   SANITIZER=none|address   default none: the code under test is safe Rust (no unsafe outside
#                            src/ffi/, which no target reaches), where ASan finds nothing the
#                            bounds checks miss and costs about 5x in speed; address checks the
#                            dependencies' unsafe code too.
#   MAX_LEN=N                longest input (default 4096)
#   MERGE=1                  afterwards, add the inputs that reach new edges to fuzz/corpus/
#                            (set-cover merge on edges only, as the committed corpus was made)
#
# Each campaign starts from fuzz/corpus/<target>/ and works in target/fuzz-corpus/<target>/, so
# the committed corpus only grows through MERGE=1. Builds have debug assertions and overflow
# checks on (an overflow is a finding). A crash is written to fuzz/artifacts/<target>/; copy it
# into fuzz/regressions/<target>/ with the fix, and `cargo test` replays it from then on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

target=${1:-all}
runs=${2:-1000000}
sanitizer=${SANITIZER:-none}
max_len=${MAX_LEN:-4096}
# cargo-fuzz needs nightly flags (-Z sanitizer, sancov); RUSTC_BOOTSTRAP lets stable take them.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io" >&2
  cargo install --locked cargo-fuzz
fi

if [ "$target" = all ]; then
  mapfile -t targets < <(cargo fuzz list)
else
  targets=("$target")
fi

# Seeds first (they are committed, but a fresh checkout of an old corpus may lack new ones).
if [ ! -d corpus ] || [ -z "$(ls -A corpus 2>/dev/null)" ]; then
  (cd "$root" && LWM2MC_WRITE_SEEDS=1 cargo test --all-features --test fuzz_corpus every_seed)
fi

for t in "${targets[@]}"; do
  work="$root/target/fuzz-corpus/$t"
  mkdir -p "$work" "corpus/$t"
  echo "== $t: $runs runs, sanitizer $sanitizer" >&2
  cargo fuzz run --release --debug-assertions --sanitizer "$sanitizer" "$t" "$work" "corpus/$t" -- \
    -runs="$runs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  if [ "${MERGE:-0}" = 1 ]; then
    cargo fuzz run --release --debug-assertions --sanitizer "$sanitizer" "$t" -- \
      -set_cover_merge=1 -use_counters=0 -max_len="$max_len" "corpus/$t" "$work"
  fi
done
