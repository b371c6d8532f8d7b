//! A cell holding an `Arc<T>`, updated by compare-and-swap (Valk's atoms).
//! Normally it is [`arc_swap::ArcSwap`] (lock-free loads); under
//! `valk_loom` it is a stand-in, a [`crate::Mutex`] around the `Arc`, like
//! the scheduler's stand-in for crossbeam-deque: loom cannot check
//! arc-swap's internals, so the models check the protocols built on the
//! cell's contract (a CAS succeeds iff the cell still holds the very `Arc`
//! the caller loaded) instead.
//!
//! The cell holds `std::sync::Arc`s in both configurations: only pointer
//! identity matters to it, and arc-swap needs std's `Arc`.

use std::sync::Arc;

/// A shared `Arc<T>` slot: `load`, `store`, `compare_and_swap`.
pub struct AtomCell<T> {
    #[cfg(not(valk_loom))]
    inner: arc_swap::ArcSwap<T>,
    #[cfg(valk_loom)]
    inner: crate::Mutex<Arc<T>>,
}

impl<T> AtomCell<T> {
    /// A cell holding `value`.
    pub fn new(value: Arc<T>) -> Self {
        #[cfg(not(valk_loom))]
        {
            AtomCell {
                inner: arc_swap::ArcSwap::new(value),
            }
        }
        #[cfg(valk_loom)]
        {
            AtomCell {
                inner: crate::Mutex::new(value),
            }
        }
    }

    /// The `Arc` held now (a new reference to it).
    pub fn load(&self) -> Arc<T> {
        #[cfg(not(valk_loom))]
        {
            self.inner.load_full()
        }
        #[cfg(valk_loom)]
        {
            self.inner.lock().clone()
        }
    }

    /// Replaces the held `Arc` with `value`.
    pub fn store(&self, value: Arc<T>) {
        #[cfg(not(valk_loom))]
        {
            self.inner.store(value);
        }
        #[cfg(valk_loom)]
        {
            // The old value drops after the lock is released.
            let _old = std::mem::replace(&mut *self.inner.lock(), value);
        }
    }

    /// Stores `new` if the cell still holds `current` (the very `Arc`:
    /// pointer equality). `Err` carries the `Arc` found instead (and drops
    /// `new`). Holding `current` keeps its allocation alive, so its address
    /// cannot be reused meanwhile (no ABA).
    pub fn compare_and_swap(&self, current: &Arc<T>, new: Arc<T>) -> Result<(), Arc<T>> {
        #[cfg(not(valk_loom))]
        {
            let prev = self.inner.compare_and_swap(current, new);
            if Arc::ptr_eq(&prev, current) {
                Ok(())
            } else {
                Err(arc_swap::Guard::into_inner(prev))
            }
        }
        #[cfg(valk_loom)]
        {
            let mut held = self.inner.lock();
            if Arc::ptr_eq(&held, current) {
                let _old = std::mem::replace(&mut *held, new);
                drop(held);
                Ok(())
            } else {
                Err(held.clone())
            }
        }
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for AtomCell<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("AtomCell").field(&self.load()).finish()
    }
}

#[cfg(all(test, not(valk_loom)))]
mod tests {
    use super::AtomCell;
    use std::sync::Arc;

    #[test]
    fn compare_and_swap_needs_the_very_arc() {
        let first = Arc::new(1);
        let cell = AtomCell::new(first.clone());
        assert!(Arc::ptr_eq(&cell.load(), &first));
        // An equal value in another allocation is not "the same".
        let found = cell
            .compare_and_swap(&Arc::new(1), Arc::new(2))
            .unwrap_err();
        assert!(Arc::ptr_eq(&found, &first));
        assert_eq!(cell.compare_and_swap(&first, Arc::new(3)), Ok(()));
        assert_eq!(*cell.load(), 3);
        cell.store(Arc::new(4));
        assert_eq!(*cell.load(), 4);
    }
}
