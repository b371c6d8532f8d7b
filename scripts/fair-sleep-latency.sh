#!/usr/bin/env bash
# Issue 9's starvation reproducer (benches/fair_sort_starvation.valk): how
# long main's (sleep 10) takes while an actor loops on (sort (reverse big))
# on one scheduler. Usage: scripts/fair-sleep-latency.sh [ELEMENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-30000}
runs=${2:-5}
cargo build --release --quiet --bin valk
for _ in $(seq "$runs"); do
  timeout 600 target/release/valk run --schedulers 1 benches/fair_sort_starvation.valk "$n"
done
