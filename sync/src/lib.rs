//! The sync facade: every lock, atomic and cross-thread hand-off Valk's
//! crates use comes from here. Normally these are `std`'s; built with
//! `RUSTFLAGS="--cfg valk_loom"` they are [loom]'s model-checked versions, so
//! that a crate's loom models (`loom_*` tests, `scripts/loom.sh`) drive its
//! real protocol code (tokio's `crate::loom` pattern). The cfg is
//! project-specific, not `--cfg loom`, so that loom never switches
//! dependencies such as tokio.
//!
//! | item | normally | under `valk_loom` |
//! |---|---|---|
//! | [`Arc`], [`atomic`] (`AtomicBool/U32/U64/Usize/Isize/Ptr`, `fence`) | std | loom |
//! | [`Mutex`], [`Condvar`] (never poison) | std | loom |
//! | [`OnceLock`] | std's `OnceLock` | a lock-and-flag cell on loom's primitives |
//! | [`cell::UnsafeCell`] (`with` / `with_mut`) | a `core` cell | loom's (checks accesses) |
//! | [`thread`] (`spawn`, `Builder`, `yield_now`), [`model`] | std / runs once | loom |
//! | [`handoff::HandOff`] (host mailbox queue) | built on the above | built on the above |
//! | [`oneshot::OneShot`] (a job's reply to a host thread) | built on the above | built on the above |
//! | [`future_cell::FutureCell`] (a Valk future's value and waiters) | built on the above | built on the above |
//! | [`atom_cell::AtomCell`] (a Valk atom's CAS cell) | `arc_swap::ArcSwap` | a [`Mutex`] stand-in |
//! | [`statics`] (process-wide statics) | std | **std**: not modeled |
//! | [`stack`] (native stack-depth guard: `check`, `remaining`, `enter`/`leave`) | a thread-local bound | the same |
//!
//! [`statics`] is the one escape hatch: loom's primitives cannot be built in
//! a `static` (they belong to one model execution), so process-wide statics
//! (a chunk pool, statistics counters, a lazily started thread) use it, and
//! the protocols they guard are modeled through instances instead (the heap's
//! `Reaper` is a type; its static is one instance).
//!
//! Locks never poison here: a panic while a lock is held is a bug that
//! already unwinds (or aborts) the program; later users of a lock whose
//! holder panicked see data that no Valk critical section leaves half
//! updated.
//!
//! [loom]: https://docs.rs/loom

pub mod atom_cell;
pub mod future_cell;
pub mod handoff;
pub mod oneshot;
pub mod stack;

#[cfg(all(test, valk_loom))]
mod loom_tests;

#[cfg(not(valk_loom))]
mod imp {
    pub use std::sync::atomic::{
        fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    };
    pub use std::sync::Arc;
    pub use std::sync::{Condvar as RawCondvar, Mutex as RawMutex, MutexGuard};
}

#[cfg(valk_loom)]
mod imp {
    pub use loom::sync::atomic::{
        fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    };
    pub use loom::sync::Arc;
    pub use loom::sync::{Condvar as RawCondvar, Mutex as RawMutex, MutexGuard};
}

/// Atomics and fences (std's, or loom's under `valk_loom`).
pub mod atomic {
    pub use crate::imp::{
        fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    };
    pub use std::sync::atomic::Ordering;
}

