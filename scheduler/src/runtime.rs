//! The runtime: configuration, the state every worker shares, delivery of
//! messages and signals, and start-up / shutdown.

use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crate::api::{
    Actor, ActorInfo, ActorStatus, ExitReason, RegisterError, System, Waiter, DEFAULT_REDUCTIONS,
};
use crate::gate::Gate;
use crate::mailbox::{Push, RunState};
use crate::pid::{Pid, TimerRef};
use crate::process::{ActorState, Code, ItemOf, Task};
use crate::queue::run_queue::Queues;
use crate::registry::Registry;
use crate::signal::{Item, Signal};
use crate::stack_pool::{StackPool, DEFAULT_STACK_SIZE};
use crate::sync::{
    Arc, AtomicBool, AtomicU64, Condvar, Mutex, Ordering::Relaxed, Ordering::SeqCst,
};
use crate::table::Table;
use crate::timer::TimerService;
use crate::worker::{self, WorkerCore};

/// The pid used as the sender of exit signals sent from outside any actor.
pub const EXTERNAL_PID: Pid = Pid::new(u32::MAX, u32::MAX);

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads. Default: the `VALK_SCHEDULERS` environment variable if
    /// it is a positive number, else the number of available cores.
    pub schedulers: usize,
    /// Bytes per coroutine stack (carved from the stack pool's regions).
    pub stack_size: usize,
    /// Reduction budget of one slice.
    pub reductions: u32,
}

impl Default for Config {
    fn default() -> Self {
        let from_env = std::env::var("VALK_SCHEDULERS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Config {
            schedulers: from_env.unwrap_or(cores),
            stack_size: DEFAULT_STACK_SIZE,
            reductions: DEFAULT_REDUCTIONS,
        }
    }
}

/// What a timer carries.
pub(crate) enum TimerPayload<S: System> {
    Send { to: Pid, msg: S::Msg },
    Timeout { to: Pid, token: u64 },
}

