//! The actor table: a concurrent generational slot map from [`Pid`] to the
//! actor's control block ([`Cell`]).
//!
//! Slots live in buckets of doubling size (1,024, 2,048, ...) allocated on
//! first use and never moved. Each slot points to a cell allocated the first
//! time the slot is used and kept, recycled, until the table is dropped: a
//! lookup is two loads (no lock, no reference count), and the pid's
//! generation is checked by the cell's inbox under its own lock (see
//! `mailbox.rs`, step 6). Freeing a slot bumps nothing here; the next actor
//! spawned in it takes the next generation, which makes every older pid miss.
//! Freed indices are reused LIFO (warm memory first), from a per-worker cache
//! backed by a shared list.

use std::ptr::NonNull;
use std::sync::OnceLock;

use crate::api::System;
use crate::pid::Pid;
use crate::process::{ActorState, Cell, Code, Task};
use crossbeam_utils::CachePadded;

use crate::sync::Mutex;
use crate::sync::{
    AtomicIsize, AtomicPtr, AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};

const FIRST_BUCKET_BITS: u32 = 10;
const BUCKETS: usize = 23; // 1,024 * (2^23 - 1) slots: every u32 index fits
/// Free indices a worker keeps before handing half to the shared list.
const CACHE_MAX: usize = 256;

/// A worker's own free indices: spawns and exits on one worker reuse slots
/// without touching the shared list (or its cache line).
#[derive(Default)]
pub(crate) struct FreeCache {
    indices: Vec<u32>,
}

/// One bucket: a fixed run of slots, allocated on first use.
type Bucket<S> = OnceLock<Box<[AtomicPtr<Cell<S>>]>>;

pub(crate) struct Table<S: System> {
    buckets: [Bucket<S>; BUCKETS],
    next_index: AtomicU32,
    free: Mutex<Vec<u32>>,
    /// Live actors, one counter per worker (plus one for outside callers)
    /// so that spawns and exits on different cores do not share a line.
    live: Box<[CachePadded<AtomicIsize>]>,
}

fn locate(index: u32) -> (usize, usize) {
    let shifted = u64::from(index) + (1 << FIRST_BUCKET_BITS);
    let bucket = 63 - shifted.leading_zeros() - FIRST_BUCKET_BITS;
    let offset = shifted - (1 << (bucket + FIRST_BUCKET_BITS));
    (bucket as usize, offset as usize)
}

impl<S: System> Table<S> {
    /// A table used by `workers` workers (counter `workers` is for callers
    /// outside them).
    pub(crate) fn new(workers: usize) -> Self {
        Table {
            buckets: std::array::from_fn(|_| OnceLock::new()),
            next_index: AtomicU32::new(0),
            free: Mutex::new(Vec::new()),
            live: (0..=workers).map(|_| Default::default()).collect(),
        }
    }

    fn counter(&self, worker: Option<usize>) -> &AtomicIsize {
        let last = self.live.len() - 1;
        &self.live[worker.map_or(last, |w| w.min(last))]
    }

    fn take_index(&self, cache: Option<&mut FreeCache>) -> u32 {
        if let Some(cache) = cache {
            if let Some(index) = cache.indices.pop() {
                return index;
            }
            let mut free = self.free.lock();
            let keep = free.len().saturating_sub(CACHE_MAX / 2);
            cache.indices.extend(free.drain(keep..));
            drop(free);
            if let Some(index) = cache.indices.pop() {
                return index;
            }
        } else if let Some(index) = self.free.lock().pop() {
            return index;
        }
        self.next_index.fetch_add(1, Relaxed)
    }

    fn slot(&self, index: u32) -> Option<&AtomicPtr<Cell<S>>> {
        let (bucket, offset) = locate(index);
        self.buckets.get(bucket)?.get()?.get(offset)
    }

    fn slot_or_create(&self, index: u32) -> &AtomicPtr<Cell<S>> {
        let (bucket, offset) = locate(index);
        let slots = self.buckets[bucket].get_or_init(|| {
            (0..(1usize << (bucket as u32 + FIRST_BUCKET_BITS)))
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect()
        });
        &slots[offset]
    }

