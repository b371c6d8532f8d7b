#!/usr/bin/env bash
# Runs the Erlang and Go anchors of the actor workloads (BENCHMARKS.md) so Valk's
# figures can be compared with ones taken on the same machine in the same session.
# Installs the anchors from Debian packages if missing (never vendored).
# Usage: benches/actors/run-anchors.sh [WORKLOAD...]   (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
workloads=("$@"); [ ${#workloads[@]} -gt 0 ] || workloads=(spawn skynet ring pingpong fanin idle)
if ! command -v erl >/dev/null || ! command -v go >/dev/null; then
  echo "installing erlang-nox and golang-go (apt-get)..." >&2
  apt-get install -y -qq erlang-nox golang-go >/dev/null
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && erlc "$here/bench.erl" && go build -o gobench "$here/bench.go")
for w in "${workloads[@]}"; do
  printf 'erlang '; (cd "$tmp" && erl +P 2000000 -noshell -s bench main "$w" -s erlang halt)
  printf 'go     '; "$tmp/gobench" "$w"
done
