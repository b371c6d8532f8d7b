//! Host-owned actors: a [`Session`] is an actor of the runtime that runs the
//! jobs a host thread hands it (evaluate source, call a function, look at
//! the interpreter) one after another, each in resumable slices like any
//! actor: it is preempted by reductions, and a `receive` inside a job parks
//! it without keeping a native stack. Between jobs it is parked; a new job
//! wakes it. Its mailbox lasts from job to job (the REPL relies on it).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use valk_sync::oneshot::OneShot;
use valk_sync::Mutex;

use valk_heap::{Heap, ListKind, Value};
use valk_lang::syntax::{Node, Span, Syn};
use valk_lang::{prelude, reader, ErrorKind, Interp, RunOutcome, ValkError};
use valk_scheduler::{Actor, Cx, Pid, Step};

use crate::handle::{Handle, WeakHandle};
use crate::host::ActorHost;
use crate::system::{Reason, ValkSystem};

/// What a session is asked to do.
pub enum Job {
    /// Evaluate source text form by form; `name` names it in locations.
    /// With `line`, several forms make one S-expression (a REPL line: `+ 1
    /// 2` is 3). The outcome is the last form's value.
    Source {
        text: String,
        name: String,
        line: bool,
    },
    /// Call the global function `name` on the arguments `args` builds in
    /// the session's heap.
    Call { name: String, args: ArgsFn },
    /// Run Rust code on the interpreter (bind globals, read results). It
    /// must not run Valk code; the outcome is `()`.
    With(Box<dyn FnOnce(&mut Interp) + Send>),
}

/// Builds a call's arguments in the session actor's heap.
pub type ArgsFn = Box<dyn FnOnce(&mut Heap) -> Result<Vec<Value>, String> + Send>;

/// How a job ended, given to its [`Done`] inside the session actor.
pub enum Outcome {
    /// Its value (valid during the callback only: convert or copy it).
    Value(Value),
    /// An uncaught error (read, compile or run time), located in the
    /// user's code.
    Error(ValkError),
    /// `exit`/`shutdown` with this status; `reason` is what `(exit reason)`
    /// gave, if the code ended with a reason rather than a status.
    Exit { status: i32, reason: Option<Reason> },
    /// The session actor ended before the job could finish (killed by a
    /// linked actor's crash, or the runtime shut down).
    Gone,
}

/// Receives a job's outcome, in the session actor.
pub type Done = Box<dyn FnOnce(&mut Interp, Outcome) + Send>;

struct Request {
    job: Job,
    done: Done,
}

/// Jobs waiting for the session actor.
#[derive(Default)]
struct Queue {
    inner: Mutex<QueueInner>,
    /// The host asked to stop the job in progress ([`Session::interrupt`]).
    interrupt: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct QueueInner {
    jobs: VecDeque<Request>,
    /// No more jobs are taken: the actor ended or the host let go.
    closed: bool,
}

impl Queue {
    fn lock(&self) -> valk_sync::MutexGuard<'_, QueueInner> {
        self.inner.lock()
    }
}

/// What [`Session::interrupter`] gives: [`Interrupter::interrupt`] is
/// [`Session::interrupt`], from a thread that does not own the session.
#[derive(Clone)]
pub struct Interrupter {
    pid: Pid,
    queue: Arc<Queue>,
    handle: WeakHandle,
}

impl Interrupter {
    /// See [`Session::interrupt`].
    pub fn interrupt(&self) {
        self.queue
            .interrupt
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = self.handle.upgrade() {
            if !h.runtime().is_shut_down() {
                h.runtime().wake(self.pid);
            }
        }
    }
}

/// A host's handle on a session actor. Dropping it ends the actor once its
/// queued jobs are done.
pub struct Session {
    pid: Pid,
    queue: Arc<Queue>,
    /// Weak: a session (the shared one lives in the handle) must not keep
    /// its runtime running.
    handle: WeakHandle,
}

impl Session {
    /// Starts a session actor in `handle`'s runtime (as its main actor
    /// with `main`: its end is what [`Handle::wait_main`] reports).
    pub(crate) fn start(handle: &Handle, main: bool) -> Session {
        let queue = Arc::new(Queue::default());
        let actor = SessionActor {
            interp: Interp::with_globals(handle.globals().clone()),
            queue: queue.clone(),
            current: None,
        };
        let rt = handle.runtime();
        let pid = if main {
            rt.start_main(actor)
        } else {
            rt.spawn(actor)
        };
        Session {
            pid,
            queue,
            handle: handle.downgrade(),
        }
    }

    /// Has the session actor ended (killed, or the runtime stopped)? It
    /// takes no more jobs then.
    pub fn is_closed(&self) -> bool {
        self.queue.lock().closed
    }

