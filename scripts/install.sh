#!/bin/sh
# Installs the release build of lwm2mc under PREFIX (default /usr/local):
#   lib/liblwm2mc.so.<version> with the liblwm2mc.so.0 and liblwm2mc.so links, lib/liblwm2mc.a,
#   include/lwm2mc.h and lib/pkgconfig/lwm2mc.pc.
# Usage: cargo build --release && scripts/install.sh [PREFIX]
set -eu
prefix=${1:-/usr/local}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}/release
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
major=${version%%.*}
[ -f "$target/liblwm2mc.so" ] || { echo "run 'cargo build --release' first" >&2; exit 1; }
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/liblwm2mc.so" "$prefix/lib/liblwm2mc.so.$version"
ln -sf "liblwm2mc.so.$version" "$prefix/lib/liblwm2mc.so.$major"
ln -sf "liblwm2mc.so.$major" "$prefix/lib/liblwm2mc.so"
install -m 0644 "$target/liblwm2mc.a" "$prefix/lib/liblwm2mc.a"
install -m 0644 "$root/include/lwm2mc.h" "$prefix/include/lwm2mc.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$root/lwm2mc.pc.in" > "$prefix/lib/pkgconfig/lwm2mc.pc"
echo "installed lwm2mc $version under $prefix"
