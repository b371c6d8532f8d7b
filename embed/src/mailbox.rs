//! Host mailboxes: a pid that Valk actors send to, read by a host thread
//! (blocking with a timeout, or as a future on any executor).
//!
//! Behind the pid is a small Rust actor: each message it takes from its
//! (scheduler) mailbox becomes a [`Term`] in a queue the host reads. The
//! queue's lock orders every hand-off: a message pushed before a reader
//! looks is seen, and a reader that finds nothing leaves its waker (or
//! waits on the condvar) under the same lock the pusher takes, so no
//! wake-up is lost, whatever thread pushes and however often.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use valk_heap::Heap;
use valk_runtime::{Handle, Message, Reason, ValkSystem};
use valk_scheduler::{Actor, Cx, Pid, Step};

use crate::Term;

#[derive(Default)]
struct State {
    items: VecDeque<Term>,
    /// The reader of `recv()`, if it is waiting.
    waker: Option<Waker>,
    /// The actor is gone (runtime shut down) or the host dropped the
    /// mailbox: nothing more will arrive.
    closed: bool,
}

#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `items` to the host; wakes whoever waits.
    fn push(&self, items: impl IntoIterator<Item = Term>) {
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

    fn close(&self) {
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
}

/// The actor behind a [`Mailbox`]'s pid.
struct Forwarder {
    shared: Arc<Shared>,
}

impl Actor<ValkSystem> for Forwarder {
    fn run(&mut self, cx: &mut Cx<'_, ValkSystem>) -> Step<Reason> {
        let mut got = Vec::new();
        while let Some(msg) = cx.receive() {
            got.push(to_term(msg));
        }
        if !got.is_empty() {
            self.shared.push(got);
        }
        if self.shared.lock().closed {
            return Step::Exit(Reason::Normal);
        }
        Step::Park { timeout: None }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// A message as a term (its own scratch heap: the term owns everything).
fn to_term(msg: Message) -> Term {
    let mut heap = Heap::new();
    match msg {
        Message::Fragment(f) => match heap.adopt(f) {
            Ok(v) => Term::from_value(&mut heap, v),
            Err(e) => Term::Error(e.to_string()),
        },
        // Only a receiving Valk actor adopts; a forwarder never does.
        Message::Adopted(_) => Term::Error("message already taken".into()),
    }
}

/// A host-side actor: Valk code sends to [`Mailbox::pid`], the host reads
/// with [`Mailbox::recv_timeout`] or `mb.recv().await`. Dropping it ends
/// the actor behind the pid (messages to it are then dropped).
pub struct Mailbox {
    pid: Pid,
    shared: Arc<Shared>,
    handle: Handle,
}

impl Mailbox {
    pub(crate) fn open(handle: &Handle) -> Mailbox {
        let shared = Arc::new(Shared::default());
        let pid = handle.spawn(Forwarder {
            shared: shared.clone(),
        });
        Mailbox {
            pid,
            shared,
            handle: handle.clone(),
        }
    }

    /// The mailbox's pid, to pass to Valk code.
    pub fn pid(&self) -> Term {
        Term::Pid(self.pid.to_u64())
    }

    /// The oldest message, waiting at most `d`; `None` on timeout or once
    /// the runtime has shut down.
    pub fn recv_timeout(&self, d: Duration) -> Option<Term> {
        let deadline = Instant::now() + d;
        let mut st = self.shared.lock();
        loop {
            if let Some(t) = st.items.pop_front() {
                return Some(t);
            }
            if st.closed {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            st = match self.shared.ready.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// The oldest message, without waiting.
    pub fn try_recv(&self) -> Option<Term> {
        self.shared.lock().items.pop_front()
    }

    /// The oldest message, as a future (any executor: it only uses the
    /// context's waker); `None` once the runtime has shut down.
    pub async fn recv(&self) -> Option<Term> {
        Recv {
            shared: &self.shared,
        }
        .await
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.shared.close();
        self.handle.runtime().wake(self.pid);
    }
}

struct Recv<'a> {
    shared: &'a Shared,
}

impl Future for Recv<'_> {
    type Output = Option<Term>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Term>> {
        let mut st = self.shared.lock();
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
