#!/usr/bin/env bash
# Stripped size of the shared library (liblwm2mc.so, release profile) per feature set.
#
#   scripts/size.sh                                                # the feature sets below
#   scripts/size.sh "--no-default-features --features std,json"    # others, one argument each
#
# Two builds per set, each .so copied to $CARGO_TARGET_DIR/size/ (target/size/ by default) and
# a copy stripped with `strip`:
# - "shipped": `cargo build --release --lib`, what scripts/install.sh and the Python package
#   take. The lib target's crate types are rlib, cdylib and staticlib, and cargo passes no
#   `-C lto` to a build that also makes an rlib, so this .so is not link-time optimised.
# - "cdylib+LTO": `cargo rustc --release --lib --crate-type cdylib`, the cdylib alone, which
#   gets the profile's `lto = true`.
# The DTLS feature links the system's libssl/libcrypto dynamically, so their size is not in the
# figure. Without `std` there is no C ABI (src/ffi needs it), so a cdylib of the bare core
# exports nothing and is not measured.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
    sets=("$@")
else
    sets=(
        ""
        "--no-default-features --features std,json,cbor"
        "--no-default-features --features std"
    )
fi

target=${CARGO_TARGET_DIR:-target}
out=$target/size
mkdir -p "$out"

# keep NAME: copies the .so just built to NAME, strips a copy, prints both sizes.
keep() {
    cp "$target/release/liblwm2mc.so" "$out/$1.so"
    strip -o "$out/$1.stripped.so" "$out/$1.so"
    printf '%12s %12s' "$(stat -c %s "$out/$1.so")" "$(stat -c %s "$out/$1.stripped.so")"
}

rows=()
for set in "${sets[@]}"; do
    name=liblwm2mc.$(echo "${set:-default}" | sed -e 's/--no-default-features/nodefault/' \
        -e 's/--features /+/' -e 's/[ ,]/_/g')
    # shellcheck disable=SC2086 # the set is a list of cargo arguments
    cargo build --release --lib $set
    shipped=$(keep "$name")
    # shellcheck disable=SC2086
    cargo rustc --release --lib --crate-type cdylib $set
    lto=$(keep "$name.lto")
    rows+=("$(printf '%-48s %s %s' "${set:-(default: std json cbor dtls)}" "$shipped" "$lto")")
done
echo
printf '%-48s %25s %25s\n' "" "shipped (cargo build)" "cdylib alone, LTO"
printf '%-48s %12s %12s %12s %12s\n' features unstripped stripped unstripped stripped
printf '%s\n' "${rows[@]}"
