//! Host mailboxes: a pid that Valk actors send to, read by a host thread
//! (blocking with a timeout, or as a future on any executor).
//!
//! Behind the pid is a small Rust actor: each message it takes from its
//! (scheduler) mailbox becomes a [`Term`] in a queue the host reads: a
//! `valk_sync::handoff::HandOff`, whose lock orders every hand-off (a
//! message pushed before a reader looks is seen; a reader that finds
//! nothing leaves its waker, or waits on the condvar, under the same lock
//! the pusher takes), so no wake-up is lost, whatever thread pushes and
//! however often. Its loom models live with it, in `valk-sync`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use valk_heap::Heap;
use valk_runtime::handle::WeakHandle;
use valk_runtime::{Handle, Message, Reason, ValkSystem};
use valk_scheduler::{Actor, Cx, Pid, Step};
use valk_sync::handoff::HandOff;
use valk_sync::Arc;

use crate::Term;

/// The queue between the forwarder actor and the host: closed when the
/// actor is gone (runtime shut down) or the host dropped the mailbox.
type Shared = HandOff<Term>;

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
        if self.shared.is_closed() {
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
    /// Weak: a mailbox does not keep its runtime running.
    handle: WeakHandle,
}

impl Mailbox {
    pub(crate) fn open(handle: &Handle) -> Mailbox {
        let shared = Arc::new(Shared::new());
        let pid = handle.spawn(Forwarder {
            shared: shared.clone(),
        });
        Mailbox {
            pid,
            shared,
            handle: handle.downgrade(),
        }
    }

    /// The mailbox's pid, to pass to Valk code.
    pub fn pid(&self) -> Term {
        Term::Pid(self.pid.to_u64())
    }

    /// The oldest message, waiting at most `d`; `None` on timeout or once
    /// the runtime has shut down.
    pub fn recv_timeout(&self, d: Duration) -> Option<Term> {
        self.shared.recv_timeout(d)
    }

    /// The oldest message, without waiting.
    pub fn try_recv(&self) -> Option<Term> {
        self.shared.try_recv()
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
        if let Some(h) = self.handle.upgrade() {
            h.runtime().wake(self.pid);
        }
    }
}

struct Recv<'a> {
    shared: &'a Shared,
}

impl Future for Recv<'_> {
    type Output = Option<Term>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Term>> {
        self.shared.poll_recv(cx)
    }
}
