//! The gate that callers outside the workers pass to create actors, so that
//! shutdown never clears an actor's state while a spawn is filling it in.
//!
//! A spawn from outside writes the private state of a recycled control block
//! before publishing it (`Table::insert`); shutdown clears every control
//! block's state. One atomic word holds a `CLOSED` bit and the number of
//! callers inside: a caller adds itself and backs out if the bit was set;
//! shutdown sets the bit, then waits for the count to drop to zero. Both
//! are read-modify-writes of one location, so either the caller sees the
//! bit (and touches nothing) or shutdown sees the caller (and waits for it).
//! Callers inside never block, so the wait is short.

use crate::sync::{
    yield_now, AtomicUsize,
    Ordering::{AcqRel, Acquire, Release},
};

const CLOSED: usize = 1 << (usize::BITS - 1);

#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: AtomicUsize,
}

/// Held while inside the gate.
#[must_use]
pub(crate) struct Pass<'a>(&'a Gate);

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(1, Release);
    }
}

impl Gate {
    /// Enters, unless the gate is closed.
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        if self.state.fetch_add(1, AcqRel) & CLOSED != 0 {
            self.state.fetch_sub(1, Release);
            return None;
        }
        Some(Pass(self))
    }

    /// Closes the gate: every later `enter` fails. Idempotent.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, AcqRel);
    }

    /// After `close`: waits until every caller that got in has left (their
    /// writes are then visible to this thread).
    pub(crate) fn wait_empty(&self) {
        while self.state.load(Acquire) & !CLOSED != 0 {
            yield_now();
        }
    }
}
