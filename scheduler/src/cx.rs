//! [`Cx`]: what an actor's code can do while it runs.
//!
//! A `Cx` lives on the actor's coroutine stack. It reaches the worker, the
//! actor's state and the runtime through pointers handed in each time the
//! coroutine is resumed, never through thread-locals: a pinned coroutine may
//! resume on another thread, and compilers may cache a thread-local's address
//! across the call that switched threads (llvm/llvm-project#98479).

use std::time::{Duration, Instant};

use corosensei::Yielder;

use crate::api::{Actor, ActorInfo, ActorStatus, RegisterError, SpawnOpts, System, WaitResult};
use crate::pid::{MonitorRef, Pid, TimerRef};
use crate::process::{ActorState, Cell, RunCtx, Suspend, Task, Yielded};
use crate::runtime::{Shared, Waker};
use crate::signal::{Item, Signal};
use crate::stack_pool;
use crate::sync::Ordering::Relaxed;
use crate::worker::WorkerCore;

/// The running actor's handle on the runtime. Passed to [`Actor::run`].
pub struct Cx<'a, S: System> {
    pid: Pid,
    ctx: RunCtx<S>,
    yielder: &'a Yielder<RunCtx<S>, Yielded<S>>,
    /// The actor suspended its coroutine (a runner, which is now its own).
    pinned: bool,
}

impl<'a, S: System> Cx<'a, S> {
    pub(crate) fn new(
        pid: Pid,
        ctx: RunCtx<S>,
        yielder: &'a Yielder<RunCtx<S>, Yielded<S>>,
    ) -> Self {
        Cx {
            pid,
            ctx,
            yielder,
            pinned: false,
        }
    }

    /// Did the actor suspend during this `run` ([`Cx::wait`], [`Cx::yield_now`])?
    pub(crate) fn pinned(&self) -> bool {
        self.pinned
    }

    /// Suspends the coroutine (keeping its stack) until a worker resumes it.
    fn suspend(&mut self, why: Suspend) {
        // The control block outlives the runtime's workers (see `Task`).
        let task = Task::from_table(std::ptr::NonNull::from(self.parts().2));
        self.pinned = true;
        // Through `coroutine::suspend`, which announces the switch to ASan.
        self.ctx = crate::coroutine::suspend(self.yielder, (why, task));
    }

    /// The runtime, the current worker and this actor's state.
    ///
    /// The returned borrows end before any suspension: every method that
    /// suspends re-reads `ctx` from the resume value before calling this again.
    fn parts(&mut self) -> (&Shared<S>, &mut WorkerCore<S>, &Cell<S>, &mut ActorState<S>) {
        // SAFETY: `ctx` was built by the worker that is running this coroutine
        // right now (it is blocked in `resume` until we suspend or return):
        // `shared` is kept alive by that worker's `Arc` and `cell` by the
        // table inside it; `core` is that worker's own core and `st` the
        // actor's state, whose run right that worker holds; the worker
        // touches neither until we switch back. `st` lives in the cell's
        // `UnsafeCell`, which `&Cell` does not cover, and `core` is separate,
        // so the `&mut`s do not alias; all four are tied to `&mut self`, so
        // none survives a suspension.
        unsafe {
            (
                &*self.ctx.shared,
                &mut *self.ctx.core,
                &*self.ctx.cell,
                &mut *self.ctx.st,
            )
        }
    }

    fn state(&mut self) -> &mut ActorState<S> {
        self.parts().3
    }

    fn shared(&mut self) -> &Shared<S> {
        self.parts().0
    }

    /// This actor's pid (`self`).
    pub fn self_pid(&self) -> Pid {
        self.pid
    }

    /// The system the runtime was built with.
    pub fn system(&mut self) -> &S {
        &self.shared().system
    }

    // ----- spawning -------------------------------------------------------

