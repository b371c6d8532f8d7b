//! A worker thread: find an actor, run one slice of it, put it back.
//!
//! One slice, in order:
//! 1. take the body and pending items from the inbox (`begin_run`);
//! 2. apply the items: signals take effect, messages join the private queue;
//!    an exit decided by a signal ends the actor before it runs;
//! 3. run it until it returns, suspends, or spends its reductions: a ready
//!    actor is called right on the runner coroutine that runs this loop (no
//!    coroutine is made or switched to), a pinned one is resumed on its own;
//! 4. exit, or arm the receive timeout and store the body back; the inbox
//!    tells whether something arrived meanwhile and the actor must requeue.
//!
//! The loop itself runs on a *runner*: a coroutine on a pooled stack. An
//! actor that suspends ([`Cx::wait`], [`Cx::yield_now`]) keeps the runner
//! (its frames sit on top of the loop's) and the worker starts a new one;
//! the pinned runner never loops again, and returns once its actor's slice
//! ends. So only actors that really keep native frames cost a switch.
//!
//! [`WorkerCore`] is everything one worker thread owns: its run queue (the
//! deque, LIFO slot and search/park loop live in `queue/run_queue.rs`, generic
//! so that loom can check them), cached stacks and free slots.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use corosensei::Yielder;

use crate::api::{Actor, ExitReason, Step, System};
use crate::coroutine::{Fiber, Resumed};
use crate::cx::Cx;
use crate::mailbox::AfterRun;
use crate::process::{
    ActorFiber, ActorState, Code, FiberOut, ItemOf, RunCtx, Suspend, Task, Yielded,
};
use crate::queue::run_queue::LocalQueue;
use crate::runtime::{Shared, Waker};
use crate::signal::{Item, Relation, Signal};
use crate::stack_pool::PooledStack;
use crate::sync::Ordering::{Relaxed, SeqCst};
use crate::table::FreeCache;

/// Free stacks a worker keeps without touching the shared pool.
const LOCAL_STACKS: usize = 16;

/// Everything one worker thread owns.
pub(crate) struct WorkerCore<S: System> {
    pub(crate) index: usize,
    queue: LocalQueue<Task<S>>,
    /// Reused buffer for items taken from an inbox.
    pub(crate) scratch: VecDeque<ItemOf<S>>,
    stacks: Vec<PooledStack>,
    /// Usable lower bound of the running runner coroutine's stack.
    runner_limit: usize,
    /// Slots freed by actors that exited here, reused by spawns here.
    pub(crate) free_slots: FreeCache,
}

impl<S: System> WorkerCore<S> {
    pub(crate) fn new(queue: LocalQueue<Task<S>>) -> Self {
        WorkerCore {
            index: queue.index(),
            queue,
            scratch: VecDeque::new(),
            stacks: Vec::new(),
            runner_limit: 0,
            free_slots: FreeCache::default(),
        }
    }

    /// An actor woken by a message sent from this worker: runs next here.
    pub(crate) fn schedule_lifo(&mut self, shared: &Shared<S>, task: Task<S>) {
        self.queue.schedule_lifo(&shared.queues, task);
    }

    /// An actor made runnable on this worker (spawned, yielded, re-woken).
    pub(crate) fn schedule_local(&mut self, shared: &Shared<S>, task: Task<S>) {
        self.queue.schedule_local(&shared.queues, task);
    }

    pub(crate) fn take_stack(&mut self, shared: &Shared<S>) -> PooledStack {
        self.stacks.pop().unwrap_or_else(|| shared.stacks.get())
    }

    pub(crate) fn put_stack(&mut self, shared: &Shared<S>, stack: PooledStack) {
        if self.stacks.len() < LOCAL_STACKS {
            stack.check();
            self.stacks.push(stack);
        } else {
            shared.stacks.put(stack);
        }
    }

    /// Shutdown: hand back everything still queued here.
    pub(crate) fn drain(&mut self, shared: &Shared<S>) -> Vec<Task<S>> {
        let tasks = self.queue.drain();
        for stack in self.stacks.drain(..) {
            shared.stacks.put(stack);
        }
        shared.table.return_cache(&mut self.free_slots);
        tasks
    }
}

