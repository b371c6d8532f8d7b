//! A spawned Valk actor: an [`Interp`] run one slice at a time.

use std::sync::Arc;

use valk_heap::{Fragment, ObjKind};
use valk_lang::{Globals, Interp, RunOutcome};
use valk_scheduler::{Actor, Cx, Step};

use crate::futures::Task;
use crate::host::ActorHost;
use crate::system::{Reason, ValkSystem};

/// An actor running `(f arg...)`.
pub struct Body {
    interp: Interp,
    /// `f` and its arguments, one message fragment each, until the first
    /// slice starts the call. Separate fragments: a function and arguments
    /// that are shared-heap values or immediates (`(spawn idler)`) then take
    /// no heap chunk in the new actor at all.
    start: Option<Box<[Fragment]>>,
    /// Bytes of the messages queued to it and not yet received, at the
    /// start of its last slice (reported with its heap, see `heap_bytes`).
    mailbox_bytes: usize,
    /// An `async` task's future: resolved with the call's value or error,
    /// or with the exit reason if the actor ends otherwise.
    task: Option<Box<Task>>,
}

impl Body {
    /// An actor of the runtime sharing `globals` that will call `f` on
    /// `args`, each copied out of the spawner's heap as a fragment.
    pub fn new(globals: Arc<Globals>, f: Fragment, args: Vec<Fragment>) -> Body {
        let interp = Interp::with_globals(globals);
        let mut start = Vec::with_capacity(args.len() + 1);
        start.push(f);
        start.extend(args);
        Body {
            interp,
            start: Some(start.into_boxed_slice()),
            mailbox_bytes: 0,
            task: None,
        }
    }

    /// An `async` task: calls `thunk` and resolves `task`'s future.
    pub(crate) fn task(globals: Arc<Globals>, thunk: Fragment, task: Task) -> Body {
        let mut body = Body::new(globals, thunk, Vec::new());
        body.task = Some(Box::new(task));
        body
    }

    /// The task's call ended with `v` (a value or an Error): it is the
    /// future's value. The actor ends normally either way.
    fn settle(&mut self, cx: &mut Cx<'_, ValkSystem>, v: valk_heap::Value) -> Step<Reason> {
        let Some(task) = self.task.take() else {
            return Step::Exit(Reason::Normal);
        };
        let failed = self.interp.heap().kind(v) == Some(valk_heap::ObjKind::Error);
        if failed && cx.system().log.allows(crate::log::Level::Error) {
            let reason = error_reason(&mut self.interp, v);
            let report = crate::log::unawaited_report(cx.self_pid(), &reason);
            task.cell.failed_unread(report);
        }
        let shared = match self.interp.heap_mut().try_to_shared(v) {
            Ok(s) => s,
            Err(_) => {
                let total = self.interp.heap().bytes_in_use();
                task.ended(&Reason::HeapLimit(total));
                return Step::Exit(Reason::HeapLimit(total));
            }
        };
        if let Ok(waiters) = task.cell.resolve(shared) {
            for w in waiters {
                cx.send(w, crate::futures::ready_message());
            }
        }
        Step::Exit(Reason::Normal)
    }

    fn begin(&mut self, call: Box<[Fragment]>) -> Result<(), Reason> {
        let heap = self.interp.heap_mut();
        let mut items = Vec::with_capacity(call.len());
        for part in call.into_vec() {
            let v = heap
                .adopt(part)
                .map_err(|_| Reason::HeapLimit(heap.bytes_in_use()))?;
            items.push(v);
        }
        let Some((&f, args)) = items.split_first() else {
            return Err(Reason::Normal);
        };
        self.interp
            .start_call(f, args)
            .map_err(|e| Reason::Panicked(e.to_string()))
    }
}

impl Actor<ValkSystem> for Body {
    fn run(&mut self, cx: &mut Cx<'_, ValkSystem>) -> Step<Reason> {
        if let Some(call) = self.start.take() {
            if let Err(r) = self.begin(call) {
                return Step::Exit(r);
            }
        }
        // Messages queued to the actor and not yet received count against
        // its heap limit: an actor that lets its mailbox grow without bound
        // dies like one that grows its heap (as Erlang's max_heap_size,
        // which counts the message queue, kills the receiver).
        self.mailbox_bytes = cx.mailbox_bytes();
        if let Some(total) = self.over_limit() {
            return Step::Exit(Reason::HeapLimit(total));
        }
        // One budget: the scheduler's slice (`Config.reductions`), charged
        // with what the interpreter spent.
        let budget = cx.reductions_left().max(1);
        let (out, exit_reason) = ActorHost::run(cx, true, &mut self.interp, |it| it.run(budget));
        match out {
            RunOutcome::OutOfBudget => Step::Yield,
            RunOutcome::Done(v) | RunOutcome::Error(v) if self.task.is_some() => self.settle(cx, v),
            RunOutcome::Done(_) => Step::Exit(Reason::Normal),
            RunOutcome::Error(v) => Step::Exit(error_reason(&mut self.interp, v)),
            RunOutcome::Exit(code) => Step::Exit(exit_reason.unwrap_or(Reason::Status(code))),
            RunOutcome::WaitingForMessage { timeout } => Step::Park {
                timeout: timeout.map(std::time::Duration::from_millis),
            },
            RunOutcome::Fatal => Step::Exit(Reason::HeapLimit(self.interp.heap().bytes_in_use())),
        }
    }

    /// Its heap and the messages it has not received yet: what the
    /// memory governor compares between actors.
    fn heap_bytes(&self) -> usize {
        self.interp.heap().bytes_in_use() + self.mailbox_bytes
    }

    fn exited(&mut self, reason: &Reason) {
        if let Some(task) = self.task.take() {
            task.ended(reason);
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        // Ended while its coroutine was pinned (`exited` is not called
        // then), or dropped at shutdown: the future must not hang.
        if let Some(task) = self.task.take() {
            task.ended(&Reason::Killed);
        }
    }
}

impl Body {
    /// Heap and unreceived messages together, if they pass the heap limit.
    fn over_limit(&self) -> Option<usize> {
        let limit = self.interp.heap().limit()?;
        let total = self.interp.heap().bytes_in_use() + self.mailbox_bytes;
        (total > limit).then_some(total)
    }
}

/// The exit reason of an uncaught Error value: `{:error message where}`
/// with its Valk backtrace for the crash report (`:stack-overflow` for
/// that one).
pub(crate) fn error_reason(it: &mut Interp, v: valk_heap::Value) -> Reason {
    let trace = it.error_trace_entries(v);
    let heap = it.heap_mut();
    if heap.kind(v) == Some(ObjKind::Error) {
        let msg = heap
            .error_parts(v)
            .and_then(|p| heap.str(p.message))
            .unwrap_or("");
        if msg == "stack overflow" {
            return Reason::StackOverflow;
        }
    }
    Reason::from_error(heap, v, trace).unwrap_or_else(|| Reason::Value(heap.to_shared(v)))
}
