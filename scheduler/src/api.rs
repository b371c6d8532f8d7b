//! The contract between the scheduler and the language it hosts.
//!
//! The scheduler never looks inside messages or exit reasons: a [`System`]
//! names their types and builds the two messages the runtime itself has to
//! make (`{:EXIT pid reason}` for trapped exits, `{:DOWN ref pid reason}` for
//! monitors). An [`Actor`] is anything that can be run for a slice of time.

use std::time::Duration;

use crate::pid::{MonitorRef, Pid};

/// Default reduction budget of one scheduling slice (BEAM's figure).
pub const DEFAULT_REDUCTIONS: u32 = 4_000;

/// What an actor exits with. The scheduler needs a few distinguished reasons
/// to apply Erlang's exit-signal rules.
pub trait ExitReason: Clone + Send + 'static {
    /// `:normal`: does not kill linked actors.
    fn normal() -> Self;
    /// `:kill`: an exit signal that cannot be trapped.
    fn kill() -> Self;
    /// `:killed`: the reason of an actor that received `:kill`.
    fn killed() -> Self;
    /// `:noproc`: the reason reported when linking to or monitoring a dead pid.
    fn noproc() -> Self;
    /// The reason of an actor whose Rust code panicked (message included).
    fn panicked(message: String) -> Self;
    /// Is this `:normal`?
    fn is_normal(&self) -> bool;
    /// Is this `:kill`?
    fn is_kill(&self) -> bool;
    /// The reason of an actor whose mailbox could not grow (the system
    /// refused memory) while holding `bytes` (Valk: `{:heap-limit bytes}`).
    fn out_of_memory(_bytes: usize) -> Self {
        Self::killed()
    }
    /// Does an exit signal with this reason (not through a link) end the
    /// actor even if it traps exits, with this reason? For reasons the
    /// runtime itself sends (the memory governor's `{:heap-limit bytes}`).
    fn untrappable(&self) -> bool {
        false
    }
}

/// The hosted language's types, plugged into the runtime.
pub trait System: Send + Sync + 'static {
    /// A message (for Valk: an owned heap fragment).
    type Msg: Send + 'static;
    /// An exit reason.
    type Reason: ExitReason;
    /// The message a trapping actor receives for an exit signal: `{:EXIT from reason}`.
    fn exit_message(&self, from: Pid, reason: &Self::Reason) -> Self::Msg;
    /// The message a monitoring actor receives: `{:DOWN mref from reason}`.
    fn down_message(&self, mref: MonitorRef, from: Pid, reason: &Self::Reason) -> Self::Msg;
    /// Bytes a queued message holds that count against its receiver's
    /// memory until a receive is offered it ([`Cx::mailbox_bytes`]).
    ///
    /// [`Cx::mailbox_bytes`]: crate::Cx::mailbox_bytes
    fn message_bytes(_msg: &Self::Msg) -> usize {
        0
    }
    /// An actor other than the main one ended, after its links and
    /// monitors were told: `name` is the name it was registered under,
    /// `observed` whether any link or monitor received its exit (for crash
    /// reports of exits nothing took). Runs on the worker of its exit.
    fn actor_exited(&self, _pid: Pid, _name: Option<u64>, _reason: &Self::Reason, _observed: bool) {
    }
}

/// How a run of an actor ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<R> {
    /// The actor is finished, with this reason.
    Exit(R),
    /// Wait for a new message (or signal) or, with `timeout`, for the current
    /// receive's deadline. The deadline is fixed by the first `Park` of a
    /// receive and kept across wake-ups until [`Cx::receive_accept`],
    /// [`Cx::receive_done`] or a successful [`Cx::receive_matching`];
    /// `Some(Duration::ZERO)` times out at once.
    ///
    /// [`Cx::receive_accept`]: crate::Cx::receive_accept
    /// [`Cx::receive_done`]: crate::Cx::receive_done
    /// [`Cx::receive_matching`]: crate::Cx::receive_matching
    Park {
        /// The `:after` of the current receive, if any.
        timeout: Option<Duration>,
    },
    /// Out of reductions: run again later (goes to the back of the run queue).
    Yield,
}

