//! The one place the command line talks to the runtime: a [`Session`] is
//! the main session actor of a runtime ([`valk_runtime::Handle`]); it runs
//! sources and lines and turns their outcomes into what the commands show
//! (re-readable text, located error lines, exit statuses).

use std::sync::mpsc;
use std::time::Duration;

use valk_lang::{ErrorKind, Interp, ValkError};
use valk_runtime::{Handle, Job, Options, Outcome, Reason};

use super::output::err_line;

/// How long ending a command waits for the runtime's workers to stop. A
/// worker inside a long builtin stops only when the builtin returns: the
/// process does not wait for it (it exits, and the worker with it).
const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

/// An error to show: `located` is `FILE:LINE:COL: error: MESSAGE` (or
/// `error: MESSAGE` when it has no location), `message` the bare message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub located: String,
    pub message: String,
    /// The input did not read (as opposed to an error while running).
    pub is_read_error: bool,
    /// The whole error (location, call chain), for the renderer.
    pub error: ValkError,
}

/// Test outcomes counted outside the runtime (see [`Session::enter_test_mode`]).
#[derive(Default, Debug)]
pub struct Tally {
    pub passed: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
    pub skipped: std::sync::atomic::AtomicU64,
}

/// How running a whole source ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Finished,
    Failed(Failure),
    /// The program called `exit`/`shutdown` with this status (or the main
    /// actor ended with a reason: 1, reported on stderr).
    Exit(i32),
}

/// The result of one REPL-style line.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The value, re-readable.
    Value(String),
    /// The value was `()`: nothing to show.
    Unit,
    Error(Failure),
    Exit(i32),
}

/// A runtime and its main session actor. Dropping it stops the runtime
/// (see [`Session::finish`]).
pub struct Session {
    /// `None` once finished.
    handle: Option<Handle>,
    main: valk_runtime::Session,
}

/// What a job's outcome means for the command line (made in the actor).
enum Shown {
    Value(Option<String>),
    Failed(Failure),
    Exit(i32),
    /// The main actor ended under the job.
    Gone,
}

pub fn failure(error: &ValkError) -> Failure {
    Failure {
        located: error.to_string(),
        message: error.message.clone(),
        is_read_error: matches!(error.kind, ErrorKind::Read { .. }),
        error: error.clone(),
    }
}

fn show(it: &mut Interp, out: Outcome) -> Shown {
    match out {
        Outcome::Value(v) if v.is_empty_s() => Shown::Value(None),
        Outcome::Value(v) => Shown::Value(Some(it.repr(v))),
        Outcome::Error(e) => match e.kind {
            ErrorKind::Exit(status) => Shown::Exit(status),
            _ => Shown::Failed(failure(&e)),
        },
        Outcome::Exit { reason, status } => match reason {
            Some(r) if !matches!(r, Reason::Normal) => {
                err_line(&format!("valk: main actor exited: {}", r.describe()));
                Shown::Exit(1)
            }
            _ => Shown::Exit(status),
        },
        Outcome::Gone => Shown::Gone,
    }
}

/// The builtins of the command line's runtimes: the actor runtime's, and
/// the C layer (`dlopen`, `dlsym`, ...).
pub fn builtins() -> valk_lang::BuiltinSet {
    let mut set = valk_runtime::builtin_set();
    valk_ffi::add_to(&mut set);
    set
}

/// Memory limits of a runtime (`valk run --max-heap / --max-memory`;
/// `None`: the runtime's defaults).
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    pub max_heap: Option<usize>,
    pub max_memory: Option<usize>,
}

impl Session {
    /// Starts a runtime on `schedulers` threads (0: the default) and its
    /// main session.
    pub fn new(schedulers: usize) -> Result<Session, String> {
        Session::with_limits(schedulers, Limits::default())
    }

