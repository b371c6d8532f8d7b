//! loom models of the heap's cross-thread protocols: the shared heap's
//! reference counts (the real `SharedValue` clone/drop, `retain`/`release`
//! with its iterative cascade, `free`) and the reaper hand-off (the real
//! `Reaper` and `reap`). Run with `scripts/loom.sh`.
//!
//! Under `valk_loom` each shared object's count is a loom atomic next to a
//! loom cell standing for the object's memory (`shared::ModelCount`): `free`
//! writes it, `model_read` reads it, so loom reports any free that is not
//! ordered after every read made through another reference.

use std::any::Any;

use valk_sync::thread;
use valk_sync::{model, Arc, AtomicUsize, Ordering::SeqCst};

use crate::reaper::{reap, Reaper};
use crate::shared::model_read;
use crate::{Heap, ListKind, SharedValue};

/// Sets its bit in a shared mask when dropped; a second drop panics.
struct Probe {
    bit: u32,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let before = self.dropped.fetch_or(1 << self.bit, SeqCst);
        assert_eq!(before & (1 << self.bit), 0, "{} dropped twice", self.bit);
    }
}

fn probe(bit: u32, dropped: &Arc<AtomicUsize>) -> Probe {
    Probe {
        bit,
        dropped: dropped.clone(),
    }
}

/// A shared (opaque) object that sets `bit` when it is freed.
fn shared_probe(bit: u32, dropped: &Arc<AtomicUsize>) -> SharedValue {
    let obj: std::sync::Arc<dyn Any + Send + Sync> = std::sync::Arc::new(probe(bit, dropped));
    SharedValue::opaque(obj)
}

/// Two threads clone, read and drop references to one shared object: it is
/// freed exactly once, by whichever drops the last reference, and only
/// after every read made through the other references (the Release
/// decrement / Acquire fence pair of `release`).
#[test]
fn loom_shared_count_frees_once_after_every_read() {
    model(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let mine = shared_probe(0, &dropped);
        let theirs = mine.clone();
        let other = thread::spawn(move || {
            let again = theirs.clone();
            model_read(theirs.value());
            drop(theirs);
            model_read(again.value());
            drop(again);
        });
        model_read(mine.value());
        drop(mine);
        other.join().unwrap();
        assert_eq!(dropped.load(SeqCst), 1, "freed exactly once");
    });
}

/// The cascade: a shared list holds a reference to a shared child, another
/// thread holds its own. Dropping the list releases the child from inside
/// `release`'s worklist while the other thread reads and drops the child:
/// each object is freed once, the child never before the other thread's
/// read.
#[test]
fn loom_shared_cascade_releases_a_child_once() {
    model(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let child = shared_probe(0, &dropped);
        let list = {
            let mut heap = Heap::new();
            let l = heap
                .list(&[child.value()], ListKind::Q)
                .expect("a one-cell list fits");
            heap.to_shared(l)
        };
        assert_eq!(child.ref_count(), Some(2), "the handle and the list");
        let other = thread::spawn(move || {
            model_read(child.value());
            drop(child);
        });
        model_read(list.value());
        drop(list);
        other.join().unwrap();
        assert_eq!(dropped.load(SeqCst), 1, "child freed exactly once");
    });
}

/// What a sender hands the reaper (a heap's chunk list, in the real code).
struct Heapish(#[allow(dead_code)] Probe);

/// Two threads each hand the reaper a heap while its thread runs: both are
/// freed, neither twice; `wait_idle` returns only once everything sent
/// before it is freed, even while the other sender races; closing the idle
/// reaper ends its thread.
#[test]
fn loom_reaper_frees_every_heap_once() {
    model(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let reaper = Arc::new(Reaper::new());
        let worker = {
            let reaper = reaper.clone();
            thread::spawn(move || reaper.run())
        };
        let sender = {
            let (reaper, dropped) = (reaper.clone(), dropped.clone());
            thread::spawn(move || reap(Some(&reaper), Heapish(probe(1, &dropped))))
        };
        reap(Some(&reaper), Heapish(probe(0, &dropped)));
        reaper.wait_idle();
        assert_ne!(
            dropped.load(SeqCst) & 1,
            0,
            "idle before our heap was freed"
        );
        sender.join().unwrap();
        reaper.wait_idle();
        assert_eq!(dropped.load(SeqCst), 0b11, "both heaps freed");
        reaper.close();
        worker.join().unwrap();
    });
}

/// Shutdown racing with a send: the heap is freed exactly once, either by
/// the reaper thread (which drains what was queued before it ends) or, if
/// the send came after the close, by its sender; nothing is lost, and
/// `wait_idle` still returns.
#[test]
fn loom_reaper_close_racing_with_send_loses_nothing() {
    model(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let reaper = Arc::new(Reaper::new());
        let worker = {
            let reaper = reaper.clone();
            thread::spawn(move || reaper.run())
        };
        let sender = {
            let (reaper, dropped) = (reaper.clone(), dropped.clone());
            thread::spawn(move || reap(Some(&reaper), Heapish(probe(0, &dropped))))
        };
        reaper.close();
        worker.join().unwrap();
        sender.join().unwrap();
        reaper.wait_idle();
        assert_eq!(dropped.load(SeqCst), 1, "freed exactly once");
        assert!(reaper.send(Heapish(probe(1, &dropped))).is_err());
    });
}

/// A box (`(box v)`) handed to two actors: each thread reads through its
/// reference and drops it (an actor ending), racing the creator's drop.
/// The box is freed once, after every read, and its value with it.
#[test]
fn loom_box_sent_to_two_actors_is_freed_once_by_the_last() {
    model(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let content = shared_probe(0, &dropped);
        let boxed = {
            let mut heap = Heap::new();
            let l = heap
                .list(&[content.value()], ListKind::Q)
                .expect("a one-cell list fits");
            let b = heap.make_box(l).expect("a box fits");
            heap.to_shared(b)
        };
        drop(content);
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let mine = boxed.clone();
                thread::spawn(move || {
                    model_read(mine.value());
                    drop(mine);
                })
            })
            .collect();
        drop(boxed);
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(
            dropped.load(SeqCst),
            1,
            "the boxed value freed exactly once"
        );
    });
}
