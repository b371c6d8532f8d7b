//! One worker's run queue and how it finds the next actor to run.
//!
//! - A crossbeam-deque FIFO `Worker` holds this worker's runnable actors;
//!   other workers steal from its `Stealer` half.
//! - A LIFO slot holds the actor this worker just woke with a message: it runs
//!   next, on this core, while the message is hot in cache (ping-pong stays on
//!   one core). Like tokio, the slot is not stealable, and a streak of
//!   [`MAX_LIFO_STREAK`] LIFO runs sends the slot's occupant to the back of
//!   the queue so two chatty actors cannot starve the rest.
//! - Every [`GLOBAL_QUEUE_INTERVAL`] picks the global injector is checked
//!   first, so actors spawned or woken from outside are not starved by a
//!   busy local queue.

use std::collections::VecDeque;

use crossbeam_deque::{Steal, Worker};

use crate::api::System;
use crate::process::{ItemOf, Task};
use crate::runtime::Shared;
use crate::stack_pool::PooledStack;
use crate::table::FreeCache;

/// Consecutive runs from the LIFO slot before its occupant goes to the queue.
pub const MAX_LIFO_STREAK: u32 = 16;
/// Picks between two looks at the global injector (tokio's default is 61).
pub const GLOBAL_QUEUE_INTERVAL: u32 = 61;
/// Free stacks a worker keeps without touching the shared pool.
const LOCAL_STACKS: usize = 16;

/// Everything one worker thread owns.
pub(crate) struct WorkerCore<S: System> {
    pub(crate) index: usize,
    local: Worker<Task<S>>,
    lifo: Option<Task<S>>,
    lifo_streak: u32,
    tick: u32,
    /// Reused buffer for items taken from an inbox.
    pub(crate) scratch: VecDeque<ItemOf<S>>,
    stacks: Vec<PooledStack>,
    /// Slots freed by actors that exited here, reused by spawns here.
    pub(crate) free_slots: FreeCache,
}

impl<S: System> WorkerCore<S> {
    pub(crate) fn new(index: usize, local: Worker<Task<S>>) -> Self {
        WorkerCore {
            index,
            local,
            lifo: None,
            lifo_streak: 0,
            tick: 0,
            scratch: VecDeque::new(),
            stacks: Vec::new(),
            free_slots: FreeCache::default(),
        }
    }

    /// An actor woken by a message sent from this worker: runs next here.
    pub(crate) fn schedule_lifo(&mut self, shared: &Shared<S>, task: Task<S>) {
        if let Some(previous) = self.lifo.replace(task) {
            self.schedule_local(shared, previous);
        }
    }

    /// An actor made runnable on this worker (spawned, yielded, re-woken).
    pub(crate) fn schedule_local(&mut self, shared: &Shared<S>, task: Task<S>) {
        self.local.push(task);
        shared.idle.notify_one();
    }

    /// The next actor to run from this worker's own queues (or the injector
    /// on its periodic turn); `None` means: go steal.
    pub(crate) fn next_local(&mut self, shared: &Shared<S>) -> Option<Task<S>> {
        self.tick = self.tick.wrapping_add(1);
        if self.tick % GLOBAL_QUEUE_INTERVAL == 0 {
            if let Some(task) = self.steal_global(shared) {
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

    fn steal_global(&mut self, shared: &Shared<S>) -> Option<Task<S>> {
        loop {
            match shared.injector.steal_batch_and_pop(&self.local) {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    /// Injector first, then the other workers, starting after this one.
    pub(crate) fn steal(&mut self, shared: &Shared<S>) -> Option<Task<S>> {
        if let Some(task) = self.steal_global(shared) {
            return Some(task);
        }
        let n = shared.stealers.len();
        for k in 1..n {
            let victim = &shared.stealers[(self.index + k) % n];
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

    pub(crate) fn take_stack(&mut self, shared: &Shared<S>) -> PooledStack {
        self.stacks.pop().unwrap_or_else(|| shared.stacks.get())
    }

    pub(crate) fn put_stack(&mut self, shared: &Shared<S>, stack: PooledStack) {
        if self.stacks.len() < LOCAL_STACKS {
            stack.check();
            self.stacks.push(stack);
        } else {
            shared.stacks.put(stack);
        }
    }

    /// Shutdown: hand back everything still queued here.
    pub(crate) fn drain(&mut self, shared: &Shared<S>) -> Vec<Task<S>> {
        let mut tasks: Vec<_> = self.lifo.take().into_iter().collect();
        while let Some(task) = self.local.pop() {
            tasks.push(task);
        }
        for stack in self.stacks.drain(..) {
            shared.stacks.put(stack);
        }
        shared.table.return_cache(&mut self.free_slots);
        tasks
    }
}
