//! The per-actor control block, recycled from one actor to the next.
//!
//! A [`Cell`] is allocated once per table slot and lives as long as the
//! runtime: when an actor exits, its slot (and cell) go to the next actor
//! spawned there, under a new generation. That makes a spawn allocation-free
//! apart from the actor's own box, and lets senders find an actor without
//! reference counting (a [`Task`] is a plain pointer).
//!
//! The cell has two halves so that senders never contend with the actor:
//! - the shared half: inbox (with the code while the actor is not running,
//!   and the owner's pid, checked under the inbox lock), a few stats;
//! - [`ActorState`], owned by whoever runs the actor: private mailbox with
//!   its save position, links and monitors, trap-exit flag, receive timer,
//!   reduction budget. It is only touched between a successful
//!   [`Inbox::begin_run`] and the matching `finish_run` / `exit` (or while
//!   the slot is free, by the spawner that took it).

use std::cell::UnsafeCell;
use std::ops::Deref;
use std::ptr::NonNull;
use std::time::Duration;

use crate::api::{Actor, ActorInfo, ActorStatus, ExitReason, Step, System};
use crate::coroutine::Fiber;
use crate::mailbox::{Inbox, Mailbox, RunState};
use crate::pid::Pid;
use crate::runtime::Shared;
use crate::signal::{exit_action, ExitAction, Item, Relations, Signal};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use crate::worker::WorkerCore;

pub(crate) type ItemOf<S> = Item<<S as System>::Msg, <S as System>::Reason>;

/// A handle on a control block, as held by run queues and workers.
///
/// Just a pointer: cells are owned by the actor table and freed only when
/// the runtime's shared state is dropped, after every worker has stopped.
pub(crate) struct Task<S: System>(NonNull<Cell<S>>);

impl<S: System> Task<S> {
    /// `cell` must be owned by the actor table (see the type's docs).
    pub(crate) fn from_table(cell: NonNull<Cell<S>>) -> Self {
        Task(cell)
    }
}

impl<S: System> Clone for Task<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: System> Copy for Task<S> {}

impl<S: System> Deref for Task<S> {
    type Target = Cell<S>;

    fn deref(&self) -> &Cell<S> {
        // SAFETY: tasks are made only by the actor table from its own boxed
        // cells (`Task::from_table`), which it frees only in its `Drop`; the
        // table lives in the runtime's `Shared`, which outlives every worker,
        // run queue user and timer that can hold a task. The cell's shared
        // half is `Sync` (mutex, atomics); its `UnsafeCell` state is reached
        // only through `Cell::state`, under the protocol documented there.
        unsafe { self.0.as_ref() }
    }
}

// SAFETY: a task is a pointer to a cell that outlives every thread that uses
// it (see `Deref`); everything shared in a cell is behind a mutex or atomics,
// and the `ActorState` moves between threads only with the right to run the
// actor (handed over under the inbox lock). Messages and reasons are `Send`.
unsafe impl<S: System> Send for Task<S> {}
// SAFETY: as for `Send`: `&Task` only gives `&Cell`, whose shared half is
// synchronized and whose private half needs the run right.
unsafe impl<S: System> Sync for Task<S> {}

/// Why a pinned coroutine suspended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Suspend {
    Yield,
    Park(Option<Duration>),
}

/// What a coroutine yields: why, and the actor it now belongs to.
pub(crate) type Yielded<S> = (Suspend, Task<S>);

/// What a coroutine is resumed with: where it runs now. Re-read after every
/// suspension, because a pinned coroutine may resume on another worker.
/// A runner is started with `cell` and `st` null (it finds its actors).
pub(crate) struct RunCtx<S: System> {
    pub(crate) shared: *const Shared<S>,
    pub(crate) core: *mut WorkerCore<S>,
    pub(crate) cell: *const Cell<S>,
    pub(crate) st: *mut ActorState<S>,
}

/// How a runner coroutine (the worker loop, `worker.rs`) ends.
pub(crate) enum FiberOut<S: System> {
    /// The runtime stops.
    Stopped,
    /// It was pinned to an actor, whose slice has now ended like this.
    Done(Box<dyn Actor<S>>, Step<<S as System>::Reason>),
}

pub(crate) type ActorFiber<S> = Fiber<RunCtx<S>, Yielded<S>, FiberOut<S>>;

/// The actor's code: ready to start a fresh run, or suspended mid-run.
pub(crate) enum Code<S: System> {
    Ready(Box<dyn Actor<S>>),
    /// Boxed: pinning is rare, and a small `Code` is cheap to move in and
    /// out of the inbox at every slice.
    Pinned(Box<ActorFiber<S>>),
}

/// Figures other actors may read (`actor/info`), refreshed after each run.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) reductions: AtomicU64,
    pub(crate) mailbox_len: AtomicUsize,
    pub(crate) heap_bytes: AtomicUsize,
    /// Where the actor last began to wait (its system's code, see
    /// [`Cx::set_wait_site`](crate::Cx::set_wait_site)); 0: unknown.
    pub(crate) wait_site: AtomicU64,
}

/// The control block.
pub(crate) struct Cell<S: System> {
    /// Keyed by the owner's pid; holds the code while the actor is not running.
    pub(crate) inbox: Inbox<ItemOf<S>, Code<S>>,
    /// Set (under the registry lock, before the liveness check) when the
    /// actor gets a name; the dying actor reads it after closing its inbox,
    /// so either `register` sees the actor dead or the actor sees the flag.
    pub(crate) has_name: AtomicBool,
    pub(crate) stats: Stats,
    st: UnsafeCell<ActorState<S>>,
}

