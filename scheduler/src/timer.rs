//! Timers: `send-after`, `sleep` and `receive ... :after`.
//!
//! A binary heap ordered by deadline plus a map of live entries. Insert is
//! O(log n); cancel is O(1) (the map entry goes, the heap entry is skipped
//! when it surfaces); the heap is rebuilt when cancelled entries outnumber
//! live ones, so a loop of short receives cannot grow it without bound.
//! One timer thread sleeps until the earliest deadline and fires what is due;
//! with no timers it sleeps on a condition variable and costs no CPU.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

/// Deadline-ordered timers carrying a payload `T`.
pub(crate) struct Timers<T> {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    live: HashMap<u64, T>,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            live: HashMap::new(),
        }
    }
}

impl<T> Timers<T> {
    /// Adds timer `id`. Returns true if it is now the earliest deadline.
    pub(crate) fn insert(&mut self, id: u64, deadline: Instant, payload: T) -> bool {
        let earliest = self.next_deadline().is_none_or(|d| deadline < d);
        self.heap.push(Reverse((deadline, id)));
        self.live.insert(id, payload);
        earliest
    }

    /// Cancels timer `id`, returning its payload if it had not fired.
    pub(crate) fn cancel(&mut self, id: u64) -> Option<T> {
        let payload = self.live.remove(&id)?;
        if self.heap.len() > 64 && self.heap.len() > 2 * self.live.len() {
            let live = &self.live;
            self.heap.retain(|Reverse((_, id))| live.contains_key(id));
        }
        Some(payload)
    }

    /// Removes and returns every timer due at `now`.
    pub(crate) fn expire(&mut self, now: Instant, fired: &mut Vec<T>) {
        while let Some(&Reverse((deadline, id))) = self.heap.peek() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if let Some(payload) = self.live.remove(&id) {
                fired.push(payload);
            }
        }
    }

    /// The earliest live deadline (drops cancelled entries on the way).
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((deadline, id))) = self.heap.peek() {
            if self.live.contains_key(&id) {
                return Some(deadline);
            }
            self.heap.pop();
        }
        None
    }

    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }
}

struct ServiceState<T> {
    timers: Timers<T>,
    shutdown: bool,
    /// What the timer thread is doing: an insert wakes it only when it
    /// sleeps past the new deadline (a `receive` with `:after` arms and
    /// cancels a timer on every call; waking the thread each time cost a
    /// futex wake and a context switch per call).
    thread: ThreadState,
}

#[derive(Clone, Copy)]
enum ThreadState {
    /// Running its loop: it looks at the timers before it sleeps again.
    Awake,
    /// Sleeping until this deadline.
    Until(Instant),
    /// Sleeping with no timer to wait for.
    Idle,
}

/// The timer thread's shared half: insert/cancel from any thread.
pub(crate) struct TimerService<T> {
    state: crate::sync::Mutex<ServiceState<T>>,
    cv: crate::sync::Condvar,
}

impl<T> TimerService<T> {
    pub(crate) fn new() -> Self {
        TimerService {
            state: crate::sync::Mutex::new(ServiceState {
                timers: Timers::default(),
                shutdown: false,
                thread: ThreadState::Awake,
            }),
            cv: crate::sync::Condvar::new(),
        }
    }

    pub(crate) fn insert(&self, id: u64, deadline: Instant, payload: T) {
        let wake = {
            let mut state = self.state.lock();
            state.timers.insert(id, deadline, payload);
            match state.thread {
                ThreadState::Awake => false,
                ThreadState::Until(d) => deadline < d,
                ThreadState::Idle => true,
            }
        };
        if wake {
            self.cv.notify_one();
        }
    }

    pub(crate) fn cancel(&self, id: u64) -> Option<T> {
        self.state.lock().timers.cancel(id)
    }

    /// Timers armed and not fired yet.
    pub(crate) fn pending(&self) -> usize {
        self.state.lock().timers.len()
    }

    /// The timer thread: fires due timers through `fire` (outside the lock)
    /// until shutdown.
    pub(crate) fn run(&self, mut fire: impl FnMut(T)) {
        let mut fired = Vec::new();
        let mut state = self.state.lock();
        loop {
            if state.shutdown {
                return;
            }
            state.timers.expire(Instant::now(), &mut fired);
            if !fired.is_empty() {
                drop(state);
                fired.drain(..).for_each(&mut fire);
                state = self.state.lock();
                continue;
            }
            state = match state.timers.next_deadline() {
                Some(deadline) => {
                    state.thread = ThreadState::Until(deadline);
                    let wait = deadline.saturating_duration_since(Instant::now());
                    self.cv.wait_timeout(state, wait)
                }
                None => {
                    state.thread = ThreadState::Idle;
                    self.cv.wait(state)
                }
            };
            state.thread = ThreadState::Awake;
        }
    }

    /// Stops the thread and drops every pending payload.
    pub(crate) fn shutdown(&self) {
        let pending = {
            let mut state = self.state.lock();
            state.shutdown = true;
            std::mem::take(&mut state.timers)
        };
        self.cv.notify_all();
        drop(pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cancelled_timers_never_fire_and_order_is_by_deadline() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        assert!(timers.insert(1, t0 + Duration::from_millis(30), "c"));
        assert!(timers.insert(2, t0 + Duration::from_millis(10), "a"));
        assert!(!timers.insert(3, t0 + Duration::from_millis(20), "b"));
        assert_eq!(timers.cancel(3), Some("b"));
        assert_eq!(timers.cancel(3), None);
        let mut fired = Vec::new();
        timers.expire(t0 + Duration::from_millis(5), &mut fired);
        assert!(fired.is_empty());
        timers.expire(t0 + Duration::from_millis(40), &mut fired);
        assert_eq!(fired, ["a", "c"]);
        assert_eq!(timers.len(), 0);
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn heap_is_compacted_when_cancellations_pile_up() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for id in 0..1000 {
            timers.insert(id, t0 + Duration::from_secs(60), ());
            timers.cancel(id);
        }
        assert!(timers.heap.len() <= 130, "heap kept {}", timers.heap.len());
    }
}
