//! The seam between the interpreter and whatever runs it: the scheduler
//! (an actor), an embedding host, or nothing (tests, tools).
//!
//! The interpreter owns values and frames; the [`Host`] owns time and the
//! mailbox. `run` takes its slice budget from the host and charges what it
//! spent; the compiled `receive` asks the host for the next unscanned
//! message and tells it which one matched, so a message is queued once, in
//! the host's mailbox. Builtins of other layers reach their host through
//! [`Host::as_any`] (the actor layer downcasts to its own type).

use std::any::Any;

use valk_heap::{Heap, Value};

use crate::builtins::Failure;
use crate::interp::DEFAULT_BUDGET;

/// What [`Host::receive_next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The next message not yet offered to this receive (a value of the
    /// actor's heap, kept alive by the host until accepted).
    Message(Value),
    /// The receive's `:after` deadline passed (the receive is over).
    TimedOut,
    /// Nothing yet: the actor must give its thread back and run the
    /// `Receive` instruction again when woken (`timeout_ms`: the `:after`,
    /// whose deadline the host fixes at the first park of a receive).
    Park {
        /// The `:after` time in milliseconds, if any.
        timeout_ms: Option<u64>,
    },
}

/// What runs an interpreter. Every method has a default for "no host":
/// a fixed budget and no mailbox.
pub trait Host: 'static {
    /// Reductions the next slice may spend.
    fn budget(&mut self) -> u32 {
        DEFAULT_BUDGET
    }

    /// Reductions the slice just spent (interpreted code, and the work of
    /// builtins: see `builtins::fair`).
    fn charge(&mut self, _spent: u32) {}

    /// The budget ran out while running to completion (a top-level form),
    /// or a long builtin has done a slice's worth of work
    /// (`builtins::fair`): let other work run, keeping the native stack.
    ///
    /// A host that switches coroutines here or in [`Host::receive_next`]
    /// (the coroutine may resume on another thread) must make the switch
    /// inside [`crate::reclaim::suspended`], which moves the slice's
    /// reclamation pin along.
    fn yield_now(&mut self) {}

    /// A `receive` begins: the next [`Host::receive_next`] offers the oldest
    /// message again, with no deadline yet.
    fn receive_start(&mut self) {}

    /// Where the `receive` that begins is (for a host that reports what
    /// its actors wait on: `valk run`'s deadlock report).
    fn receive_site(&mut self, _file: u32, _line: u32, _col: u32) {}

    /// The next message the current receive has not seen. `timeout_ms` is
    /// the receive's `:after`. The message is adopted into `heap`.
    fn receive_next(
        &mut self,
        _heap: &mut Heap,
        _timeout_ms: Option<u64>,
    ) -> Result<Next, Failure> {
        Err(Failure::Message(
            "`receive`: not running in an actor".into(),
        ))
    }

    /// The message [`Host::receive_next`] returned last matched: remove it;
    /// the receive is over.
    fn receive_accept(&mut self) {}

    /// Visits the values the host keeps for the interpreter (adopted
    /// messages): GC roots, updated in place by a collection.
    fn visit_roots(&mut self, _visit: &mut dyn FnMut(&mut Value)) {}

    /// Runs `job`, which may block its thread (file I/O, a blocking C
    /// call), and returns when it is done. A host that can lets other work
    /// run meanwhile: the actor layer hands it to its blocking pool and
    /// parks the actor, so its scheduler keeps running other actors. The
    /// default runs it right here. Builtins call it through
    /// [`BuiltinCx::blocking`](crate::BuiltinCx::blocking).
    fn blocking(&mut self, job: Box<dyn FnOnce() + Send>) {
        job();
    }

    /// Runs `fut` to completion. A host that can parks its actor while the
    /// future is pending and lets other work run (the actor layer:
    /// `Cx::await_future`, woken by the future's waker from any thread);
    /// the default blocks this thread until it is done. Builtins call it
    /// through [`BuiltinCx::await_future`](crate::BuiltinCx::await_future).
    fn await_future(
        &mut self,
        fut: std::pin::Pin<&mut (dyn std::future::Future<Output = ()> + Send)>,
    ) {
        block_on(fut);
    }

    /// The host as `Any`, for builtins of the layer that made it.
    fn as_any(&mut self) -> Option<&mut dyn Any> {
        None
    }
}

/// No host: the default budget, no mailbox.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHost;

impl Host for NoHost {}

/// Polls `fut` on this thread until it is ready, sleeping between wake-ups.
fn block_on(mut fut: std::pin::Pin<&mut (dyn std::future::Future<Output = ()> + Send)>) {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    while fut.as_mut().poll(&mut cx).is_pending() {
        std::thread::park();
    }
}
