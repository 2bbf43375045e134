#!/bin/sh
# Installs the release build of lwm2mc under PREFIX (default /usr/local):
#   lib/liblwm2mc.so.<version> with the liblwm2mc.so.0 and liblwm2mc.so links, lib/liblwm2mc.a,
#   include/lwm2mc.h and lib/pkgconfig/lwm2mc.pc.
# Usage: cargo rustc --release --lib --crate-type cdylib,staticlib && scripts/install.sh [PREFIX]
#
# `cargo rustc --crate-type` builds the C libraries alone, which is what gets the release
# profile's link-time optimisation: `cargo build --release` also makes the Rust rlib, and cargo
# then applies no LTO to any of the three (its liblwm2mc.so is about 25 % larger, README
# "Benchmarks"). LWM2MC_CARGO_PROFILE=release-small takes target/release-small/ instead (the
# smallest library, where a panic aborts the process; build it with --profile release-small).
#
# Afterwards, as libtool's `make install` does: for a library directory the dynamic loader is
# configured for (/usr/local/lib, /usr/lib), ldconfig is run when installing as root; for any
# other prefix ($HOME/.local, /opt/lwm2mc, ...) the PKG_CONFIG_PATH and LD_LIBRARY_PATH lines to
# set before building and running a program are printed (README, "Using it from C").
set -eu
prefix=${1:-/usr/local}
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${LWM2MC_CARGO_PROFILE:-release}
target=${CARGO_TARGET_DIR:-$root/target}/$profile
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
major=${version%%.*}
build="cargo rustc --profile $profile --lib --crate-type cdylib,staticlib"
for f in liblwm2mc.so liblwm2mc.a; do
    [ -f "$target/$f" ] || { echo "no $target/$f: run '$build' first" >&2; exit 1; }
done
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
# An absolute prefix: lwm2mc.pc must not depend on the directory install.sh was run from.
prefix=$(cd "$prefix" && pwd)
libdir=$prefix/lib
install -m 0755 "$target/liblwm2mc.so" "$libdir/liblwm2mc.so.$version"
ln -sf "liblwm2mc.so.$version" "$libdir/liblwm2mc.so.$major"
ln -sf "liblwm2mc.so.$major" "$libdir/liblwm2mc.so"
install -m 0644 "$target/liblwm2mc.a" "$libdir/liblwm2mc.a"
install -m 0644 "$root/include/lwm2mc.h" "$prefix/include/lwm2mc.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$root/lwm2mc.pc.in" > "$libdir/pkgconfig/lwm2mc.pc"
echo "installed lwm2mc $version under $prefix"

# Whether directory $1 is one of the ':'-separated directories $2 (compared physically, so
# that /lib and /usr/lib are one directory on a merged-/usr system).
in_path() {
    want=$(cd "$1" && pwd -P)
    old_ifs=$IFS
    IFS=:
    for d in $2; do
        if [ -n "$d" ] && [ -d "$d" ] && [ "$(cd "$d" && pwd -P)" = "$want" ]; then
            IFS=$old_ifs
            return 0
        fi
    done
    IFS=$old_ifs
    return 1
}

# pkg-config's built-in search path.
pc_path=$(pkg-config --variable pc_path pkg-config 2>/dev/null || true)
# The directories the loader's cache is built from (ld.so.conf and the trusted ones); -N -X
# only prints them, it changes nothing.
ld_path=$( (/sbin/ldconfig -v -N -X 2>/dev/null || ldconfig -v -N -X 2>/dev/null || true) |
    sed -n 's|^\(/[^:]*\):.*|\1|p' | tr '\n' ':')

hints=""
in_path "$libdir/pkgconfig" "$pc_path" ||
    hints="${hints}export PKG_CONFIG_PATH=\"$libdir/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}\"
"
if in_path "$libdir" "$ld_path"; then
    if [ "$(id -u)" = 0 ]; then
        # The loader finds a new library in these directories only through its cache.
        /sbin/ldconfig 2>/dev/null || ldconfig
    else
        echo "run ldconfig as root so that the dynamic loader finds liblwm2mc.so.$major in $libdir"
    fi
else
    hints="${hints}export LD_LIBRARY_PATH=\"$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\"
"
fi
if [ -n "$hints" ]; then
    echo "pkg-config or the dynamic loader does not search $libdir; before building and running"
    echo "a program against this copy, set:"
    printf '%s' "$hints"
fi
