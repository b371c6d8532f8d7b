//! Coroutine stacks carved from large reserved regions.
//!
//! Problem: a corosensei `DefaultStack` is its own mmap plus an mprotect'ed
//! guard page: two kernel mappings per stack, so `vm.max_map_count` (65,530)
//! caps a process near 32,000 live coroutines.
//!
//! Solution: reserve regions of many stacks with one `mmap(MAP_NORESERVE)`
//! each (one mapping per region, and no memory is committed until a page is
//! touched) and hand out fixed-size slices. There is no guard page (an
//! mprotect would split the mapping again); instead:
//! - the bottom [`STACK_RED_ZONE`] bytes of every stack are kept out of the
//!   usable range: code checks [`remaining`] against its own limit and turns
//!   overflow into an error (the interpreter's `:stack-overflow`);
//! - a canary word at the very bottom is verified whenever a stack is handed
//!   back or a coroutine suspends; a clobbered canary aborts the process
//!   rather than let corrupted memory run on.
//!
//! Freed stacks are reused warm (LIFO). Past [`WARM_STACKS`] free stacks, a
//! returned stack's pages are given back to the kernel with
//! `madvise(MADV_DONTNEED)`, which keeps the mapping whole.

use std::num::NonZeroUsize;

use corosensei::stack::{Stack, StackPointer};

use crate::sync::Mutex;

/// Bytes at the bottom of each stack that code must never reach: overflow
/// checks trip when fewer than this remain.
pub const STACK_RED_ZONE: usize = 16 * 1024;
/// Default size of one actor stack.
pub const DEFAULT_STACK_SIZE: usize = 128 * 1024;
/// Free stacks kept with their pages resident.
const WARM_STACKS: usize = 1024;
/// Bytes reserved per region.
const REGION_BYTES: usize = 256 * 1024 * 1024;
const CANARY: u64 = 0x5641_4c4b_5354_4b21; // "VALKSTK!"
const PAGE: usize = 4096;

/// One stack slice. Owned by exactly one coroutine (or the free list).
#[derive(Debug)]
pub struct PooledStack {
    /// Lowest address (canary lives here).
    bottom: usize,
    /// Highest address (the stack grows down from here).
    top: usize,
}

impl PooledStack {
    /// Usable lower bound: the red zone sits below it.
    pub fn limit_addr(&self) -> usize {
        self.bottom + STACK_RED_ZONE
    }

    fn write_canary(&self) {
        // SAFETY: as in `canary_intact`; the stack is not in use by any
        // coroutine while the pool hands it out or takes it back.
        unsafe { std::ptr::write_volatile(self.bottom as *mut u64, CANARY) }
    }

    /// Aborts if code ran past the red zone into the canary.
    pub fn check(&self) {
        check_canary(self.bottom);
    }
}

// SAFETY: `top` and `limit_addr` bound a slice of a private RW mapping owned by
// this value alone and 16-aligned (page-aligned slices, red zone a multiple
// of 16). The required guard page is replaced by explicit depth checks against
// the red zone plus the canary check (see the module docs), the documented
// trade-off of this pool.
unsafe impl Stack for PooledStack {
    fn base(&self) -> StackPointer {
        NonZeroUsize::new(self.top).unwrap_or(NonZeroUsize::MIN)
    }

    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.bottom).unwrap_or(NonZeroUsize::MIN)
    }
}

struct Region {
    base: usize,
    len: usize,
}

struct PoolInner {
    free: Vec<PooledStack>,
    regions: Vec<Region>,
    /// Next never-used slice in the last region.
    bump: usize,
    bump_end: usize,
}

/// The process-wide source of actor stacks (one per runtime).
pub struct StackPool {
    stack_size: usize,
    inner: Mutex<PoolInner>,
}

