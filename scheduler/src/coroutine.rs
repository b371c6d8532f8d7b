//! Actor coroutines: corosensei coroutines on pooled stacks that may move
//! between worker threads while suspended.
//!
//! Every switch goes through [`Fiber::resume`], [`Fiber::discard`] (the
//! resumer's side), the body wrapper in [`Fiber::new`] (the coroutine's
//! first entry and last exit) and [`suspend`] (the coroutine's side), which
//! announce it to AddressSanitizer under `--cfg valk_asan` (see `asan.rs`).

use corosensei::stack::Stack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use crate::asan;
use crate::stack_pool::{PooledStack, StackPool};

/// How a [`Fiber::resume`] came back.
pub(crate) enum Resumed<Y, R> {
    /// Suspended with its frames kept.
    Suspended(Y),
    /// Finished: [`Fiber::into_stack`] frees its stack.
    Finished(R),
}

/// The stack-depth guard's bound while a fiber runs: restored on the way
/// out, also when a panic comes out of the fiber.
struct StackBound(usize);

impl StackBound {
    fn enter(limit: usize) -> Self {
        StackBound(valk_sync::stack::enter(limit))
    }
}

impl Drop for StackBound {
    fn drop(&mut self) {
        valk_sync::stack::leave(self.0);
    }
}

/// A coroutine on a pooled stack, sendable between threads.
///
/// Ends through [`Fiber::into_stack`] (finished) or [`Fiber::discard`];
/// dropped otherwise, it is force-unwound like a discarded one, but its
/// stack is not returned to the pool.
pub(crate) struct Fiber<I, Y, R> {
    /// `None` only once `into_stack` / `discard` took it.
    co: Option<Coroutine<I, Y, R, PooledStack>>,
    limit: usize,
    /// The whole stack, for ASan's fiber switches.
    range: asan::StackRange,
}

// SAFETY: a fiber is only built from a `Send` closure (see `Fiber::new`), so
// everything its frames own is `Send`; the resume input is re-read after
// every suspension, so no frame keeps a pointer to the previous thread's
// worker. Code running on it must not hold a thread-local reference across
// a suspension (documented on `Cx::wait`): that is the one hazard of
// migrating stackful coroutines, listed in the crate README.
unsafe impl<I, Y, R> Send for Fiber<I, Y, R> {}

impl<I: 'static, Y: 'static, R: 'static> Fiber<I, Y, R> {
    pub(crate) fn new<F>(stack: PooledStack, body: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + Send + 'static,
    {
        let limit = stack.limit_addr();
        let range = asan::StackRange::new(stack.limit().get(), stack.base().get());
        Fiber {
            co: Some(Coroutine::with_stack(
                stack,
                move |yielder: &Yielder<I, Y>, input: I| {
                    // Dropped when the body returns or unwinds: the last switch.
                    let _entered = asan::Entered::first();
                    body(yielder, input)
                },
            )),
            limit,
            range,
        }
    }

    /// Usable lower bound of this fiber's stack.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Runs the fiber until it suspends or finishes. A finished fiber must
    /// not be resumed again.
    ///
    /// While it runs, the thread's stack-depth guard (`valk_sync::stack`)
    /// bounds this fiber's stack; the resumer's bound is back when it
    /// returns, so a fiber migrating between threads is always checked
    /// against its own stack.
    pub(crate) fn resume(&mut self, input: I) -> Resumed<Y, R> {
        let co = self.co.as_mut().expect("a fiber is used after its end");
        let resumed = {
            let _bound = StackBound::enter(self.limit);
            // Finishes the switch when it comes back, before `_bound` goes.
            let _switch = asan::Resume::start(self.range);
            co.resume(input)
        };
        match resumed {
            CoroutineResult::Yield(y) => {
                crate::stack_pool::check_canary(self.limit - crate::stack_pool::STACK_RED_ZONE);
                Resumed::Suspended(y)
            }
            CoroutineResult::Return(r) => Resumed::Finished(r),
        }
    }

    /// The stack of a finished fiber, free again.
    pub(crate) fn into_stack(mut self) -> PooledStack {
        let co = self.co.take().expect("a fiber is used after its end");
        let stack = co.into_stack();
        stack.check();
        stack
    }

    /// Unwinds a suspended fiber (running its frames' destructors) and returns
    /// its stack to `pool`.
    pub(crate) fn discard(mut self, pool: &StackPool) {
        self.unwind();
        if let Some(co) = self.co.take() {
            pool.put(co.into_stack());
        }
    }
}

impl<I, Y, R> Fiber<I, Y, R> {
    /// corosensei's forced unwind, announced to ASan: a coroutine that never
    /// ran is dropped without a switch, a finished one has nothing to unwind.
    fn unwind(&mut self) {
        if let Some(co) = &mut self.co {
            if co.started() && !co.done() {
                let _switch = asan::Resume::start(self.range);
                co.force_unwind();
            } else {
                // Drops the body of one that never ran, in place.
                co.force_unwind();
            }
        }
    }
}

impl<I, Y, R> Drop for Fiber<I, Y, R> {
    fn drop(&mut self) {
        // Otherwise corosensei's own drop would unwind it unannotated.
        self.unwind();
    }
}

/// Suspends the running fiber (called on its own stack, with the yielder its
/// body was given) until [`Fiber::resume`] passes the next input. If the
/// fiber is discarded instead, this unwinds (corosensei's forced unwind).
pub(crate) fn suspend<I, Y>(yielder: &Yielder<I, Y>, val: Y) -> I {
    // Finishes the switch when a resume or the forced unwind lands here.
    let _landed = asan::Suspended::start();
    yielder.suspend(val)
}