    /// Stops the job in progress, if any, at its next slice boundary (a
    /// busy loop within a slice, a `receive` or `await` as soon as this
    /// wakes it): the job ends with the error `interrupted` and the session
    /// takes the next one. Callable from any thread (a Ctrl-C handler).
    pub fn interrupt(&self) {
        self.interrupter().interrupt();
    }

    /// A handle that interrupts this session's jobs from anywhere (it does
    /// not keep the session or the runtime alive).
    pub fn interrupter(&self) -> Interrupter {
        Interrupter {
            pid: self.pid,
            queue: self.queue.clone(),
            handle: self.handle.clone(),
        }
    }

    /// The session actor's pid (messages sent to it wait in its mailbox
    /// for a job's `receive`).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Queues `job`; `done` runs in the session actor when it ends. `Err`
    /// gives the job back when the session actor has ended.
    pub fn submit(&self, job: Job, done: Done) -> Result<(), (Job, Done)> {
        {
            let mut q = self.queue.lock();
            if q.closed {
                return Err((job, done));
            }
            q.jobs.push_back(Request { job, done });
        }
        match self.handle.upgrade() {
            Some(h) if !h.runtime().is_shut_down() => h.runtime().wake(self.pid),
            // The runtime is gone: its actors were dropped (and with them
            // this job, answered `Gone`) or will be, at shutdown.
            _ => {
                let jobs = {
                    let mut q = self.queue.lock();
                    q.closed = true;
                    std::mem::take(&mut q.jobs)
                };
                let mut scratch = Interp::with_globals(Default::default());
                for r in jobs {
                    (r.done)(&mut scratch, Outcome::Gone);
                }
            }
        }
        Ok(())
    }

    /// Runs `job` and waits for it; `convert` turns the outcome into what
    /// the host keeps (it runs in the session actor, where values are
    /// valid). `None` if the session actor has ended.
    pub fn request<R: Send + 'static>(
        &self,
        job: Job,
        convert: impl FnOnce(&mut Interp, Outcome) -> R + Send + 'static,
    ) -> Option<R> {
        let reply = Arc::new(OneShot::new());
        let sender = ReplySender(Some(reply.clone()));
        let done: Done = Box::new(move |it, out| sender.send(convert(it, out)));
        if self.submit(job, done).is_err() {
            return None;
        }
        reply.wait()
    }

    /// Runs `text` (a source file named `name`) and returns its outcome as
    /// text: the value's repr, `error: MESSAGE`, `exit N`, or `gone` when
    /// the session actor has ended (tests and tools).
    pub fn run_to_text(&self, text: &str, name: &str) -> String {
        let job = Job::Source {
            text: text.to_owned(),
            name: name.to_owned(),
            line: false,
        };
        self.request(job, |it, out| match out {
            Outcome::Value(v) => it.repr(v),
            Outcome::Error(e) => format!("error: {e}"),
            Outcome::Exit { status, .. } => format!("exit {status}"),
            Outcome::Gone => "gone".to_owned(),
        })
        .unwrap_or_else(|| "gone".to_owned())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        if let Some(h) = self.handle.upgrade() {
            h.runtime().wake(self.pid);
        }
    }
}

/// The session actor's end of a job's reply: answers once; dropped without
/// answering (the job was discarded), it wakes the waiter with `None`.
struct ReplySender<R>(Option<Arc<OneShot<R>>>);

impl<R> ReplySender<R> {
    fn send(mut self, value: R) {
        if let Some(r) = self.0.take() {
            r.set(Some(value));
        }
    }
}

impl<R> Drop for ReplySender<R> {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.set(None);
        }
    }
}

/// The job in progress.
struct Current {
    /// Forms still to run (a `Source` job).
    forms: std::vec::IntoIter<Node>,
    /// The source's name and the span of the form running, to report an
    /// error raised inside the prelude at the user's form instead.
    name: Option<String>,
    form: Span,
    done: Done,
}

/// The actor behind a [`Session`].
struct SessionActor {
    interp: Interp,
    queue: Arc<Queue>,
    current: Option<Current>,
}

impl SessionActor {
    /// Starts the next queued job. `Ok(false)`: none is queued (`Err`: the
    /// host let go and none is left: the actor ends).
    fn begin_next(&mut self) -> Result<bool, ()> {
        let next = {
            let mut q = self.queue.lock();
            match q.jobs.pop_front() {
                Some(r) => r,
                None if q.closed => return Err(()),
                None => return Ok(false),
            }
        };
        let Request { job, done } = next;
        match job {
            Job::With(f) => {
                f(&mut self.interp);
                done(&mut self.interp, Outcome::Value(Value::EMPTY_S));
            }
            Job::Source { text, name, line } => match read_forms(&text, &name, line) {
                Err(e) => done(&mut self.interp, Outcome::Error(e)),
                Ok(forms) => {
                    let current = Current {
                        forms: forms.into_iter(),
                        name: Some(name),
                        form: Span::default(),
                        done,
                    };
                    self.current = Some(current);
                    self.start_next_form(Value::EMPTY_S);
                }
            },
            Job::Call { name, args } => {
                let started = match self.interp.global(&name) {
                    None => Err(ValkError::at(None, format!("unbound symbol {name}"))),
                    Some(f) => match args(self.interp.heap_mut()) {
                        Err(m) => Err(ValkError::at(None, m)),
                        Ok(args) => self.interp.start_call(f, &args),
                    },
                };
                match started {
                    Err(e) => done(&mut self.interp, Outcome::Error(e)),
                    Ok(()) => {
                        self.current = Some(Current {
                            forms: Vec::new().into_iter(),
                            name: None,
                            form: Span::default(),
                            done,
                        })
                    }
                }
            }
        }
        Ok(true)
    }

