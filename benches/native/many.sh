#!/usr/bin/env bash
# A program whose N (default 10,000) distinct small functions are all
# compiled (--jit=always) against the same program interpreted: wall time
# and peak resident memory (GNU time), then the tier's totals for the first
# 1,000 (VALK_JIT_LOG=1 measures code size with a second code generation,
# so that run is slower).
#
#   benches/native/many.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-10000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
make_program() { # make_program COUNT FILE
    for i in $(seq 0 $(($1 - 1))); do
        echo "(fun {f$i x} {if (< x $i) {+ x $i} {- x $i}})"
    done >"$2"
    for i in $(seq 0 $(($1 - 1))); do echo "(f$i 3)"; done >>"$2"
}
make_program "$N" "$work/many.valk"
make_program 1000 "$work/thousand.valk"
cargo build --release --quiet --bin valk
for mode in off always; do
    /usr/bin/time -f "$mode, $N functions: %e s wall, peak RSS %M KB" \
        target/release/valk --jit="$mode" run "$work/many.valk" >/dev/null
done
VALK_JIT_LOG=1 target/release/valk --jit=always run "$work/thousand.valk" 2>&1 >/dev/null | tail -1
