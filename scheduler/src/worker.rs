//! A worker thread: find an actor, run one slice of it, put it back.
//!
//! One slice, in order:
//! 1. take the body and pending items from the inbox (`begin_run`);
//! 2. apply the items: signals take effect, messages join the private queue;
//!    an exit decided by a signal ends the actor before it runs;
//! 3. start a coroutine on a pooled stack (or resume the pinned one) and run
//!    until it returns, suspends, or spends its reductions;
//! 4. exit, or arm the receive timeout and store the body back; the inbox
//!    tells whether something arrived meanwhile and the actor must requeue.
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
use crate::process::{ActorFiber, ActorState, Code, FiberOut, ItemOf, RunCtx, Suspend, Task, Yielded};
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
        let runner: ActorFiber<S> = Fiber::new(core.take_stack(shared), runner_body::<S>);
        core.runner_limit = runner.limit();
        let ctx = RunCtx {
            shared,
            core: &mut core,
            cell: std::ptr::null(),
            st: std::ptr::null_mut(),
        };
        match runner.resume(ctx) {
            // The runtime stops.
            Resumed::Finished(_, stack) => {
                core.put_stack(shared, stack);
                break;
            }
            Resumed::Suspended(fiber, (why, task)) => {
                // SAFETY: the actor suspended during its slice, so this worker
                // still holds its run right (see `Cell::state`); the fiber is
                // suspended, so nothing else uses the state.
                let st = unsafe { &mut *task.state() };
                let outcome = suspended_outcome(why);
                after_run(shared, &mut core, task, st, Some(Code::Pinned(fiber)), outcome);
            }
        }
    }
    drop(core.drain(shared));
}

/// How a slice ended.
enum Outcome<R> {
    Exit(R),
    Park(Option<Duration>),
    Yield,
}

fn step_outcome<R>(step: Step<R>) -> Outcome<R> {
    match step {
        Step::Exit(reason) => Outcome::Exit(reason),
        Step::Park { timeout } => Outcome::Park(timeout),
        Step::Yield => Outcome::Yield,
    }
}

fn suspended_outcome<R>(why: Suspend) -> Outcome<R> {
    match why {
        Suspend::Yield => Outcome::Yield,
        Suspend::Park(timeout) => Outcome::Park(timeout),
    }
}

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
) -> Option<(Box<dyn Actor<S>>, Step<S::Reason>)> {
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
    let (code, outcome) = match code {
        Code::Ready(mut actor) => {
            st.stack_limit = core.runner_limit;
            let ctx = RunCtx {
                shared,
                core: core_ptr,
                cell: &*task,
                st: std::ptr::from_mut(st),
            };
            let mut cx = Cx::new(me, ctx, yielder);
            let result = catch_unwind(AssertUnwindSafe(|| actor.run(&mut cx)));
            let pinned = cx.pinned();
            drop(cx);
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
            (Some(Code::Ready(actor)), step_outcome(step))
        }
        Code::Pinned(fiber) => {
            st.stack_limit = fiber.limit();
            let ctx = RunCtx {
                shared,
                core: core_ptr,
                cell: &*task,
                st: std::ptr::from_mut(st),
            };
            match catch_unwind(AssertUnwindSafe(|| fiber.resume(ctx))) {
                Ok(Resumed::Finished(FiberOut::Done(actor, step), stack)) => {
                    // SAFETY: the fiber has finished; nothing else uses the core.
                    unsafe { (*core_ptr).put_stack(shared, stack) };
                    task.stats.heap_bytes.store(actor.heap_bytes(), Relaxed);
                    (Some(Code::Ready(actor)), step_outcome(step))
                }
                // A pinned runner never loops again, so it cannot stop; were
                // it to, the actor would be gone with it.
                Ok(Resumed::Finished(FiberOut::Stopped, stack)) => {
                    // SAFETY: as above.
                    unsafe { (*core_ptr).put_stack(shared, stack) };
                    (None, Outcome::Exit(S::Reason::panicked(String::new())))
                }
                Ok(Resumed::Suspended(fiber, (why, _))) => {
                    (Some(Code::Pinned(fiber)), suspended_outcome(why))
                }
                // A panic payload the coroutine could not turn into a reason
                // itself (not a string): the coroutine and its stack are gone.
                Err(payload) => (
                    None,
                    Outcome::Exit(S::Reason::panicked(panic_message(&payload))),
                ),
            }
        }
    };
    // SAFETY: the actor's slice is over; no other reference to the core is
    // live (the `Cx` is gone, a pinned fiber is suspended or finished).
    let core = unsafe { &mut *core_ptr };
    after_run(shared, core, task, st, code, outcome);
    None
}

fn after_run<S: System>(
    shared: &Shared<S>,
    core: &mut WorkerCore<S>,
    task: Task<S>,
    st: &mut ActorState<S>,
    code: Option<Code<S>>,
    outcome: Outcome<S::Reason>,
) {
    let Some(code) = code else {
        let reason = st
            .dying
            .take()
            .unwrap_or_else(|| S::Reason::panicked(String::new()));
        return finish_without_code(shared, core, task, st, reason);
    };
    if let Some(reason) = st.dying.take() {
        return finish(shared, core, task, st, code, reason);
    }
    let requeue = match outcome {
        Outcome::Exit(reason) => return finish(shared, core, task, st, code, reason),
        Outcome::Yield => true,
        Outcome::Park(timeout) => match timeout {
            _ if st.timed_out => true,
            Some(after) if st.receive_timer.is_none() => {
                if after.is_zero() {
                    st.timed_out = true;
                    true
                } else {
                    st.receive_timer = Some(shared.arm_timeout(st.pid, after));
                    false
                }
            }
            _ => false,
        },
    };
    task.stats.reductions.store(st.reductions, Relaxed);
    task.stats.mailbox_len.store(st.mailbox.len(), Relaxed);
    // Hands the run right back: `st` is not touched after this.
    if task.inbox.finish_run(code, requeue) == AfterRun::Requeue {
        core.schedule_local(shared, task);
    }
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
        Code::Ready(actor) => drop(actor),
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
    if task.has_name.load(SeqCst) {
        shared.registry.remove_pid(me);
    }
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
