//! AddressSanitizer fiber-switch annotations for corosensei switches.
//!
//! ASan tracks one stack per thread; a coroutine runs on a pooled stack it
//! was never told about, so without annotations a panic on a fiber cannot
//! unpoison the frames it unwinds (stale poison on reused stacks, reported
//! later as false overflows) and reports cannot tell stack from heap. With
//! `--cfg valk_asan` (set by `scripts/asan.sh`) every switch is announced:
//! `__sanitizer_start_switch_fiber` right before it and
//! `__sanitizer_finish_switch_fiber` right after it lands, on both sides:
//!
//! - resumer ([`Resume`], in `Fiber::resume` and `Fiber::discard`): start
//!   names the fiber's stack; the guard's drop finishes when the switch
//!   comes back (also when a panic comes out of the fiber);
//! - coroutine, first entry ([`Entered`], wrapping the fiber's body): finish
//!   with no fake stack to restore; its drop (the body returned or
//!   unwound, corosensei's forced unwind included) starts the last switch
//!   back to the resumer;
//! - coroutine, suspension ([`Suspended`], in `coroutine::suspend`): start
//!   back to the resumer; the guard's drop finishes when a resume (or a
//!   forced unwind, which panics out of `Yielder::suspend`) lands.
//!
//! Between a start and its finish ASan accepts either stack as current, so
//! the few instructions corosensei runs on either side are covered.
//!
//! The coroutine side needs its resumer's stack when it switches back: the
//! finish that lands it reports that stack, kept on a per-thread list until
//! the coroutine leaves again (switches nest strictly on one thread, and a
//! running coroutine does not change threads). The list is reached only from
//! `#[inline(never)]` functions, so no thread-local address is cached across
//! a switch after which the coroutine may run on another thread
//! (llvm/llvm-project#98479).
//!
//! Without `valk_asan` the guards are zero-sized and do nothing.

pub(crate) use imp::{Entered, Resume, StackRange, Suspended};

#[cfg(valk_asan)]
mod imp {
    use std::cell::RefCell;
    use std::ffi::c_void;
    use std::ptr;

    extern "C" {
        fn __sanitizer_start_switch_fiber(
            fake_stack_save: *mut *mut c_void,
            bottom: *const c_void,
            size: usize,
        );
        fn __sanitizer_finish_switch_fiber(
            fake_stack_save: *mut c_void,
            bottom_old: *mut *const c_void,
            size_old: *mut usize,
        );
    }

    thread_local! {
        /// Stacks of the resumers of the coroutines running on this thread,
        /// innermost last.
        static RESUMERS: RefCell<Vec<StackRange>> = const { RefCell::new(Vec::new()) };
    }

