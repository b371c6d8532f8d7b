//! One worker's run queue and how it finds the next actor to run.
//!
//! - A FIFO deque (crossbeam-deque, see [`deque`](super::deque)) holds this
//!   worker's runnable actors; other workers steal from its `Stealer` half.
//! - A LIFO slot holds the actor this worker just woke with a message: it runs
//!   next, on this core, while the message is hot in cache (ping-pong stays on
//!   one core). Like tokio, the slot is not stealable, and a streak of
//!   [`MAX_LIFO_STREAK`] LIFO runs sends the slot's occupant to the back of
//!   the queue so two chatty actors cannot starve the rest.
//! - Every [`GLOBAL_QUEUE_INTERVAL`] picks the global injector is checked
//!   first, so actors spawned or woken from outside are not starved by a
//!   busy local queue.
//! - A worker with nothing to run searches (injector, then the others'
//!   deques) and parks through [`Idle`] ([`LocalQueue::next_task`]).
//!
//! The code is generic over the task type and depends on no other part of
//! the runtime, so the loom models (`loom_tests.rs`) run it as it is, with
//! only the deque replaced by a loom-checkable stand-in.

use super::deque::{Injector, Steal, Stealer, Worker};
use crate::idle::Idle;

/// Consecutive runs from the LIFO slot before its occupant goes to the queue.
pub const MAX_LIFO_STREAK: u32 = 16;
/// Picks between two looks at the global injector (tokio's default is 61).
pub const GLOBAL_QUEUE_INTERVAL: u32 = 61;

/// What every worker shares: the injector, the stealing halves of every
/// worker's deque, and the idle-worker coordinator.
pub(crate) struct Queues<T> {
    pub(crate) injector: Injector<T>,
    stealers: Vec<Stealer<T>>,
    pub(crate) idle: Idle,
}

/// Failed searches a worker repeats before it sleeps.
pub const SEARCH_SPINS: u32 = 64;
/// `spin_loop` pauses between two searches.
pub const SPIN_PAUSES: u32 = 64;

impl<T> Queues<T> {
    /// The shared half for `workers` workers, and each worker's own queue.
    pub(crate) fn new(workers: usize) -> (Self, Vec<LocalQueue<T>>) {
        let workers = workers.max(1);
        let locals: Vec<Worker<T>> = (0..workers).map(|_| Worker::new_fifo()).collect();
        let queues = Queues {
            injector: Injector::new(),
            stealers: locals.iter().map(Worker::stealer).collect(),
            idle: Idle::new(workers),
        };
        let locals = locals
            .into_iter()
            .enumerate()
            .map(|(index, local)| LocalQueue::new(index, local))
            .collect();
        (queues, locals)
    }

    /// Work from outside the workers: the injector, then wake a sleeper.
    pub(crate) fn push_remote(&self, task: T) {
        self.injector.push(task);
        self.idle.notify_one();
    }

    /// Is there anything another worker could take (injector or a deque)?
    pub(crate) fn has_visible_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Shutdown: forgets whatever is left in the injector.
    pub(crate) fn clear_injector(&self) {
        while !self.injector.steal().is_empty() {}
    }
}

/// One worker's deque, LIFO slot and counters.
pub(crate) struct LocalQueue<T> {
    index: usize,
    local: Worker<T>,
    lifo: Option<T>,
    lifo_streak: u32,
    tick: u32,
}

impl<T> LocalQueue<T> {
    fn new(index: usize, local: Worker<T>) -> Self {
        LocalQueue {
            index,
            local,
            lifo: None,
            lifo_streak: 0,
            tick: 0,
        }
    }

    /// This worker's index (its place in `Queues` and `Idle`).
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// A task woken by a message sent from this worker: runs next here.
    pub(crate) fn schedule_lifo(&mut self, queues: &Queues<T>, task: T) {
        if let Some(previous) = self.lifo.replace(task) {
            self.schedule_local(queues, previous);
        }
    }

    /// A task made runnable on this worker (spawned, yielded, re-woken).
    pub(crate) fn schedule_local(&mut self, queues: &Queues<T>, task: T) {
        self.local.push(task);
        queues.idle.notify_one();
    }

    /// The next task from this worker's own queues (or the injector on its
    /// periodic turn); `None` means: go steal.
    #[inline]
    pub(crate) fn next_local(&mut self, queues: &Queues<T>) -> Option<T> {
        self.tick = self.tick.wrapping_add(1);
        if self.tick % GLOBAL_QUEUE_INTERVAL == 0 {
            if let Some(task) = self.steal_global(queues) {
                return Some(task);
            }
        }
        if let Some(task) = self.lifo.take() {
            if self.lifo_streak < MAX_LIFO_STREAK {
                self.lifo_streak += 1;
                return Some(task);
            }
            self.local.push(task);
        }
        self.lifo_streak = 0;
        self.local.pop()
    }

    fn steal_global(&mut self, queues: &Queues<T>) -> Option<T> {
        loop {
            match queues.injector.steal_batch_and_pop(&self.local) {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    /// Injector first, then the other workers, starting after this one.
    pub(crate) fn steal(&mut self, queues: &Queues<T>) -> Option<T> {
        if let Some(task) = self.steal_global(queues) {
            return Some(task);
        }
        let n = queues.stealers.len();
        for k in 1..n {
            let victim = &queues.stealers[(self.index + k) % n];
            loop {
                match victim.steal_batch_and_pop(&self.local) {
                    Steal::Success(task) => return Some(task),
                    Steal::Empty => break,
                    Steal::Retry => continue,
                }
            }
        }
        None
    }

    /// The next task to run: local queues first; else search (injector,
    /// other workers) and, finding nothing, park until woken (see
    /// `idle.rs`). `None` only once the runtime shuts down.
    #[inline]
    pub(crate) fn next_task(&mut self, queues: &Queues<T>) -> Option<T> {
        if queues.idle.is_shutdown() {
            return None;
        }
        match self.next_local(queues) {
            Some(task) => Some(task),
            None => self.search(queues),
        }
    }

    /// Nothing to run here: steal, or park until woken.
    ///
    /// ([`SEARCH_SPINS`] rounds of [`SPIN_PAUSES`] pauses: about 20 µs.)
    #[inline(never)]
    fn search(&mut self, queues: &Queues<T>) -> Option<T> {
        let idle = &queues.idle;
        idle.start_searching();
        let mut spins = 0;
        loop {
            if let Some(task) = self.steal(queues) {
                idle.found_work();
                return Some(task);
            }
            if idle.is_shutdown() {
                idle.stop_searching();
                return None;
            }
            // Look again for a few microseconds before sleeping: in message
            // ping-pong and spawn/await pairs new work comes within one or
            // two microseconds, and a futex sleep and wake-up cost more
            // (BEAM's schedulers and Go's Ms spin the same way). While this
            // worker searches, `notify_one` wakes no sleeper for it.
            if !cfg!(valk_loom) && spins < SEARCH_SPINS {
                spins += 1;
                for _ in 0..SPIN_PAUSES {
                    std::hint::spin_loop();
                }
                continue;
            }
            idle.sleep(self.index, || queues.has_visible_work());
            spins = 0;
        }
    }

    /// Shutdown: hands back everything still queued here.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let mut tasks: Vec<_> = self.lifo.take().into_iter().collect();
        while let Some(task) = self.local.pop() {
            tasks.push(task);
        }
        tasks
    }
}
