//! Futures (LANGUAGE.md §9, the part of issue 11 built so far): `(promise)`
//! gives `{future resolver}`; `(resolve resolver v)` sets the value once and
//! sends every actor waiting on it `{:future/-ready future}`; `await`
//! (Valk, the actor prelude) asks `future/-wait` whether the value is there
//! and otherwise waits in an ordinary `receive` for that message, so an
//! awaiting actor parks like any receiver (no thread blocks) and
//! `(await f ms)` uses the receive's timer. Futures and resolvers are
//! shared objects: sent by reference, awaited by any number of actors.

use std::sync::Arc;

use valk_heap::{SharedValue, Value};
use valk_lang::{BuiltinCx, Failure};
use valk_scheduler::Pid;
use valk_sync::Mutex;

/// The shared state of one future.
#[derive(Default)]
pub(crate) struct Cell {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The value (an Error value if the future failed).
    value: Option<SharedValue>,
    /// Actors to tell when the value comes.
    waiters: Vec<Pid>,
}

/// What a future value holds.
pub(crate) struct Future(pub(crate) Arc<Cell>);
/// What a resolver value holds.
pub(crate) struct Resolver(pub(crate) Arc<Cell>);

pub(crate) fn future_of<'a>(
    cx: &'a BuiltinCx<'_>,
    args: &[Value],
    i: usize,
) -> Result<&'a Arc<Cell>, Failure> {
    Ok(&cx.opaque_arg::<Future>(args, i, "future")?.0)
}

pub(crate) fn resolver_of<'a>(
    cx: &'a BuiltinCx<'_>,
    args: &[Value],
    i: usize,
) -> Result<&'a Arc<Cell>, Failure> {
    Ok(&cx.opaque_arg::<Resolver>(args, i, "resolver")?.0)
}

impl Cell {
    /// Sets the value; the waiters to tell, or `Err` if it was set already.
    pub(crate) fn resolve(&self, v: SharedValue) -> Result<Vec<Pid>, SharedValue> {
        let mut s = self.state.lock();
        if s.value.is_some() {
            return Err(v);
        }
        s.value = Some(v);
        Ok(std::mem::take(&mut s.waiters))
    }

    /// The value if set; else `me` is told when it is (once).
    pub(crate) fn wait(&self, me: Pid) -> Option<Value> {
        let mut s = self.state.lock();
        match &s.value {
            Some(v) => Some(v.value()),
            None => {
                if !s.waiters.contains(&me) {
                    s.waiters.push(me);
                }
                None
            }
        }
    }

    /// `me` stops waiting (its await timed out).
    pub(crate) fn unwait(&self, me: Pid) {
        self.state.lock().waiters.retain(|&p| p != me);
    }

    /// The value, if set.
    pub(crate) fn value(&self) -> Option<Value> {
        self.state.lock().value.as_ref().map(SharedValue::value)
    }
}
