//! loom models of the facade's own protocols: the host hand-off (the queue
//! behind the embedding crate's `Mailbox`), the loom `OnceLock`, the
//! one-shot reply, a Valk future's cell (`FutureCell`) and the swap! retry
//! loop over an atom's cell (`AtomCell`, a lock stand-in under loom). Run
//! with `scripts/loom.sh`.

use std::future::poll_fn;
use std::time::Duration;

use crate::atom_cell::AtomCell;
use crate::future_cell::FutureCell;
use crate::handoff::HandOff;
use crate::oneshot::OneShot;
use crate::{model, thread, Arc, AtomicBool, AtomicUsize, OnceLock, Ordering::SeqCst};

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

/// How an awaiter's `await` ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Awaited {
    /// `wait` gave the value at once.
    Value,
    /// It waited and its `{:future/-ready}` came.
    Notified,
    /// Its timer fired first: it unwaited.
    TimedOut,
}

/// One resolver and one awaiter (the runtime's `resolve` and the prelude's
/// `await`). `patient`: the awaiter blocks until its notification comes (a
/// lost waiter deadlocks the model); otherwise, if the notification has
/// not come yet when it looks (a loom-explored timing), its timer fires and
/// it unwaits.
fn future_race(patient: bool) {
    const ME: u8 = 1;
    model(move || {
        let cell: Arc<FutureCell<u32, u8>> = Arc::new(FutureCell::new());
        // The awaiter's mailbox, and whether the message is in it yet.
        let mailbox: Arc<OneShot<u8>> = Arc::new(OneShot::new());
        let delivered = Arc::new(AtomicBool::new(false));
        let resolver = {
            let (cell, mailbox, delivered) = (cell.clone(), mailbox.clone(), delivered.clone());
            thread::spawn(move || {
                let told = cell.resolve(42).expect("the first resolve succeeds");
                for &w in &told {
                    assert_eq!(w, ME);
                    delivered.store(true, SeqCst);
                    mailbox.set(Some(w));
                }
                told
            })
        };
        let awaited = match cell.wait(ME, |v| *v) {
            Some(v) => {
                assert_eq!(v, 42);
                Awaited::Value
            }
            None if patient => {
                assert_eq!(mailbox.wait(), Some(ME));
                Awaited::Notified
            }
            None if delivered.load(SeqCst) => Awaited::Notified,
            None => {
                cell.unwait(ME);
                Awaited::TimedOut
            }
        };
        let told = resolver.join().unwrap();
        let times = told.iter().filter(|&&w| w == ME).count();
        match awaited {
            // Resolved before the wait: nobody to tell.
            Awaited::Value => assert_eq!(times, 0, "told {told:?}"),
            // Never lost: waiting (not timed out) means told exactly once.
            Awaited::Notified => assert_eq!(times, 1, "told {told:?}"),
            // Told once if the resolve beat the unwait, else not at all.
            Awaited::TimedOut => assert!(times <= 1, "told {told:?}"),
        }
        assert_eq!(cell.with_value(|v| *v), Some(42));
        assert_eq!(cell.resolve(43), Err(43));
    });
}

/// A resolve racing with an await that may time out: the awaiter sees the
/// value from `wait`, or is in the list the resolve returns exactly once,
/// or unwaited first; one that does not time out always gets the value or
/// its notification.
#[test]
fn loom_future_resolve_racing_await_and_timeout() {
    future_race(false);
    future_race(true);
}

/// Two awaiters (each waits twice, like an await re-run after an unrelated
/// wake-up) and a resolver: every awaiter that was ever told "not yet" is
/// in the resolve's list exactly once, nobody else is, and a second
/// resolve fails.
#[test]
fn loom_future_many_awaiters_are_each_told_once() {
    model(|| {
        let cell: Arc<FutureCell<u32, u8>> = Arc::new(FutureCell::new());
        let awaiter = |cell: &FutureCell<u32, u8>, me: u8| {
            let first = cell.wait(me, |v| *v);
            let second = cell.wait(me, |v| *v);
            if let Some(v) = first {
                assert_eq!(second, Some(v), "a value seen stays");
            }
            // Registered iff some wait said "not yet".
            first.is_none() || second.is_none()
        };
        let other = {
            let cell = cell.clone();
            thread::spawn(move || awaiter(&cell, 2))
        };
        let resolver = {
            let cell = cell.clone();
            thread::spawn(move || {
                let told = cell.resolve(7).expect("the first resolve succeeds");
                assert_eq!(cell.resolve(8), Err(8));
                told
            })
        };
        let mine = awaiter(&cell, 1);
        let theirs = other.join().unwrap();
        let told = resolver.join().unwrap();
        for (me, registered) in [(1u8, mine), (2u8, theirs)] {
            let times = told.iter().filter(|&&w| w == me).count();
            assert_eq!(times, usize::from(registered), "{me} in {told:?}");
        }
        assert_eq!(told.len(), usize::from(mine) + usize::from(theirs));
        assert_eq!(cell.resolve(9), Err(9));
    });
}

/// `atom/swap!`'s retry loop (load, compute, compare-and-set, retry on a
/// lost race) on two threads, two increments and one: no increment is lost
/// and every successful swap stored a distinct value.
#[test]
fn loom_atom_swap_retry_loop_counts_every_increment() {
    fn swap_inc(cell: &AtomCell<u32>, times: u32) -> Vec<u32> {
        let mut stored = Vec::new();
        for _ in 0..times {
            let mut current = cell.load();
            loop {
                let new = *current + 1;
                match cell.compare_and_swap(&current, std::sync::Arc::new(new)) {
                    Ok(()) => {
                        stored.push(new);
                        break;
                    }
                    Err(found) => current = found,
                }
            }
        }
        stored
    }
    model(|| {
        let cell = Arc::new(AtomCell::new(std::sync::Arc::new(0u32)));
        let other = {
            let cell = cell.clone();
            thread::spawn(move || swap_inc(&cell, 2))
        };
        let mut stored = swap_inc(&cell, 1);
        stored.extend(other.join().unwrap());
        assert_eq!(*cell.load(), 3);
        stored.sort_unstable();
        assert_eq!(stored, vec![1, 2, 3], "each swap stored its own value");
    });
}
