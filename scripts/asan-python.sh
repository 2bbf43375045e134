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
cargo build --quiet --example servers --example client --features testkit --manifest-path "$root/Cargo.toml"
# The sample devices the firmware tests push to (conftest.py cli_device, c_device): the C one
# against the ASan library, so built with gcc's ASan too (the library needs its runtime).
# It loads the library by its soname, liblwm2mc.so.0, which cargo's output directory lacks.
c_lib="$asan_target/c-device-lib"
mkdir -p "$c_lib"
cp "$lib" "$c_lib/liblwm2mc.so.0"
ln -sf liblwm2mc.so.0 "$c_lib/liblwm2mc.so"
c_device="$c_lib/device"
gcc -std=c99 -fsanitize=address -I "$root/include" "$root/examples/c/device.c" -o "$c_device" \
    -L "$c_lib" -llwm2mc -Wl,-rpath,"$c_lib" -lm
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
LWM2MC_TEST_CLI_DEVICE="$root/target/debug/examples/client" LWM2MC_TEST_C_DEVICE="$c_device" \
    "$root/target/python-venv/bin/python" -m pytest -q -p no:cacheprovider -rfEs tests
