//! Actor coroutines: corosensei coroutines on pooled stacks that may move
//! between worker threads while suspended.

use corosensei::{Coroutine, CoroutineResult, Yielder};

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
pub(crate) struct Fiber<I, Y, R> {
    co: Coroutine<I, Y, R, PooledStack>,
    limit: usize,
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
        Fiber {
            co: Coroutine::with_stack(stack, body),
            limit,
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
        let resumed = {
            let _bound = StackBound::enter(self.limit);
            self.co.resume(input)
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
    pub(crate) fn into_stack(self) -> PooledStack {
        let stack = self.co.into_stack();
        stack.check();
        stack
    }

    /// Unwinds a suspended fiber (running its frames' destructors) and returns
    /// its stack to `pool`.
    pub(crate) fn discard(mut self, pool: &StackPool) {
        self.co.force_unwind();
        pool.put(self.co.into_stack());
    }
}
