//! [`OneShot`]: one reply handed from one thread to another, the waiter
//! spinning briefly before it sleeps (a host thread waiting for a job it
//! gave a session actor: short jobs answer within microseconds, and a
//! futex sleep and wake-up cost more than that).

use std::time::{Duration, Instant};

use crate::atomic::{AtomicBool, Ordering};
use crate::{Condvar, Mutex};

/// How long [`OneShot::wait`] spins before it sleeps.
pub const SPIN: Duration = Duration::from_micros(50);

/// A slot written once ([`OneShot::set`]) and read once ([`OneShot::wait`]).
pub struct OneShot<T> {
    /// Set (Release, under the lock) once `value` is final.
    ready: AtomicBool,
    value: Mutex<Option<T>>,
    wake: Condvar,
}

impl<T> Default for OneShot<T> {
    fn default() -> Self {
        OneShot {
            ready: AtomicBool::new(false),
            value: Mutex::new(None),
            wake: Condvar::new(),
        }
    }
}

impl<T> OneShot<T> {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fills the slot (`None`: the sender gave up) and wakes the waiter.
    /// Only the first call counts.
    pub fn set(&self, value: Option<T>) {
        let mut v = self.value.lock();
        if self.ready.load(Ordering::Relaxed) {
            return;
        }
        *v = value;
        self.ready.store(true, Ordering::Release);
        drop(v);
        self.wake.notify_all();
    }

    /// Waits until the slot is filled and takes what it holds: spins for
    /// [`SPIN`], then sleeps on the condvar (under loom it only sleeps).
    pub fn wait(&self) -> Option<T> {
        if !cfg!(valk_loom) {
            let start = Instant::now();
            while !self.ready.load(Ordering::Acquire) && start.elapsed() < SPIN {
                std::hint::spin_loop();
            }
        }
        let mut v = self.value.lock();
        while !self.ready.load(Ordering::Acquire) {
            v = self.wake.wait(v);
        }
        v.take()
    }
}
