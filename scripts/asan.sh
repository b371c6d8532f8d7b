#!/usr/bin/env bash
# Run the heap, scheduler, lang and runtime test suites under AddressSanitizer.
#
# There is no nightly and no Miri here, so ASan on the stable toolchain
# (RUSTC_BOOTSTRAP=1 unlocks -Zsanitizer) is the dynamic check of our unsafe
# code: out-of-bounds and use-after-free in the heap, the shared heap's
# reference counts, message fragments, coroutine stacks and the interpreter's
# host slot. LeakSanitizer runs too (detect_leaks=1), except where a suite
# leaks on purpose (noted below).
#
#   scripts/asan.sh                # heap, scheduler, lang and runtime, ~10-20 min on 2 cores
#   scripts/asan.sh valk-heap      # one crate
#   scripts/asan.sh valk-scheduler -- pinned   # args after `--` go to
#                                  # every test binary (a name filter, ...)
#
# The build goes to target/asan (an instrumented std is not needed: the
# explicit --target keeps build scripts and proc-macros uninstrumented).
# Coroutine stacks: `--cfg valk_asan` compiles valk-scheduler's fiber-switch
# annotations (scheduler/src/asan.rs), so ASan knows which stack is current
# across corosensei switches (a panic's stack unpoisoning, reports).
# detect_stack_use_after_return stays off: its fake stacks would travel with
# coroutines that migrate between threads.
set -euo pipefail
cd "$(dirname "$0")/.."

crates=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do crates+=("$1"); shift; done
[ $# -gt 0 ] && shift
test_args=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(valk-heap valk-scheduler valk-lang valk-runtime valk-ffi)

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes --cfg valk_asan"
export RUSTDOCFLAGS="$RUSTFLAGS"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/asan}"
asan_options="detect_stack_use_after_return=0:abort_on_error=0:halt_on_error=1"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/asan.supp:print_suppressions=0}"
export PROPTEST_CASES="${PROPTEST_CASES:-16}"
target="$(rustc -vV | sed -n 's/^host: //p')"

status=0
for c in "${crates[@]}"; do
  echo "== ASan: $c"
  # --lib --tests: unit and integration tests; doctests need a sanitized
  # rustdoc run and add nothing the unit tests do not cover.
  leaks=0
  [ "$c" = valk-heap ] && leaks=1
  if ! ASAN_OPTIONS="${ASAN_OPTIONS:-$asan_options:detect_leaks=$leaks}" cargo test -p "$c" --target "$target" --lib --tests -- --test-threads 2 ${test_args[@]+"${test_args[@]}"}; then
    echo "ASan: $c FAILED" >&2
    status=1
  fi
done
exit $status