pub(crate) fn worker_main<S: System>(shared: &Shared<S>, mut core: WorkerCore<S>) {
    // The scheduling loop runs on a runner coroutine (`runner_body`), and so
    // does every actor that starts a slice there: a slice costs no switch.
    // Control comes back here only when an actor running on the runner
    // suspends keeping its stack (`Cx::wait` / `Cx::yield_now`): the runner
    // then belongs to that actor, and a fresh one takes over the loop.
    loop {
        // Boxed: if it is pinned, the box becomes the actor's `Code::Pinned`.
        let mut runner: Box<ActorFiber<S>> =
            Box::new(Fiber::new(core.take_stack(shared), runner_body::<S>));
        core.runner_limit = runner.limit();
        let ctx = RunCtx {
            shared,
            core: &mut core,
            cell: std::ptr::null(),
            st: std::ptr::null_mut(),
        };
        match runner.resume(ctx) {
            // The runtime stops.
            Resumed::Finished(_) => {
                core.put_stack(shared, runner.into_stack());
                break;
            }
            Resumed::Suspended((why, task)) => {
                // SAFETY: the actor suspended during its slice, so this worker
                // still holds its run right (see `Cell::state`); the fiber is
                // suspended, so nothing else uses the state.
                let st = unsafe { &mut *task.state() };
                after_run(
                    shared,
                    &mut core,
                    task,
                    st,
                    Code::Pinned(runner),
                    suspended_step(why),
                );
            }
        }
    }
    drop(core.drain(shared));
}

/// A suspension as the slice's end (the coroutine keeps the frames).
fn suspended_step<R>(why: Suspend) -> Step<R> {
    match why {
        Suspend::Yield => Step::Yield,
        Suspend::Park(timeout) => Step::Park { timeout },
    }
}

/// An actor and how its slice ended.
type SliceEnd<S> = (Box<dyn Actor<S>>, Step<<S as System>::Reason>);

/// The body of a runner coroutine: the worker's scheduling loop.
///
/// It returns [`FiberOut::Stopped`] when the runtime stops. If an actor it
/// runs suspends ([`Cx::wait`], [`Cx::yield_now`]), the runner is pinned to
/// that actor: its loop never continues, and once the actor's slice ends
/// (resumed by another runner, maybe on another thread) the runner returns
/// [`FiberOut::Done`] to that runner, which finishes the slice.
fn runner_body<S: System>(yielder: &Yielder<RunCtx<S>, Yielded<S>>, ctx: RunCtx<S>) -> FiberOut<S> {
    // This worker's core and the runtime: valid on this thread until the
    // runner is pinned (it then never loops again), see `worker_main`.
    let RunCtx { shared, core, .. } = ctx;
    // SAFETY: `worker_main` passes its runtime, which outlives its workers.
    let shared = unsafe { &*shared };
    loop {
        // SAFETY: `worker_main` resumed this runner with its own core and is
        // blocked in `resume` until the runner suspends or returns; no other
        // reference to the core is live while this one is used (`run_task`
        // takes the raw pointer and reborrows it briefly).
        let next = unsafe { (*core).queue.next_task(&shared.queues) };
        let Some(task) = next else {
            return FiberOut::Stopped;
        };
        if let Some((actor, step)) = run_task(shared, core, task, yielder) {
            return FiberOut::Done(actor, step);
        }
    }
}

