#!/usr/bin/env bash
# Futures and boxes (LANGUAGE.md §9): async/await round trips against
# Erlang (spawn + send + receive) and Go (goroutine + channel), the memory
# of pending futures, and sending a boxed 10 MB value to many actors. Each
# program prints its own in-process figures (VM boot excluded); every
# workload runs five times (RUNS) and every line is printed, for medians.
#   benches/futures/run.sh            (builds target/release/valk)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNS="${RUNS:-5}"
command -v erl >/dev/null || { echo "installing erlang-base (apt-get)..." >&2; apt-get install -y -qq erlang-base >/dev/null; }
command -v go >/dev/null || { echo "installing golang-go (apt-get)..." >&2; apt-get install -y -qq golang-go >/dev/null; }
(cd "$root" && cargo build --release --bin valk -q)
valk="${CARGO_TARGET_DIR:-$root/target}/release/valk"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && erlc "$here/async_await.erl" && cp "$here/async_await.go" . && go build -o gobench async_await.go)
v() { VALK_LOG=off "$valk" run "$@"; }

# async/await pairs. `async` is new: skipped if this build lacks it.
echo '(async {+ 1 2})' > "$tmp/probe.valk"
for _ in $(seq "$RUNS"); do
  if v "$tmp/probe.valk" >/dev/null 2>&1; then printf 'valk   '; v "$here/async_await.valk"
  else echo "valk   async_await: skipped (no async in this build)"; fi
  printf 'valk   '; v "$here/promise_await.valk"
  printf 'erlang '; (cd "$tmp" && erl -noshell -s async_await main -s erlang halt)
  printf 'go     '; "$tmp/gobench"
done
# Bytes per pending future (1,000,000 of them, one waiting actor).
for _ in $(seq "$RUNS"); do v "$here/pending_futures.valk"; done
# A 10 MB value sent boxed to 10, 100, 1,000 actors, and copied to 10.
for args in "box 10" "box 100" "box 1000" "copy 10"; do
  # shellcheck disable=SC2086 # mode and receiver count are two words
  for _ in $(seq "$RUNS"); do v "$here/box_fanout.valk" $args; done
done
