//! The actor's side of the interpreter's [`Host`] seam: budget, charging
//! and the `receive` mailbox, all the scheduler's.
//!
//! A builtin such as `spawn` needs the scheduler's [`Cx`], which lives on the
//! actor's coroutine stack for the duration of one `Actor::run` call. An
//! [`ActorHost`] holds a pointer to it, made right before the interpreter
//! runs ([`ActorHost::run`]) and dropped right after, so it is never read
//! outside that call. This is the crate's only `unsafe`.

use std::any::Any;
use std::ptr::NonNull;
use std::time::Duration;

use valk_heap::{Heap, Value};
use valk_lang::{Failure, Host, Interp, Next};
use valk_scheduler::Cx;

use crate::system::{Message, Reason, ValkSystem};

/// The host of an interpreter running as an actor.
pub struct ActorHost {
    cx: NonNull<Cx<'static, ValkSystem>>,
    /// A spawned actor parks without native frames (`Next::Park`); the main
    /// actor, run form by form from Rust, waits keeping its stack.
    parkable: bool,
    /// The reason `(exit reason)` asked this actor to end with.
    pub(crate) exit_reason: Option<Reason>,
}

impl ActorHost {
    /// Runs `f` on `it` with `cx` as its host; returns `f`'s result and the
    /// reason `(exit reason)` gave, if any.
    pub fn run<R>(
        cx: &mut Cx<'_, ValkSystem>,
        parkable: bool,
        it: &mut Interp,
        f: impl FnOnce(&mut Interp) -> R,
    ) -> (R, Option<Reason>) {
        let mut host = ActorHost {
            cx: NonNull::from(cx).cast::<Cx<'static, ValkSystem>>(),
            parkable,
            exit_reason: None,
        };
        let r = it.with_host(&mut host, f);
        (r, host.exit_reason)
    }

    /// The scheduler context of the running actor.
    pub fn sched(&mut self) -> &mut Cx<'static, ValkSystem> {
        // SAFETY: `run` made the pointer from a `&mut Cx` that outlives the
        // call it wraps, and `self` does not escape that call (it is a local
        // of `run`, reached only through the interpreter's host slot while
        // `with_host` runs). The returned borrow is tied to `&mut self`, so
        // it cannot alias another. `Cx::wait`/`yield_now` suspend the
        // coroutine but keep its stack, so the `Cx` stays where it is.
        unsafe { &mut *self.cx.as_ptr() }
    }

    /// The actor host behind a builtin's [`Host`], if it runs in an actor.
    pub fn of(host: &mut dyn Host) -> Option<&mut ActorHost> {
        host.as_any()?.downcast_mut::<ActorHost>()
    }
}

impl Host for ActorHost {
    fn budget(&mut self) -> u32 {
        self.sched().reductions_left().max(1)
    }

    fn charge(&mut self, spent: u32) {
        self.sched().charge(spent);
    }

    fn yield_now(&mut self) {
        // May resume on another thread: the slice's reclamation pin moves
        // with the coroutine (see `valk_lang::reclaim`).
        let cx = self.sched();
        valk_lang::reclaim::suspended(|| cx.yield_now());
    }

    fn receive_start(&mut self) {
        self.sched().receive_done();
    }

    fn receive_site(&mut self, file: u32, line: u32, col: u32) {
        self.sched()
            .set_wait_site(crate::log::pack_site(file, line, col));
    }

    fn receive_next(&mut self, heap: &mut Heap, timeout_ms: Option<u64>) -> Result<Next, Failure> {
        let parkable = self.parkable;
        let cx = self.sched();
        if let Some(msg) = cx.receive_next() {
            return Ok(Next::Message(msg.adopt(heap)?));
        }
        if timeout_ms == Some(0) || cx.timed_out() {
            cx.receive_done();
            return Ok(Next::TimedOut);
        }
        // A spawned actor (or an exiting one) parks without native frames.
        if parkable || cx.exiting() {
            return Ok(Next::Park { timeout_ms });
        }
        self.wait_for_message(heap, timeout_ms)
    }

    fn receive_accept(&mut self) {
        self.sched().receive_accept();
    }

    fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        self.sched().for_each_message(&mut |m| m.visit_root(visit));
    }

    fn blocking(&mut self, job: Box<dyn FnOnce() + Send>) {
        // The actor parks (keeping its stack: the builtin is mid-call) and
        // the job's end wakes it; the slice's pin moves with the coroutine.
        let done = crate::blocking::pool().spawn(job);
        let cx = self.sched();
        valk_lang::reclaim::suspended(|| cx.await_future(done));
    }

    fn await_future(
        &mut self,
        fut: std::pin::Pin<&mut (dyn std::future::Future<Output = ()> + Send)>,
    ) {
        let cx = self.sched();
        valk_lang::reclaim::suspended(|| cx.await_future(fut));
    }

    fn as_any(&mut self) -> Option<&mut dyn Any> {
        Some(self)
    }
}

impl ActorHost {
    /// `receive_next` found no message to offer and the actor cannot park:
    /// wait keeping the stack and look again, until a message, the deadline
    /// or the actor's exit.
    #[cold]
    fn wait_for_message(
        &mut self,
        heap: &mut Heap,
        timeout_ms: Option<u64>,
    ) -> Result<Next, Failure> {
        loop {
            let cx = self.sched();
            valk_lang::reclaim::suspended(|| cx.wait(timeout_ms.map(Duration::from_millis)));
            if let Some(msg) = cx.receive_next() {
                return Ok(Next::Message(msg.adopt(heap)?));
            }
            if timeout_ms == Some(0) || cx.timed_out() {
                cx.receive_done();
                return Ok(Next::TimedOut);
            }
            if cx.exiting() {
                return Ok(Next::Park { timeout_ms });
            }
        }
    }
}

impl Message {
    /// Adopts the message into `heap` (once) and returns its value.
    #[inline]
    fn adopt(&mut self, heap: &mut Heap) -> Result<Value, valk_heap::HeapError> {
        // Offered again (a clause failed after the match): already adopted.
        if let Message::Adopted(v) = self {
            return Ok(*v);
        }
        match std::mem::replace(self, Message::Adopted(Value::NIL)) {
            Message::Fragment(f) => {
                let v = heap.adopt(f)?;
                *self = Message::Adopted(v);
                Ok(v)
            }
            adopted => {
                *self = adopted;
                self.adopt(heap)
            }
        }
    }

    fn visit_root(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        if let Message::Adopted(v) = self {
            visit(v);
        }
    }
}