/// How a newly runnable actor gets onto a run queue.
pub(crate) enum Waker<'a, S: System> {
    /// Woken by a message from this worker: its LIFO slot.
    Lifo(&'a mut WorkerCore<S>),
    /// Made runnable on this worker: its queue.
    Local(&'a mut WorkerCore<S>),
    /// From outside the workers: the injector.
    Remote,
}

struct MainState<R> {
    pid: Option<Pid>,
    reason: Option<R>,
}

/// Sends messages to a runtime's actors from anywhere (any thread, inside
/// or outside an actor, no `Cx` needed: a system hook, a Rust future that
/// resolves a Valk one, a host thread). Holds the runtime weakly.
pub struct Mailer<S: System> {
    shared: std::sync::Weak<Shared<S>>,
}

impl<S: System> Clone for Mailer<S> {
    fn clone(&self) -> Self {
        Mailer {
            shared: self.shared.clone(),
        }
    }
}

impl<S: System> Mailer<S> {
    pub(crate) fn of(shared: &Shared<S>) -> Self {
        Mailer {
            shared: shared.me.clone(),
        }
    }

    /// Sends `msg` to `to` (dropped if `to` is dead); false if the runtime
    /// is gone.
    pub fn send(&self, to: Pid, msg: S::Msg) -> bool {
        match self.shared.upgrade() {
            Some(shared) => {
                shared.deliver(to, Item::Msg(msg), &mut Waker::Remote);
                true
            }
            None => false,
        }
    }
}

/// State shared by every worker, the timer thread and the [`Runtime`] handle.
pub(crate) struct Shared<S: System> {
    /// This runtime, weakly: for wakers that outlive a slice
    /// (`future.rs`).
    pub(crate) me: std::sync::Weak<Shared<S>>,
    pub(crate) system: S,
    pub(crate) config: Config,
    pub(crate) table: Table<S>,
    pub(crate) registry: Registry,
    pub(crate) timers: TimerService<TimerPayload<S>>,
    /// Injector, stealers and idle workers.
    pub(crate) queues: Queues<Task<S>>,
    /// Spawns from outside the workers pass it (see `gate.rs`).
    gate: Gate,
    /// Every actor has been dropped (`clear_actors` ran).
    cleared: AtomicBool,
    /// Actors inside `Cx::await_future` now: work outside the runtime
    /// (I/O, the blocking pool) may still wake them, so no deadlock is
    /// declared while any is.
    pub(crate) awaiting_futures: std::sync::atomic::AtomicUsize,
    next_ref: AtomicU64,
    main: Mutex<MainState<S::Reason>>,
    main_cv: Condvar,
    /// Last: dropped after everything that may still own a stack.
    pub(crate) stacks: StackPool,
}

impl<S: System> Shared<S> {
    /// A fresh unique id (refs, monitors, timers).
    pub(crate) fn next_ref(&self) -> u64 {
        self.next_ref.fetch_add(1, Relaxed)
    }

    /// Creates an actor (already `Queued`; `init` sets up its links and
    /// monitors before anyone can reach it); the caller schedules it.
    pub(crate) fn create(
        &self,
        core: Option<&mut WorkerCore<S>>,
        actor: Box<dyn Actor<S>>,
        main: bool,
        init: impl FnOnce(&mut ActorState<S>),
    ) -> (Task<S>, Pid) {
        let mut pid = EXTERNAL_PID;
        let worker = core.map(|core| (core.index, &mut core.free_slots));
        let task = self.table.insert(worker, main, Code::Ready(actor), |st| {
            pid = st.pid;
            init(st);
        });
        (task, pid)
    }

    pub(crate) fn schedule(&self, task: Task<S>, waker: &mut Waker<'_, S>) {
        match waker {
            Waker::Lifo(core) => core.schedule_lifo(self, task),
            Waker::Local(core) => core.schedule_local(self, task),
            Waker::Remote => self.queues.push_remote(task),
        }
    }

    /// Delivers a message or signal. To a dead pid: messages are dropped;
    /// link and monitor requests are answered with `:noproc`.
    pub(crate) fn deliver(&self, to: Pid, item: ItemOf<S>, waker: &mut Waker<'_, S>) {
        let is_message = matches!(item, Item::Msg(_));
        let rejected = match self.table.get(to) {
            None => item,
            Some(cell) => match cell.inbox.push(to.to_u64(), item, is_message) {
                Push::Queued => return,
                Push::Schedule => return self.schedule(cell, waker),
                Push::Rejected(item) => item,
            },
        };
        match rejected {
            Item::Sig(Signal::Link { from }) => {
                let reason = S::Reason::noproc();
                let exit = Signal::Exit {
                    from: to,
                    reason,
                    linked: true,
                };
                self.deliver(from, Item::Sig(exit), waker);
            }
            Item::Sig(Signal::Monitor { from, mref }) => {
                let reason = S::Reason::noproc();
                let down = Signal::Down {
                    mref,
                    from: to,
                    reason,
                };
                self.deliver(from, Item::Sig(down), waker);
            }
            _ => {}
        }
    }

    pub(crate) fn alive(&self, pid: Pid) -> bool {
        self.table.get(pid).is_some_and(|cell| {
            cell.inbox
                .state_of(pid.to_u64())
                .is_some_and(|(state, _)| state != RunState::Exited)
        })
    }

    pub(crate) fn info(&self, pid: Pid) -> Option<ActorInfo> {
        self.table.get(pid)?.info(pid)
    }

    /// Every live actor's pid. O(actors ever made).
    pub(crate) fn actor_pids(&self) -> Vec<Pid> {
        self.table
            .snapshot()
            .into_iter()
            .filter_map(|task| Some(Pid::from_u64(task.inbox.live_key()?)))
            .collect()
    }

    pub(crate) fn register(&self, name: u64, pid: Pid) -> Result<(), RegisterError> {
        let cell = self.table.get(pid).ok_or(RegisterError::NotAlive)?;
        self.registry.register(name, pid, || {
            // On a stale pid this may mark the slot's next actor: harmless,
            // it only makes that actor look up its own (absent) name at exit.
            cell.has_name.store(true, SeqCst);
            cell.inbox
                .state_of(pid.to_u64())
                .is_some_and(|(state, _)| state != RunState::Exited)
        })
    }

    pub(crate) fn send_after(&self, delay: Duration, to: Pid, msg: S::Msg) -> TimerRef {
        let id = self.next_ref();
        self.timers
            .insert(id, Instant::now() + delay, TimerPayload::Send { to, msg });
        TimerRef(id)
    }

    /// Arms a receive timeout for `to`; returns its token.
    pub(crate) fn arm_timeout(&self, to: Pid, after: Duration) -> u64 {
        let token = self.next_ref();
        self.timers.insert(
            token,
            Instant::now() + after,
            TimerPayload::Timeout { to, token },
        );
        token
    }

    fn fire(&self, payload: TimerPayload<S>) {
        let (to, item) = match payload {
            TimerPayload::Send { to, msg } => (to, Item::Msg(msg)),
            TimerPayload::Timeout { to, token } => (to, Item::Sig(Signal::Timeout { token })),
        };
        self.deliver(to, item, &mut Waker::Remote);
    }

    pub(crate) fn main_exited(&self, pid: Pid, reason: S::Reason) {
        let mut main = self.main.lock();
        if main.pid == Some(pid) {
            main.reason = Some(reason);
            self.main_cv.notify_all();
        }
    }

    /// First half of shutdown, safe from any thread (workers included) and
    /// idempotent: no more spawns from outside, workers and the timer thread
    /// told to stop, pending timers dropped, `wait_main` callers woken.
    fn begin_shutdown(&self) {
        self.gate.close();
        self.queues.idle.shutdown();
        self.timers.shutdown();
        let _main = self.main.lock();
        self.main_cv.notify_all();
    }

    /// Second half: drops every actor (code, pinned stack, messages,
    /// relations) and settles the main actor's fate (`killed` if it had not
    /// ended). Runs once; later calls return at once.
    ///
    /// # Safety
    ///
    /// No worker may be running any more (all joined, or gone because this is
    /// the last reference): the caller then holds the run right of every
    /// actor. Spawns from outside are excluded here through the gate.
    unsafe fn clear_actors(&self) {
        if self.cleared.swap(true, SeqCst) {
            return;
        }
        self.gate.close();
        self.gate.wait_empty();
        self.queues.clear_injector();
        for cell in self.table.snapshot() {
            let (code, items) = cell.inbox.close();
            drop(items);
            match code {
                Some(Code::Pinned(fiber)) => fiber.discard(&self.stacks),
                Some(Code::Ready(actor)) => drop(actor),
                None => {}
            }
            // SAFETY: no worker runs (the caller's contract), and the gate is
            // closed and empty, so no spawner fills in a recycled state: the
            // state is ours to clear.
            let st = unsafe { &mut *cell.state() };
            // Messages and relations go now (they may own resources); the
            // cell itself goes with the table.
            st.recycle(st.pid, false);
        }
        let mut main = self.main.lock();
        if main.reason.is_none() {
            main.reason = Some(S::Reason::killed());
        }
        self.main_cv.notify_all();
    }
}

impl<S: System> Drop for Shared<S> {
    fn drop(&mut self) {
        // SAFETY: this was the last reference, so every worker and the timer
        // thread have finished (each held one). Normally `Runtime::shutdown`
        // cleared the actors already; this covers a shutdown begun on a
        // worker thread, which could not join the workers itself.
        unsafe { self.clear_actors() };
    }
}

/// A running scheduler: worker threads, a timer thread, and the actor table.
///
/// Every method takes `&self` and the runtime is `Send + Sync`, so one
/// runtime can be shared (`Arc<Runtime<S>>`) by many threads and by the
/// actors it runs. [`Runtime::shutdown`] (or dropping the runtime, or
/// [`Runtime::run_main`] returning) stops everything: threads are joined and
/// every remaining actor is dropped, parked ones too. Afterwards
/// [`Runtime::spawn`] and [`Runtime::send`] still work but do nothing useful:
/// messages are dropped, and a spawn drops its actor and returns a pid that is
/// never alive.
///
/// An actor that keeps a handle on its own runtime keeps the runtime alive:
/// call [`Runtime::shutdown`] to end it.
pub struct Runtime<S: System> {
    shared: Arc<Shared<S>>,
    stop: Mutex<Stop>,
    stopped: Condvar,
    /// This runtime's worker and timer threads.
    own_threads: Vec<ThreadId>,
}

/// Who stops the threads, and when they are stopped.
struct Stop {
    threads: Vec<JoinHandle<()>>,
    phase: Phase,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// This thread is joining the threads and dropping the actors.
    Stopping(ThreadId),
    Stopped,
}

/// Marks the shutdown finished, even if dropping an actor panicked.
struct StoppedGuard<'a, S: System>(&'a Runtime<S>);