/// One slice of `task`, on the runner whose yielder is `yielder`. `Some`
/// when the actor suspended this runner during the slice: the runner is now
/// pinned to it and must end, handing the slice's result to its resumer.
fn run_task<S: System>(
    shared: &Shared<S>,
    core_ptr: *mut WorkerCore<S>,
    task: Task<S>,
    yielder: &Yielder<RunCtx<S>, Yielded<S>>,
) -> Option<SliceEnd<S>> {
    // SAFETY: see `runner_body`; this borrow ends before the actor runs.
    let core = unsafe { &mut *core_ptr };
    let code = task.inbox.begin_run(&mut core.scratch)?;
    // SAFETY: `begin_run` gave this worker the run right: the state is ours
    // until `finish_run` / `exit` (see `Cell::state`). While the actor runs
    // it reaches the state only through the raw pointer derived from this
    // reference, which is not used meanwhile.
    let st = unsafe { &mut *task.state() };
    let me = st.pid;
    while let Some(item) = core.scratch.pop_front() {
        st.apply(&shared.system, me, item);
    }
    if let Some(reason) = st.dying.take() {
        finish(shared, core, task, st, code, reason);
        return None;
    }
    // A full budget at the start of every slice, also when a pinned
    // coroutine resumes after `Cx::yield_now` / `Cx::wait`.
    st.budget = shared.config.reductions;
    let (code, step) = match code {
        Code::Ready(mut actor) => {
            st.stack_limit = core.runner_limit;
            let ctx = RunCtx {
                shared,
                core: core_ptr,
                cell: &*task,
                st: std::ptr::from_mut(st),
            };
            let (result, pinned) = {
                let mut cx = Cx::new(me, ctx, yielder);
                let result = catch_unwind(AssertUnwindSafe(|| actor.run(&mut cx)));
                (result, cx.pinned())
            };
            let step = match result {
                Ok(step) => step,
                Err(payload) if is_string_panic(&payload) => {
                    Step::Exit(S::Reason::panicked(panic_message(&payload)))
                }
                // corosensei's forced unwind of a discarded pinned runner
                // (or an exotic payload on a pinned one): let it go on.
                Err(payload) if pinned => std::panic::resume_unwind(payload),
                Err(payload) => Step::Exit(S::Reason::panicked(panic_message(&payload))),
            };
            if pinned {
                // Another runner resumed us: it finishes the slice.
                return Some((actor, step));
            }
            crate::stack_pool::check_canary(st.stack_limit - crate::stack_pool::STACK_RED_ZONE);
            task.stats.heap_bytes.store(actor.heap_bytes(), Relaxed);
            (Code::Ready(actor), step)
        }
        Code::Pinned(fiber) => resume_pinned(shared, core_ptr, task, st, fiber)?,
    };
    // SAFETY: the actor's slice is over; no other reference to the core is
    // live (the `Cx` is gone, a pinned fiber is suspended or finished).
    let core = unsafe { &mut *core_ptr };
    after_run(shared, core, task, st, code, step);
    None
}

/// Resumes the pinned coroutine of `task` (whose run right this worker
/// holds) from the runner of `core_ptr`. `None` if the slice ended with the
/// coroutine gone, the actor's exit sequence done.
#[cold]
fn resume_pinned<S: System>(
    shared: &Shared<S>,
    core_ptr: *mut WorkerCore<S>,
    task: Task<S>,
    st: &mut ActorState<S>,
    mut fiber: Box<ActorFiber<S>>,
) -> Option<(Code<S>, Step<S::Reason>)> {
    st.stack_limit = fiber.limit();
    let ctx = RunCtx {
        shared,
        core: core_ptr,
        cell: &*task,
        st: std::ptr::from_mut(st),
    };
    let resumed = catch_unwind(AssertUnwindSafe(|| fiber.resume(ctx)));
    // SAFETY: the fiber is suspended or gone; no other reference to the core
    // is live.
    let core = unsafe { &mut *core_ptr };
    let reason = match resumed {
        Ok(Resumed::Finished(FiberOut::Done(actor, step))) => {
            core.put_stack(shared, fiber.into_stack());
            task.stats.heap_bytes.store(actor.heap_bytes(), Relaxed);
            return Some((Code::Ready(actor), step));
        }
        Ok(Resumed::Suspended((why, _))) => {
            return Some((Code::Pinned(fiber), suspended_step(why)));
        }
        // A pinned runner never loops again, so it cannot stop; were it to,
        // the actor would be gone with it.
        Ok(Resumed::Finished(FiberOut::Stopped)) => {
            core.put_stack(shared, fiber.into_stack());
            String::new()
        }
        // A panic payload the coroutine could not turn into a reason itself
        // (not a string): the coroutine is gone, its stack free again.
        Err(payload) => {
            core.put_stack(shared, fiber.into_stack());
            panic_message(&payload)
        }
    };
    let reason = st
        .dying
        .take()
        .unwrap_or_else(|| S::Reason::panicked(reason));
    finish_without_code(shared, core, task, st, reason);
    None
}