    /// [`Session::new`] under memory `limits`.
    pub fn with_limits(schedulers: usize, limits: Limits) -> Result<Session, String> {
        let handle = Handle::start(Options {
            builtins: Some(builtins()),
            schedulers,
            max_heap: limits.max_heap,
            max_memory: limits.max_memory,
            ..Options::default()
        })
        .map_err(|e| e.to_string())?;
        super::jit::install(handle.globals());
        let main = handle.main_session();
        Ok(Session {
            handle: Some(handle),
            main,
        })
    }

    /// The status `(shutdown N)` asked for, in any actor.
    fn shutdown_status(&self) -> Option<i32> {
        self.handle.as_ref()?.shutdown_status()
    }

    /// Runs `job`; a main actor that ended under it is reported with its
    /// exit reason (status 1), unless some actor shut the program down
    /// (which kills the main actor): then the program ends with that status.
    fn request(&self, job: Job) -> Shown {
        let shown = self.main.request(job, show);
        if let Some(status) = self.shutdown_status() {
            return Shown::Exit(status);
        }
        match shown {
            Some(Shown::Gone) | None => {
                let reason = self
                    .handle
                    .as_ref()
                    .and_then(|h| h.wait_main_timeout(Duration::from_secs(5)));
                if let Some(status) = self.shutdown_status() {
                    return Shown::Exit(status);
                }
                let described = reason.map_or_else(|| "unknown".to_owned(), |r| r.describe());
                err_line(&format!("valk: main actor exited: {described}"));
                Shown::Exit(1)
            }
            Some(shown) => shown,
        }
    }

    /// Bind `*args*` to the program's arguments.
    pub fn bind_args(&self, args: &[String]) -> Result<(), String> {
        let args = args.to_vec();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job = Job::With(Box::new(move |it| {
            let _ = tx.send(it.set_args(&args).map_err(|e| e.to_string()));
        }));
        self.request(job);
        rx.recv()
            .unwrap_or_else(|_| Err("the runtime ended".into()))
    }

    /// Run a file's text form by form; `name` is the file in locations.
    pub fn run_source(&self, source: &str, name: &str) -> Step {
        let job = Job::Source {
            text: source.to_owned(),
            name: name.to_owned(),
            line: false,
        };
        match self.request(job) {
            Shown::Value(_) => Step::Finished,
            Shown::Failed(f) => Step::Failed(f),
            Shown::Exit(status) => Step::Exit(status),
            Shown::Gone => Step::Exit(1),
        }
    }

    /// Evaluate a REPL-style line: several forms make one S-expression.
    /// `name` is the source in locations.
    pub fn eval_line(&self, line: &str, name: &str) -> Reply {
        let job = Job::Source {
            text: line.to_owned(),
            name: name.to_owned(),
            line: true,
        };
        match self.request(job) {
            Shown::Value(Some(text)) => Reply::Value(text),
            Shown::Value(None) => Reply::Unit,
            Shown::Failed(f) => Reply::Error(f),
            Shown::Exit(status) => Reply::Exit(status),
            Shown::Gone => Reply::Exit(1),
        }
    }

    /// Put the test module in command-line mode: `test/run` prints no
    /// summary (the command prints one for all files).
    /// Puts the test module in command-line mode and gives the host a
    /// tally of outcomes kept outside the runtime: the test module calls
    /// `(test/-tally :pass|:fail|:skip)` after each test, so the counts
    /// survive an `exit` or `shutdown` that ends the runtime mid-file.
    pub fn enter_test_mode(
        &self,
        filter: Option<&str>,
        timeout_s: Option<u32>,
    ) -> Result<std::sync::Arc<Tally>, String> {
        let tally = std::sync::Arc::new(Tally::default());
        if let Some(handle) = &self.handle {
            let t = tally.clone();
            handle.register_fn(
                "test/-tally",
                1,
                1,
                "(test/-tally outcome): count a test's :pass, :fail or :skip for `valk test`.",
                Box::new(move |_, args| {
                    let kind = args[0].as_keyword().map(valk_heap::symbol_name);
                    let slot = match kind {
                        Some("pass") => &t.passed,
                        Some("skip") => &t.skipped,
                        _ => &t.failed,
                    };
                    slot.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(valk_heap::Value::EMPTY_S)
                }),
            );
        }
        self.enter_test_mode_settings(filter, timeout_s)?;
        Ok(tally)
    }

