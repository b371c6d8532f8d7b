//! The REPL's evaluator: the main session actor of a runtime, so `spawn`,
//! `send`, `receive` and `self` work at the prompt and the main actor's
//! mailbox lasts from line to line. The line editor keeps the process's
//! main thread (it owns the terminal); each complete input is a job for the
//! session actor, which is parked between inputs (no polling).

use std::cell::Cell;

use crate::cli::session::{Reply, Session};

/// A runtime whose main actor evaluates the inputs it is given.
pub struct ReplRuntime {
    session: Session,
    source: &'static str,
    /// The status the session ended with (`(exit N)`, or 1 when the main
    /// actor was killed).
    ended: Cell<Option<i32>>,
    /// An input is being evaluated (Ctrl-C interrupts it then).
    pub busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl ReplRuntime {
    /// Starts the runtime on `schedulers` threads (0: the default); `source`
    /// names the inputs in error locations.
    pub fn start(source: &'static str, schedulers: usize) -> Result<ReplRuntime, String> {
        Ok(ReplRuntime {
            session: Session::new(schedulers)?,
            source,
            ended: Cell::new(None),
            busy: Default::default(),
        })
    }

    /// Evaluates one complete input in the main actor. `None` when the
    /// session has ended: after `(exit N)`, or the main actor was killed by
    /// an exit signal (a linked actor's crash).
    pub fn eval(&self, input: String) -> Option<Reply> {
        if self.ended.get().is_some() {
            return None;
        }
        self.busy.store(true, std::sync::atomic::Ordering::SeqCst);
        let reply = self.session.eval_line(&input, self.source);
        self.busy.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Reply::Exit(status) = reply {
            self.ended.set(Some(status));
        }
        Some(reply)
    }

    /// Interrupts the evaluation in progress from any thread (Ctrl-C).
    pub fn interrupter(&self) -> valk_runtime::session::Interrupter {
        self.session.interrupter()
    }

    /// The names bound in the runtime now (for Tab completion).
    pub fn bound_names(&self) -> Vec<String> {
        if self.ended.get().is_some() {
            return Vec::new();
        }
        self.session.bound_names()
    }

    /// No more input: stops the runtime and returns the process status
    /// (`(exit N)`'s N, 0 at end of input, 1 when the main actor was killed).
    pub fn finish(self) -> i32 {
        let status = self.ended.get().unwrap_or(0);
        self.session.finish();
        status
    }
}
