#!/usr/bin/env bash
# loom models of the scheduler's protocols only (mailbox park/wake, run-queue
# hand-off through the real LocalQueue, link/exit delivery, shutdown racing
# with sends and spawns). `scripts/loom.sh` at the root runs every crate's
# models; this runs it for this crate. About 10 s on 2 cores after the build.
set -euo pipefail
export LOOM_PACKAGES="${LOOM_PACKAGES:-valk-scheduler}"
exec "$(dirname "$0")/../../scripts/loom.sh" "$@"
