//! The reaper: a background thread that drops what it is handed (big chunk
//! lists: a dead actor's heap, a major collection's from-space), so that
//! the thread giving them up (a scheduler running other actors) does not
//! wait for the kernel to take 100 MB of pages back.
//!
//! [`Reaper`] is the hand-off protocol; the process's one reaper is a
//! static instance of it (`chunk::free_chunks`), and the loom models
//! (`loom_tests.rs`) run their own instances.

use std::collections::VecDeque;

use valk_sync::{Condvar, Mutex};

struct State<T> {
    queue: VecDeque<T>,
    /// Items accepted by `send`, ever.
    sent: u64,
    /// Items dropped by the reaper thread, ever (they go in order).
    reaped: u64,
    /// No more sends are accepted; the thread drains the queue and ends.
    closed: bool,
}

/// A queue of things to drop and the thread that drops them.
pub(crate) struct Reaper<T> {
    state: Mutex<State<T>>,
    /// Work arrived, or the reaper closed.
    work: Condvar,
    /// The thread dropped something (`wait_idle` rechecks).
    reaped: Condvar,
}

impl<T> Reaper<T> {
    pub(crate) fn new() -> Self {
        Reaper {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                sent: 0,
                reaped: 0,
                closed: false,
            }),
            work: Condvar::new(),
            reaped: Condvar::new(),
        }
    }

    /// Queues `item` for the reaper thread, or gives it back if the reaper
    /// has closed (the caller then drops it itself).
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        {
            let mut st = self.state.lock();
            if st.closed {
                return Err(item);
            }
            st.queue.push_back(item);
            st.sent += 1;
        }
        self.work.notify_one();
        Ok(())
    }

    /// The reaper thread's body: drops items in the order they were sent,
    /// outside the lock, until closed and drained. However it ends (a drop
    /// that panics included) it closes the reaper and settles the count, so
    /// later sends are dropped by their senders and `wait_idle` returns.
    pub(crate) fn run(&self) {
        let _close = CloseOnExit(self);
        let mut st = self.state.lock();
        loop {
            if let Some(item) = st.queue.pop_front() {
                drop(st);
                drop(item);
                st = self.state.lock();
                st.reaped += 1;
                self.reaped.notify_all();
            } else if st.closed {
                return;
            } else {
                st = self.work.wait(st);
            }
        }
    }

    /// Waits until everything sent before this call has been dropped.
    pub(crate) fn wait_idle(&self) {
        let mut st = self.state.lock();
        let target = st.sent;
        while st.reaped < target {
            st = self.reaped.wait(st);
        }
    }

    /// Refuses later sends; the thread drops what is queued, then ends.
    /// (Models only: the process's reaper runs until the process exits, and
    /// its thread closes it if it ends early, see `run`.)
    #[cfg(all(test, valk_loom))]
    pub(crate) fn close(&self) {
        self.state.lock().closed = true;
        self.work.notify_all();
    }
}

/// Ends a reaper thread: closed, and whatever it left counted as reaped.
struct CloseOnExit<'a, T>(&'a Reaper<T>);

impl<T> Drop for CloseOnExit<'_, T> {
    fn drop(&mut self) {
        // After a normal end the queue is empty and the counts agree. After
        // a panic in a drop, the thread drops what is left here, then
        // counts it all (the item that panicked included) as reaped.
        let left = {
            let mut st = self.0.state.lock();
            st.closed = true;
            core::mem::take(&mut st.queue)
        };
        drop(left);
        {
            let mut st = self.0.state.lock();
            st.reaped = st.sent;
        }
        self.0.reaped.notify_all();
    }
}

/// Hands `item` to `reaper`; drops it here when there is none (its thread
/// could not start) or it has closed.
pub(crate) fn reap<T>(reaper: Option<&Reaper<T>>, item: T) {
    let item = match reaper {
        Some(r) => match r.send(item) {
            Ok(()) => return,
            Err(item) => item,
        },
        None => item,
    };
    drop(item);
}