#[cfg(not(valk_loom))]
/// An actor: state plus code that runs for one slice at a time.
///
/// `run` is called on a pooled coroutine stack. Returning [`Step::Park`] or
/// [`Step::Yield`] means the actor holds no native frames, so its stack goes
/// back to the pool and the next `run` may start on another stack and another
/// thread. Code that must keep native frames while waiting uses
/// [`Cx::wait`](crate::Cx::wait) / [`Cx::yield_now`](crate::Cx::yield_now).
pub trait Actor<S: System>: Send + 'static {
    /// Runs until the actor exits, parks or spends its reductions.
    fn run(&mut self, cx: &mut crate::Cx<'_, S>) -> Step<S::Reason>;

    /// Bytes of heap the actor owns, reported by `actor/info`.
    fn heap_bytes(&self) -> usize {
        0
    }

    /// The actor ends with `reason`, whatever the cause (its own return,
    /// an exit signal, a kill, the memory governor): called right before
    /// it is dropped, before its links and monitors hear of it. Not called
    /// when its coroutine is pinned at that moment (that stack is unwound
    /// instead, so `Drop` is the fallback).
    fn exited(&mut self, _reason: &S::Reason) {}
}

#[cfg(not(valk_loom))]
impl<S, F> Actor<S> for F
where
    S: System,
    F: FnMut(&mut crate::Cx<'_, S>) -> Step<S::Reason> + Send + 'static,
{
    fn run(&mut self, cx: &mut crate::Cx<'_, S>) -> Step<S::Reason> {
        self(cx)
    }
}

/// Options of [`Cx::spawn`](crate::Cx::spawn): link and/or monitor atomically.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpawnOpts {
    /// Link the child to the spawner before the child runs (`spawn-link`).
    pub link: bool,
    /// Monitor the child before it runs (`spawn-monitor`).
    pub monitor: bool,
}

/// What an actor is doing, for `actor/info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorStatus {
    /// Parked in a receive (or sleeping).
    Waiting,
    /// In a run queue.
    Runnable,
    /// On a worker right now.
    Running,
    /// Exited (about to disappear).
    Exiting,
}

/// Introspection figures (`actor/info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorInfo {
    /// Messages queued (received but not yet taken).
    pub mailbox_len: usize,
    /// Reductions spent so far (as of its last slice).
    pub reductions: u64,
    /// Scheduling status.
    pub status: ActorStatus,
    /// [`Actor::heap_bytes`] as of its last slice.
    pub heap_bytes: usize,
    /// Where it last began to wait ([`Cx::set_wait_site`]; 0: unknown).
    ///
    /// [`Cx::set_wait_site`]: crate::Cx::set_wait_site
    pub wait_site: u64,
}

/// An actor that waits with nothing able to wake it (see
/// [`Runtime::deadlock`](crate::Runtime::deadlock)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    pub pid: Pid,
    /// The name it is registered under.
    pub name: Option<u64>,
    /// [`ActorInfo::wait_site`].
    pub site: u64,
    /// Messages queued that its receive did not take.
    pub mailbox_len: usize,
}

/// Why [`Cx::wait`](crate::Cx::wait) returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitResult {
    /// Something new arrived (a message, or a signal that may have made one).
    Woken,
    /// The current receive's deadline passed.
    TimedOut,
}

/// Why `register` failed (Erlang's `badarg` cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// The name is already registered.
    NameTaken,
    /// The actor already has a name.
    AlreadyNamed,
    /// The actor is not alive.
    NotAlive,
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RegisterError::NameTaken => "name already registered",
            RegisterError::AlreadyNamed => "actor already has a registered name",
            RegisterError::NotAlive => "actor is not alive",
        })
    }
}

impl std::error::Error for RegisterError {}