/// The end of a slice: exit, or hand the actor back to its inbox (parked,
/// or requeued when it yielded or something arrived meanwhile).
#[inline(always)]
fn after_run<S: System>(
    shared: &Shared<S>,
    core: &mut WorkerCore<S>,
    task: Task<S>,
    st: &mut ActorState<S>,
    code: Code<S>,
    step: Step<S::Reason>,
) {
    if st.dying.is_some() {
        return exit_after_run(shared, core, task, st, code, None);
    }
    let requeue = match step {
        Step::Park { timeout: None } => st.timed_out,
        Step::Yield => true,
        Step::Park {
            timeout: Some(after),
        } => arm_receive_timeout(shared, st, after),
        Step::Exit(reason) => return exit_after_run(shared, core, task, st, code, Some(reason)),
    };
    task.stats.reductions.store(st.reductions, Relaxed);
    task.stats.mailbox_len.store(st.mailbox.len(), Relaxed);
    // Hands the run right back: `st` is not touched after this.
    if task.inbox.finish_run(code, requeue) == AfterRun::Requeue {
        core.schedule_local(shared, task);
    }
}

/// A park with a timeout: the deadline is fixed by the first park of a
/// receive. True if the actor must run again at once (timed out already).
fn arm_receive_timeout<S: System>(
    shared: &Shared<S>,
    st: &mut ActorState<S>,
    after: Duration,
) -> bool {
    if st.timed_out {
        return true;
    }
    if st.receive_timer.is_none() {
        if after.is_zero() {
            st.timed_out = true;
            return true;
        }
        st.receive_timer = Some(shared.arm_timeout(st.pid, after));
    }
    false
}

/// The slice ended the actor: with `reason`, or the one a signal decided.
#[cold]
fn exit_after_run<S: System>(
    shared: &Shared<S>,
    core: &mut WorkerCore<S>,
    task: Task<S>,
    st: &mut ActorState<S>,
    code: Code<S>,
    reason: Option<S::Reason>,
) {
    // A signal's decision wins over the reason the actor returned.
    let reason = match st.dying.take() {
        Some(decided) => decided,
        None => reason.unwrap_or_else(S::Reason::normal),
    };
    finish(shared, core, task, st, code, reason);
}

fn finish<S: System>(
    shared: &Shared<S>,
    core: &mut WorkerCore<S>,
    task: Task<S>,
    st: &mut ActorState<S>,
    code: Code<S>,
    reason: S::Reason,
) {
    // The actor's own state is dropped before anyone hears of its death.
    match code {
        Code::Pinned(fiber) => fiber.discard(&shared.stacks),
        Code::Ready(mut actor) => {
            actor.exited(&reason);
            drop(actor);
        }
    }
    finish_without_code(shared, core, task, st, reason);
}

/// Erlang's exit sequence: close the inbox, free the pid and the name, then
/// tell links (exit signals) and monitors (DOWN); last, free the slot.
fn finish_without_code<S: System>(
    shared: &Shared<S>,
    core: &mut WorkerCore<S>,
    task: Task<S>,
    st: &mut ActorState<S>,
    reason: S::Reason,
) {
    let me = st.pid;
    let leftovers = task.inbox.exit();
    st.rel.absorb_leftovers(leftovers);
    shared.table.retire(core.index);
    let name = if task.has_name.load(SeqCst) {
        shared.registry.remove_pid(me)
    } else {
        None
    };
    if let Some(token) = st.receive_timer.take() {
        shared.timers.cancel(token);
    }
    let mut waker = Waker::Local(core);
    // Links first, then monitors on this actor, then the monitors it held
    // (the order a watcher linked and monitoring sees them in).
    let relations = st.rel.take();
    for &r in &relations {
        if let Relation::Link(link) = r {
            let exit = Signal::Exit {
                from: me,
                reason: reason.clone(),
                linked: true,
            };
            shared.deliver(link, Item::Sig(exit), &mut waker);
        }
    }
    for &r in &relations {
        if let Relation::Watcher(mref, watcher) = r {
            let down = Signal::Down {
                mref,
                from: me,
                reason: reason.clone(),
            };
            shared.deliver(watcher, Item::Sig(down), &mut waker);
        }
    }
    for &r in &relations {
        if let Relation::Monitoring(mref, watched) = r {
            shared.deliver(watched, Item::Sig(Signal::Demonitor { mref }), &mut waker);
        }
    }
    let is_main = st.is_main;
    if !is_main {
        let observed = relations
            .iter()
            .any(|r| matches!(r, Relation::Link(_) | Relation::Watcher(..)));
        shared.system.actor_exited(me, name, &reason, observed);
    }
    // Undelivered messages go now, not when the slot is reused.
    st.recycle(me, false);
    // Last use of the state: from here the slot may hold a new actor.
    shared.table.free(me, &mut core.free_slots);
    if is_main {
        shared.main_exited(me, reason);
    }
}

