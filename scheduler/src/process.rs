//! The per-actor control block and the state only the running worker touches.
//!
//! Split in two so that idle actors stay small and senders never contend with
//! the actor's own code:
//! - [`Cell`] is shared (behind an `Arc`, in the actor table and run queues):
//!   pid, inbox (with the body while the actor is not running), a few stats.
//! - [`ActorState`] is owned by whoever runs the actor: private mailbox with
//!   its save position, links and monitors, trap-exit flag, receive timer,
//!   reduction budget.

use std::time::Duration;

use crate::api::{Actor, ActorInfo, ActorStatus, Step, System};
use crate::coroutine::Fiber;
use crate::mailbox::{Inbox, Mailbox, RunState};
use crate::pid::Pid;
use crate::queue::run_queue::WorkerCore;
use crate::runtime::Shared;
use crate::signal::{exit_action, ExitAction, Item, Relations, Signal};
use crate::sync::{Arc, AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

pub(crate) type ItemOf<S> = Item<<S as System>::Msg, <S as System>::Reason>;
pub(crate) type Task<S> = Arc<Cell<S>>;

/// Why a pinned coroutine suspended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Suspend {
    Yield,
    Park(Option<Duration>),
}

/// What a coroutine is resumed with: where it runs now. Re-read after every
/// suspension, because a pinned coroutine may resume on another worker.
pub(crate) struct RunCtx<S: System> {
    pub(crate) shared: *const Shared<S>,
    pub(crate) core: *mut WorkerCore<S>,
    pub(crate) cell: *const Cell<S>,
    pub(crate) st: *mut ActorState<S>,
}

pub(crate) type FiberOut<S> = (Box<dyn Actor<S>>, Step<<S as System>::Reason>);
pub(crate) type ActorFiber<S> = Fiber<RunCtx<S>, Suspend, FiberOut<S>>;

/// The actor's code: ready to start a fresh run, or suspended mid-run.
pub(crate) enum Code<S: System> {
    Ready(Box<dyn Actor<S>>),
    Pinned(ActorFiber<S>),
}

/// Everything a worker takes out of the inbox to run the actor.
pub(crate) struct Body<S: System> {
    pub(crate) st: Box<ActorState<S>>,
    pub(crate) code: Code<S>,
}

/// Figures other actors may read (`actor/info`), refreshed after each run.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) reductions: AtomicU64,
    pub(crate) mailbox_len: AtomicUsize,
    pub(crate) heap_bytes: AtomicUsize,
}

/// The shared control block.
pub(crate) struct Cell<S: System> {
    pub(crate) pid: Pid,
    pub(crate) inbox: Inbox<ItemOf<S>, Body<S>>,
    /// Set (under the registry lock, before the liveness check) when the
    /// actor gets a name; the dying actor reads it after closing its inbox,
    /// so either `register` sees the actor dead or the actor sees the flag.
    pub(crate) has_name: AtomicBool,
    pub(crate) is_main: bool,
    pub(crate) stats: Stats,
}

impl<S: System> Cell<S> {
    pub(crate) fn new(pid: Pid, body: Body<S>, is_main: bool) -> Self {
        Cell {
            pid,
            inbox: Inbox::new_queued(body),
            has_name: AtomicBool::new(false),
            is_main,
            stats: Stats::default(),
        }
    }

    pub(crate) fn info(&self) -> ActorInfo {
        let status = match self.inbox.state() {
            RunState::Waiting => ActorStatus::Waiting,
            RunState::Queued => ActorStatus::Runnable,
            RunState::Running => ActorStatus::Running,
            RunState::Exited => ActorStatus::Exiting,
        };
        ActorInfo {
            mailbox_len: self.stats.mailbox_len.load(Relaxed) + self.inbox.pending_messages(),
            reductions: self.stats.reductions.load(Relaxed),
            status,
            heap_bytes: self.stats.heap_bytes.load(Relaxed),
        }
    }
}

/// State owned by the running worker.
pub(crate) struct ActorState<S: System> {
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
    pub(crate) fn new() -> Self {
        ActorState {
            mailbox: Mailbox::default(),
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

    /// Takes one incoming item: messages join the private queue, signals
    /// take effect now (before any message is delivered).
    pub(crate) fn apply(&mut self, system: &S, me: Pid, item: ItemOf<S>) {
        let signal = match item {
            Item::Msg(msg) => return self.mailbox.push(msg),
            Item::Sig(signal) => signal,
        };
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
            Signal::Monitor { from, mref } => self.rel.watchers.push((mref, from)),
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
        }
    }
}
