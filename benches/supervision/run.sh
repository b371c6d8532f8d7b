#!/usr/bin/env bash
# Restart latency and call round trip: Valk against Erlang/OTP
# (supervisor + gen_server) on the same machine. Each prints its own
# in-process time per operation (VM boot excluded); the script runs each
# five times and prints every line, for medians.
#   benches/supervision/run.sh            (builds target/release/valk)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root="$here/../.."
command -v erl >/dev/null || { echo "installing erlang-base (apt-get)..." >&2; apt-get install -y -qq erlang-base >/dev/null; }
(cd "$root" && cargo build --release --bin valk -q)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && erlc "$here/sup_bench.erl")
for w in restart call; do
  for i in 1 2 3 4 5; do
    printf 'valk   '; VALK_LOG=off "$root/target/release/valk" run "$here/$w.valk"
    printf 'erlang '; (cd "$tmp" && erl -noshell -s sup_bench main "$w" -s erlang halt)
  done
done
# What a call is made of (Valk only).
VALK_LOG=off "$root/target/release/valk" run "$here/call_parts.valk"