    /// Puts a new actor in a free slot, `Queued` with `code`; `init` fills in
    /// its state (links, monitors) before anyone can reach it. `worker`: the
    /// calling worker's index and free cache (`None` outside the workers).
    pub(crate) fn insert(
        &self,
        worker: Option<(usize, &mut FreeCache)>,
        is_main: bool,
        code: Code<S>,
        init: impl FnOnce(&mut ActorState<S>),
    ) -> Task<S> {
        let (index_of, cache) = worker.map_or((None, None), |(i, c)| (Some(i), Some(c)));
        let index = self.take_index(cache);
        let slot = self.slot_or_create(index);
        let task = match NonNull::new(slot.load(Acquire)) {
            None => {
                let mut st = ActorState::new(Pid::new(index, 0), is_main);
                init(&mut st);
                let cell = NonNull::from(Box::leak(Box::new(Cell::new(st, code))));
                // Release: whoever loads the pointer sees the built cell.
                slot.store(cell.as_ptr(), Release);
                Task::from_table(cell)
            }
            Some(cell) => {
                let task = Task::from_table(cell);
                // SAFETY: the index came off the free list, so the slot's last
                // actor has exited and its worker freed the index after its
                // last use of the state (`free`, through the free list's lock
                // or on this same thread); until `reopen` below nobody else
                // may run or spawn here. Senders touch only the inbox.
                let st = unsafe { &mut *task.state() };
                let pid = Pid::new(index, st.pid.generation().wrapping_add(1));
                st.recycle(pid, is_main);
                init(st);
                task.has_name.store(false, Relaxed);
                task.stats.reductions.store(0, Relaxed);
                task.stats.mailbox_len.store(0, Relaxed);
                task.stats.heap_bytes.store(0, Relaxed);
                task.stats.wait_site.store(0, Relaxed);
                // Publishes all of the above to the next locker of the inbox.
                let reopened = task.inbox.reopen(pid.to_u64(), code);
                debug_assert!(reopened, "a free slot's inbox was not exited");
                task
            }
        };
        self.counter(index_of).fetch_add(1, Relaxed);
        task
    }

    /// The control block of slot `pid.index()`, whoever occupies it now: the
    /// caller checks the generation through the inbox (`push`, `state_of`).
    pub(crate) fn get(&self, pid: Pid) -> Option<Task<S>> {
        let cell = NonNull::new(self.slot(pid.index())?.load(Acquire))?;
        Some(Task::from_table(cell))
    }

    /// An actor has exited (its inbox is closed) on `worker`: it no longer counts.
    pub(crate) fn retire(&self, worker: usize) {
        self.counter(Some(worker)).fetch_sub(1, Relaxed);
    }

    /// Frees the slot of a retired actor into `cache`. Call after the last
    /// use of its state: the next spawn may reuse it at once.
    pub(crate) fn free(&self, pid: Pid, cache: &mut FreeCache) {
        cache.indices.push(pid.index());
        if cache.indices.len() > CACHE_MAX {
            // The oldest (coldest) half goes to the shared list.
            let half = cache.indices.len() / 2;
            self.free.lock().extend(cache.indices.drain(..half));
        }
    }

    /// A stopping worker's free indices go back to the shared list.
    pub(crate) fn return_cache(&self, cache: &mut FreeCache) {
        self.free.lock().append(&mut cache.indices);
    }

    /// Every control block ever made (shutdown).
    pub(crate) fn snapshot(&self) -> Vec<Task<S>> {
        let end = self.next_index.load(Relaxed);
        (0..end).filter_map(|i| self.get(Pid::new(i, 0))).collect()
    }

    /// Live actors (exact when no spawn or exit is in progress).
    pub(crate) fn len(&self) -> usize {
        let sum: isize = self.live.iter().map(|c| c.load(Relaxed)).sum();
        usize::try_from(sum).unwrap_or(0)
    }
}

impl<S: System> Drop for Table<S> {
    fn drop(&mut self) {
        for bucket in &mut self.buckets {
            let Some(slots) = bucket.get_mut() else {
                continue;
            };
            for slot in slots.iter_mut() {
                let cell = *slot.get_mut();
                if !cell.is_null() {
                    // SAFETY: the pointer came from `Box::leak` in `insert`
                    // and is freed only here, once; `&mut self` means no
                    // task is in use any more (the runtime drops the table
                    // after joining every thread that could hold one).
                    drop(unsafe { Box::from_raw(cell) });
                }
            }
        }
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

    use crate::test_system::Sys;

    fn spawn(table: &Table<Sys>, cache: &mut FreeCache) -> (Task<Sys>, Pid) {
        let code = Code::Ready(Box::new(|_: &mut crate::Cx<'_, Sys>| {
            crate::api::Step::Yield
        }));
        let mut pid = None;
        let task = table.insert(Some((0, cache)), false, code, |st| pid = Some(st.pid));
        (task, pid.expect("init ran"))
    }

    #[test]
    fn a_reused_slot_rejects_the_old_pid() {
        use crate::mailbox::Push;
        use crate::signal::Item;
        let table = Table::<Sys>::new(1);
        let mut cache = FreeCache::default();
        let (task, old) = spawn(&table, &mut cache);
        assert!(task.inbox.begin_run(&mut Default::default()).is_some());
        drop(task.inbox.exit());
        table.retire(0);
        table.free(old, &mut cache);
        assert_eq!(table.len(), 0);

        let (task, new) = spawn(&table, &mut cache);
        assert_eq!(new.index(), old.index(), "slot reused from the cache");
        assert_ne!(new, old);
        assert!(matches!(
            task.inbox.push(old.to_u64(), Item::Msg(1), true),
            Push::Rejected(_)
        ));
        assert!(matches!(
            task.inbox.push(new.to_u64(), Item::Msg(2), true),
            Push::Queued
        ));
        assert!(task.info(old).is_none());
        assert_eq!(task.info(new).map(|i| i.mailbox_len), Some(1));
        assert_eq!(table.len(), 1);
    }
}
