//! The native stack-depth guard: how much stack is left below the caller.
//!
//! Problem: Valk code runs on 128 KiB coroutine stacks (the scheduler's
//! pooled stacks have no guard page), and a recursive walk over user data
//! (the compiler on a deeply nested form, say) would run off the end.
//!
//! Solution: one thread-local word, the lowest usable address of the stack
//! the thread runs on now. The scheduler sets it whenever it switches into a
//! coroutine and restores it when the coroutine suspends or returns
//! ([`enter`] / [`leave`]); on a plain thread (the CLI before the runtime
//! starts, unit tests) it is found once from the thread's own stack bounds.
//! [`remaining`] compares the address of a local with it: O(1), a
//! thread-local read and a subtraction. Every recursive walk calls [`check`]
//! once per level and turns `Err` into a clear "nesting too deep" error.

use std::cell::Cell;

/// Bytes [`check`] keeps free below the caller: enough for the deepest
/// non-recursive work done between two checks (a builtin, an allocation,
/// formatting the error) on top of the scheduler's own red zone.
pub const MARGIN: usize = 16 * 1024;

/// Used when a thread's stack bounds cannot be found (an unknown platform):
/// a guess below the first address seen, smaller than any thread stack Rust
/// makes by default (2 MiB).
const FALLBACK_STACK: usize = 1024 * 1024;

thread_local! {
    /// Lowest usable address of the current stack; 0: not known yet.
    static LIMIT: Cell<usize> = const { Cell::new(0) };
}

/// The stack is nearly exhausted: the caller must not recurse further.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooDeep;

impl core::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("nesting too deep")
    }
}

impl std::error::Error for TooDeep {}

/// Switching onto a stack whose usable lower bound is `limit`: records it
/// and returns the previous bound, to hand to [`leave`] on the way out.
#[inline]
pub fn enter(limit: usize) -> usize {
    LIMIT.with(|l| l.replace(limit))
}

/// Back from the stack [`enter`] switched to: restores `previous`.
#[inline]
pub fn leave(previous: usize) {
    LIMIT.with(|l| l.set(previous));
}

/// The address of a local of this frame (the stack grows down on every
/// platform Valk runs on).
#[inline(always)]
fn here() -> usize {
    let marker = 0u8;
    core::hint::black_box(&marker) as *const u8 as usize
}

/// Bytes between the caller's frame and the usable bottom of its stack (0
/// if past it).
#[inline]
pub fn remaining() -> usize {
    let sp = here();
    let limit = LIMIT.with(|l| {
        let limit = l.get();
        if limit != 0 {
            return limit;
        }
        let found = thread_stack_limit(sp);
        l.set(found);
        found
    });
    sp.saturating_sub(limit)
}

/// `Ok` if at least [`MARGIN`] bytes of stack are left, so the caller may
/// recurse one more level.
#[inline]
pub fn check() -> Result<(), TooDeep> {
    if remaining() >= MARGIN {
        Ok(())
    } else {
        Err(TooDeep)
    }
}

/// The usable lower bound of a plain thread's stack (`sp` is an address in
/// it), with a page of slack above the guard page.
fn thread_stack_limit(sp: usize) -> usize {
    os_stack_low(sp)
        .map(|low| low + 2 * 4096)
        .unwrap_or_else(|| sp.saturating_sub(FALLBACK_STACK))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn os_stack_low(sp: usize) -> Option<usize> {
    let mut attr = core::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `pthread_getattr_np` initialises `attr` for the calling thread
    // when it returns 0; `pthread_attr_getstack` then only reads it, and the
    // attribute object is destroyed once, after both.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        let low = addr as usize;
        // The main thread's reported size can exceed what the rlimit lets
        // grow; trust it only if `sp` is inside.
        (ok && low != 0 && low < sp && sp <= low + size).then_some(low)
    }
}

#[cfg(target_os = "macos")]
fn os_stack_low(sp: usize) -> Option<usize> {
    // SAFETY: both functions only read the calling thread's own descriptor.
    let (top, size) = unsafe {
        let me = libc::pthread_self();
        (
            libc::pthread_get_stackaddr_np(me) as usize,
            libc::pthread_get_stacksize_np(me),
        )
    };
    let low = top.checked_sub(size)?;
    (low < sp && sp <= top).then_some(low)
}

#[cfg(not(any(all(target_os = "linux", target_env = "gnu"), target_os = "macos")))]
fn os_stack_low(_sp: usize) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_until_too_deep(n: usize) -> usize {
        if check().is_err() {
            return n;
        }
        let pad = core::hint::black_box([0u8; 512]);
        depth_until_too_deep(n + 1) + usize::from(pad[0])
    }

    #[test]
    fn a_plain_thread_finds_its_own_bounds_and_stops_before_the_end() {
        let depth = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let left = remaining();
                assert!(left > 100 * 1024 && left < 256 * 1024, "{left}");
                depth_until_too_deep(0)
            })
            .unwrap()
            .join()
            .unwrap();
        // 256 KiB less the margin, at a bit over 512 bytes a level.
        assert!(depth > 100 && depth < 500, "{depth}");
    }

    #[test]
    fn enter_and_leave_switch_the_bound() {
        let sp = here();
        let previous = enter(sp - 1024);
        // Inlined, `remaining` may sit in this frame, a little above `sp`.
        assert!(remaining() < 8192);
        assert_eq!(check(), Err(TooDeep));
        leave(previous);
        assert!(check().is_ok());
        assert_eq!(TooDeep.to_string(), "nesting too deep");
    }
}