    /// A stack as ASan takes it: lowest address and size.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct StackRange {
        bottom: usize,
        size: usize,
    }

    impl StackRange {
        /// The stack `[bottom, top)`.
        #[inline(always)]
        pub(crate) fn new(bottom: usize, top: usize) -> Self {
            StackRange {
                bottom,
                size: top - bottom,
            }
        }
    }

    /// Resumer side of a switch into a fiber: finishes on drop.
    pub(crate) struct Resume {
        fake_stack: *mut c_void,
    }

    impl Resume {
        /// Announces a switch to a fiber running on `to`.
        #[inline(always)]
        pub(crate) fn start(to: StackRange) -> Self {
            let mut fake_stack = ptr::null_mut();
            // SAFETY: `fake_stack` is a valid slot for ASan to save this
            // stack's fake stack in; `to` is the whole stack of the fiber
            // about to be resumed, which the caller switches to next; no
            // other switch is between a start and its finish on this thread.
            unsafe {
                __sanitizer_start_switch_fiber(&mut fake_stack, to.bottom as *const c_void, to.size)
            };
            Resume { fake_stack }
        }
    }

    impl Drop for Resume {
        #[inline(always)]
        fn drop(&mut self) {
            // SAFETY: the fiber switched back to this stack (it suspended,
            // returned or unwound); `fake_stack` is what `start` saved here.
            unsafe {
                __sanitizer_finish_switch_fiber(self.fake_stack, ptr::null_mut(), ptr::null_mut())
            };
        }
    }

    /// Coroutine side of the first switch into a fiber: starts the last one
    /// out on drop.
    pub(crate) struct Entered(());

    impl Entered {
        /// First thing a fiber's body does.
        #[inline(always)]
        pub(crate) fn first() -> Self {
            landed(ptr::null_mut());
            Entered(())
        }
    }

    impl Drop for Entered {
        #[inline(always)]
        fn drop(&mut self) {
            // The fiber is done, but not off its stack yet: our frames and
            // corosensei's (`catch_unwind_at_root`, `coroutine_func`) still
            // return on it and may live in its fake stack, so that cannot be
            // destroyed here (the null save slot ASan documents for a dying
            // fiber unmaps it under them: SEGV with
            // detect_stack_use_after_return=1). It is saved and dropped
            // instead: one leaked fake stack per finished fiber, only when
            // that option is on (scripts/asan.sh keeps it off).
            let mut dropped = ptr::null_mut();
            leave(&mut dropped);
        }
    }

    /// Coroutine side of a suspension: finishes on drop, when the fiber is
    /// resumed (or force-unwound).
    pub(crate) struct Suspended {
        fake_stack: *mut c_void,
    }

    impl Suspended {
        /// Announces the switch back to the resumer.
        #[inline(always)]
        pub(crate) fn start() -> Self {
            let mut fake_stack = ptr::null_mut();
            leave(&mut fake_stack);
            Suspended { fake_stack }
        }
    }

    impl Drop for Suspended {
        #[inline(always)]
        fn drop(&mut self) {
            landed(self.fake_stack);
        }
    }

    /// A switch into this coroutine landed: finish it and keep the
    /// resumer's stack for the way back.
    #[inline(never)]
    fn landed(fake_stack: *mut c_void) {
        let mut bottom = ptr::null();
        let mut size = 0;
        // SAFETY: the resumer started this switch and it has landed on this
        // fiber's stack; `fake_stack` is null on the first entry, else what
        // this fiber's last `leave` saved; the out slots are valid.
        unsafe { __sanitizer_finish_switch_fiber(fake_stack, &mut bottom, &mut size) };
        RESUMERS.with(|r| {
            r.borrow_mut().push(StackRange {
                bottom: bottom as usize,
                size,
            })
        });
    }

    /// This coroutine switches back to its resumer next: start the switch,
    /// saving this fiber's fake stack in `fake_stack`.
    #[inline(never)]
    fn leave(fake_stack: &mut *mut c_void) {
        let Some(to) = RESUMERS.with(|r| r.borrow_mut().pop()) else {
            eprintln!("valk-scheduler: ASan fiber annotations out of step (no resumer); aborting");
            std::process::abort();
        };
        // SAFETY: `to` is the stack of the resumer, which the coroutine
        // switches to next; `fake_stack` is a valid slot; no other switch
        // is between a start and its finish on this thread.
        unsafe { __sanitizer_start_switch_fiber(fake_stack, to.bottom as *const c_void, to.size) };
    }
}

#[cfg(not(valk_asan))]
mod imp {
    /// A stack as ASan takes it (nothing without `valk_asan`).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct StackRange;

    impl StackRange {
        #[inline(always)]
        pub(crate) fn new(_bottom: usize, _top: usize) -> Self {
            StackRange
        }
    }

    /// Resumer side of a switch into a fiber (nothing without `valk_asan`).
    pub(crate) struct Resume;

    impl Resume {
        #[inline(always)]
        pub(crate) fn start(_to: StackRange) -> Self {
            Resume
        }
    }

    /// Coroutine side of the first switch (nothing without `valk_asan`).
    pub(crate) struct Entered;

    impl Entered {
        #[inline(always)]
        pub(crate) fn first() -> Self {
            Entered
        }
    }

    /// Coroutine side of a suspension (nothing without `valk_asan`).
    pub(crate) struct Suspended;

    impl Suspended {
        #[inline(always)]
        pub(crate) fn start() -> Self {
            Suspended
        }
    }
}