impl<S: System> Drop for StoppedGuard<'_, S> {
    fn drop(&mut self) {
        self.0.stop.lock().phase = Phase::Stopped;
        self.0.stopped.notify_all();
    }
}

impl<S: System> Runtime<S> {
    /// Starts `config.schedulers` worker threads and the timer thread.
    ///
    /// With no actor yet the workers park at once (no CPU is used) and wait
    /// for [`Runtime::spawn`] / [`Runtime::start_main`].
    pub fn new(system: S, config: Config) -> Self {
        let workers = config.schedulers.max(1);
        let (queues, locals) = Queues::new(workers);
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            system,
            stacks: StackPool::new(config.stack_size),
            config,
            table: Table::new(workers),
            registry: Registry::default(),
            timers: TimerService::new(),
            queues,
            gate: Gate::default(),
            cleared: AtomicBool::new(false),
            awaiting_futures: std::sync::atomic::AtomicUsize::new(0),
            next_ref: AtomicU64::new(1),
            main: Mutex::new(MainState {
                pid: None,
                reason: None,
            }),
            main_cv: Condvar::new(),
        });
        let mut threads = Vec::with_capacity(workers + 1);
        for queue in locals {
            let shared = Arc::clone(&shared);
            let thread = std::thread::Builder::new()
                .name(format!("valk-worker-{}", queue.index()))
                .spawn(move || worker::worker_main(&shared, WorkerCore::new(queue)));
            threads.extend(thread.ok());
        }
        if threads.is_empty() {
            // Could not start any worker thread: run nothing rather than hang.
            eprintln!("valk-scheduler: no worker thread could be started");
        }
        let timer_shared = Arc::clone(&shared);
        let timer = std::thread::Builder::new()
            .name("valk-timer".into())
            .spawn(move || {
                timer_shared
                    .timers
                    .run(|payload| timer_shared.fire(payload))
            });
        threads.extend(timer.ok());
        let own_threads = threads.iter().map(|t| t.thread().id()).collect();
        Runtime {
            shared,
            stop: Mutex::new(Stop {
                threads,
                phase: Phase::Running,
            }),
            stopped: Condvar::new(),
            own_threads,
        }
    }

    /// The system this runtime was built with.
    pub fn system(&self) -> &S {
        &self.shared.system
    }

    /// The configuration this runtime was built with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Spawns an actor from outside the runtime (or from an actor holding a
    /// handle on it). After shutdown the actor is dropped and the pid
    /// returned ([`EXTERNAL_PID`]) is never alive.
    pub fn spawn(&self, actor: impl Actor<S>) -> Pid {
        let Some(_pass) = self.shared.gate.enter() else {
            return EXTERNAL_PID;
        };
        let (task, pid) = self.shared.create(None, Box::new(actor), false, |_| {});
        self.shared.schedule(task, &mut Waker::Remote);
        pid
    }

    /// Sends a message from outside the runtime (dropped if `to` is dead or
    /// the runtime is shut down).
    pub fn send(&self, to: Pid, msg: S::Msg) {
        self.shared.deliver(to, Item::Msg(msg), &mut Waker::Remote);
    }

    /// A [`Mailer`] for this runtime.
    pub fn mailer(&self) -> Mailer<S> {
        Mailer {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// Sends to a registered name; false if the name is not registered.
    pub fn send_named(&self, name: u64, msg: S::Msg) -> bool {
        match self.shared.registry.whereis(name) {
            Some(pid) => {
                self.send(pid, msg);
                true
            }
            None => false,
        }
    }

    /// `exit(pid, reason)` from outside any actor (sender: [`EXTERNAL_PID`]).
    pub fn exit_signal(&self, to: Pid, reason: S::Reason) {
        let exit = Signal::Exit {
            from: EXTERNAL_PID,
            reason,
            linked: false,
        };
        self.shared.deliver(to, Item::Sig(exit), &mut Waker::Remote);
    }

    /// Makes `to` run if it is parked, without a message: for an actor
    /// that takes work from its host outside its mailbox (a host pushes the
    /// work, then wakes it; the inbox protocol makes the wake-up certain).
    pub fn wake(&self, to: Pid) {
        self.shared
            .deliver(to, Item::Sig(Signal::Wake), &mut Waker::Remote);
    }

    /// Is `pid` alive?
    pub fn alive(&self, pid: Pid) -> bool {
        self.shared.alive(pid)
    }

    /// Introspection for `pid`, if alive.
    pub fn info(&self, pid: Pid) -> Option<ActorInfo> {
        self.shared.info(pid)
    }

    /// Looks up a registered name.
    pub fn whereis(&self, name: u64) -> Option<Pid> {
        self.shared.registry.whereis(name)
    }

    /// The live actor holding the most memory by its last report
    /// ([`Actor::heap_bytes`], refreshed after each of its slices), with
    /// that figure. O(actors ever made): for rare checks (the memory
    /// governor), not for hot paths.
    pub fn heaviest_actor(&self) -> Option<(Pid, usize)> {
        self.shared
            .table
            .snapshot()
            .into_iter()
            .filter_map(|task| {
                let pid = Pid::from_u64(task.inbox.live_key()?);
                Some((pid, task.stats.heap_bytes.load(Relaxed)))
            })
            .max_by_key(|&(_, bytes)| bytes)
    }

    /// Is the program stuck? `Some(waiters)` when every live actor waits
    /// (in a receive without a deadline: a deadline is a pending timer),
    /// no timer is pending, and nothing changed in `settle` (the same
    /// actors, each with the same reductions and queue, still waiting):
    /// then nothing inside the runtime can wake any of them. Only the
    /// host may (a message from outside, an I/O completion), so only a
    /// host that has none pending may conclude the program is deadlocked.
    /// O(actors ever made), twice.
    pub fn deadlock(&self, settle: Duration) -> Option<Vec<Waiter>> {
        let first = self.waiting_snapshot()?;
        std::thread::sleep(settle);
        let second = self.waiting_snapshot()?;
        if first != second {
            return None;
        }
        Some(
            second
                .into_iter()
                .map(|(pid, info)| Waiter {
                    pid,
                    name: self.shared.registry.name_of(pid),
                    site: info.wait_site,
                    mailbox_len: info.mailbox_len,
                })
                .collect(),
        )
    }

    /// Every live actor with its info, if all wait and no timer is pending.
    fn waiting_snapshot(&self) -> Option<Vec<(Pid, ActorInfo)>> {
        if self.shared.timers.pending() > 0 || self.shared.awaiting_futures.load(Relaxed) > 0 {
            return None;
        }
        let mut all = Vec::new();
        for pid in self.shared.actor_pids() {
            let info = self.shared.info(pid)?;
            if info.status != ActorStatus::Waiting {
                return None;
            }
            all.push((pid, info));
        }
        if self.shared.timers.pending() > 0 {
            return None;
        }
        all.sort_by_key(|(p, _)| p.to_u64());
        Some(all)
    }

    /// Every live actor's pid (`actor/list`). O(actors ever made).
    pub fn actor_pids(&self) -> Vec<Pid> {
        self.shared.actor_pids()
    }

    /// The name `pid` is registered under.
    pub fn name_of(&self, pid: Pid) -> Option<u64> {
        self.shared.registry.name_of(pid)
    }

    /// Actors alive right now.
    pub fn actor_count(&self) -> usize {
        self.shared.table.len()
    }

    /// Stack regions reserved so far (each is one kernel mapping).
    pub fn stack_regions(&self) -> usize {
        self.shared.stacks.regions()
    }

    /// Spawns `actor` as the main actor, the one [`Runtime::wait_main`]
    /// waits for. One main actor at a time: starting another makes the new
    /// one the main actor. After shutdown the actor is dropped and the pid
    /// returned ([`EXTERNAL_PID`]) is never alive.
    pub fn start_main(&self, actor: impl Actor<S>) -> Pid {
        let Some(_pass) = self.shared.gate.enter() else {
            return EXTERNAL_PID;
        };
        let (task, pid) = self.shared.create(None, Box::new(actor), true, |_| {});
        {
            let mut main = self.shared.main.lock();
            main.pid = Some(pid);
            main.reason = None;
        }
        // Scheduled only now: it cannot end before it is known as main.
        self.shared.schedule(task, &mut Waker::Remote);
        pid
    }

    /// Blocks until the main actor ends and returns its exit reason (again
    /// on every call). Does not shut the runtime down.
    ///
    /// If the runtime shuts down first, waits for the shutdown to finish and
    /// returns `killed` (also when no main actor was started). Called before
    /// [`Runtime::start_main`], it waits for a main actor to be started and
    /// end. Do not call it from an actor of this runtime: it blocks a worker.
    pub fn wait_main(&self) -> S::Reason {
        self.wait_main_until(None).unwrap_or_else(S::Reason::killed)
    }

    /// [`Runtime::wait_main`] giving up after `timeout`: `None` if the main
    /// actor is still running then.
    pub fn wait_main_timeout(&self, timeout: Duration) -> Option<S::Reason> {
        let deadline = Instant::now().checked_add(timeout);
        match deadline {
            Some(deadline) => self.wait_main_until(Some(deadline)),
            // Too far away to represent: as good as forever.
            None => Some(self.wait_main()),
        }
    }

    fn wait_main_until(&self, deadline: Option<Instant>) -> Option<S::Reason> {
        {
            let mut main = self.shared.main.lock();
            loop {
                if let Some(reason) = &main.reason {
                    return Some(reason.clone());
                }
                if self.is_shut_down() {
                    break;
                }
                main = match deadline {
                    None => self.shared.main_cv.wait(main),
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return None;
                        }
                        self.shared.main_cv.wait_timeout(main, left)
                    }
                };
            }
        }
        // Shutdown has begun (maybe from an actor, which cannot finish it):
        // finish it, so that the main actor's fate is settled.
        self.shutdown();
        let main = self.shared.main.lock();
        Some(main.reason.clone().unwrap_or_else(S::Reason::killed))
    }

    /// Runs `actor` as the main actor and blocks until it ends; then shuts the
    /// runtime down, even if other actors are still alive, and returns the
    /// main actor's exit reason ([`Runtime::start_main`],
    /// [`Runtime::wait_main`], [`Runtime::shutdown`]).
    pub fn run_main(self, actor: impl Actor<S>) -> S::Reason {
        self.start_main(actor);
        let reason = self.wait_main();
        self.shutdown();
        reason
    }

    /// True once shutdown has begun ([`Runtime::shutdown`] or drop).
    pub fn is_shut_down(&self) -> bool {
        self.shared.queues.idle.is_shutdown()
    }

    /// Stops the workers and the timer thread, joins them and drops every
    /// actor. Idempotent; concurrent callers return when the shutdown is
    /// complete.
    ///
    /// Called on one of this runtime's own threads (from an actor), it cannot
    /// join the thread it runs on: it only begins the shutdown (no more
    /// spawns from outside, workers stop after their current slice, timers
    /// dropped) and returns. Another caller of `shutdown`, a `wait_main`
    /// caller, or dropping the runtime then finishes the job; if the last
    /// handle goes on a worker, the last thread to stop drops the actors.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
        let me = std::thread::current().id();
        if self.own_threads.contains(&me) {
            return;
        }
        let threads = {
            let mut stop = self.stop.lock();
            loop {
                match stop.phase {
                    Phase::Stopped => return,
                    // Called again while dropping an actor (its `Drop`):
                    // waiting for ourselves would never end.
                    Phase::Stopping(by) if by == me => return,
                    Phase::Stopping(_) => stop = self.stopped.wait(stop),
                    Phase::Running => {
                        stop.phase = Phase::Stopping(me);
                        break std::mem::take(&mut stop.threads);
                    }
                }
            }
        };
        let _done = StoppedGuard(self);
        for thread in threads {
            // A worker that panicked has nothing left to clean up.
            let _ = thread.join();
        }
        // SAFETY: every worker and the timer thread have been joined (a
        // thread that could not be started never ran), so nobody else holds
        // the run right of any actor.
        unsafe { self.shared.clear_actors() };
    }
}

