#!/usr/bin/env bash
# Stripped size of the shared library (liblwm2mc.so) per feature set and build.
#
#   scripts/size.sh                                                # the feature sets below
#   scripts/size.sh "--no-default-features --features std,json"    # others, one argument each
#   scripts/size.sh --bloat                                        # and `cargo bloat --crates`
#   scripts/size.sh --nightly                                      # and a nightly-only column
#
# Three builds per set, each .so copied to $CARGO_TARGET_DIR/size/ (target/size/ by default) and
# a copy stripped with `strip`:
# - "cargo build": `cargo build --release --lib`. The lib target's crate types are rlib, cdylib
#   and staticlib, and cargo passes no `-C lto` to a build that also makes an rlib, so this .so
#   is not link-time optimised (what install.sh and the Python package took before they built
#   the cdylib alone).
# - "release": `cargo rustc --release --lib --crate-type cdylib`, the cdylib alone with the
#   profile's `lto = true`: what scripts/install.sh and the Python package ship.
# - "release-small": the same with `--profile release-small` (panic = "abort", stripped).
# - "nightly" (with --nightly; needs the nightly toolchain with rust-src): release-small with
#   std rebuilt (-Zbuild-std, optimize_for_size) and `-Cpanic=immediate-abort`, which is what
#   leaves std's backtrace printer (gimli, addr2line, miniz_oxide, rustc-demangle) out; with
#   stable's precompiled std the default panic hook links it in even under panic = "abort".
#   A figure to compare against, not a supported build.
# With --bloat, `cargo bloat --crates` of the three builds of the first set follows the table
# (cargo-bloat runs `cargo build`; a `cargo` wrapper in target/size/bin turns that into the
# `cargo rustc --crate-type cdylib` of the two LTO builds).
# The DTLS feature links the system's libssl/libcrypto dynamically, so their size is not in the
# figure. Without `std` there is no C ABI (src/ffi needs it), so a cdylib of the bare core
# exports nothing and is not measured.
set -euo pipefail
cd "$(dirname "$0")/.."

bloat=no
nightly=no
while [ $# -gt 0 ]; do
    case $1 in
    --bloat) bloat=yes ;;
    --nightly) nightly=yes ;;
    *) break ;;
    esac
    shift
done
host=$(rustc -vV | sed -n 's/^host: //p')
if [ $# -gt 0 ]; then
    sets=("$@")
else
    sets=(
        ""
        "--no-default-features --features std,json,cbor"
        "--no-default-features --features std,dtls"
        "--no-default-features --features std"
    )
fi

target=${CARGO_TARGET_DIR:-target}
out=$target/size
mkdir -p "$out"

# keep PROFILE NAME: copies the .so just built with PROFILE to NAME, strips a copy, prints its
# size.
keep() {
    cp "$target/$1/liblwm2mc.so" "$out/$2.so"
    strip -o "$out/$2.stripped.so" "$out/$2.so"
    stat -c %s "$out/$2.stripped.so"
}

rows=()
for set in "${sets[@]}"; do
    name=liblwm2mc.$(echo "${set:-default}" | sed -e 's/--no-default-features/nodefault/' \
        -e 's/--features /+/' -e 's/[ ,]/_/g')
    # shellcheck disable=SC2086 # the set is a list of cargo arguments
    cargo build --release --lib $set
    build=$(keep release "$name.build")
    # shellcheck disable=SC2086
    cargo rustc --release --lib --crate-type cdylib $set
    release=$(keep release "$name.release")
    # shellcheck disable=SC2086
    cargo rustc --profile release-small --lib --crate-type cdylib $set
    small=$(keep release-small "$name.release-small")
    night=
    if [ $nightly = yes ]; then
        # shellcheck disable=SC2086
        CARGO_TARGET_DIR=$target/nightly \
            RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
            cargo +nightly rustc -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size \
            --target "$host" --profile release-small --lib --crate-type cdylib $set
        cp "$target/nightly/$host/release-small/liblwm2mc.so" "$out/$name.nightly.so"
        strip -o "$out/$name.nightly.stripped.so" "$out/$name.nightly.so"
        night=$(stat -c %s "$out/$name.nightly.stripped.so")
    fi
    rows+=("$(printf '%-48s %14s %14s %14s %14s' "${set:-(default: std json cbor dtls)}" \
        "$build" "$release" "$small" "$night")")
done

if [ $bloat = yes ]; then
    wrapper=$out/bin
    mkdir -p "$wrapper"
    cat > "$wrapper/cargo" <<EOF
#!/bin/sh
# cargo-bloat runs \`cargo build ARGS\`: make it \`cargo rustc ARGS --crate-type cdylib\`.
if [ "\$1" = build ] && [ -n "\${LWM2MC_SIZE_CDYLIB:-}" ]; then
    shift
    exec "$(command -v cargo)" rustc "\$@" --crate-type cdylib
fi
exec "$(command -v cargo)" "\$@"
EOF
    chmod +x "$wrapper/cargo"
    command -v cargo-bloat > /dev/null || { echo "cargo install cargo-bloat" >&2; exit 1; }
    # shellcheck disable=SC2206 # the set is a list of cargo arguments
    set=(${sets[0]})
    for build in "cargo build --release" "release" "release-small"; do
        case $build in
        release) args=(--release) cdylib=1 ;;
        release-small) args=(--profile release-small) cdylib=1 ;;
        *) args=(--release) cdylib= ;;
        esac
        echo
        echo "== cargo bloat --crates, ${sets[0]:-default features}, $build"
        PATH=$wrapper:$PATH LWM2MC_SIZE_CDYLIB=$cdylib \
            cargo bloat "${args[@]}" --lib ${set[@]+"${set[@]}"} --crates -n 12 2>/dev/null
    done
fi

echo
echo "liblwm2mc.so, bytes after strip"
printf '%-48s %14s %14s %14s %14s\n' features "cargo build" release release-small \
    "$([ $nightly = yes ] && echo nightly)"
printf '%s\n' "${rows[@]}"
