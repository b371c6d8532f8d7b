#!/usr/bin/env bash
# The system libraries the build and tests need, installed when missing:
#   libffi-dev      the C layer (ffi/) links the system libffi
#   libsqlite3-dev  examples/ffi_sqlite.valk (run by the tests) opens libsqlite3
#   gcc             a C compiler: the FFI test library and the C embedding example
#   llvm-19-dev     the native tier (codegen/, inkwell): LLVM 19's static
#   libpolly-19-dev   libraries and llvm-config, found through LLVM_SYS_191_PREFIX
#   libzstd-dev zlib1g-dev   (.cargo/config.toml sets it to /usr/lib/llvm-19)
# An interpreter-only build (`cargo build --no-default-features`) needs no
# LLVM.
# On Debian/Ubuntu as root they are installed with apt-get; elsewhere a
# missing one is an error that names the package to install.
set -euo pipefail

links() { # can the C compiler link against -l$1?
    echo 'int main(void){return 0;}' | "${CC:-cc}" -x c - -l"$1" -o /dev/null >/dev/null 2>&1
}

missing=()
command -v "${CC:-cc}" >/dev/null || missing+=(gcc)
if command -v "${CC:-cc}" >/dev/null; then
    links ffi || missing+=(libffi-dev)
    links sqlite3 || missing+=(libsqlite3-dev)
else
    missing+=(libffi-dev libsqlite3-dev)
fi
if [ ! -x /usr/lib/llvm-19/bin/llvm-config ]; then
    missing+=(llvm-19-dev libpolly-19-dev)
fi
links zstd || missing+=(libzstd-dev)
links z || missing+=(zlib1g-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]} (apt-get)" >&2
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null
    }
else
    echo "error: missing system packages: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
