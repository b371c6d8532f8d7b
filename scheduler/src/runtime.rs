//! The runtime: configuration, the state every worker shares, delivery of
//! messages and signals, and start-up / shutdown.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Stealer, Worker};

use crate::api::{Actor, ActorInfo, ExitReason, RegisterError, System, DEFAULT_REDUCTIONS};
use crate::idle::Idle;
use crate::mailbox::{Push, RunState};
use crate::pid::{Pid, TimerRef};
use crate::process::{ActorState, Code, ItemOf, Task};
use crate::queue::run_queue::WorkerCore;
use crate::registry::Registry;
use crate::signal::{Item, Signal};
use crate::stack_pool::{StackPool, DEFAULT_STACK_SIZE};
use crate::sync::{Arc, AtomicU64, Condvar, Mutex, Ordering::Relaxed, Ordering::SeqCst};
use crate::table::Table;
use crate::timer::TimerService;
use crate::worker;

/// The pid used as the sender of exit signals sent from outside any actor.
pub const EXTERNAL_PID: Pid = Pid::new(u32::MAX, u32::MAX);

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads. Default: the `VALK_SCHEDULERS` environment variable if
    /// it is a positive number, else the number of available cores.
    pub schedulers: usize,
    /// Bytes per coroutine stack (see [`StackPool`]).
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

/// State shared by every worker, the timer thread and the [`Runtime`] handle.
pub(crate) struct Shared<S: System> {
    pub(crate) system: S,
    pub(crate) config: Config,
    pub(crate) table: Table<S>,
    pub(crate) registry: Registry,
    pub(crate) timers: TimerService<TimerPayload<S>>,
    pub(crate) injector: Injector<Task<S>>,
    pub(crate) stealers: Vec<Stealer<Task<S>>>,
    pub(crate) idle: Idle,
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

    pub(crate) fn has_visible_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
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
            Waker::Remote => {
                self.injector.push(task);
                self.idle.notify_one();
            }
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
}

/// A running scheduler: worker threads, a timer thread, and the actor table.
///
/// Dropping it (or [`Runtime::run_main`] returning) shuts everything down:
/// threads are joined and every remaining actor is dropped, parked ones too.
pub struct Runtime<S: System> {
    shared: Arc<Shared<S>>,
    threads: Vec<JoinHandle<()>>,
}

impl<S: System> Runtime<S> {
    /// Starts `config.schedulers` worker threads and the timer thread.
    pub fn new(system: S, config: Config) -> Self {
        let workers = config.schedulers.max(1);
        let locals: Vec<Worker<Task<S>>> = (0..workers).map(|_| Worker::new_fifo()).collect();
        let shared = Arc::new(Shared {
            system,
            stacks: StackPool::new(config.stack_size),
            config,
            table: Table::new(workers),
            registry: Registry::default(),
            timers: TimerService::new(),
            injector: Injector::new(),
            stealers: locals.iter().map(Worker::stealer).collect(),
            idle: Idle::new(workers),
            next_ref: AtomicU64::new(1),
            main: Mutex::new(MainState {
                pid: None,
                reason: None,
            }),
            main_cv: Condvar::new(),
        });
        let mut threads = Vec::with_capacity(workers + 1);
        for (index, local) in locals.into_iter().enumerate() {
            let shared = Arc::clone(&shared);
            let thread = std::thread::Builder::new()
                .name(format!("valk-worker-{index}"))
                .spawn(move || worker::worker_main(&shared, WorkerCore::new(index, local)));
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
        Runtime { shared, threads }
    }

    /// The system this runtime was built with.
    pub fn system(&self) -> &S {
        &self.shared.system
    }

    /// Spawns an actor from outside the runtime.
    pub fn spawn(&self, actor: impl Actor<S>) -> Pid {
        let (task, pid) = self.shared.create(None, Box::new(actor), false, |_| {});
        self.shared.schedule(task, &mut Waker::Remote);
        pid
    }

    /// Sends a message from outside the runtime (dropped if `to` is dead).
    pub fn send(&self, to: Pid, msg: S::Msg) {
        self.shared.deliver(to, Item::Msg(msg), &mut Waker::Remote);
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

    /// Actors alive right now.
    pub fn actor_count(&self) -> usize {
        self.shared.table.len()
    }

    /// Stack regions reserved so far (each is one kernel mapping).
    pub fn stack_regions(&self) -> usize {
        self.shared.stacks.regions()
    }

    /// Runs `actor` as the main actor and blocks until it ends; then shuts the
    /// runtime down, even if other actors are still alive, and returns the
    /// main actor's exit reason.
    pub fn run_main(mut self, actor: impl Actor<S>) -> S::Reason {
        let (task, pid) = self.shared.create(None, Box::new(actor), true, |_| {});
        self.shared.main.lock().pid = Some(pid);
        self.shared.schedule(task, &mut Waker::Remote);
        let reason = {
            let mut main = self.shared.main.lock();
            loop {
                if let Some(reason) = main.reason.take() {
                    break reason;
                }
                main = self.shared.main_cv.wait(main);
            }
        };
        self.stop();
        reason
    }

    /// Stops the workers and drops every actor.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.shared.idle.shutdown();
        self.shared.timers.shutdown();
        for thread in self.threads.drain(..) {
            // A worker that panicked has nothing left to clean up.
            let _ = thread.join();
        }
        while !self.shared.injector.steal().is_empty() {}
        for cell in self.shared.table.snapshot() {
            let (code, items) = cell.inbox.close();
            drop(items);
            match code {
                Some(Code::Pinned(fiber)) => fiber.discard(&self.shared.stacks),
                Some(Code::Ready(actor)) => drop(actor),
                None => {}
            }
            // SAFETY: every worker has been joined, so nobody else holds the
            // run right of any actor: the state is ours to clear.
            let st = unsafe { &mut *cell.state() };
            // Messages and relations go now (they may own resources); the
            // cell itself goes with the table.
            st.recycle(st.pid, false);
        }
    }
}

impl<S: System> Drop for Runtime<S> {
    fn drop(&mut self) {
        self.stop();
    }
}