impl<S: System> Drop for Runtime<S> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Step;
    use crate::cx::Cx;

    #[test]
    fn runtime_is_send_and_sync_for_every_system() {
        // A static assertion: `every_system` is type-checked for every `S`,
        // so this compiles only if `Runtime<S>: Send + Sync` always holds.
        fn shareable<T: Send + Sync>() {}
        fn every_system<S: System>() {
            shareable::<Runtime<S>>();
        }
        every_system::<Sys>();
    }

    use crate::test_system::{Sys, R};

    /// CPU time (clock ticks) of this process's scheduler threads, read from
    /// `/proc`. Only this test makes a runtime in the unit-test binary.
    fn scheduler_cpu_ticks() -> u64 {
        let mut ticks = 0;
        for task in std::fs::read_dir("/proc/self/task").expect("procfs") {
            let path = task.expect("task entry").path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if !comm.starts_with("valk-") {
                continue;
            }
            let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
            // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after.split_whitespace().collect();
            let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
            ticks += field(14).unwrap_or(0) + field(15).unwrap_or(0);
        }
        ticks
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn without_actors_workers_park_and_an_outside_spawn_wakes_one() {
        let workers = 2;
        let rt = Runtime::new(
            Sys,
            Config {
                schedulers: workers,
                ..Config::default()
            },
        );
        let idle = &rt.shared.queues.idle;
        wait_for("every worker parked", || idle.sleeping() == workers);
        // Parked in the kernel: no CPU time accrues (a tick is 10 ms; a
        // spinning worker would take ~30 of them here).
        let before = scheduler_cpu_ticks();
        std::thread::sleep(Duration::from_millis(300));
        let spent = scheduler_cpu_ticks() - before;
        assert!(spent <= 2, "idle scheduler threads used {spent} ticks");
        assert_eq!(idle.sleeping(), workers);

        let (tx, rx) = std::sync::mpsc::channel();
        let pid = rt.spawn(move |cx: &mut Cx<'_, Sys>| match cx.receive() {
            Some(n) => {
                tx.send(n).ok();
                Step::Exit(R)
            }
            None => Step::Park { timeout: None },
        });
        wait_for("the spawned actor parked", || {
            rt.info(pid)
                .is_some_and(|i| i.status == crate::api::ActorStatus::Waiting)
        });
        rt.send(pid, 7);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).ok(), Some(7));
        wait_for("workers parked again", || idle.sleeping() == workers);
        rt.shutdown();
    }
}