fn is_string_panic(payload: &Box<dyn Any + Send>) -> bool {
    payload.is::<&'static str>() || payload.is::<String>()
}

fn panic_message(payload: &Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

#[cfg(all(test, not(valk_loom)))]
mod tests {
    //! The runner coroutine's edge cases: panics with and without a stack of
    //! their own, pinning and un-pinning, unwinding a pinned actor.

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use crate::api::{Actor, ExitReason, SpawnOpts, Step, System};
    use crate::pid::{MonitorRef, Pid};
    use crate::{Config, Cx, Runtime};

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Reason {
        Normal,
        Kill,
        Killed,
        NoProc,
        Panic(String),
        Custom(u64),
    }

    impl ExitReason for Reason {
        fn normal() -> Self {
            Reason::Normal
        }
        fn kill() -> Self {
            Reason::Kill
        }
        fn killed() -> Self {
            Reason::Killed
        }
        fn noproc() -> Self {
            Reason::NoProc
        }
        fn panicked(message: String) -> Self {
            Reason::Panic(message)
        }
        fn is_normal(&self) -> bool {
            *self == Reason::Normal
        }
        fn is_kill(&self) -> bool {
            *self == Reason::Kill
        }
    }

    #[derive(Debug)]
    enum Msg {
        Int(u64),
        From(Pid, u64),
        Down(Reason),
    }

    struct Sys;

    impl System for Sys {
        type Msg = Msg;
        type Reason = Reason;
        fn exit_message(&self, _: Pid, reason: &Reason) -> Msg {
            Msg::Down(reason.clone())
        }
        fn down_message(&self, _: MonitorRef, _: Pid, reason: &Reason) -> Msg {
            Msg::Down(reason.clone())
        }
    }

    const MONITOR: SpawnOpts = SpawnOpts {
        link: false,
        monitor: true,
    };

    fn runtime(schedulers: usize) -> Runtime<Sys> {
        Runtime::new(
            Sys,
            Config {
                schedulers,
                ..Config::default()
            },
        )
    }

    /// Waits (pinned) for the next message.
    fn next(cx: &mut Cx<'_, Sys>) -> Msg {
        loop {
            if let Some(m) = cx.receive() {
                return m;
            }
            cx.wait(None);
        }
    }

    /// Waits (pinned) for a DOWN and returns its reason.
    fn down(cx: &mut Cx<'_, Sys>) -> Reason {
        loop {
            if let Msg::Down(r) = next(cx) {
                return r;
            }
        }
    }

    /// A main actor written as straight-line code: one `run`, pinned.
    fn main_actor(f: impl FnOnce(&mut Cx<'_, Sys>) -> Reason + Send + 'static) -> impl Actor<Sys> {
        let mut f = Some(f);
        move |cx: &mut Cx<'_, Sys>| match f.take() {
            Some(f) => Step::Exit(f(cx)),
            None => Step::Exit(Reason::Custom(0)),
        }
    }

    /// Replies `n + 1` to every `From(pid, n)`, parking without a stack.
    fn echo() -> impl Actor<Sys> {
        |cx: &mut Cx<'_, Sys>| loop {
            match cx.receive() {
                Some(Msg::From(to, n)) => cx.send(to, Msg::Int(n + 1)),
                Some(_) => {}
                None => return Step::Park { timeout: None },
            }
        }
    }

    fn ask(cx: &mut Cx<'_, Sys>, to: Pid, n: u64) -> u64 {
        let me = cx.self_pid();
        cx.send(to, Msg::From(me, n));
        loop {
            if let Msg::Int(v) = next(cx) {
                return v;
            }
        }
    }

    #[test]
    fn a_non_string_panic_on_the_runner_ends_only_that_actor() {
        for schedulers in [1, 2] {
            let reason = runtime(schedulers).run_main(main_actor(|cx| {
                let (_, _) = cx.spawn(
                    |_: &mut Cx<'_, Sys>| -> Step<Reason> { std::panic::panic_any(7u32) },
                    MONITOR,
                );
                let r = down(cx);
                // The runner goes on: a stackless actor still answers.
                let (e, _) = cx.spawn(echo(), SpawnOpts::default());
                assert_eq!(ask(cx, e, 41), 42);
                r
            }));
            assert_eq!(
                reason,
                Reason::Panic("panic with a non-string payload".into())
            );
        }
    }

    #[test]
    fn panics_before_and_after_a_suspension_are_exit_reasons() {
        for string in [true, false] {
            let reason = runtime(2).run_main(main_actor(move |cx| {
                let (child, _) = cx.spawn(
                    move |cx: &mut Cx<'_, Sys>| -> Step<Reason> {
                        let _ = next(cx); // suspends: the runner is pinned
                        if string {
                            panic!("late");
                        }
                        std::panic::panic_any(7u32)
                    },
                    MONITOR,
                );
                cx.send(child, Msg::Int(1));
                let r = down(cx);
                let (e, _) = cx.spawn(echo(), SpawnOpts::default());
                assert_eq!(ask(cx, e, 1), 2);
                r
            }));
            let expected = if string {
                "late"
            } else {
                "panic with a non-string payload"
            };
            assert_eq!(reason, Reason::Panic(expected.into()));
        }
    }

    #[test]
    fn an_actor_alternates_between_pinned_and_stackless_slices() {
        let reason = runtime(2).run_main(main_actor(|cx| {
            let mut waits = 0u64;
            let (child, _) = cx.spawn(
                move |cx: &mut Cx<'_, Sys>| loop {
                    // Odd requests are answered after a pinned wait for a
                    // second message, even ones stackless.
                    match cx.receive() {
                        Some(Msg::From(to, n)) if n % 2 == 1 => {
                            waits += 1;
                            let m = next(cx);
                            let Msg::Int(k) = m else {
                                return Step::Exit(Reason::Custom(99));
                            };
                            cx.send(to, Msg::Int(n + k + waits * 1000));
                        }
                        Some(Msg::From(to, n)) => cx.send(to, Msg::Int(n)),
                        Some(_) => return Step::Exit(Reason::Custom(98)),
                        None => return Step::Park { timeout: None },
                    }
                },
                MONITOR,
            );
            let me = cx.self_pid();
            for n in 0..200u64 {
                cx.send(child, Msg::From(me, n));
                if n % 2 == 1 {
                    cx.send(child, Msg::Int(1));
                }
                let want = if n % 2 == 1 {
                    n + 1 + (n / 2 + 1) * 1000
                } else {
                    n
                };
                match next(cx) {
                    Msg::Int(v) if v == want => {}
                    other => panic!("round {n}: {other:?}, want {want}"),
                }
            }
            cx.exit_signal(child, Reason::Kill);
            down(cx)
        }));
        assert_eq!(reason, Reason::Killed);
    }

    #[test]
    fn killing_a_pinned_actor_unwinds_its_frames() {
        let dropped = Arc::new(AtomicBool::new(false));
        let seen = dropped.clone();
        let reason = runtime(2).run_main(main_actor(move |cx| {
            struct Guard(Arc<AtomicBool>);
            impl Drop for Guard {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let (child, _) = cx.spawn(
                move |cx: &mut Cx<'_, Sys>| -> Step<Reason> {
                    let _guard = Guard(dropped.clone());
                    loop {
                        cx.wait(None);
                    }
                },
                MONITOR,
            );
            // Let it start and suspend, then kill it.
            let (e, _) = cx.spawn(echo(), SpawnOpts::default());
            assert_eq!(ask(cx, e, 0), 1);
            cx.exit_signal(child, Reason::Kill);
            down(cx)
        }));
        assert_eq!(reason, Reason::Killed);
        assert!(
            seen.load(Ordering::SeqCst),
            "the pinned frames were not unwound"
        );
    }
}
