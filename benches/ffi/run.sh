#!/usr/bin/env bash
# The cost of one C call through the FFI: N calls (default 1,000,000) of
# libm's cos(double) from a loop, in Valk (dlsym, a tail-recursive loop),
# LuaJIT (its FFI, a for loop) and Python (ctypes, with restype and argtypes
# set, a for loop). Each program times itself in-process (boot excluded) and
# prints the raw ns per iteration of the loop with the call, and of the same
# loop without it (the "empty" loop: the language's own cost per
# iteration, so the FFI overhead is visible; nothing is subtracted). Every
# system runs RUNS times (default 5) in fresh processes; every run is printed,
# then the medians and the ratios Valk/LuaJIT and ctypes/Valk (cos loop).
#   benches/ffi/run.sh              (builds target/release/valk)
#   N=200000 RUNS=9 benches/ffi/run.sh
# LuaJIT is installed from Debian when missing; absolute figures drift
# between machines: compare ratios measured in the same run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNS="${RUNS:-5}"
N="${N:-1000000}"

if ! command -v luajit >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing luajit (apt-get)..." >&2
        (apt-get update -qq && apt-get install -y -qq luajit) >/dev/null 2>&1 || true
    fi
fi
have_luajit=0; command -v luajit >/dev/null && have_luajit=1
[ "$have_luajit" = 1 ] || echo "luajit is not installed: its rows are skipped" >&2

echo "building valk (release)..." >&2
(cd "$root" && cargo build --release --quiet --bin valk)
valk="${CARGO_TARGET_DIR:-$root/target}/release/valk"

median() { # median of the numbers given as arguments
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2];
        else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
field() { # field NAME TEXT: the number after "NAME:" in TEXT
    printf '%s\n' "$2" | sed -n "s/^$1:[[:space:]]*\([0-9.]*\).*/\1/p"
}

declare -A cos_runs empty_runs
systems=(valk)
[ "$have_luajit" = 1 ] && systems+=(luajit)
systems+=(ctypes)

run_system() { # run_system SYSTEM: one run's output
    case "$1" in
        valk) VALK_LOG=off "$valk" run "$here/cos.valk" "$N" ;;
        luajit) luajit "$here/cos.lua" "$N" ;;
        ctypes) python3 "$here/cos.py" "$N" ;;
    esac
}

echo "cos(double) through the FFI, N = $N calls per run, $RUNS runs (ns per iteration)"
printf '%-8s %4s %14s %16s\n' system run "cos loop" "empty loop"
for system in "${systems[@]}"; do
    cos_runs[$system]=""; empty_runs[$system]=""
    for r in $(seq "$RUNS"); do
        out=$(run_system "$system")
        c=$(field cos-ns-per-call "$out"); e=$(field empty-ns-per-iter "$out")
        [ -n "$c" ] && [ -n "$e" ] || { echo "$system: unexpected output: $out" >&2; exit 1; }
        cos_runs[$system]+=" $c"; empty_runs[$system]+=" $e"
        printf '%-8s %4s %14s %16s\n' "$system" "$r" "$c" "$e"
    done
done

echo
printf '%-8s %22s %24s\n' system "median cos (ns/call)" "median empty (ns/iter)"
declare -A med
for system in "${systems[@]}"; do
    # shellcheck disable=SC2086 # the runs are space-separated numbers
    med[$system]=$(median ${cos_runs[$system]})
    # shellcheck disable=SC2086
    printf '%-8s %22s %24s\n' "$system" "${med[$system]}" "$(median ${empty_runs[$system]})"
done

echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'; }
[ "$have_luajit" = 1 ] && echo "Valk/LuaJIT (cos loop): $(ratio "${med[valk]}" "${med[luajit]}")x"
echo "ctypes/Valk (cos loop): $(ratio "${med[ctypes]}" "${med[valk]}")x"
