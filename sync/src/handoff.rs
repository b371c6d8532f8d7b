//! The host hand-off: a queue that any thread pushes to and a host thread
//! reads, blocking with a timeout or as a future on any executor (the queue
//! behind the embedding crate's `Mailbox`).
//!
//! The queue's lock orders every hand-off: an item pushed before a reader
//! looks is seen, and a reader that finds nothing leaves its waker (or
//! waits on the condvar) under the same lock the pusher takes, so no
//! wake-up is lost, whatever thread pushes and however often.
//!
//! It lives in the facade crate, not next to `Mailbox`, so that its loom
//! models can build: the embedding crate hosts the whole runtime, which
//! cannot be built under `valk_loom` (the scheduler compiles its runtime
//! out there); this type needs only the facade.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::{Condvar, Mutex, MutexGuard};

struct State<T> {
    items: VecDeque<T>,
    /// The reader of `poll_recv`, if it is waiting.
    waker: Option<Waker>,
    /// Nothing more will arrive (the sender is gone or the reader hung up);
    /// items already queued are still read first.
    closed: bool,
}

/// A multi-producer queue with one blocking or async reader.
pub struct HandOff<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Default for HandOff<T> {
    fn default() -> Self {
        HandOff::new()
    }
}

impl<T> HandOff<T> {
    pub fn new() -> Self {
        HandOff {
            state: Mutex::new(State {
                items: VecDeque::new(),
                waker: None,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock()
    }

    /// Queues `items` and wakes the reader (blocked or polled).
    pub fn push(&self, items: impl IntoIterator<Item = T>) {
        let waker = {
            let mut st = self.lock();
            st.items.extend(items);
            st.waker.take()
        };
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Marks the queue closed and wakes the reader: once the queued items
    /// are read, reads answer `None` instead of waiting.
    pub fn close(&self) {
        let waker = {
            let mut st = self.lock();
            st.closed = true;
            st.waker.take()
        };
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The oldest item, without waiting.
    pub fn try_recv(&self) -> Option<T> {
        self.lock().items.pop_front()
    }

    /// The oldest item, waiting at most `d`; `None` on timeout or once the
    /// queue is closed and empty.
    pub fn recv_timeout(&self, d: Duration) -> Option<T> {
        // A deadline past what `Instant` can hold means no deadline.
        let deadline = Instant::now().checked_add(d);
        let mut st = self.lock();
        loop {
            if let Some(t) = st.items.pop_front() {
                return Some(t);
            }
            if st.closed {
                return None;
            }
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => d,
            };
            if left.is_zero() {
                return None;
            }
            st = self.ready.wait_timeout(st, left);
        }
    }

    /// The oldest item as a poll: `Pending` leaves the context's waker
    /// (replacing an older one), woken by the next push or close.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut st = self.lock();
        if let Some(t) = st.items.pop_front() {
            return Poll::Ready(Some(t));
        }
        if st.closed {
            return Poll::Ready(None);
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
