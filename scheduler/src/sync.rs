//! The `sync` facade: every lock and atomic the scheduler's protocols use comes
//! from here, so that `--cfg valk_loom` swaps them for loom's model-checked
//! versions without touching any other crate (tokio's `crate::loom` pattern).
//!
//! Locks never poison here: no critical section in this crate can panic half
//! way through an update, so a poisoned lock still guards consistent data.

#[cfg(not(valk_loom))]
mod imp {
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    };
    pub(crate) use std::sync::Arc;
    pub(crate) use std::sync::{Condvar as RawCondvar, Mutex as RawMutex, MutexGuard};
}

#[cfg(valk_loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    };
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::sync::{Condvar as RawCondvar, Mutex as RawMutex, MutexGuard};
}

#[allow(unused_imports)]
pub(crate) use imp::{
    fence, Arc, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, MutexGuard,
};
pub(crate) use std::sync::atomic::Ordering;

/// Lets other threads run (a spin-wait's back-off; loom's under loom, so a
/// model can make progress while one thread waits for another).
pub(crate) fn yield_now() {
    #[cfg(not(valk_loom))]
    std::thread::yield_now();
    #[cfg(valk_loom)]
    loom::thread::yield_now();
}

/// A mutex whose `lock` cannot fail (see the module note on poisoning).
#[derive(Debug)]
pub(crate) struct Mutex<T>(imp::RawMutex<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(imp::RawMutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

/// A condition variable paired with [`Mutex`].
#[derive(Debug)]
pub(crate) struct Condvar(imp::RawCondvar);

impl Condvar {
    pub(crate) fn new() -> Self {
        Condvar(imp::RawCondvar::new())
    }

    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(not(valk_loom))]
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: std::time::Duration,
    ) -> MutexGuard<'a, T> {
        match self.0.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}
