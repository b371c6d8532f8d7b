//! Keeping the process's address space small enough to run under a
//! `ulimit -v` of a few GiB.
//!
//! Why: glibc's malloc gives each thread that calls it its own arena, and
//! each arena reserves 64 MiB of address space. Valk's own allocations go
//! to mimalloc, but every thread still calls glibc's `calloc` once (to
//! register its thread-local destructors) and LLVM allocates through it, so
//! a runtime with its workers, timer, memory governor, deadlock detector and
//! JIT thread held nine arenas: over half a GiB reserved for a few KiB of
//! use. Under the 2 GiB limit of `scripts/hostile.sh` that left too little
//! room for the actors' stack region.
//!
//! Only the `valk` binary calls this: a program embedding the runtime owns
//! its malloc settings.

/// Caps glibc malloc at `arenas` arenas (the main one included). Threads
/// past the cap share arenas; the threads that use C malloc at all (LLVM's
/// one compile thread, the main thread) see no contention from it. Call it
/// at the start of `main`, before any thread is spawned. A no-op off glibc.
pub fn cap_c_malloc_arenas(arenas: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a malloc tunable; it is safe to call at
    // any time, and called before other threads exist it races with nothing.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = arenas;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the child process the test below measures in.
    const CHILD: &str = "VALK_ARENA_TEST_CHILD";

    /// Each thread that calls C malloc past the cap shares an arena instead
    /// of reserving 64 MiB more address space. Measured in a child process
    /// of this test binary running this test alone: the other tests'
    /// threads and stack regions would move the figure.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn capped_arenas_do_not_grow_with_threads() {
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "address_space::tests::capped_arenas_do_not_grow_with_threads",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD, "1")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
            return;
        }
        fn vm_size_kib() -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        }
        cap_c_malloc_arenas(2);
        let before = vm_size_kib();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(9));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    // SAFETY: a plain C allocation, freed below.
                    let p = unsafe { libc::malloc(4096) };
                    barrier.wait();
                    // SAFETY: `p` came from `malloc` above and is freed once.
                    unsafe { libc::free(p) };
                })
            })
            .collect();
        barrier.wait();
        let during = vm_size_kib();
        for t in threads {
            t.join().unwrap();
        }
        // Eight threads' stacks (2 MiB each) and at most one more arena;
        // uncapped, eight new arenas alone would reserve 512 MiB.
        let grown_mib = during.saturating_sub(before) / 1024;
        assert!(
            grown_mib < 8 * 2 + 64 + 16,
            "address space grew {grown_mib} MiB"
        );
    }
}
