//! loom models of the globals table (`globals.rs`) and the reclamation of
//! replaced values (`reclaim.rs`): the real `Globals` (atomic slots, chunks
//! made on first touch, the epoch reclaimer with its participants and
//! retired list, the builtin `intact` flags) on the `valk-sync` facade,
//! shrunk under `valk_loom` to 4 chunks of 4 slots (and a reclaim tried on
//! every retire). Run with `scripts/loom.sh`.
//!
//! Shared values are real shared-heap objects; under `valk_loom` the heap
//! gives each a loom cell standing for its memory (`model_read` reads it,
//! the free writes it), so loom reports a reader that could see an object
//! before it is published or after it is freed.

use std::any::Any;

use valk_heap::shared::model_read;
use valk_heap::{Heap, SharedValue, Value};
use valk_sync::thread;
use valk_sync::{model, Arc, AtomicUsize, Ordering::SeqCst};

use crate::builtins::BuiltinSet;
use crate::globals::Globals;

/// Sets its bit in a shared mask when dropped; a second drop panics.
struct Probe {
    bit: u32,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let before = self.dropped.fetch_or(1 << self.bit, SeqCst);
        assert_eq!(before & (1 << self.bit), 0, "{} freed twice", self.bit);
    }
}

/// A shared (opaque) object that sets `bit` when it is freed.
fn shared_probe(bit: u32, dropped: &Arc<AtomicUsize>) -> SharedValue {
    let probe = Probe {
        bit,
        dropped: dropped.clone(),
    };
    let obj: std::sync::Arc<dyn Any + Send + Sync> = std::sync::Arc::new(probe);
    SharedValue::opaque(obj)
}

/// A table with no builtins bound (binding the core set would take more
/// loom steps than a model may).
fn empty_globals() -> Arc<Globals> {
    Arc::new(Globals::with_builtins(&BuiltinSet::default()))
}

fn int(i: i64) -> Value {
    Value::small_int(i).expect("a small integer")
}

/// One thread `def`s a new value over a global (retiring the old one and
/// trying to reclaim it at once) while another reads it twice inside a pin:
/// each read sees the old or the new value (never a regression from new to
/// old), fully published (the slot's swap orders the new object's making
/// before the read) and alive while the reader is pinned. The reader then
/// takes its own count (as a slice does before it unpins,
/// `Interp::keep_read_globals`) and reads again after unpinning. Once the
/// reader is gone the old value is freed by the next reclaim, exactly
/// once; the new one with the table.
#[test]
fn loom_globals_read_racing_a_def_and_the_reclaim() {
    const SYM: u32 = 1;
    model(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let g = empty_globals();
        g.define(SYM, shared_probe(0, &dropped));
        let old = g.get(SYM).expect("defined");
        let reader = {
            let g = g.clone();
            thread::spawn(move || {
                let me = g.participant();
                let mut heap = Heap::new();
                let pin = me.pin();
                let first = g.get(SYM).expect("defined");
                model_read(first);
                let second = g.get(SYM).expect("defined");
                model_read(second);
                heap.keep_shared(first);
                heap.keep_shared(second);
                drop(pin);
                // Counted by the heap: alive after the unpin too.
                model_read(first);
                model_read(second);
                (first, second)
            })
        };
        // Made after the reader started: only the slot orders it.
        let new = shared_probe(1, &dropped);
        let new_v = new.value();
        g.define(SYM, new);
        let (first, second) = reader.join().unwrap();
        assert!(first == old || first == new_v);
        assert!(second == old || second == new_v);
        assert!(
            !(first == new_v && second != new_v),
            "read went back in time"
        );
        assert_eq!(g.get(SYM), Some(new_v));
        // No thread is pinned now: the retired value goes.
        g.reclaimer().reclaim();
        assert_eq!(g.reclaimer().retired_len(), 0);
        assert_eq!(dropped.load(SeqCst), 0b01, "the replaced value is freed");
        drop(g);
        assert_eq!(dropped.load(SeqCst), 0b11, "the current one with the table");
    });
}

