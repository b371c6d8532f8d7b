#!/usr/bin/env bash
# Build libvalk.so, compile the C embedding example (examples/embed_c/main.c)
# against include/valk.h with every warning an error, run it, and compare its
# output with examples/embed_c/expected.txt. Exits non-zero on any failure or
# difference. Runs from any directory.
#
#   scripts/embed-c.sh                   # dev profile (shares `cargo test`'s build)
#   VALK_PROFILE=release scripts/embed-c.sh
#   VALK_VALGRIND=1 scripts/embed-c.sh   # also run under valgrind (memory errors
#                                        # only: the runtime leaks compiled code
#                                        # on purpose)
#   CC=clang scripts/embed-c.sh
#
# Linux (ELF, libvalk.so) only.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${VALK_PROFILE:-debug}"
case "$profile" in
  debug) cargo build -p valk ;;
  release) cargo build -p valk --release ;;
  *) echo "VALK_PROFILE must be debug or release, not $profile" >&2; exit 2 ;;
esac

# Where cargo put the library ($CARGO_TARGET_DIR, a config file, or target/).
target_dir="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
lib_dir="$target_dir/$profile"
[ -f "$lib_dir/libvalk.so" ] || { echo "no $lib_dir/libvalk.so after the build" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"${CC:-cc}" -Wall -Wextra -Werror -std=c99 -pedantic -Iinclude \
  examples/embed_c/main.c -o "$work/embed_c" \
  -L"$lib_dir" -lvalk -Wl,-rpath,"$lib_dir"

run=("$work/embed_c")
if [ "${VALK_VALGRIND:-0}" = 1 ]; then
  run=(valgrind --quiet --error-exitcode=1 --leak-check=no "${run[@]}")
fi
timeout 120 "${run[@]}" >"$work/stdout"

if ! diff -u examples/embed_c/expected.txt "$work/stdout"; then
  echo "embed-c: the output differs from examples/embed_c/expected.txt (diff above)" >&2
  exit 1
fi
echo "embed-c: ok ($profile)"
