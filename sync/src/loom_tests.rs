//! loom models of the facade's own protocols: the host hand-off (the queue
//! behind the embedding crate's `Mailbox`) and the loom `OnceLock`. Run with
//! `scripts/loom.sh`.

use std::future::poll_fn;
use std::time::Duration;

use crate::handoff::HandOff;
use crate::{model, thread, Arc, AtomicUsize, OnceLock, Ordering::SeqCst};

/// Longer than any model runs: under loom a timed wait only ends on a
/// notification, so a reader that needs its timeout deadlocks the model.
const FOREVER: Duration = Duration::from_secs(3600);

/// A foreign thread pushes while the host blocks in `recv_timeout`: the
/// host gets the message (a lost wake-up would leave it waiting forever,
/// which loom reports as a deadlock).
#[test]
fn loom_handoff_blocking_reader_is_woken_by_a_foreign_push() {
    model(|| {
        let q = Arc::new(HandOff::new());
        let pusher = {
            let q = q.clone();
            thread::spawn(move || q.push([7u32]))
        };
        assert_eq!(q.recv_timeout(FOREVER), Some(7));
        pusher.join().unwrap();
        assert_eq!(q.try_recv(), None);
    });
}

/// The async reader: `poll_recv` leaves its waker while a foreign thread
/// pushes twice; both messages arrive, in order, and every `Pending` is
/// followed by a wake (else `block_on` would park forever: a deadlock).
#[test]
fn loom_handoff_polled_reader_leaves_its_waker() {
    model(|| {
        let q = Arc::new(HandOff::new());
        let pusher = {
            let q = q.clone();
            thread::spawn(move || {
                q.push([1u32]);
                q.push([2u32]);
            })
        };
        let first = loom::future::block_on(poll_fn(|cx| q.poll_recv(cx)));
        let second = loom::future::block_on(poll_fn(|cx| q.poll_recv(cx)));
        assert_eq!((first, second), (Some(1), Some(2)));
        pusher.join().unwrap();
    });
}

/// A push racing with close (the host dropping its `Mailbox` while the
/// forwarder hands over a message) while the host reads: the read always
/// ends (an item, or `None` once closed and empty), and the message is
/// read exactly once, by that read or by a later `try_recv`.
#[test]
fn loom_handoff_close_racing_with_push_loses_nothing() {
    model(|| {
        let q = Arc::new(HandOff::new());
        let pusher = {
            let q = q.clone();
            thread::spawn(move || q.push([5u32]))
        };
        let closer = {
            let q = q.clone();
            thread::spawn(move || q.close())
        };
        let got = q.recv_timeout(FOREVER);
        pusher.join().unwrap();
        closer.join().unwrap();
        assert!(q.is_closed());
        let later = q.try_recv();
        assert_eq!(
            usize::from(got.is_some()) + usize::from(later.is_some()),
            1,
            "read exactly once (got {got:?}, later {later:?})"
        );
        assert_eq!(got.or(later), Some(5));
    });
}

/// Close wakes a polled reader: it answers `None`, not `Pending` forever.
#[test]
fn loom_handoff_close_wakes_a_polled_reader() {
    model(|| {
        let q: Arc<HandOff<u32>> = Arc::new(HandOff::new());
        let closer = {
            let q = q.clone();
            thread::spawn(move || q.close())
        };
        assert_eq!(loom::future::block_on(poll_fn(|cx| q.poll_recv(cx))), None);
        closer.join().unwrap();
    });
}

/// Two threads touch an empty `OnceLock` at once: one initialiser runs and
/// both see its value.
#[test]
fn loom_once_lock_initialises_once() {
    model(|| {
        let cell = Arc::new(OnceLock::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let touch = |cell: &OnceLock<usize>, inits: &AtomicUsize| {
            *cell.get_or_init(|| inits.fetch_add(1, SeqCst) + 10)
        };
        let other = {
            let (cell, inits) = (cell.clone(), inits.clone());
            thread::spawn(move || touch(&cell, &inits))
        };
        let mine = touch(&cell, &inits);
        assert_eq!(other.join().unwrap(), mine);
        assert_eq!(inits.load(SeqCst), 1);
        assert_eq!(cell.get(), Some(&10));
    });
}

/// A session actor answers a host thread's job while the host waits: the
/// host gets the reply exactly once (a lost wake-up deadlocks the model),
/// and a second `set` (the sender's drop guard) changes nothing.
#[test]
fn loom_oneshot_reply_reaches_the_waiting_host_once() {
    model(|| {
        let slot = Arc::new(crate::oneshot::OneShot::new());
        let answerer = {
            let slot = slot.clone();
            thread::spawn(move || {
                slot.set(Some(42u32));
                slot.set(None);
            })
        };
        assert_eq!(slot.wait(), Some(42));
        answerer.join().unwrap();
    });
}

/// A job dropped unanswered (its session actor ended) wakes the waiter
/// with `None`.
#[test]
fn loom_oneshot_dropped_job_wakes_the_host_with_none() {
    model(|| {
        let slot: Arc<crate::oneshot::OneShot<u32>> = Arc::new(crate::oneshot::OneShot::new());
        let dropper = {
            let slot = slot.clone();
            thread::spawn(move || slot.set(None))
        };
        assert_eq!(slot.wait(), None);
        dropper.join().unwrap();
    });
}