    /// Spawns `actor`. With `opts.link` / `opts.monitor` the link / monitor
    /// exists before the child runs (`spawn-link`, `spawn-monitor`).
    pub fn spawn(&mut self, actor: impl Actor<S>, opts: SpawnOpts) -> (Pid, Option<MonitorRef>) {
        let me = self.pid;
        let (shared, core, _, st) = self.parts();
        let mref = opts.monitor.then(|| MonitorRef(shared.next_ref()));
        let (task, pid) = shared.create(Some(&mut *core), Box::new(actor), false, |child| {
            if opts.link {
                child.rel.add_link(me);
            }
            if let Some(mref) = mref {
                child.rel.add_watcher(mref, me);
            }
        });
        if opts.link {
            st.rel.add_link(pid);
        }
        if let Some(mref) = mref {
            st.rel.add_monitoring(mref, pid);
        }
        core.schedule_local(shared, task);
        (pid, mref)
    }

    // ----- messages -------------------------------------------------------

    /// Sends `msg` to `to`. Never fails: a message to a dead pid is dropped.
    /// A receiver woken by it runs next on this worker (LIFO slot).
    pub fn send(&mut self, to: Pid, msg: S::Msg) {
        self.deliver(to, Item::Msg(msg), true);
    }

    /// Sends to a registered name; false (and `msg` dropped) if unregistered.
    pub fn send_named(&mut self, name: u64, msg: S::Msg) -> bool {
        match self.whereis(name) {
            Some(pid) => {
                self.send(pid, msg);
                true
            }
            None => false,
        }
    }

    fn deliver(&mut self, to: Pid, item: Item<S::Msg, S::Reason>, lifo: bool) {
        let (shared, core, _, _) = self.parts();
        let mut waker = if lifo {
            Waker::Lifo(core)
        } else {
            Waker::Local(core)
        };
        shared.deliver(to, item, &mut waker);
    }

    fn signal(&mut self, to: Pid, signal: Signal<S::Reason>) {
        self.deliver(to, Item::Sig(signal), false);
    }

    /// Selective receive: takes the oldest message `matches` accepts.
    ///
    /// Messages already rejected during the current receive are not offered
    /// again (save position), so calling this after each wake-up costs only
    /// the new messages. Returns `None` when nothing matches yet: return
    /// [`Step::Park`](crate::Step::Park) (or call [`Cx::wait`]) and call again.
    /// A match ends the receive: save position and `:after` timer reset.
    /// Also `None` when a signal has decided this actor exits ([`Cx::exiting`]).
    pub fn receive_matching(&mut self, matches: &mut dyn FnMut(&S::Msg) -> bool) -> Option<S::Msg> {
        loop {
            if self.state().dying.is_some() {
                return None;
            }
            if let Some(msg) = self.state().mailbox.take_matching(matches) {
                self.end_receive();
                return Some(msg);
            }
            if !self.take_incoming() {
                return None;
            }
        }
    }

    /// Takes the oldest message, if any (a receive with a catch-all clause).
    pub fn receive(&mut self) -> Option<S::Msg> {
        self.receive_matching(&mut |_| true)
    }

    /// Step-by-step receive, for a caller that matches messages itself: the
    /// next message of the current receive, left in the queue so that the
    /// caller can inspect (or transform in place) and then either take it
    /// with [`Cx::receive_accept`] or call `receive_next` again.
    ///
    /// First moves newly arrived items into the actor's queue (signals take
    /// effect, as in [`Cx::receive_matching`]); then returns the message at
    /// the save position and moves the save position past it, so a message
    /// is offered once per receive, across wake-ups too. `None` when every
    /// queued message has been offered (return
    /// [`Step::Park`](crate::Step::Park) or call [`Cx::wait`], then call
    /// again), or when a signal has decided this actor exits ([`Cx::exiting`]).
    pub fn receive_next(&mut self) -> Option<&mut S::Msg> {
        self.take_incoming();
        let st = self.state();
        if st.dying.is_some() {
            return None;
        }
        st.mailbox.next_unscanned()
    }

    /// Ends the current receive with a match: removes and returns the message
    /// [`Cx::receive_next`] returned last. The save position goes back to the
    /// oldest message, the `:after` timer is cancelled and [`Cx::timed_out`]
    /// is cleared (as after a successful [`Cx::receive_matching`]). `None`
    /// (the receive still ends) if `receive_next` offered nothing in it.
    #[inline]
    pub fn receive_accept(&mut self) -> Option<S::Msg> {
        let msg = self.state().mailbox.accept_offered();
        self.end_receive();
        msg
    }

