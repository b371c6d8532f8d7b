//! How a whole program ends when any actor asks: `(shutdown N)`.
//!
//! The runtime remembers its main actor (the one [`Handle::main_session`]
//! started) and the first status `shutdown` asked for. `shutdown` in another
//! actor records the status and kills the main actor (an untrappable exit
//! signal), so the host waiting on the main actor wakes, reads the status
//! ([`Handle::shutdown_status`]) and ends the program with it.
//!
//! [`Handle::main_session`]: crate::Handle::main_session
//! [`Handle::shutdown_status`]: crate::Handle::shutdown_status

use valk_scheduler::Pid;
use valk_sync::Mutex;

/// The main actor and the status a `shutdown` asked for.
#[derive(Default)]
pub struct ProgramEnd {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    main: Option<Pid>,
    status: Option<i32>,
}

impl ProgramEnd {
    /// `pid` is now the main actor.
    pub(crate) fn set_main(&self, pid: Pid) {
        self.inner.lock().main = Some(pid);
    }

    /// The main actor, if one was started.
    pub(crate) fn main(&self) -> Option<Pid> {
        self.inner.lock().main
    }

    /// Records `status` as the program's; the first request wins (two
    /// actors shutting down at once end the program with one of them).
    pub(crate) fn request_shutdown(&self, status: i32) {
        self.inner.lock().status.get_or_insert(status);
    }

    /// The status a `shutdown` asked for, if any did.
    pub fn shutdown_status(&self) -> Option<i32> {
        self.inner.lock().status
    }
}