    /// The form before finished with `last`: start the next one, or finish
    /// the job with `last`.
    fn start_next_form(&mut self, last: Value) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        match cur.forms.next() {
            None => self.finish(Outcome::Value(last)),
            Some(form) => {
                cur.form = form.span;
                if let Err(e) = self.interp.start_form(&form) {
                    let e = self.locate(e);
                    self.finish(Outcome::Error(e));
                }
            }
        }
    }

    fn finish(&mut self, out: Outcome) {
        if let Some(cur) = self.current.take() {
            (cur.done)(&mut self.interp, out);
        }
    }

    /// An error raised inside the prelude (or nowhere) is reported at the
    /// user's top-level form that led to it: `prelude.valk:120:5` tells a
    /// user nothing.
    fn locate(&self, mut error: ValkError) -> ValkError {
        let Some(cur) = &self.current else {
            return error;
        };
        let Some(name) = &cur.name else {
            return error;
        };
        let in_prelude = match &error.file {
            None => true,
            Some(file) => file != name && prelude::is_prelude_file(file),
        };
        if error.kind == ErrorKind::Error && in_prelude && cur.form.line != 0 {
            error.file = Some(name.clone());
            error.line = cur.form.line;
            error.col = cur.form.col;
        }
        error
    }
}

/// The forms of `text`; with `line`, several forms make one S-expression.
fn read_forms(text: &str, name: &str, line: bool) -> Result<Vec<Node>, ValkError> {
    let mut forms = reader::read_all(text, name).map_err(|e| {
        let mut e = ValkError::from_read(e);
        e.file = Some(name.to_owned());
        e
    })?;
    if line && forms.len() > 1 {
        let span = forms[0].span;
        forms = vec![Node::new(Syn::List(ListKind::S, forms), span)];
    }
    Ok(forms)
}

impl Actor<ValkSystem> for SessionActor {
    fn run(&mut self, cx: &mut Cx<'_, ValkSystem>) -> Step<Reason> {
        loop {
            if self
                .queue
                .interrupt
                .swap(false, std::sync::atomic::Ordering::SeqCst)
                && self.current.is_some()
            {
                // Stop here: the frames go, a receive in progress ends.
                self.interp.abandon();
                cx.receive_done();
                self.finish(Outcome::Error(ValkError::at(None, "interrupted".into())));
            }
            if self.current.is_none() {
                match self.begin_next() {
                    Ok(true) => continue,
                    Ok(false) => return Step::Park { timeout: None },
                    Err(()) => return Step::Exit(Reason::Normal),
                }
            }
            let budget = cx.reductions_left();
            if budget == 0 {
                return Step::Yield;
            }
            let (out, reason) = ActorHost::run(cx, true, &mut self.interp, |it| it.run(budget));
            match out {
                RunOutcome::OutOfBudget => return Step::Yield,
                RunOutcome::WaitingForMessage { timeout } => {
                    return Step::Park {
                        timeout: timeout.map(Duration::from_millis),
                    }
                }
                RunOutcome::Done(v) => self.start_next_form(v),
                RunOutcome::Error(v) => {
                    let e = self.interp.error_of(v);
                    let e = self.locate(e);
                    self.finish(Outcome::Error(e));
                }
                RunOutcome::Exit(status) => self.finish(Outcome::Exit { status, reason }),
                RunOutcome::Fatal => {
                    let e = self.interp.take_fatal();
                    self.finish(Outcome::Error(e));
                }
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.interp.heap().bytes_in_use()
    }
}

impl Drop for SessionActor {
    fn drop(&mut self) {
        // Close before answering: a host woken by the answer may submit
        // again at once, and must find this session closed (and get a new
        // one) rather than queue a job that is then dropped.
        let jobs = {
            let mut q = self.queue.lock();
            q.closed = true;
            std::mem::take(&mut q.jobs)
        };
        self.finish(Outcome::Gone);
        for r in jobs {
            (r.done)(&mut self.interp, Outcome::Gone);
        }
    }
}
