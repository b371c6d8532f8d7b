#!/usr/bin/env bash
# Memory and compile cost of a program whose 10,000 distinct functions are
# all compiled (--jit=always) against the same program interpreted: peak
# resident memory (GNU time) and the tier's totals (VALK_JIT_LOG).
#
#   benches/native/many.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-10000}"
prog="$(mktemp --suffix .valk)"
trap 'rm -f "$prog"' EXIT
for i in $(seq 0 $((N - 1))); do
    echo "(fun {f$i x} {if (< x $i) {+ x $i} {- x $i}})"
done >"$prog"
{
    for i in $(seq 0 $((N - 1))); do echo "(f$i 3)"; done
} >>"$prog"
cargo build --release --quiet --bin valk
for mode in off always; do
    /usr/bin/time -f "$mode: %e s, peak RSS %M KB" env VALK_JIT_LOG=1 \
        target/release/valk --jit="$mode" run "$prog" 2>&1 >/dev/null | grep -v "^valk-jit: compiled"
done
