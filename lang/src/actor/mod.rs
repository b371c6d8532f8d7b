//! Actors for Valk: the [`System`](valk_scheduler::System) plugged into the
//! scheduler, the actor body around an [`Interp`], and the actor builtins
//! (`spawn`, `send`, `receive`, links, monitors, names, timers).
//!
//! `receive` is a special form the compiler turns into a scan loop (see
//! `compiler/receive.rs`) over a message queue local to the actor (adopted
//! values, GC roots) with a save index, so a selective receive scans each
//! message once per receive. A spawned actor waiting in it parks without
//! native frames; the main actor waits keeping its stack (`Cx::wait`).

mod body;
pub(crate) mod builtins;
#[allow(unsafe_code)]
mod host;
pub mod system;

use std::time::Instant;

use valk_heap::Value;
use valk_scheduler::{Config, Cx, Runtime};

pub use body::Body;
pub use host::{hosted, hosted_with};
pub use system::{Reason, ValkSystem};
pub use valk_scheduler::Cx as SchedCx;

use crate::Interp;

/// The actor-side state an interpreter carries.
#[derive(Default)]
pub(crate) struct Local {
    pub(crate) host: host::HostPtr,
    /// Messages taken from the scheduler, oldest first (GC roots).
    pub(crate) mailbox: std::collections::VecDeque<Value>,
    /// Messages before this index were rejected by the current receive.
    pub(crate) save: usize,
    /// The current receive's `:after` deadline.
    pub(crate) deadline: Option<Instant>,
    /// The reason `(exit reason)` asked this actor to end with.
    pub(crate) exit_reason: Option<Box<Reason>>,
    /// The driver handles `RunOutcome::WaitingForMessage` (a spawned
    /// [`Body`]); otherwise a receive must wait keeping the native stack.
    pub(crate) parkable: bool,
}

/// The reason `(exit reason)` gave, if the interpreter stopped for one.
pub fn take_exit_reason(it: &mut Interp) -> Option<Reason> {
    it.actor.exit_reason.take().map(|r| *r)
}

/// Valk source loaded into the main actor before the program: `sleep`.
pub const PRELUDE: &str = r#"
(fun {sleep __ms} {receive {:after __ms :ok}})
"#;

/// Runs `main` as the main actor of a fresh runtime with `schedulers`
/// workers (0: the default); returns the main actor's exit reason.
pub fn run_main<F>(schedulers: usize, main: F) -> Reason
where
    F: FnOnce(&mut Cx<'_, ValkSystem>) -> Reason + Send + 'static,
{
    let mut config = Config::default();
    if schedulers > 0 {
        config.schedulers = schedulers;
    }
    let rt = Runtime::new(ValkSystem, config);
    let mut main = Some(main);
    rt.run_main(move |cx: &mut Cx<'_, ValkSystem>| match main.take() {
        Some(f) => valk_scheduler::Step::Exit(f(cx)),
        None => valk_scheduler::Step::Exit(Reason::Normal),
    })
}

/// Loads [`PRELUDE`] into `it` (once per runtime: globals are shared).
pub fn load_prelude(it: &mut Interp) -> Result<(), crate::ValkError> {
    it.eval_source(PRELUDE, "<actor prelude>").map(|_| ())
}
