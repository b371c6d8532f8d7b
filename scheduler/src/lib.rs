//! # valk-scheduler
//!
//! Valk's actor runtime: an M:N work-stealing scheduler running Erlang-style
//! actors as coroutines, with generational pids, mailboxes with selective
//! receive, links, monitors, exit signals, timers and reductions.
//!
//! The scheduler knows nothing of Valk values: a [`System`] names the message
//! and exit-reason types and builds the runtime's own messages (`{:EXIT ..}`,
//! `{:DOWN ..}`). An [`Actor`] runs one slice at a time through a [`Cx`].
//!
//! ```
//! use valk_scheduler::{Actor, Config, Cx, ExitReason, MonitorRef, Pid, Runtime, SpawnOpts, Step, System};
//!
//! #[derive(Clone, Debug, PartialEq)]
//! enum Reason { Normal, Kill, Killed, NoProc, Panic(String) }
//! impl ExitReason for Reason {
//!     fn normal() -> Self { Reason::Normal }
//!     fn kill() -> Self { Reason::Kill }
//!     fn killed() -> Self { Reason::Killed }
//!     fn noproc() -> Self { Reason::NoProc }
//!     fn panicked(m: String) -> Self { Reason::Panic(m) }
//!     fn is_normal(&self) -> bool { *self == Reason::Normal }
//!     fn is_kill(&self) -> bool { *self == Reason::Kill }
//! }
//! struct Sys;
//! impl System for Sys {
//!     type Msg = u64;
//!     type Reason = Reason;
//!     fn exit_message(&self, _: Pid, _: &Reason) -> u64 { u64::MAX }
//!     fn down_message(&self, _: MonitorRef, _: Pid, _: &Reason) -> u64 { u64::MAX - 1 }
//! }
//!
//! // The main actor spawns a doubler, asks it for 21 * 2, and exits.
//! let mut asked = false;
//! let main = move |cx: &mut Cx<'_, Sys>| {
//!     if !asked {
//!         asked = true;
//!         let me = cx.self_pid();
//!         let (child, _) = cx.spawn(move |cx: &mut Cx<'_, Sys>| match cx.receive() {
//!             Some(n) => { cx.send(me, n * 2); Step::Exit(Reason::Normal) }
//!             None => Step::Park { timeout: None },
//!         }, SpawnOpts::default());
//!         cx.send(child, 21);
//!     }
//!     match cx.receive() {
//!         Some(42) => Step::Exit(Reason::Normal),
//!         Some(_) => Step::Exit(Reason::NoProc),
//!         None => Step::Park { timeout: None },
//!     }
//! };
//! let rt = Runtime::new(Sys, Config { schedulers: 2, ..Config::default() });
//! assert_eq!(rt.run_main(main), Reason::Normal);
//! ```
//!
//! Actors that return [`Step::Park`] / [`Step::Yield`] give their stack back
//! to the pool; code with native frames pinned uses [`Cx::wait`] /
//! [`Cx::yield_now`], which keep it. See `docs/scheduler.md` for the design
//! and `docs/runtime-semantics.md` for the guarantees.

#![cfg_attr(valk_loom, allow(dead_code))]

#[cfg(not(valk_loom))]
pub mod address_space;
mod api;
#[cfg(not(valk_loom))]
mod asan;
mod future;
mod gate;
mod idle;
mod mailbox;
mod pid;
mod queue;
mod signal;
mod sync;

#[cfg(not(valk_loom))]
mod coroutine;
#[cfg(not(valk_loom))]
mod cx;
#[cfg(not(valk_loom))]
mod process;
#[cfg(not(valk_loom))]
mod registry;
#[cfg(not(valk_loom))]
mod runtime;
#[cfg(not(valk_loom))]
mod stack_pool;
#[cfg(not(valk_loom))]
mod table;
#[cfg(not(valk_loom))]
mod timer;
#[cfg(not(valk_loom))]
mod worker;

#[cfg(all(test, valk_loom))]
mod loom_tests;
#[cfg(all(test, not(valk_loom)))]
mod test_system;

#[cfg(not(valk_loom))]
pub use api::Actor;
pub use api::{
    ActorInfo, ActorStatus, ExitReason, RegisterError, SpawnOpts, Step, System, WaitResult, Waiter,
    DEFAULT_REDUCTIONS,
};
pub use mailbox::queued_message_bytes;
pub use pid::{MonitorRef, Pid, TimerRef};

#[cfg(not(valk_loom))]
pub use cx::Cx;
pub use queue::run_queue::{GLOBAL_QUEUE_INTERVAL, MAX_LIFO_STREAK};
#[cfg(not(valk_loom))]
pub use runtime::{Config, Mailer, Runtime, EXTERNAL_PID};
#[cfg(not(valk_loom))]
pub use stack_pool::{DEFAULT_STACK_SIZE, STACK_RED_ZONE};
