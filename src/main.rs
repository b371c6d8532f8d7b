//! The `valk` binary: everything lives in the library's `cli` module.
#![forbid(unsafe_code)]

/// mimalloc: actors allocate on one worker and are freed on another, in
/// bursts of millions; glibc's per-thread arenas handle that with lock and
/// page-table traffic that kept skynet from scaling past one core.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    valk_cli::cli::main()
}