    /// Visits every message in the actor's queue, oldest first (messages
    /// still in flight in the inbox are not included). For the language's
    /// garbage collector: messages transformed in place by the caller of
    /// [`Cx::receive_next`] may point into the actor's heap.
    pub fn for_each_message(&mut self, f: &mut dyn FnMut(&mut S::Msg)) {
        self.state().mailbox.for_each(f);
    }

    /// Ends the current receive without a match (its `:after` clause ran, or
    /// it was abandoned): the next receive scans from the oldest message and
    /// gets a fresh timeout.
    #[inline]
    pub fn receive_done(&mut self) {
        self.state().mailbox.reset_save();
        self.end_receive();
    }

    #[inline]
    fn end_receive(&mut self) {
        let st = self.state();
        st.timed_out = false;
        if let Some(token) = st.receive_timer.take() {
            self.cancel_receive_timer(token);
        }
    }

    #[cold]
    fn cancel_receive_timer(&mut self, token: u64) {
        self.shared().timers.cancel(token);
    }

    /// True once the current receive's `:after` deadline has passed.
    pub fn timed_out(&mut self) -> bool {
        self.state().timed_out
    }

    /// Moves newly arrived items into the actor's state; false if none came.
    #[inline]
    fn take_incoming(&mut self) -> bool {
        // The common case of a receive that finds nothing new: one load.
        self.parts().2.inbox.may_have_items() && self.drain_incoming()
    }

    #[inline(never)]
    fn drain_incoming(&mut self) -> bool {
        let me = self.pid;
        let (shared, core, cell, st) = self.parts();
        let items = &mut core.scratch;
        cell.inbox.drain(items);
        let any = !items.is_empty();
        while let Some(item) = items.pop_front() {
            st.apply(&shared.system, me, item);
        }
        any
    }

    /// Messages waiting for this actor.
    pub fn mailbox_len(&mut self) -> usize {
        let (_, _, cell, st) = self.parts();
        st.mailbox.len() + cell.inbox.pending_messages()
    }

    /// Bytes of the queued messages no receive has been offered yet
    /// ([`System::message_bytes`](crate::System::message_bytes)): they
    /// count against the actor's heap limit. Takes the inbox's new items
    /// first.
    pub fn mailbox_bytes(&mut self) -> usize {
        self.take_incoming();
        self.state().mailbox.bytes()
    }

    // ----- reductions and suspension --------------------------------------

    /// Charges `n` reductions. Returns false when the slice's budget is spent
    /// (or the actor must exit): the caller should reach a safepoint and
    /// return [`Step::Yield`](crate::Step::Yield) (or call [`Cx::yield_now`]).
    pub fn charge(&mut self, n: u32) -> bool {
        let st = self.state();
        st.budget = st.budget.saturating_sub(n);
        st.reductions += u64::from(n);
        st.budget > 0 && st.dying.is_none()
    }

    /// Reductions left in this slice.
    pub fn reductions_left(&mut self) -> u32 {
        self.state().budget
    }

    /// True when a signal has decided that this actor exits; whatever `run`
    /// returns next, the actor ends with that signal's reason.
    pub fn exiting(&mut self) -> bool {
        self.state().dying.is_some()
    }

    /// Suspends keeping this coroutine's stack, to run again after the others
    /// in the queue. For code with native frames it cannot unwind.
    ///
    /// The coroutine may resume on another thread: do not hold a reference to
    /// a thread-local across this call.
    pub fn yield_now(&mut self) {
        self.suspend(Suspend::Yield);
    }

    /// Suspends keeping this coroutine's stack until a new message or signal
    /// arrives, or the current receive's deadline (`timeout`, fixed at the
    /// first wait/park of the receive) passes. Never returns if a signal
    /// makes the actor exit meanwhile: its stack is unwound instead.
    ///
    /// The coroutine may resume on another thread: do not hold a reference to
    /// a thread-local across this call.
    pub fn wait(&mut self, timeout: Option<Duration>) -> WaitResult {
        if !self.state().timed_out {
            self.suspend(Suspend::Park(timeout));
        }
        if self.state().timed_out {
            WaitResult::TimedOut
        } else {
            WaitResult::Woken
        }
    }