/// Aborts if the canary of the stack whose lowest address is `bottom` is
/// clobbered. `bottom` must come from a [`PooledStack`] that is still owned.
pub(crate) fn check_canary(bottom: usize) {
    // SAFETY: `bottom` is the first word of a pooled stack's slice of a live RW
    // region (regions are unmapped only when the pool is dropped, after every
    // stack); it is 8-aligned (page-aligned slice).
    let intact = unsafe { std::ptr::read_volatile(bottom as *const u64) } == CANARY;
    if !intact {
        eprintln!(
            "valk-scheduler: actor stack overflow past the red zone at {bottom:#x}; aborting"
        );
        std::process::abort();
    }
}

/// Bytes left between the current stack pointer and `limit` (0 if past it).
#[inline(never)]
pub fn remaining(limit: usize) -> usize {
    let marker = 0u8;
    let sp = std::hint::black_box(&marker) as *const u8 as usize;
    sp.saturating_sub(limit)
}

impl StackPool {
    /// A pool of stacks of `stack_size` bytes (rounded up to pages, at least
    /// the red zone plus 16 KiB).
    pub fn new(stack_size: usize) -> Self {
        let stack_size = stack_size
            .max(STACK_RED_ZONE + 16 * 1024)
            .next_multiple_of(PAGE);
        StackPool {
            stack_size,
            inner: Mutex::new(PoolInner {
                free: Vec::new(),
                regions: Vec::new(),
                bump: 0,
                bump_end: 0,
            }),
        }
    }

    /// A stack, warm if one is free. Aborts if address space is exhausted
    /// (as an allocation failure would).
    pub fn get(&self) -> PooledStack {
        let mut inner = self.inner.lock();
        if let Some(stack) = inner.free.pop() {
            return stack;
        }
        if inner.bump + self.stack_size > inner.bump_end {
            let len = REGION_BYTES
                .max(self.stack_size)
                .next_multiple_of(self.stack_size);
            let base = map_region(len);
            inner.regions.push(Region { base, len });
            inner.bump = base;
            inner.bump_end = base + len;
        }
        let bottom = inner.bump;
        inner.bump += self.stack_size;
        drop(inner);
        let stack = PooledStack {
            bottom,
            top: bottom + self.stack_size,
        };
        stack.write_canary();
        stack
    }

    /// Returns a stack no coroutine uses any more.
    pub fn put(&self, stack: PooledStack) {
        stack.check();
        let mut inner = self.inner.lock();
        if inner.free.len() >= WARM_STACKS {
            release_pages(stack.bottom, self.stack_size);
            stack.write_canary();
        }
        inner.free.push(stack);
    }

    /// Regions mapped so far (each is one kernel mapping).
    pub fn regions(&self) -> usize {
        self.inner.lock().regions.len()
    }
}

impl Drop for StackPool {
    fn drop(&mut self) {
        let inner = self.inner.lock();
        for region in &inner.regions {
            // SAFETY: each region was returned by `map_region` with this
            // length, and every stack carved from it is gone: stacks are owned
            // by coroutines, which the runtime drops before its pool.
            unsafe {
                libc::munmap(region.base as *mut libc::c_void, region.len);
            }
        }
    }
}

fn map_region(len: usize) -> usize {
    // SAFETY: an anonymous private mapping at an address the kernel chooses
    // aliases no existing Rust object.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        eprintln!("valk-scheduler: cannot reserve {len} bytes for actor stacks; aborting");
        std::process::abort();
    }
    ptr as usize
}

fn release_pages(addr: usize, len: usize) {
    // SAFETY: the range is one whole free stack inside a live region; no
    // coroutine uses it, and MADV_DONTNEED on private anonymous memory only
    // zero-fills it on next touch.
    unsafe {
        libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_carved_from_few_regions_and_reused_warm() {
        let pool = StackPool::new(64 * 1024);
        let stacks: Vec<_> = (0..5000).map(|_| pool.get()).collect();
        assert_eq!(
            pool.regions(),
            2,
            "5000 x 64 KiB fit in two 256 MiB regions"
        );
        let last = stacks.last().map(|s| s.bottom);
        for s in stacks {
            pool.put(s);
        }
        assert_eq!(Some(pool.get().bottom), last, "LIFO reuse");
    }
}
