#!/usr/bin/env bash
# The native tier's benchmark (issue: fib(30) within 1.5x of Rust, faster
# than LuaJIT and Erlang): fib(30) and tak(18, 12, 6) timed in-process by
# each program, RUNS times (default 5), medians printed with the ratio to
# Rust. Valk runs under --jit=off, --jit=on and --jit=always, and as an
# executable `valk build -O3` made; its "cold" rows time the first call
# (tiering or compiling included), the others a second call. Anchors missing from the machine are installed with apt-get
# when possible (lua5.4, luajit, erlang, golang), else skipped.
#
#   benches/native/run.sh
#   RUNS=9 benches/native/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

need() { # need COMMAND PACKAGE
    command -v "$1" >/dev/null && return 0
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq "$2" >/dev/null 2>&1 || true
    fi
    command -v "$1" >/dev/null
}

echo "building valk (release) and the anchors..." >&2
cargo build --release --quiet --bin valk
VALK=target/release/valk
rustc -O -o "$work/fib_tak_rs" benches/native/fib_tak.rs
# Rust with overflow checks: the semantics Valk's compiled code has (an
# overflow leaves the fast path), which also keeps LLVM from turning one
# of fib's two calls into a loop as it does for plain Rust.
rustc -O -C overflow-checks=on -o "$work/fib_tak_rs_checked" benches/native/fib_tak.rs
runners=("rust|$work/fib_tak_rs" "rust (checked)|$work/fib_tak_rs_checked")
if need go golang; then
    (cd "$work" && cp "$OLDPWD/benches/native/fib_tak.go" . && go build -o fib_tak_go fib_tak.go)
    runners+=("go|$work/fib_tak_go")
fi
need luajit luajit && runners+=("luajit|luajit benches/native/fib_tak.lua")
need lua5.4 lua5.4 && runners+=("lua5.4|lua5.4 benches/native/fib_tak.lua")
if need erlc erlang; then
    erlc -o "$work" benches/native/fib_tak.erl
    runners+=("erlang|erl -noshell -pa $work -s fib_tak main -s erlang halt")
fi
for mode in off on always; do
    runners+=("valk --jit=$mode|$VALK --jit=$mode run benches/native/fib_tak.valk")
done
# Built ahead of time: native from the first call, no compile on the way.
"$VALK" build -O3 benches/native/fib_tak.valk -o "$work/fib_tak_valk" 2>/dev/null
runners+=("valk build -O3|$work/fib_tak_valk")

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2))}'; }

declare -A result
names=()
for r in "${runners[@]}"; do
    name="${r%%|*}"; cmd="${r#*|}"
    names+=("$name")
    for key in fib tak fib-cold tak-cold; do eval "vals_${key//-/_}=()"; done
    for _ in $(seq "$RUNS"); do
        out="$($cmd)"
        for key in fib tak fib-cold tak-cold; do
            v="$(printf '%s\n' "$out" | sed -n "s/^$key-us:[[:space:]]*//p")"
            [ -n "$v" ] && eval "vals_${key//-/_}+=($v)"
        done
    done
    for key in fib tak fib-cold tak-cold; do
        eval "arr=(\"\${vals_${key//-/_}[@]}\")"
        [ ${#arr[@]} -gt 0 ] && result["$name|$key"]="$(median "${arr[@]}")"
    done
done

printf '\n%-18s %12s %9s %12s %9s\n' "" "fib(30) us" "x Rust" "tak us" "x Rust"
for key in "" -cold; do
    for name in "${names[@]}"; do
        f="${result[$name|fib$key]:-}"; t="${result[$name|tak$key]:-}"
        [ -z "$f" ] && continue
        fr="$(awk -v a="$f" -v b="${result[rust|fib]}" 'BEGIN{printf "%.2f", a/b}')"
        tr="$(awk -v a="$t" -v b="${result[rust|tak]}" 'BEGIN{printf "%.2f", a/b}')"
        printf '%-18s %12s %9s %12s %9s\n' "$name${key:+ (cold)}" "$f" "$fr" "$t" "$tr"
    done
done
