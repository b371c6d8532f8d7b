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
use valk_sync::future_cell::FutureCell;

use crate::system::{Message, Reason, ValkSystem};

/// The shared state of one future. A future value holds it directly (the
/// opaque object's `Arc`); a resolver value holds a [`Resolver`]. The
/// protocol (value set once, waiters told once) is valk-sync's
/// [`FutureCell`], modeled under loom there.
#[derive(Default)]
pub(crate) struct Cell(FutureCell<SharedValue, Pid>);

/// The future of an `async` task, resolved when its actor ends.
pub(crate) struct Task {
    pub(crate) cell: Arc<Cell>,
    pub(crate) mailer: Mailer<ValkSystem>,
}

/// The cell behind `v`: its future handle, or with `alt` its resolver
/// handle (the same cell behind `SharedValue::opaque_alt`).
fn cell_of(cx: &BuiltinCx<'_>, v: Value, alt: bool) -> Option<Arc<Cell>> {
    if !v.is_ptr() {
        return None;
    }
    let obj = if alt {
        cx.heap.opaque_alt(v)
    } else {
        cx.heap.opaque(v)
    };
    obj?.clone().downcast::<Cell>().ok()
}

/// The future argument `i` of an internal builtin behind `await`,
/// `future/all` or `future/any`: a bad one is reported as `await`'s, the
/// name the user wrote.
pub(crate) fn future_of(
    cx: &BuiltinCx<'_>,
    args: &[Value],
    i: usize,
) -> Result<Arc<Cell>, Failure> {
    let v = args[i];
    cell_of(cx, v, false).ok_or_else(|| {
        cx.error(format!(
            "`await`: argument {}: expected future, got {}",
            i + 1,
            cx.type_name(v)
        ))
    })
}

/// The resolver argument `i`.
pub(crate) fn resolver_of(
    cx: &BuiltinCx<'_>,
    args: &[Value],
    i: usize,
) -> Result<Arc<Cell>, Failure> {
    cell_of(cx, args[i], true).ok_or_else(|| cx.arg_error(i, "resolver", args[i]))
}

/// A fresh cell and its future value, owned by `heap`.
pub(crate) fn new_future(heap: &mut Heap) -> (Arc<Cell>, Value) {
    let cell = Arc::new(Cell::default());
    let future = SharedValue::opaque(cell.clone());
    let f = future.value();
    heap.keep_shared(f);
    (cell, f)
}

/// `{:future/-ready}`: what a waiter gets when the value comes. One shared
/// list made once, sent by reference (no heap made per wake-up).
pub(crate) fn ready_message() -> Message {
    static READY: std::sync::OnceLock<Option<SharedValue>> = std::sync::OnceLock::new();
    let ready = READY.get_or_init(|| {
        let mut heap = Heap::new();
        let kw = Value::keyword(valk_heap::intern("future/-ready"));
        let list = heap.list(&[kw], ListKind::Q).ok()?;
        heap.try_to_shared(list).ok()
    });
    match ready {
        Some(v) => valk_heap::Fragment::from_shared(v.clone()).into(),
        None => crate::system::message(&[]),
    }
}

impl Cell {
    /// Sets the value; the waiters to tell, or `Err` if it was set already.
    pub(crate) fn resolve(&self, v: SharedValue) -> Result<Vec<Pid>, SharedValue> {
        self.0.resolve(v)
    }

    /// The value if set; else `me` is told when it is (once).
    pub(crate) fn wait(&self, me: Pid) -> Option<Value> {
        let v = self.0.wait(me, SharedValue::value);
        if v.is_some() {
            unread::read(self);
        }
        v
    }

    /// `me` stops waiting (its await timed out).
    pub(crate) fn unwait(&self, me: Pid) {
        self.0.unwait(me);
    }

    /// The value, if set.
    pub(crate) fn value(&self) -> Option<Value> {
        let v = self.0.with_value(SharedValue::value);
        if v.is_some() {
            unread::read(self);
        }
        v
    }

    /// An `async` task failed with the error `report` describes: if the
    /// future is dropped before anyone reads it, the report is logged (an
    /// error is never lost silently).
    pub(crate) fn failed_unread(&self, report: String) {
        unread::failed(self, report);
    }

    /// Is the value set?
    pub(crate) fn is_resolved(&self) -> bool {
        self.0.is_resolved()
    }
}

impl Drop for Cell {
    fn drop(&mut self) {
        unread::dropped(self);
    }
}

/// Errors of `async` tasks that no one has read yet, by cell address: a
/// side table, so a future costs nothing for this, and an empty table costs
/// one load per read.
mod unread {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use super::Cell;

    static LEN: AtomicUsize = AtomicUsize::new(0);
    // std's lock: `const`-constructible for a static; nothing in here can
    // panic while it is held.
    static TABLE: std::sync::Mutex<Option<HashMap<usize, String>>> = std::sync::Mutex::new(None);

    fn lock() -> std::sync::MutexGuard<'static, Option<HashMap<usize, String>>> {
        TABLE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn key(cell: &Cell) -> usize {
        std::ptr::from_ref(cell) as usize
    }

    fn take(cell: &Cell) -> Option<String> {
        if LEN.load(Relaxed) == 0 {
            return None;
        }
        let mut table = lock();
        let report = table.as_mut()?.remove(&key(cell));
        LEN.store(table.as_ref().map_or(0, HashMap::len), Relaxed);
        report
    }

    pub(super) fn failed(cell: &Cell, report: String) {
        let mut table = lock();
        let t = table.get_or_insert_with(HashMap::new);
        t.insert(key(cell), report);
        LEN.store(t.len(), Relaxed);
    }

    pub(super) fn read(cell: &Cell) {
        take(cell);
    }

    pub(super) fn dropped(cell: &Cell) {
        if let Some(report) = take(cell) {
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), report.as_bytes());
        }
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
