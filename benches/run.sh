#!/usr/bin/env bash
# Times the Valk benchmark programs in this folder and their Lua/Python anchors
# (BENCHMARKS.md): builds `valk` in release mode, runs each program once to
# warm up and then RUNS times (default 5), and prints the median whole-process
# wall time and the median in-process time that the program itself reports on
# its `in-process-us:` line (so boot is excluded). Wall times come from
# hyperfine when it is installed.
#
#   benches/run.sh              # everything
#   benches/run.sh fib tak      # only these workloads
#   RUNS=9 benches/run.sh fib
#
# Anchors are installed from Debian packages when missing (lua5.4; python3 is
# on the machine); they are never vendored. Absolute figures drift between
# machines: compare ratios measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
WORKLOADS=("$@")
if [ ${#WORKLOADS[@]} -eq 0 ]; then
    WORKLOADS=(fib tak pipeline string_build tail_loop empty)
fi

need_package() { # need_package COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null && return 0
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing $2 for the anchors..." >&2
        (apt-get update -qq && apt-get install -y -qq "$2") >/dev/null 2>&1 || true
    fi
    command -v "$1" >/dev/null
}

echo "building valk (release)..." >&2
cargo build --release --quiet --bin valk
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
VALK="${target_dir:-target}/release/valk"

have_lua=0; need_package lua5.4 lua5.4 && have_lua=1
have_python=0; command -v python3 >/dev/null && have_python=1
have_hyperfine=0
command -v hyperfine >/dev/null && command -v python3 >/dev/null && have_hyperfine=1

now_ns() { date +%s%N; }

median() { # median of the numbers given as arguments
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# hyperfine_median_us COMMAND...: hyperfine's median wall time in microseconds.
hyperfine_median_us() {
    local json
    json="$(mktemp)"
    hyperfine --style none --warmup 1 --runs "$RUNS" --export-json "$json" \
        "$(printf '%q ' "$@")" >/dev/null 2>&1 || { rm -f "$json"; return 1; }
    python3 -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["results"][0]["median"] * 1e6))' "$json"
    rm -f "$json"
}

# measure LABEL COMMAND...: warm-up, RUNS timed runs, one result line. The
# wall column comes from hyperfine when it is installed (apt-get install
# hyperfine), else from the same loop that collects the in-process times.
measure() {
    local label="$1"; shift
    local walls=() inprocs=() output start end wall
    "$@" >/dev/null
    for _ in $(seq "$RUNS"); do
        start=$(now_ns)
        output="$("$@")"
        end=$(now_ns)
        walls+=($(( (end - start) / 1000 )))
        local inproc
        inproc="$(printf '%s\n' "$output" | sed -n 's/^in-process-us:[[:space:]]*//p')"
        [ -n "$inproc" ] && inprocs+=("$inproc")
    done
    wall="$(median "${walls[@]}")"
    if [ "$have_hyperfine" = 1 ]; then
        wall="$(hyperfine_median_us "$@" || echo "$wall")"
    fi
    printf '%-28s %14s %16s\n' "$label" "$wall" "$(median "${inprocs[@]+"${inprocs[@]}"}")"
}

printf '%-28s %14s %16s\n' "program (median of $RUNS)" "wall (us)" "in-process (us)"
for workload in "${WORKLOADS[@]}"; do
    measure "valk $workload" "$VALK" run "benches/$workload.valk"
    if [ -f "benches/$workload.lua" ] && [ "$have_lua" = 1 ]; then
        measure "lua5.4 $workload" lua5.4 "benches/$workload.lua"
    fi
    if [ -f "benches/$workload.py" ] && [ "$have_python" = 1 ]; then
        measure "python3 $workload" python3 "benches/$workload.py"
    fi
done