    fn enter_test_mode_settings(
        &self,
        filter: Option<&str>,
        timeout_s: Option<u32>,
    ) -> Result<(), String> {
        let mut setup = String::from("(do (def {test/-cli} true)");
        if let Some(text) = filter {
            let mut quoted = String::new();
            valk_lang::printer::quote_str(text, &mut quoted);
            setup += &format!(" (def {{test/-filter}} {quoted})");
        }
        if let Some(s) = timeout_s {
            setup += &format!(" (def {{test/-timeout-ms}} {})", u64::from(s) * 1000);
        }
        setup.push(')');
        match self.eval_line(&setup, "<valk test>") {
            Reply::Error(f) => Err(f.located),
            _ => Ok(()),
        }
    }

    /// The test module's totals so far: (passed, failed, skipped).
    /// Interrupts the main actor's job in progress from any thread (Ctrl-C).
    pub fn interrupter(&self) -> valk_runtime::session::Interrupter {
        self.main.interrupter()
    }

    /// The names bound in the runtime (for completion); empty if the main
    /// actor is gone.
    pub fn bound_names(&self) -> Vec<String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job = Job::With(Box::new(move |it| {
            let _ = tx.send(it.bound_names());
        }));
        if self.main.submit(job, Box::new(|_, _| {})).is_err() {
            return Vec::new();
        }
        rx.recv().unwrap_or_default()
    }

    /// Stops the runtime (every actor, even those still running), waiting
    /// at most [`SHUTDOWN_GRACE`] for its workers: a worker busy in a long
    /// builtin is left to die with the process.
    /// Watches the runtime while `job` runs: if every actor waits in a
    /// `receive` that nothing can satisfy (no timer, nothing queued that
    /// could wake one), prints who waits where on stderr and ends the
    /// process with status 2 instead of hanging (`valk run` only: no
    /// request can come from outside while its program runs).
    pub fn watching_for_deadlock<T>(&self, job: impl FnOnce(&Session) -> T) -> T {
        let Some(weak) = self.handle.as_ref().map(Handle::downgrade) else {
            return job(self);
        };
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let done = done.clone();
            std::thread::Builder::new()
                .name("valk-deadlock".into())
                .spawn(move || deadlock_watch(&weak, &done))
        };
        let out = job(self);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Ok(w) = watcher {
            w.thread().unpark();
            let _ = w.join();
        }
        out
    }

    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        let (stopped, wait) = mpsc::channel();
        let stopper = std::thread::Builder::new()
            .name("valk-shutdown".into())
            .spawn(move || {
                handle.shutdown();
                let _ = stopped.send(());
            });
        if stopper.is_ok() {
            let _ = wait.recv_timeout(SHUTDOWN_GRACE);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How often the deadlock watch looks, and how long a quiet runtime must
/// stay unchanged before it counts as deadlocked.
const DEADLOCK_POLL: std::time::Duration = std::time::Duration::from_millis(250);
const DEADLOCK_SETTLE: std::time::Duration = std::time::Duration::from_millis(150);

fn deadlock_watch(weak: &valk_runtime::handle::WeakHandle, done: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering::SeqCst;
    loop {
        std::thread::park_timeout(DEADLOCK_POLL);
        if done.load(SeqCst) {
            return;
        }
        let Some(handle) = weak.upgrade() else {
            return;
        };
        if let Some(waiters) = handle.runtime().deadlock(DEADLOCK_SETTLE) {
            if done.load(SeqCst) {
                return;
            }
            let _ = std::io::Write::flush(&mut std::io::stdout());
            super::output::err_line(valk_runtime::log::deadlock_report(&waiters).trim_end());
            super::jit::exit(2);
        }
    }
}
