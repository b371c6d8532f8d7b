//! Futures (LANGUAGE.md §9): `(promise)` gives `{future resolver}`;
//! `(resolve resolver v)` sets the value once and sends every actor
//! waiting on it `{:future/-ready}`; `await` (Valk, the actor prelude)
//! asks `future/-wait` whether the value is there and otherwise waits in an
//! ordinary `receive` for that message, so an awaiting actor parks like any
//! receiver (no thread blocks) and `(await f ms)` uses the receive's timer.
//! Futures and resolvers are shared objects: sent by reference, awaited by
//! any number of actors.
//!
//! `(async {body})` runs body in a new actor (a [`Body`](crate::Body) with
//! a [`Task`]): the body's value or error resolves the future when it
//! ends, and if it is killed first, its exit reason does (as an error).

use std::sync::Arc;

use valk_heap::{Heap, ListKind, SharedValue, Value};
use valk_lang::{BuiltinCx, Failure};
use valk_scheduler::{Mailer, Pid};
use valk_sync::Mutex;

use crate::system::{Message, Reason, ValkSystem};

/// The shared state of one future. A future value holds it directly (the
/// opaque object's `Arc`); a resolver value holds a [`Resolver`].
#[derive(Default)]
pub(crate) struct Cell {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The value (an Error value if the future failed).
    value: Option<SharedValue>,
    /// The first actor to tell when the value comes (most futures have one
    /// awaiter: no allocation for it), then the others.
    first: Option<Pid>,
    more: Vec<Pid>,
}

/// What a resolver value holds.
pub(crate) struct Resolver(pub(crate) Arc<Cell>);

/// The future of an `async` task, resolved when its actor ends.
pub(crate) struct Task {
    pub(crate) cell: Arc<Cell>,
    pub(crate) mailer: Mailer<ValkSystem>,
}

pub(crate) fn future_of(
    cx: &BuiltinCx<'_>,
    args: &[Value],
    i: usize,
) -> Result<Arc<Cell>, Failure> {
    cx.opaque_arg::<Cell>(args, i, "future")?;
    let v = args[i];
    cx.heap
        .opaque(v)
        .and_then(|o| o.clone().downcast::<Cell>().ok())
        .ok_or_else(|| cx.arg_error(i, "future", v))
}

pub(crate) fn resolver_of<'a>(
    cx: &'a BuiltinCx<'_>,
    args: &[Value],
    i: usize,
) -> Result<&'a Arc<Cell>, Failure> {
    Ok(&cx.opaque_arg::<Resolver>(args, i, "resolver")?.0)
}

/// A fresh cell and its future value, owned by `heap`.
pub(crate) fn new_future(heap: &mut Heap) -> (Arc<Cell>, Value) {
    let cell = Arc::new(Cell::default());
    let future = SharedValue::opaque(cell.clone());
    let f = future.value();
    heap.keep_shared(f);
    (cell, f)
}

/// `{:future/-ready}`: what a waiter gets when the value comes.
pub(crate) fn ready_message() -> Message {
    let mut heap = Heap::new();
    let kw = Value::keyword(valk_heap::intern("future/-ready"));
    match heap.list(&[kw], ListKind::Q) {
        Ok(msg) => heap.copy_to_fragment(msg).into(),
        Err(_) => crate::system::message(&[]),
    }
}

impl Cell {
    /// Sets the value; the waiters to tell, or `Err` if it was set already.
    pub(crate) fn resolve(&self, v: SharedValue) -> Result<Vec<Pid>, SharedValue> {
        let mut s = self.state.lock();
        if s.value.is_some() {
            return Err(v);
        }
        s.value = Some(v);
        let mut waiters = std::mem::take(&mut s.more);
        waiters.extend(s.first.take());
        Ok(waiters)
    }

    /// The value if set; else `me` is told when it is (once).
    pub(crate) fn wait(&self, me: Pid) -> Option<Value> {
        let mut s = self.state.lock();
        match &s.value {
            Some(v) => Some(v.value()),
            None => {
                if s.first.is_none() {
                    s.first = Some(me);
                } else if s.first != Some(me) && !s.more.contains(&me) {
                    s.more.push(me);
                }
                None
            }
        }
    }

    /// `me` stops waiting (its await timed out).
    pub(crate) fn unwait(&self, me: Pid) {
        let mut s = self.state.lock();
        if s.first == Some(me) {
            s.first = s.more.pop();
        } else {
            s.more.retain(|&p| p != me);
        }
    }

    /// The value, if set.
    pub(crate) fn value(&self) -> Option<Value> {
        self.state.lock().value.as_ref().map(SharedValue::value)
    }

    /// Is the value set?
    pub(crate) fn is_resolved(&self) -> bool {
        self.state.lock().value.is_some()
    }
}

impl Task {
    /// The task's actor ended with `reason` before resolving: the future
    /// gets the reason as an error (`the async task exited: REASON`).
    pub(crate) fn ended(&self, reason: &Reason) {
        if self.cell.is_resolved() {
            return;
        }
        let mut heap = Heap::new();
        let text = format!("the async task exited: {}", reason.describe());
        let Ok(msg) = heap.string(&text) else { return };
        let payload = reason.to_value(&mut heap);
        let Ok(err) = heap.error(msg, None, Some(payload)) else {
            return;
        };
        let v = heap.to_shared(err);
        if let Ok(waiters) = self.cell.resolve(v) {
            for w in waiters {
                self.mailer.send(w, ready_message());
            }
        }
    }
}
