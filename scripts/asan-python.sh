#!/bin/sh
# Runs the Python suite against an AddressSanitizer build of the library: the C tests'
# sanitizers instrument only the C side, so this is where a memory error inside the Rust
# library, reached through ctypes, shows up. Needs the Python test environment that
# `cargo test --all-features` creates (target/python-venv) and gcc's libasan.
# Usage: scripts/asan-python.sh            (exit 0 when every test passes with no ASan report)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
asan_target=${ASAN_TARGET_DIR:-$root/target/asan}
triple=$(rustc -vV | sed -n 's/^host: //p')
# -Zsanitizer needs the unstable flag; RUSTC_BOOTSTRAP lets the stable toolchain take it.
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR="$asan_target" \
    cargo build --quiet --lib --target "$triple" --manifest-path "$root/Cargo.toml"
lib="$asan_target/$triple/debug/liblwm2mc.so"
cargo build --quiet --example servers --features testkit --manifest-path "$root/Cargo.toml"
out=$(mktemp)
"$root/target/debug/examples/servers" --bs-port 0 --dm-port 0 --max-seconds 600 >"$out" 2>&1 &
servers=$!
trap 'kill $servers 2>/dev/null; rm -f "$out"' EXIT
for _ in 1 2 3 4 5 6 7 8 9 10; do
    bs=$(sed -n 's/^bootstrap-server //p' "$out")
    [ -n "$bs" ] && break
    sleep 0.2
done
cd "$root/bindings/python"
# CPython itself leaks by design at exit: leak checking is off, every other error is fatal.
LD_PRELOAD=$(gcc -print-file-name=libasan.so) \
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:exitcode=86:verify_asan_link_order=0 \
LWM2MC_LIBRARY="$lib" LWM2MC_TEST_BS_URI="$bs" PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=. \
    "$root/target/python-venv/bin/python" -m pytest -q -p no:cacheprovider -rfEs tests