/// A reader pinned before a `def` keeps the replaced value alive through
/// any number of reclaims; its unpin lets the next reclaim free it.
#[test]
fn loom_globals_a_pinned_reader_holds_off_the_free() {
    const SYM: u32 = 1;
    model(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let g = empty_globals();
        g.define(SYM, shared_probe(0, &dropped));
        let me = g.participant();
        let pin = me.pin();
        let seen = g.get(SYM).expect("defined");
        let writer = {
            let g = g.clone();
            let dropped = dropped.clone();
            thread::spawn(move || {
                g.define(SYM, shared_probe(1, &dropped));
                g.reclaimer().reclaim();
            })
        };
        model_read(seen);
        writer.join().unwrap();
        model_read(seen);
        assert_eq!(dropped.load(SeqCst), 0, "freed under a pinned reader");
        drop(pin);
        g.reclaimer().reclaim();
        assert_eq!(dropped.load(SeqCst), 0b01);
        drop(me);
        drop(g);
        assert_eq!(dropped.load(SeqCst), 0b11);
    });
}

/// A reader pinned on one thread parks its pin (a coroutine switch inside a
/// slice) and resumes it on another, while a writer replaces the global and
/// reclaims: the value the reader saw stays alive across the move, and the
/// unpin on the new thread lets the next reclaim free it, exactly once.
#[test]
fn loom_globals_a_parked_pin_holds_off_the_free_on_its_new_thread() {
    const SYM: u32 = 1;
    model(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let g = empty_globals();
        g.define(SYM, shared_probe(0, &dropped));
        let writer = {
            let g = g.clone();
            let dropped = dropped.clone();
            thread::spawn(move || {
                g.define(SYM, shared_probe(1, &dropped));
                g.reclaimer().reclaim();
            })
        };
        let reader = {
            let g = g.clone();
            thread::spawn(move || {
                let me = g.participant();
                me.pin_raw();
                let seen = g.get(SYM).expect("defined");
                model_read(seen);
                let parked = me.park().expect("pinned");
                // The thread's slot is quiet now: its participant may go.
                (seen, parked)
            })
        };
        let (seen, parked) = reader.join().unwrap();
        let here = g.participant();
        here.resume(parked);
        model_read(seen);
        g.reclaimer().reclaim();
        model_read(seen);
        here.unpin_raw();
        writer.join().unwrap();
        g.reclaimer().reclaim();
        assert_eq!(dropped.load(SeqCst), 0b01, "the replaced value is freed");
        drop(here);
        drop(g);
        assert_eq!(dropped.load(SeqCst), 0b11);
    });
}

/// Two threads define two symbols of the same untouched chunk (the first
/// touch makes it) while each reads the other's: the chunk is made once, so
/// neither definition lands in a chunk that loses the race, and a read sees
/// nothing or the defined value.
#[test]
fn loom_globals_first_touch_makes_a_chunk_once() {
    // Chunk 1 (slots 4..8) under the loom table's 4-slot chunks.
    const A: u32 = 4;
    const B: u32 = 5;
    model(|| {
        let g = empty_globals();
        let other = {
            let g = g.clone();
            thread::spawn(move || {
                g.define(A, SharedValue::from_immediate(int(40)).expect("immediate"));
                g.get(B)
            })
        };
        g.define(B, SharedValue::from_immediate(int(50)).expect("immediate"));
        let seen_a = g.get(A);
        let seen_b = other.join().unwrap();
        assert!(seen_a.is_none() || seen_a == Some(int(40)));
        assert!(seen_b.is_none() || seen_b == Some(int(50)));
        assert_eq!(g.bound(), vec![(A, int(40)), (B, int(50))]);
    });
}

/// A `def` replacing a builtin's global races with a `def` putting the
/// builtin back: afterwards the builtin's fast-path flag agrees with what
/// the global holds (a flag left `true` over a replaced builtin would let
/// compiled code call the builtin instead of the new definition).
#[test]
fn loom_globals_intact_flag_agrees_with_the_slot() {
    const SYM: u32 = 2;
    const BUILTIN: u32 = 3;
    model(|| {
        let g = empty_globals();
        g.bind_builtin_as(SYM, BUILTIN);
        assert!(g.builtin_intact(BUILTIN));
        let other = {
            let g = g.clone();
            thread::spawn(move || {
                g.define(SYM, SharedValue::from_immediate(int(7)).expect("immediate"));
            })
        };
        let builtin = Value::builtin(BUILTIN);
        g.define(
            SYM,
            SharedValue::from_immediate(builtin).expect("immediate"),
        );
        other.join().unwrap();
        assert_eq!(g.builtin_intact(BUILTIN), g.get(SYM) == Some(builtin));
    });
}
