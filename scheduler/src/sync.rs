//! The `sync` facade, as the scheduler names it: every lock and atomic the
//! scheduler's protocols use comes from here, re-exported from `valk-sync`
//! (the workspace's one facade), so that `--cfg valk_loom` swaps them for
//! loom's model-checked versions without touching any other module.
//!
//! Locks never poison (see `valk-sync`): no critical section in this crate
//! can panic half way through an update.

#[allow(unused_imports)]
pub(crate) use valk_sync::{
    fence, yield_now, Arc, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    Condvar, Mutex, MutexGuard, Ordering,
};
