#!/usr/bin/env bash
# Run valk-heap's test binaries (unit + integration, with the debug-checks
# feature) under valgrind memcheck: invalid reads/writes, uses of
# uninitialised memory and leaks all fail the run. There is no Miri on this
# toolchain, so this is how the heap's unsafe code is checked dynamically.
#
#   scripts/heap-memcheck.sh            # ~2-4 minutes on 2 cores
#   PROPTEST_CASES=4 scripts/heap-memcheck.sh
#
# The counting-allocator leak test (tests/leaks.rs) is skipped: valgrind
# replaces the allocator and checks leaks itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
export PROPTEST_CASES="${PROPTEST_CASES:-8}"

mapfile -t bins < <(
  cargo test -p valk-heap --features debug-checks --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in ("valk_heap", "gc", "model"):
        print(m["executable"])'
)
[ "${#bins[@]}" -eq 3 ] || { echo "expected 3 test binaries, found: ${bins[*]}" >&2; exit 2; }

for bin in "${bins[@]}"; do
  echo "== valgrind $(basename "$bin")"
  valgrind --quiet --error-exitcode=1 --leak-check=full \
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    "$bin" --test-threads=1 "$@"
done
echo "== memcheck clean"
