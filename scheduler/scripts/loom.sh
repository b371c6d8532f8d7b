#!/usr/bin/env bash
# loom models of the scheduler's protocols (mailbox park/wake, run-queue
# hand-off through the real LocalQueue, link/exit delivery, shutdown racing
# with sends and spawns). Only this crate sees the cfg, so tokio and other
# dependencies are unaffected. About 10 s on 2 cores after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:-} --cfg valk_loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-../target}/loom"
exec cargo test -p valk-scheduler --release --lib loom_ "$@"
