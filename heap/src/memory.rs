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
    /// Set inside [`past_the_hard_limit`].
    static EXEMPT: Cell<bool> = const { Cell::new(false) };
    /// Bytes the heap allocating on this thread holds ([`as_owner`]).
    static OWNER: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Runs `f`, the allocations of a heap holding `bytes`: a light heap may
/// use the reserve above the hard limit (see `past_limit`).
#[inline]
pub(crate) fn as_owner<R>(bytes: usize, f: impl FnOnce() -> R) -> R {
    let before = OWNER.try_with(|o| o.replace(bytes)).unwrap_or(usize::MAX);
    let r = f();
    let _ = OWNER.try_with(|o| o.set(before));
    r
}

/// Runs `f` with the hard limit lifted on this thread: for the runtime's
/// own small notices (an `{:EXIT ..}` or `{:DOWN ..}` telling of an actor
/// killed for memory is built while the dead actor's memory is still on
/// its way back to the system; losing it would leave its watchers waiting
/// forever). Not for anything a Valk program sizes.
pub fn past_the_hard_limit<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = EXEMPT.try_with(|e| e.set(self.0));
        }
    }
    let _restore = Restore(EXEMPT.try_with(|e| e.replace(true)).unwrap_or(false));
    f()
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
    if limit != usize::MAX && past_limit(limit, layout.size()) {
        return None;
    }
    debug_assert!(layout.size() > 0);
    // SAFETY: every caller passes a layout of non-zero size.
    let p = NonNull::new(unsafe { alloc::alloc(layout) } as *mut u64)?;
    account(layout.size() as isize);
    Some(p)
}

/// Would allocating `size` more pass the hard limit `limit`? A heap that
/// holds little, this allocation included (under a quarter of the
/// reserve), gets a reserve of an eighth
/// above it (at least 16 MiB): the runaway actor stops at the limit, while
/// the bystanders (main waiting for its `{:DOWN ..}`) still allocate until
/// the governor has killed it and its memory is back. Runtime notices
/// ignore the limit ([`past_the_hard_limit`]).
#[cold]
fn past_limit(limit: usize, size: usize) -> bool {
    let reserve = (limit / 8).max(16 << 20);
    let owner = OWNER.try_with(Cell::get).unwrap_or(usize::MAX);
    let light = owner.saturating_add(size) <= reserve / 4;
    let limit = if light {
        limit.saturating_add(reserve)
    } else {
        limit
    };
    allocated_bytes().saturating_add(size) > limit && !EXEMPT.try_with(Cell::get).unwrap_or(false)
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
