#!/usr/bin/env bash
# Instructions per operation of the sans-I/O core, counted by callgrind (stable from run to run,
# unlike time), and the functions they go to.
#
#   scripts/bench-callgrind.sh                         # every operation, N=5000 each
#   N=1000 scripts/bench-callgrind.sh read-tlv write   # some of them
#   HOT="read-tlv" TOP=20 scripts/bench-callgrind.sh   # which ones get a hotspot list, how long
#
# Method: examples/bench_core.rs runs, with `--only KIND --n N`, its setup (a client that
# bootstraps and registers with fake servers, examples/support/fake_servers.rs) and then N
# operations of one kind. Every call the application makes into the library for an operation
# (handle_datagram, handle_timeout, start, set, and draining poll_transmit, poll_event,
# poll_peer_change, poll_timeout) happens inside one of the example's `measured_*` functions,
# which are never inlined; callgrind collects only inside them (--toggle-collect), so the fake
# servers and the harness are not counted. The same run with N=0 counts the setup alone:
# instructions per operation = (Ir(N) - Ir(0)) / N. Allocator work inside those calls (malloc,
# free) is counted, as it is part of what an operation costs; the example's counting allocator
# is switched off in this mode.
#
# Outputs stay in $CARGO_TARGET_DIR/callgrind/ (target/callgrind/ by default): KIND.N.out for
# callgrind_annotate, e.g. `callgrind_annotate --inclusive=yes target/callgrind/read-tlv.5000.out`.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5000}
TOP=${TOP:-12}
HOT=${HOT:-"read-tlv bootstrap-register"}
ALL=(read-tlv read-text write execute discover notify bootstrap-register new-client)
if [ $# -gt 0 ]; then kinds=("$@"); else kinds=("${ALL[@]}"); fi

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-target}
cargo build --release --example bench_core
bin=$target/release/examples/bench_core
out=$target/callgrind
mkdir -p "$out"

# ir FILE KIND N: runs N operations of KIND under callgrind, prints the instructions collected.
# new-client counts only building the store and the client; every other kind leaves it out.
ir() {
    local collect=(--toggle-collect='*bench_core::measured_new')
    if [ "$2" != new-client ]; then
        collect=()
        for f in start datagram timeout notify; do
            collect+=(--toggle-collect="*bench_core::measured_$f")
        done
    fi
    valgrind --tool=callgrind --callgrind-out-file="$1" "${collect[@]}" \
        "$bin" --only "$2" --n "$3" >"$1.log" 2>&1 || { cat "$1.log" >&2; exit 1; }
    awk '/^summary:/ { print $2 }' "$1"
}

# The function list of callgrind_annotate (self cost, or inclusive with --inclusive=yes),
# largest first, without the object file and "???:" noise.
functions() {
    callgrind_annotate --threshold=100 --auto=no "$@" 2>/dev/null |
        awk 'f && NF { print } /^Ir +file:function/ { getline; f = 1 }' |
        sed -e 's/ \[[^]]*\]$//' -e 's/???://' -e 's#\./[^ ]*/\([^/ ]*:\)#\1#'
}

printf '%-20s %14s %14s %12s\n' operation "Ir(N=$N)" "Ir(N=0)" "Ir/op"
for kind in "${kinds[@]}"; do
    base=$(ir "$out/$kind.0.out" "$kind" 0)
    total=$(ir "$out/$kind.$N.out" "$kind" "$N")
    printf '%-20s %14s %14s %12s\n' "$kind" "$total" "$base" $(((total - base) / N))
done

for kind in $HOT; do
    file=$out/$kind.$N.out
    [ -f "$file" ] || continue
    echo
    functions "$file" >"$file.self"
    # Inclusive: the library's functions only (the harness and main include everything).
    functions --inclusive=yes "$file" |
        grep -v -e 'bench_core::' -e 'main' -e '(below main)' -e '^[0-9, ()%.]*0x' \
            -e '__rust_begin_short_backtrace' >"$file.inclusive" || true
    echo "== $kind: top $TOP functions by own (exclusive) cost, share of everything collected =="
    head -n "$TOP" "$file.self"
    awk '{ gsub(/,/, "", $1); t += $1 }
        / malloc\.c:|__rust_(alloc|dealloc|realloc)|RawVecInner>::deallocate/ {
            a += $1 }
        END { if (t) printf "   allocator (malloc, free, realloc and the Rust wrappers): %.1f%%\n", 100 * a / t }' \
        "$file.self"
    echo "== $kind: top $TOP library functions by inclusive cost =="
    head -n "$TOP" "$file.inclusive"
done
