//! # valk: embed Valk in a Rust program
//!
//! Valk is an Erlang-style actor runtime hosting the Valkyria Lisp. This
//! crate starts a runtime inside your program: evaluate source, call Valk
//! functions, register Rust functions as builtins, and talk to actors from
//! host threads through mailboxes. Values cross the boundary as owned
//! [`Term`]s; nothing of an actor's heap ever reaches host code. It pulls in
//! none of the `valk` command line's dependencies.
//!
//! ```
//! use valk::{Runtime, Term};
//!
//! let rt = Runtime::builder().schedulers(2).build()?;
//! assert_eq!(rt.eval("(+ 1 2)")?, Term::Int(3));
//!
//! rt.eval("(fun {double x} {* x 2})")?;
//! assert_eq!(rt.call("double", &[Term::from(21)])?, Term::Int(42));
//!
//! rt.register_fn("shout", |args: &[Term]| match args {
//!     [Term::Str(s)] => Ok(Term::from(s.to_uppercase())),
//!     _ => Err("shout: expected one string".to_string()),
//! });
//! assert_eq!(rt.eval("(shout \"hi\")")?, Term::from("HI"));
//! assert!(rt.eval("(shout 1)").unwrap_err().to_string().contains("expected one string"));
//!
//! // Actors answer a host mailbox.
//! let mb = rt.mailbox();
//! rt.eval("(fun {echo} {receive {{from x} (send from x)}})")?;
//! let echo = rt.eval("(spawn echo)")?;
//! rt.send(&echo, Term::list(vec![mb.pid(), Term::from("ping")]))?;
//! let reply = mb.recv_timeout(std::time::Duration::from_secs(5));
//! assert_eq!(reply, Some(Term::from("ping")));
//! # Ok::<(), valk::Error>(())
//! ```
//!
//! A heap value cannot escape into host code: results are owned terms.
//!
//! ```compile_fail
//! // `valk` exposes no heap value type at all.
//! fn keep(_: valk::Value) {}
//! ```
//!
//! ```compile_fail
//! // A registered function sees terms, never the actor's heap.
//! let rt = valk::Runtime::new().unwrap();
//! rt.register_fn("peek", |args: &[valk_heap::Value]| Ok(args[0]));
//! ```
//!
//! ```compile_fail
//! // Turning a term into a value of some heap is the runtime's business:
//! // host code cannot make (or keep) one.
//! let mut heap = valk_heap::Heap::new();
//! let v = valk::Term::from(1).to_value(&mut heap);
//! ```
//!
//! See `docs/embedding.md` for a guide, and `include/valk.h` for the C API
//! over the same runtime.

pub mod capi;
mod error;
mod mailbox;
mod term;
#[cfg(test)]
mod term_tests;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use valk_heap::Heap;
use valk_lang::builtins::VARIADIC;
use valk_lang::Failure;
use valk_runtime::{Handle, Job, Message, Options, Outcome};
use valk_scheduler::Pid;

pub use error::Error;
pub use mailbox::Mailbox;
pub use term::{Opaque, Term, TermTypeError, DEBUG_MAX_DEPTH};

/// A running Valk runtime: scheduler threads, globals, actors. Cloning gives
/// another handle on the same runtime; it stops (every actor, the workers
/// joined) when the last handle is dropped or on [`Runtime::shutdown`].
/// Several runtimes can live in one process, each with its own globals.
#[derive(Clone)]
pub struct Runtime {
    handle: Handle,
}

/// Settings for [`Runtime::builder`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    options: Options,
}

impl Builder {
    /// Scheduler threads (default: `$VALK_SCHEDULERS`, else one per core).
    pub fn schedulers(mut self, n: usize) -> Builder {
        self.options.schedulers = n;
        self
    }

    /// Most bytes each actor's heap may hold, messages queued to it and not
    /// yet received included; an actor that needs more ends with
    /// `{:heap-limit bytes}` (default: no limit).
    pub fn max_heap(mut self, bytes: usize) -> Builder {
        self.options.max_heap = Some(bytes);
        self
    }

    /// The memory ceiling of the whole runtime (default: 80% of physical
    /// memory, or of the cgroup's limit). Past it the actor holding the
    /// most memory is killed with `{:heap-limit bytes}` and a line is
    /// written to stderr, instead of the process dying in the allocator.
    pub fn max_memory(mut self, bytes: usize) -> Builder {
        self.options.max_memory = Some(bytes);
        self
    }

    /// Starts the runtime.
    pub fn build(self) -> Result<Runtime, Error> {
        let handle = Handle::start(self.options).map_err(|e| Error::Start(e.to_string()))?;
        Ok(Runtime { handle })
    }
}

/// The owned term of a job's outcome.
fn term_of(it: &mut valk_lang::Interp, out: Outcome) -> Result<Term, Error> {
    match out {
        Outcome::Value(v) => Ok(Term::from_value(it.heap_mut(), v)),
        Outcome::Error(e) => Err(Error::from_valk(&e)),
        Outcome::Exit { status, .. } => Err(Error::Exit(status)),
        Outcome::Gone => Err(Error::Killed),
    }
}

impl Runtime {
    /// A runtime with the default settings.
    pub fn new() -> Result<Runtime, Error> {
        Runtime::builder().build()
    }

    /// Settings for a new runtime.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Evaluates `src` like a REPL line (several forms make one
    /// S-expression; `(def ...)` binds globals for later calls) in a
    /// host-owned actor, so actor builtins work. Calls from several threads
    /// run one after another.
    pub fn eval(&self, src: &str) -> Result<Term, Error> {
        let job = Job::Source {
            text: src.to_owned(),
            name: "<eval>".to_owned(),
            line: true,
        };
        self.run_job(job)
    }

