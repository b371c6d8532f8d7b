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
use crate::pid::Pid;
use crate::process::{ActorState, Code, FiberOut, ItemOf, RunCtx, Suspend, Task};
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
    while let Some(task) = core.queue.next_task(&shared.queues) {
        run_task(shared, &mut core, task);
    }
    drop(core.drain(shared));
}

/// How a slice ended.
enum Outcome<R> {
    Exit(R),
    Park(Option<Duration>),
    Yield,
}

fn run_task<S: System>(shared: &Shared<S>, core: &mut WorkerCore<S>, task: Task<S>) {
    let mut items = std::mem::take(&mut core.scratch);
    let Some(code) = task.inbox.begin_run(&mut items) else {
        core.scratch = items;
        return;
    };
    // SAFETY: `begin_run` gave this worker the run right: the state is ours
    // until `finish_run` / `exit` (see `Cell::state`), and nothing else
    // borrows it while this reference is used (the coroutine gets a raw
    // pointer and runs only inside `resume` below, while `st` is not used).
    let st = unsafe { &mut *task.state() };
    let me = st.pid;
    for item in items.drain(..) {
        st.apply(&shared.system, me, item);
    }
    core.scratch = items;
    if let Some(reason) = st.dying.take() {
        return finish(shared, core, task, st, code, reason);
    }
    // A full budget at the start of every slice, also when a pinned
    // coroutine resumes after `Cx::yield_now` / `Cx::wait`.
    st.budget = shared.config.reductions;
    let fiber = match code {
        Code::Pinned(fiber) => fiber,
        Code::Ready(actor) => {
            let stack = core.take_stack(shared);
            Fiber::new(stack, actor_body::<S>(me, actor))
        }
    };
    st.stack_limit = fiber.limit();
    let ctx = RunCtx {
        shared,
        core: &mut *core,
        cell: &*task,
        st: std::ptr::from_mut(st),
    };
    let resumed = catch_unwind(AssertUnwindSafe(|| fiber.resume(ctx)));
    let (code, outcome) = match resumed {
        Ok(Resumed::Finished((actor, step), stack)) => {
            core.put_stack(shared, stack);
            task.stats.heap_bytes.store(actor.heap_bytes(), Relaxed);
            let outcome = match step {
                Step::Exit(reason) => Outcome::Exit(reason),
                Step::Park { timeout } => Outcome::Park(timeout),
                Step::Yield => Outcome::Yield,
            };
            (Some(Code::Ready(actor)), outcome)
        }
        Ok(Resumed::Suspended(fiber, Suspend::Yield)) => {
            (Some(Code::Pinned(fiber)), Outcome::Yield)
        }
        Ok(Resumed::Suspended(fiber, Suspend::Park(t))) => {
            (Some(Code::Pinned(fiber)), Outcome::Park(t))
        }
        // A panic payload the coroutine could not turn into a reason itself
        // (not a string): the coroutine and its stack are gone.
        Err(payload) => (
            None,
            Outcome::Exit(S::Reason::panicked(panic_message(&payload))),
        ),
    };
    after_run(shared, core, task, st, code, outcome);
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

/// The body of a fresh coroutine: one `run` of the actor.
fn actor_body<S: System>(
    pid: Pid,
    mut actor: Box<dyn Actor<S>>,
) -> impl FnOnce(&Yielder<RunCtx<S>, Suspend>, RunCtx<S>) -> FiberOut<S> + Send + 'static {
    move |yielder, ctx| {
        let step = {
            let mut cx = Cx::new(pid, ctx, yielder);
            match catch_unwind(AssertUnwindSafe(|| actor.run(&mut cx))) {
                Ok(step) => step,
                Err(payload) if is_string_panic(&payload) => {
                    Step::Exit(S::Reason::panicked(panic_message(&payload)))
                }
                // Not a panic of the actor's code: corosensei's forced unwind
                // of a discarded coroutine (or an exotic payload); let it go on.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        };
        (actor, step)
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
