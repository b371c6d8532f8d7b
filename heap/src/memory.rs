//! Every system allocation the heap makes (chunks, message buffers, shared
//! objects) goes through here: it is fallible (a null from the allocator is
//! an `Err`, never the alloc error handler) and it is counted in one
//! process-wide figure, [`allocated_bytes`], that a runtime compares with its
//! memory ceiling.
//!
//! Counting is batched per thread (a thread publishes its balance once it
//! moved by `FLUSH_BYTES`), so the hot paths cost a thread-local add, not a
//! contended atomic. The figure is therefore approximate by at most
//! `FLUSH_BYTES` per thread, which is far below any ceiling worth setting.
//!
//! A *hard limit* (see [`set_hard_limit`]) makes allocation fail outright
//! once the process total is past it: the last line of defence when the
//! runtime's governor (which kills the biggest actor past the ceiling) cannot
//! keep up with one allocating actor; the allocating actor then dies with
//! `{:heap-limit bytes}` instead of the process.

use core::cell::Cell;
use core::ptr::NonNull;
use std::alloc::{self, Layout};

use core::sync::atomic::Ordering::Relaxed;
use valk_sync::statics::AtomicUsize;

/// A thread publishes its balance once it moved by this much (256 KiB).
const FLUSH_BYTES: isize = 256 << 10;

/// Bytes the heap holds from the system allocator, as published: a signed
/// figure kept in wrapping arithmetic (one thread may publish a free before
/// another publishes the allocation).
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
/// Past this total, allocation fails (`usize::MAX`: never).
static HARD_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

std::thread_local! {
    /// This thread's balance not yet published.
    static UNPUBLISHED: Balance = const { Balance(Cell::new(0)) };
}

struct Balance(Cell<isize>);

impl Drop for Balance {
    fn drop(&mut self) {
        ALLOCATED.fetch_add(self.0.get() as usize, Relaxed);
    }
}

#[inline]
fn account(delta: isize) {
    let published = UNPUBLISHED.try_with(|b| {
        let v = b.0.get() + delta;
        if v.abs() >= FLUSH_BYTES {
            ALLOCATED.fetch_add(v as usize, Relaxed);
            b.0.set(0);
        } else {
            b.0.set(v);
        }
    });
    if published.is_err() {
        // The thread is exiting: publish directly.
        ALLOCATED.fetch_add(delta as usize, Relaxed);
    }
}

/// Bytes the heap crate holds from the system allocator in this process
/// (private chunks, pooled chunks, message buffers, shared objects), within
/// 256 KiB per thread.
pub fn allocated_bytes() -> usize {
    usize::try_from(ALLOCATED.load(Relaxed) as isize).unwrap_or(0)
}

/// Make every later heap allocation fail once [`allocated_bytes`] would pass
/// `bytes` (`None`: no such limit). Process-wide: the lowest limit of the
/// runtimes alive is the one to set.
pub fn set_hard_limit(bytes: Option<usize>) {
    HARD_LIMIT.store(bytes.unwrap_or(usize::MAX), Relaxed);
}

/// The limit [`set_hard_limit`] set.
pub fn hard_limit() -> Option<usize> {
    Some(HARD_LIMIT.load(Relaxed)).filter(|&b| b != usize::MAX)
}

/// Allocate `layout` (non-zero size) from the system, counted. `None` if
/// the allocator refuses or the hard limit would be passed.
#[inline]
pub(crate) fn alloc(layout: Layout) -> Option<NonNull<u64>> {
    let limit = HARD_LIMIT.load(Relaxed);
    if limit != usize::MAX && allocated_bytes().saturating_add(layout.size()) > limit {
        return None;
    }
    debug_assert!(layout.size() > 0);
    // SAFETY: every caller passes a layout of non-zero size.
    let p = NonNull::new(unsafe { alloc::alloc(layout) } as *mut u64)?;
    account(layout.size() as isize);
    Some(p)
}

/// Give back memory from [`alloc`].
///
/// # Safety
/// `p` came from [`alloc`] with this `layout` and is freed once.
#[inline]
pub(crate) unsafe fn dealloc(p: NonNull<u64>, layout: Layout) {
    // SAFETY: the caller's contract.
    unsafe { alloc::dealloc(p.as_ptr() as *mut u8, layout) };
    account(-(layout.size() as isize));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_past_the_batch_size_is_published_at_once() {
        let layout = Layout::from_size_align(FLUSH_BYTES as usize * 4, 8).unwrap();
        let p = alloc(layout).unwrap();
        assert!(UNPUBLISHED.with(|b| b.0.get().abs()) < FLUSH_BYTES);
        // SAFETY: just allocated with this layout.
        unsafe { dealloc(p, layout) };
        assert!(UNPUBLISHED.with(|b| b.0.get().abs()) < FLUSH_BYTES);
    }
}