    /// Runs `job` in the shared session; `Stopped` once the runtime is shut
    /// down, `Killed` when the session actor ended under the job.
    fn run_job(&self, job: Job) -> Result<Term, Error> {
        if self.handle.runtime().is_shut_down() {
            return Err(Error::Stopped);
        }
        match self.handle.shared_session().request(job, term_of) {
            Some(Err(Error::Killed)) | None if self.handle.runtime().is_shut_down() => {
                Err(Error::Stopped)
            }
            Some(r) => r,
            None => Err(Error::Killed),
        }
    }

    /// Calls the global function `name` on `args`.
    pub fn call(&self, name: &str, args: &[Term]) -> Result<Term, Error> {
        let args = args.to_vec();
        let job = Job::Call {
            name: name.to_owned(),
            args: Box::new(move |heap: &mut Heap| {
                args.iter()
                    .map(|a| a.to_value(heap).map_err(|e| e.to_string()))
                    .collect()
            }),
        };
        self.run_job(job)
    }

    /// Registers `f` as the builtin `name` (any number of arguments). An
    /// `Err(msg)` becomes a Valk error carrying `msg`; a panic inside `f` is
    /// caught and becomes an error in the calling actor.
    pub fn register_fn<F>(&self, name: &str, f: F)
    where
        F: Fn(&[Term]) -> Result<Term, String> + Send + Sync + 'static,
    {
        let fname = name.to_owned();
        let builtin = move |cx: &mut valk_lang::BuiltinCx<'_>,
                            args: &[valk_heap::Value]|
              -> Result<valk_heap::Value, Failure> {
            let terms: Vec<Term> = args.iter().map(|&v| Term::from_value(cx.heap, v)).collect();
            let result = catch_unwind(AssertUnwindSafe(|| f(&terms)));
            drop(terms);
            match result {
                Ok(Ok(t)) => Ok(t.to_value(cx.heap)?),
                Ok(Err(msg)) => Err(Failure::Message(msg)),
                Err(panic) => Err(Failure::Message(format!(
                    "`{fname}` panicked: {}",
                    panic_message(&panic)
                ))),
            }
        };
        self.handle.register_fn(
            name,
            0,
            VARIADIC,
            "A function registered by the embedding program.",
            Box::new(builtin),
        );
    }

    /// Sends `msg` to the actor `pid` (a pid term, or a registered name as
    /// a keyword). A message to a dead actor is dropped, as in Valk.
    pub fn send(&self, pid: &Term, msg: Term) -> Result<(), Error> {
        let to = match pid {
            Term::Pid(id) => Pid::from_u64(*id),
            Term::Keyword(name) => {
                let key = u64::from(valk_heap::intern(name));
                match self.handle.runtime().whereis(key) {
                    Some(p) => p,
                    None => return Ok(()),
                }
            }
            other => {
                return Err(Error::BadArgument(format!(
                    "expected a pid, got {}",
                    other.type_name()
                )))
            }
        };
        let mut heap = Heap::new();
        let v = msg
            .to_value(&mut heap)
            .map_err(|e| Error::BadArgument(e.to_string()))?;
        let frag = heap
            .try_copy_to_fragment(v)
            .map_err(|e| Error::BadArgument(e.to_string()))?;
        self.handle.send(to, Message::Fragment(frag));
        Ok(())
    }

    /// Spawns an actor running the global function `name` on `args`; its
    /// pid. (Valk code does the same with `(spawn name args...)`.)
    pub fn spawn(&self, name: &str, args: &[Term]) -> Result<Term, Error> {
        let mut heap = Heap::new();
        // Counted for `heap`: a `def` racing with us cannot free it.
        let Some(f) = self
            .handle
            .globals()
            .get_kept(valk_heap::intern(name), &mut heap)
        else {
            return Err(Error::Valk {
                message: format!("unbound symbol `{name}`"),
                located: format!("error: unbound symbol `{name}`"),
            });
        };
        // A global is a shared value (or an immediate): the fragment
        // carries a reference count, not a copy.
        let f = heap
            .try_copy_to_fragment(f)
            .map_err(|e| Error::BadArgument(e.to_string()))?;
        let mut frags = Vec::with_capacity(args.len());
        for a in args {
            let v = a
                .to_value(&mut heap)
                .map_err(|e| Error::BadArgument(e.to_string()))?;
            frags.push(
                heap.try_copy_to_fragment(v)
                    .map_err(|e| Error::BadArgument(e.to_string()))?,
            );
        }
        if self.handle.runtime().is_shut_down() {
            return Err(Error::Stopped);
        }
        let body = valk_runtime::Body::new(self.handle.globals().clone(), f, frags);
        Ok(Term::Pid(self.handle.spawn(body).to_u64()))
    }

    /// A host-side actor whose pid Valk code can send to.
    pub fn mailbox(&self) -> Mailbox {
        Mailbox::open(&self.handle)
    }

    /// Stops every actor and joins the workers now (dropping the last
    /// handle does the same). Later calls fail with [`Error::Stopped`].
    pub fn shutdown(&self) {
        self.handle.shutdown();
    }
}

/// A panic's message, when it has one.
fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with no message".to_owned()
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Runtime>();
    is::<Term>();
    is::<Error>();
    is::<Mailbox>();
    is::<Arc<Runtime>>();
}
