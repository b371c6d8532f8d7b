//! The REPL's evaluator: a [`Session`] running as the main actor of an actor
//! runtime on a thread of its own, so `spawn`, `send`, `receive` and `self`
//! work at the prompt and the main actor's mailbox lasts from line to line.
//!
//! The line editor keeps the process's main thread (it owns the terminal) and
//! hands each complete input over a channel; the main actor evaluates it and
//! sends the [`Reply`] back. Between inputs the main actor waits in short
//! slices ([`Cx::wait`](valk_scheduler::Cx::wait) keeps its stack and frees
//! the worker for other actors) and looks at the channel after each.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use valk_lang::actor::Reason;

use crate::cli::run::status_of;
use crate::cli::session::{ActorCx, Reply, Session};

/// How long the idle main actor waits before it looks for input again: the
/// most a new input waits before it starts to run.
const IDLE_SLICE: Duration = Duration::from_millis(10);

/// A runtime whose main actor evaluates the inputs it is given.
pub struct ReplRuntime {
    inputs: Sender<String>,
    replies: Receiver<Reply>,
    runtime: JoinHandle<i32>,
}

impl ReplRuntime {
    /// Starts the runtime on `schedulers` threads (0: the default) with
    /// `session` in its main actor; `source` names the inputs in error
    /// locations.
    pub fn start(
        session: Session,
        source: &'static str,
        schedulers: usize,
    ) -> Result<ReplRuntime, String> {
        let (inputs, input_rx) = mpsc::channel::<String>();
        let (reply_tx, replies) = mpsc::channel::<Reply>();
        let mut session = session;
        let runtime = std::thread::Builder::new()
            .name("valk-runtime".to_owned())
            .spawn(move || {
                let reason = valk_lang::actor::run_main(schedulers, move |cx| {
                    Reason::Status(serve(cx, &mut session, source, &input_rx, &reply_tx))
                });
                status_of(reason)
            })
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        Ok(ReplRuntime {
            inputs,
            replies,
            runtime,
        })
    }

    /// Evaluates one complete input in the main actor and waits for its
    /// reply. `None` when the main actor has ended: after `(exit N)`, or
    /// killed by an exit signal (a linked actor's crash) while idle.
    pub fn eval(&self, input: String) -> Option<Reply> {
        self.inputs.send(input).ok()?;
        self.replies.recv().ok()
    }

    /// No more input: ends the main actor, and so the runtime, and returns
    /// the process status (`(exit N)`'s N, 0 at end of input, 1 when the
    /// main actor was killed; its reason is printed).
    pub fn finish(self) -> i32 {
        drop(self.inputs);
        drop(self.replies);
        match self.runtime.join() {
            Ok(status) => status,
            Err(_) => {
                eprintln!("valk: the runtime thread panicked");
                1
            }
        }
    }
}

/// The main actor: evaluate inputs until `(exit N)` or the end of input.
fn serve(
    cx: &mut ActorCx<'_>,
    session: &mut Session,
    source: &str,
    inputs: &Receiver<String>,
    replies: &Sender<Reply>,
) -> i32 {
    loop {
        match inputs.try_recv() {
            Ok(input) => {
                let reply = session.eval_line_in_actor(cx, &input, source);
                let exit = match reply {
                    Reply::Exit(status) => Some(status),
                    _ => None,
                };
                // The editor side hung up: it is ending the session.
                if replies.send(reply).is_err() {
                    return 0;
                }
                if let Some(status) = exit {
                    return status;
                }
            }
            Err(TryRecvError::Empty) => idle(cx),
            Err(TryRecvError::Disconnected) => return 0,
        }
    }
}

/// One idle slice. A wait with a timeout is a receive to the scheduler, so
/// it is ended here: left open, its timer (after a wake-up by a message) or
/// its timed-out flag (after the timeout) would end the user's next
/// `(receive ... {:after ms ...})` before its own deadline.
fn idle(cx: &mut ActorCx<'_>) {
    cx.wait(Some(IDLE_SLICE));
    cx.receive_done();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> ReplRuntime {
        ReplRuntime::start(Session::new().unwrap(), "<test>", 0).unwrap()
    }

    fn eval(rt: &ReplRuntime, input: &str) -> Reply {
        rt.eval(input.to_owned())
            .expect("the main actor is running")
    }

    fn value(text: &str) -> Reply {
        Reply::Value(text.to_owned())
    }

    #[test]
    fn receive_after_waits_its_own_deadline_after_the_repl_idled() {
        let rt = start();
        eval(&rt, "(def {me} (self))");
        // Idle slices that time out.
        std::thread::sleep(IDLE_SLICE * 5);
        // With the idle receive left open, this one would time out at once
        // (its mailbox is empty), long before the late message comes.
        assert_eq!(
            eval(
                &rt,
                "(do (spawn (\\ {} {do (sleep 50) (send me :late)})) \
                 (receive {:late :late} {:after 5000 :timed-out}))"
            ),
            value(":late")
        );
        // A message that arrives while the REPL idles stays for a later line.
        eval(&rt, "(spawn (\\ {} {send me :early}))");
        std::thread::sleep(IDLE_SLICE * 3);
        // :after still fires when nothing matches.
        assert_eq!(
            eval(&rt, "(receive {:never :never} {:after 30 :nothing})"),
            value(":nothing")
        );
        assert_eq!(eval(&rt, "(receive {x x})"), value(":early"));
        assert_eq!(rt.finish(), 0);
    }

    #[test]
    fn exit_ends_the_runtime_with_its_status() {
        let rt = start();
        assert_eq!(eval(&rt, "(exit 3)"), Reply::Exit(3));
        assert!(
            rt.eval("1".to_owned()).is_none(),
            "the main actor has ended"
        );
        assert_eq!(rt.finish(), 3);
    }

    #[test]
    fn the_actor_prelude_is_loaded_once_per_session() {
        let rt = start();
        eval(&rt, "(fun {sleep ms} {:mine})");
        assert_eq!(eval(&rt, "(sleep 1)"), value(":mine"));
        assert_eq!(rt.finish(), 0);
    }
}
