#!/usr/bin/env bash
# Every crate's loom models (`loom_*` tests) in one run: the sync facade's
# own (host mailbox hand-off, OnceLock), the scheduler's (mailbox park/wake,
# run-queue hand-off, link/exit delivery, shutdown racing with sends and
# spawns), the heap's (shared reference counts, the reaper) and the
# language's (the globals table, a native tier slot's publication).
#
# `--cfg valk_loom` makes `valk-sync` (the one facade every lock and atomic
# goes through) hand out loom's primitives. It is a project-specific cfg, so
# dependencies such as tokio are unaffected. Builds go to their own target
# directory (`target/loom`), so they never invalidate the normal build.
#
#   scripts/loom.sh                      # every crate's models
#   LOOM_PACKAGES=valk-heap scripts/loom.sh loom_reaper   # one crate, a filter
#
# The embedding crate (`valk`) has no models of its own: its host mailbox
# queue is `valk_sync::handoff::HandOff`, modeled in valk-sync (the crate
# hosts the whole runtime, which cannot be built under loom).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:-} --cfg valk_loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/loom"
packages="${LOOM_PACKAGES:-valk-sync valk-scheduler valk-heap valk-lang}"
args=()
for p in $packages; do args+=(-p "$p"); done
if [ "$#" -eq 0 ]; then set -- loom_; fi
exec cargo test --release "${args[@]}" --lib "$@"