    /// A [`std::task::Waker`] that makes this actor run: each `wake`, from
    /// any thread, delivers a wake-up signal to its inbox (coalesced while
    /// one is on its way). Waking a dead actor, or after the runtime is
    /// gone, does nothing.
    pub fn waker(&mut self) -> std::task::Waker {
        std::task::Waker::from(self.actor_waker())
    }

    /// A [`Mailer`](crate::Mailer) for this runtime: sends from any thread,
    /// at any later time.
    pub fn mailer(&mut self) -> crate::Mailer<S> {
        crate::runtime::Mailer::of(self.shared())
    }

    fn actor_waker(&mut self) -> std::sync::Arc<crate::future::ActorWaker<S>> {
        let me = self.pid;
        crate::future::ActorWaker::new(self.shared().me.clone(), me)
    }

    /// Runs `fut` to completion on this actor: polls it with a waker for
    /// this actor and, while it is pending, parks keeping the coroutine's
    /// stack, so the worker thread runs other actors meanwhile. The way for
    /// an actor to wait on anything outside the runtime (a blocking job, a
    /// socket, a host's channel); see `future.rs` and `docs/scheduler.md`.
    ///
    /// Messages that arrive meanwhile stay queued for the next receive. If
    /// a signal makes the actor exit while it waits, this never returns:
    /// the stack (and `fut`) is dropped by unwinding. Call it outside a
    /// `receive` (a receive's pending `:after` deadline would only make it
    /// poll more often).
    pub fn await_future<F: std::future::Future + Send>(&mut self, fut: F) -> F::Output {
        // Counted while it waits (also if a kill unwinds it): pending work
        // outside the runtime rules out a deadlock (`Runtime::deadlock`).
        struct Awaiting<S: System>(Option<std::sync::Arc<Shared<S>>>);
        impl<S: System> Drop for Awaiting<S> {
            fn drop(&mut self) {
                if let Some(shared) = &self.0 {
                    shared.awaiting_futures.fetch_sub(1, Relaxed);
                }
            }
        }
        let shared = self.shared().me.upgrade();
        if let Some(shared) = &shared {
            shared.awaiting_futures.fetch_add(1, Relaxed);
        }
        let _awaiting = Awaiting(shared);
        let waker = self.actor_waker();
        let task_waker = std::task::Waker::from(waker.clone());
        let mut task_cx = std::task::Context::from_waker(&task_waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            waker.flag.lower();
            if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut task_cx) {
                return v;
            }
            self.suspend(Suspend::Park(None));
        }
    }

    /// Bytes of stack left above the red zone. Deep recursion must stop (as
    /// `:stack-overflow`) before this reaches 0.
    pub fn stack_remaining(&mut self) -> usize {
        stack_pool::remaining(self.state().stack_limit)
    }

    // ----- links, monitors, exits -----------------------------------------

    /// Links this actor and `to` (both ways). Linking to a dead pid delivers
    /// an exit signal with reason `noproc` to this actor.
    pub fn link(&mut self, to: Pid) {
        if to == self.pid {
            return;
        }
        self.state().rel.add_link(to);
        self.signal(to, Signal::Link { from: self.pid });
    }

    /// Removes the link with `to`. After this returns no exit signal through
    /// that link reaches this actor.
    pub fn unlink(&mut self, to: Pid) {
        self.state().rel.remove_link(to);
        self.signal(to, Signal::Unlink { from: self.pid });
    }

    /// Monitors `to`: one DOWN message when it ends (`noproc` if it is dead).
    pub fn monitor(&mut self, to: Pid) -> MonitorRef {
        let mref = MonitorRef(self.shared().next_ref());
        self.state().rel.add_monitoring(mref, to);
        self.signal(
            to,
            Signal::Monitor {
                from: self.pid,
                mref,
            },
        );
        mref
    }

    /// Removes a monitor; after this no DOWN for it is added to the mailbox
    /// (one already there stays). False if `mref` was not active.
    pub fn demonitor(&mut self, mref: MonitorRef) -> bool {
        match self.state().rel.remove_monitoring(mref) {
            Some(watched) => {
                self.signal(watched, Signal::Demonitor { mref });
                true
            }
            None => false,
        }
    }

    /// Sets trap-exit; returns the previous value.
    pub fn trap_exit(&mut self, on: bool) -> bool {
        std::mem::replace(&mut self.state().trap_exit, on)
    }

    /// `exit(pid, reason)`: sends an exit signal (Erlang's rules: `:normal`
    /// is ignored unless `to` is this actor or traps exits; `:kill` cannot be
    /// trapped and ends `to` with `:killed`). To itself it takes effect at once.
    pub fn exit_signal(&mut self, to: Pid, reason: S::Reason) {
        let exit = Signal::Exit {
            from: self.pid,
            reason,
            linked: false,
        };
        if to == self.pid {
            let me = self.pid;
            let (shared, _, _, st) = self.parts();
            st.apply(&shared.system, me, Item::Sig(exit));
        } else {
            self.signal(to, exit);
        }
    }

    // ----- names ----------------------------------------------------------

    /// Registers `name` (an interned key) for `pid`.
    pub fn register(&mut self, name: u64, pid: Pid) -> Result<(), RegisterError> {
        self.shared().register(name, pid)
    }

    /// The pid registered under `name`.
    pub fn whereis(&mut self, name: u64) -> Option<Pid> {
        self.shared().registry.whereis(name)
    }

    /// Frees `name`; false if it was not registered.
    pub fn unregister(&mut self, name: u64) -> bool {
        self.shared().registry.unregister(name)
    }

    // ----- time -----------------------------------------------------------

    /// Sends `msg` to `to` after `delay`.
    pub fn send_after(&mut self, delay: Duration, to: Pid, msg: S::Msg) -> TimerRef {
        self.shared().send_after(delay, to, msg)
    }

    /// Cancels a `send_after` timer; true if it had not fired yet.
    pub fn cancel_timer(&mut self, timer: TimerRef) -> bool {
        self.shared().timers.cancel(timer.0).is_some()
    }

    /// The runtime's clock.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    // ----- introspection --------------------------------------------------

    /// A unique reference (`make-ref`), never repeated within this runtime.
    pub fn make_ref(&mut self) -> u64 {
        self.shared().next_ref()
    }

    /// Is `pid` alive?
    pub fn alive(&mut self, pid: Pid) -> bool {
        pid == self.pid || self.shared().alive(pid)
    }

    /// Records where this actor begins to wait (a code of its system's:
    /// Valk packs the `receive`'s file, line and column), for
    /// [`Runtime::deadlock`](crate::Runtime::deadlock)'s report.
    pub fn set_wait_site(&mut self, site: u64) {
        self.parts().2.stats.wait_site.store(site, Relaxed);
    }

    /// Every live actor's pid (`actor/list`). O(actors ever made).
    pub fn actor_pids(&mut self) -> Vec<Pid> {
        self.shared().actor_pids()
    }

    /// Every registered name with its actor (`registered`).
    pub fn registered(&mut self) -> Vec<(u64, Pid)> {
        self.shared().registry.names()
    }

    /// The name `pid` is registered under.
    pub fn name_of(&mut self, pid: Pid) -> Option<u64> {
        self.shared().registry.name_of(pid)
    }

    /// `actor/info`: `None` if `pid` is dead.
    pub fn info(&mut self, pid: Pid) -> Option<ActorInfo> {
        if pid != self.pid {
            return self.shared().info(pid);
        }
        let (_, _, cell, st) = self.parts();
        Some(ActorInfo {
            mailbox_len: st.mailbox.len() + cell.inbox.pending_messages(),
            reductions: st.reductions,
            status: ActorStatus::Running,
            heap_bytes: cell.stats.heap_bytes.load(Relaxed),
            wait_site: cell.stats.wait_site.load(Relaxed),
        })
    }
}