impl<S: System> Cell<S> {
    /// A cell for a new actor, already `Queued`.
    pub(crate) fn new(st: ActorState<S>, code: Code<S>) -> Self {
        Cell {
            inbox: Inbox::new_queued(st.pid.to_u64(), code),
            has_name: AtomicBool::new(false),
            stats: Stats::default(),
            st: UnsafeCell::new(st),
        }
    }

    /// The private state. Dereferencing it is allowed only to the holder of
    /// the run right: the worker between a successful `inbox.begin_run` and
    /// the matching `finish_run` / `exit` (and the coroutine it runs), the
    /// spawner that took the free slot before `inbox.reopen`, or shutdown
    /// after every worker has stopped. The inbox lock orders the hand-overs.
    pub(crate) fn state(&self) -> *mut ActorState<S> {
        self.st.get()
    }

    /// Introspection for actor `pid`; `None` if it is gone.
    pub(crate) fn info(&self, pid: Pid) -> Option<ActorInfo> {
        let key = pid.to_u64();
        let (state, pending) = self.inbox.state_of(key)?;
        let status = match state {
            RunState::Waiting => ActorStatus::Waiting,
            RunState::Queued => ActorStatus::Runnable,
            RunState::Running => ActorStatus::Running,
            RunState::Exited => return None,
        };
        let info = ActorInfo {
            mailbox_len: self.stats.mailbox_len.load(Relaxed) + pending,
            reductions: self.stats.reductions.load(Relaxed),
            status,
            heap_bytes: self.stats.heap_bytes.load(Relaxed),
            wait_site: self.stats.wait_site.load(Relaxed),
        };
        // Stats are reset when the cell is recycled, which changes the key:
        // seeing the same key again means they were this actor's.
        self.inbox.state_of(key)?;
        Some(info)
    }
}

/// State owned by the running worker.
pub(crate) struct ActorState<S: System> {
    /// The actor's pid (the slot's current generation).
    pub(crate) pid: Pid,
    pub(crate) is_main: bool,
    pub(crate) mailbox: Mailbox<S::Msg>,
    pub(crate) rel: Relations,
    pub(crate) trap_exit: bool,
    /// Timer id of the current receive's `:after`, if armed.
    pub(crate) receive_timer: Option<u64>,
    /// The current receive's deadline passed.
    pub(crate) timed_out: bool,
    /// A signal decided that this actor exits; it does at its next switch.
    pub(crate) dying: Option<S::Reason>,
    pub(crate) budget: u32,
    pub(crate) reductions: u64,
    /// Usable lower bound of the stack the actor runs on now.
    pub(crate) stack_limit: usize,
}

impl<S: System> ActorState<S> {
    pub(crate) fn new(pid: Pid, is_main: bool) -> Self {
        ActorState {
            pid,
            is_main,
            mailbox: Mailbox::with_size(S::message_bytes),
            rel: Relations::default(),
            trap_exit: false,
            receive_timer: None,
            timed_out: false,
            dying: None,
            budget: 0,
            reductions: 0,
            stack_limit: 0,
        }
    }

    /// Makes a dead actor's state ready for the slot's next actor `pid`,
    /// keeping small buffers (warm memory) and dropping anything left over.
    pub(crate) fn recycle(&mut self, pid: Pid, is_main: bool) {
        let mut mailbox = std::mem::take(&mut self.mailbox);
        mailbox.recycle();
        *self = ActorState::new(pid, is_main);
        self.mailbox = mailbox;
    }

    /// Takes one incoming item: messages join the private queue, signals
    /// take effect now (before any message is delivered).
    #[inline]
    pub(crate) fn apply(&mut self, system: &S, me: Pid, item: ItemOf<S>) {
        match item {
            Item::Msg(msg) => {
                if let Err(msg) = self.mailbox.try_push(msg) {
                    // Out of memory for the queue: the message is lost and
                    // the actor ends, as over its heap limit.
                    drop(msg);
                    let bytes = self.mailbox.bytes();
                    self.dying.get_or_insert(S::Reason::out_of_memory(bytes));
                }
            }
            Item::Sig(signal) => self.apply_signal(system, me, signal),
        }
    }

    #[inline(never)]
    fn apply_signal(&mut self, system: &S, me: Pid, signal: Signal<S::Reason>) {
        match signal {
            Signal::Exit {
                from,
                reason,
                linked,
            } => {
                // An exit through a link we no longer have (we unlinked) is stale.
                if linked && !self.rel.remove_link(from) {
                    return;
                }
                match exit_action(&reason, linked, self.trap_exit, from == me) {
                    ExitAction::Ignore => {}
                    ExitAction::Trap => self.mailbox.push(system.exit_message(from, &reason)),
                    ExitAction::Die(reason) => {
                        self.dying.get_or_insert(reason);
                    }
                }
            }
            Signal::Link { from } => self.rel.add_link(from),
            Signal::Unlink { from } => {
                self.rel.remove_link(from);
            }
            Signal::Monitor { from, mref } => self.rel.add_watcher(mref, from),
            Signal::Demonitor { mref } => self.rel.remove_watcher(mref),
            Signal::Down { mref, from, reason } => {
                // After demonitor, a DOWN still in flight is dropped.
                if self.rel.remove_monitoring(mref).is_some() {
                    self.mailbox.push(system.down_message(mref, from, &reason));
                }
            }
            Signal::Timeout { token } => {
                if self.receive_timer == Some(token) {
                    self.receive_timer = None;
                    self.timed_out = true;
                }
            }
            Signal::Wake => {}
        }
    }
}