pub use atomic::{
    fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
pub use imp::{Arc, MutexGuard};

/// Lets other threads run (a spin-wait's back-off; loom's under loom, so a
/// model can make progress while one thread waits for another).
pub fn yield_now() {
    thread::yield_now();
}

/// A mutex whose `lock` cannot fail (see the crate note on poisoning).
#[derive(Debug)]
pub struct Mutex<T>(imp::RawMutex<T>);

impl<T> Mutex<T> {
    pub fn new(value: T) -> Self {
        Mutex(imp::RawMutex::new(value))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn into_inner(self) -> T {
        self.0
            .into_inner()
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
pub struct Condvar(imp::RawCondvar);

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl Condvar {
    pub fn new() -> Self {
        Condvar(imp::RawCondvar::new())
    }

    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for a notification or at most `timeout` (the caller rechecks
    /// its condition and the clock). Under loom this waits for a
    /// notification only (loom has no time), so a model in which a waiter
    /// needs its timeout to make progress reports a deadlock: that is how
    /// the models catch lost wake-ups.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: std::time::Duration,
    ) -> MutexGuard<'a, T> {
        match self.0.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    pub fn notify_one(&self) {
        self.0.notify_one();
    }

    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// A cell written once, read lock-free afterwards (`std::sync::OnceLock`'s
/// contract: at most one initialiser runs; a value seen by `get` is fully
/// initialised). Under loom: a flag (Release/Acquire) in front of a
/// loom-checked cell, written under a lock.
pub struct OnceLock<T> {
    #[cfg(not(valk_loom))]
    inner: std::sync::OnceLock<T>,
    #[cfg(valk_loom)]
    ready: AtomicBool,
    #[cfg(valk_loom)]
    init: Mutex<()>,
    #[cfg(valk_loom)]
    value: cell::UnsafeCell<Option<T>>,
}

// Under loom only (std's OnceLock is Send + Sync on its own).
// SAFETY: the value is written once, under `init`, before `ready` is set
// with Release; readers read it only after an Acquire load of `ready`, and
// never write it. So sharing the cell shares `&T` (needs `T: Sync`) and
// hands a `T` written on one thread to others (needs `T: Send`), like std's
// `OnceLock`.
#[cfg(valk_loom)]
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: as above; owning the cell owns the `T`.
#[cfg(valk_loom)]
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("OnceLock").field(&self.get()).finish()
    }
}

impl<T> OnceLock<T> {
    pub fn new() -> Self {
        #[cfg(not(valk_loom))]
        {
            OnceLock {
                inner: std::sync::OnceLock::new(),
            }
        }
        #[cfg(valk_loom)]
        {
            OnceLock {
                ready: AtomicBool::new(false),
                init: Mutex::new(()),
                value: cell::UnsafeCell::new(None),
            }
        }
    }

    /// The value, if it has been set.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        #[cfg(not(valk_loom))]
        {
            self.inner.get()
        }
        #[cfg(valk_loom)]
        {
            if !self.ready.load(Ordering::Acquire) {
                return None;
            }
            // SAFETY: `ready` (Acquire, pairing with the Release store in
            // `get_or_init`) says the value was written and will never be
            // written again, so a shared reference may outlive the access.
            self.value.with(|p| unsafe { (*p).as_ref() })
        }
    }

    /// The value, made by `f` if nobody has set it yet (at most one `f`
    /// runs; the others wait for it).
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        #[cfg(not(valk_loom))]
        {
            self.inner.get_or_init(f)
        }
        #[cfg(valk_loom)]
        {
            if let Some(v) = self.get() {
                return v;
            }
            let _init = self.init.lock();
            if !self.ready.load(Ordering::Acquire) {
                let value = f();
                // SAFETY: under `init` and before `ready` is set, nobody
                // else reads or writes the cell.
                self.value.with_mut(|p| unsafe { *p = Some(value) });
                self.ready.store(true, Ordering::Release);
            }
            match self.get() {
                Some(v) => v,
                None => unreachable!("OnceLock set above"),
            }
        }
    }
}

/// `UnsafeCell` with loom's closure API (`with` / `with_mut`), so that loom
/// checks every access for races (std's: plain pointer access).
pub mod cell {
    #[cfg(valk_loom)]
    pub use loom::cell::UnsafeCell;

    /// A `core::cell::UnsafeCell` with loom's access API.
    #[cfg(not(valk_loom))]
    #[derive(Debug, Default)]
    pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    #[cfg(not(valk_loom))]
    impl<T> UnsafeCell<T> {
        pub const fn new(value: T) -> Self {
            UnsafeCell(core::cell::UnsafeCell::new(value))
        }

        /// Reads through the pointer `f` gets (the caller's contract says
        /// nobody writes meanwhile).
        #[inline]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Writes through the pointer `f` gets (the caller's contract says
        /// nobody else accesses the cell meanwhile).
        #[inline]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }

        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }
}

/// Threads: std's, or loom's (which only exist inside [`model`]).
pub mod thread {
    #[cfg(not(valk_loom))]
    pub use std::thread::{spawn, yield_now, Builder, JoinHandle};

    #[cfg(valk_loom)]
    pub use loom::thread::{spawn, yield_now, Builder, JoinHandle};
}

/// Runs a model: under `valk_loom`, `loom::model` (every interleaving, up to
/// `LOOM_MAX_PREEMPTIONS` preemptions); normally, `f` once.
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    #[cfg(valk_loom)]
    loom::model(f);
    #[cfg(not(valk_loom))]
    f();
}

/// Primitives for process-wide `static`s: always std's, also under
/// `valk_loom` (loom's cannot live in a static; see the crate note). Use them
/// for statics only, and keep the protocol a static guards in a type the
/// models can instantiate.
pub mod statics {
    pub use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
    pub use std::sync::{MutexGuard, OnceLock};

    /// A non-poisoning `std` mutex that can be built in a `static`.
    #[derive(Debug, Default)]
    pub struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub const fn new(value: T) -> Self {
            Mutex(std::sync::Mutex::new(value))
        }

        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}
