#!/usr/bin/env bash
# The actor workloads of BENCHMARKS.md in Valk, Erlang and Go, run in the same
# session: each RUNS times (default 3); prints the median of the figure each
# program reports and the ratios Valk/Erlang and Valk/Go (below 1: Valk is
# faster or smaller). Also skynet on 1 and on 2 Valk scheduler threads.
#
#   benches/actors/run.sh                  # every workload, full sizes
#   benches/actors/run.sh pingpong ring    # only these
#   RUNS=5 benches/actors/run.sh spawn
#
# Erlang and Go are installed from Debian packages when missing (never
# vendored). Absolute figures drift between machines: compare ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNS="${RUNS:-3}"
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(spawn skynet ring pingpong fanin idle)

if ! command -v erl >/dev/null || ! command -v go >/dev/null; then
    echo "installing erlang-nox and golang-go (apt-get)..." >&2
    apt-get install -y -qq erlang-nox golang-go >/dev/null
fi
(cd "$root" && cargo build --release --quiet --bin valk)
valk="${CARGO_TARGET_DIR:-$root/target}/release/valk"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && erlc "$here/bench.erl" && go build -o gobench "$here/bench.go")

# The first number on the program's line for the workload ("skynet: ... in
# 3.4 s" reports seconds; Erlang and Go report skynet in ms: all become ms).
figure() { # figure WORKLOAD < output
    awk -v w="$1" '
        $0 ~ "^" w ":" {
            for (i = 2; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {
                v = $i
                if (w == "skynet" && $(i+1) == "in") { v = $(i+2); if ($(i+3) == "s") v *= 1000 }
                else if (w == "skynet" && $(i+1) == "s") v *= 1000
                print v; exit
            }
        }'
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
runs() { # runs WORKLOAD COMMAND... : the median figure over RUNS runs
    local w=$1
    shift
    for _ in $(seq "$RUNS"); do "$@" 2>&1 | figure "$w"; done | median
}
unit() {
    case $1 in
        spawn) echo "us/actor" ;; skynet) echo "ms" ;; ring) echo "ns/hop" ;;
        pingpong) echo "ns/round trip" ;; fanin) echo "ns/message" ;; idle) echo "bytes/actor" ;;
    esac
}

printf '%-9s %14s %14s %14s %12s %9s  %s\n' workload valk erlang go valk/erlang valk/go unit
for w in "${workloads[@]}"; do
    v=$(runs "$w" "$valk" run "$here/$w.valk")
    e=$(runs "$w" bash -c "cd '$tmp' && erl +P 2000000 -noshell -s bench main $w -s erlang halt")
    g=$(runs "$w" "$tmp/gobench" "$w")
    printf '%-9s %14s %14s %14s %12.2f %9.2f  %s\n' "$w" "$v" "$e" "$g" \
        "$(echo "$v / $e" | bc -l)" "$(echo "$v / $g" | bc -l)" "$(unit "$w")"
done
if [[ " ${workloads[*]} " == *" skynet "* ]]; then
    one=$(VALK_SCHEDULERS=1 runs skynet "$valk" run "$here/skynet.valk")
    two=$(VALK_SCHEDULERS=2 runs skynet "$valk" run "$here/skynet.valk")
    printf 'skynet on 1 scheduler: %s ms, on 2: %s ms (speed-up %.2f)\n' "$one" "$two" "$(echo "$one / $two" | bc -l)"
fi
