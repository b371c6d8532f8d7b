//! The actor table: a concurrent generational slot map from [`Pid`] to a value.
//!
//! Slots live in buckets of doubling size (1,024, 2,048, ...) allocated on
//! first use and never moved, so a slot's address is stable and lookups need
//! no global lock: only the slot's own small mutex. Removing a value bumps the
//! slot's generation, which makes every older pid miss. Freed indices are
//! reused LIFO (warm memory first).

use std::sync::OnceLock;

use crate::pid::Pid;
use crate::sync::{AtomicU32, AtomicUsize, Mutex, Ordering::Relaxed};

const FIRST_BUCKET_BITS: u32 = 10;
const BUCKETS: usize = 23; // 1,024 * (2^23 - 1) slots: every u32 index fits

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// One bucket: a fixed run of slots, allocated on first use.
type Bucket<T> = OnceLock<Box<[Mutex<Slot<T>>]>>;

pub(crate) struct Table<T> {
    buckets: [Bucket<T>; BUCKETS],
    next_index: AtomicU32,
    free: Mutex<Vec<u32>>,
    len: AtomicUsize,
}

fn locate(index: u32) -> (usize, usize) {
    let shifted = u64::from(index) + (1 << FIRST_BUCKET_BITS);
    let bucket = 63 - shifted.leading_zeros() - FIRST_BUCKET_BITS;
    let offset = shifted - (1 << (bucket + FIRST_BUCKET_BITS));
    (bucket as usize, offset as usize)
}

impl<T: Clone> Table<T> {
    pub(crate) fn new() -> Self {
        Table {
            buckets: std::array::from_fn(|_| OnceLock::new()),
            next_index: AtomicU32::new(0),
            free: Mutex::new(Vec::new()),
            len: AtomicUsize::new(0),
        }
    }

    fn slot(&self, index: u32) -> Option<&Mutex<Slot<T>>> {
        let (bucket, offset) = locate(index);
        self.buckets.get(bucket)?.get()?.get(offset)
    }

    fn slot_or_create(&self, index: u32) -> &Mutex<Slot<T>> {
        let (bucket, offset) = locate(index);
        let slots = self.buckets[bucket].get_or_init(|| {
            (0..(1usize << (bucket as u32 + FIRST_BUCKET_BITS)))
                .map(|_| {
                    Mutex::new(Slot {
                        generation: 0,
                        value: None,
                    })
                })
                .collect()
        });
        &slots[offset]
    }

    /// Stores `make(pid)` in a free slot and returns a copy of it.
    pub(crate) fn insert(&self, make: impl FnOnce(Pid) -> T) -> T {
        let reused = self.free.lock().pop();
        let index = reused.unwrap_or_else(|| self.next_index.fetch_add(1, Relaxed));
        let mut slot = self.slot_or_create(index).lock();
        let pid = Pid::new(index, slot.generation);
        let value = make(pid);
        slot.value = Some(value.clone());
        self.len.fetch_add(1, Relaxed);
        value
    }

    /// The value for `pid`, unless that actor is gone (even if its slot has a
    /// new occupant).
    pub(crate) fn get(&self, pid: Pid) -> Option<T> {
        let slot = self.slot(pid.index())?.lock();
        if slot.generation == pid.generation() {
            slot.value.clone()
        } else {
            None
        }
    }

    /// Removes `pid`'s value and retires the pid forever.
    pub(crate) fn remove(&self, pid: Pid) -> Option<T> {
        let value = {
            let mut slot = self.slot(pid.index())?.lock();
            if slot.generation != pid.generation() || slot.value.is_none() {
                return None;
            }
            slot.generation = slot.generation.wrapping_add(1);
            slot.value.take()
        };
        self.free.lock().push(pid.index());
        self.len.fetch_sub(1, Relaxed);
        value
    }

    /// Every live value (shutdown).
    pub(crate) fn snapshot(&self) -> Vec<T> {
        let end = self.next_index.load(Relaxed);
        (0..end)
            .filter_map(|i| self.slot(i).and_then(|s| s.lock().value.clone()))
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_indices_contiguously() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(1023), (0, 1023));
        assert_eq!(locate(1024), (1, 0));
        assert_eq!(locate(3071), (1, 2047));
        assert_eq!(locate(3072), (2, 0));
        assert_eq!(locate(u32::MAX).0, BUCKETS - 1);
    }

    #[test]
    fn a_reused_slot_rejects_the_old_pid() {
        let table = Table::new();
        let old = table.insert(|pid| (pid, "old")).0;
        assert_eq!(table.remove(old), Some((old, "old")));
        let new = table.insert(|pid| (pid, "new")).0;
        assert_eq!(new.index(), old.index());
        assert_ne!(new, old);
        assert_eq!(table.get(old), None);
        assert_eq!(table.get(new), Some((new, "new")));
        assert_eq!(table.remove(old), None);
        assert_eq!(table.len(), 1);
    }
}
