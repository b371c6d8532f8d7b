//! No leaks: a counting global allocator must return to its baseline after
//! heaps, messages and shared objects are dropped. `harness = false`: the
//! check runs alone on the main thread, so nothing else allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::any::Any;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use valk_heap::{shared_stats, Heap, ListKind, SharedValue, Value, LARGE_STRING};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE_BYTES.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated, not counting chunks parked in the heap's chunk pool.
fn live() -> isize {
    valk_heap::trim_chunk_pool();
    LIVE_BYTES.load(Ordering::Relaxed)
}

fn int(i: i64) -> Value {
    Value::small_int(i).unwrap()
}

/// A heap with some of everything, some of it collected, some sent.
fn busy_heap(seed: i64, peer: &mut Heap) -> Heap {
    let mut h = Heap::new();
    let mut l = Value::NIL;
    for i in 0..50 {
        l = h.cons(int(seed + i), l, ListKind::Q).unwrap();
    }
    let s = h.string("a private string").unwrap();
    let big = h
        .string(&"b".repeat(LARGE_STRING + seed as usize % 7))
        .unwrap();
    let n = h.int(i64::MAX - seed).unwrap();
    let clo = h.closure(Value::builtin(1), &[l, s, big, n]).unwrap();
    let bx = h.make_box(clo).unwrap();
    let mut roots = vec![clo, bx];
    if seed % 3 == 0 {
        h.minor_gc(&mut roots);
    }
    if seed % 5 == 0 {
        h.major_gc(&mut roots);
    }
    // `s` may have moved: read it back through a root.
    let s = h.closure_parts(roots[0]).unwrap().1[1];
    let err = h.error(s, None, Some(roots[0])).unwrap();
    roots.push(err);
    if seed % 2 == 0 {
        let f = h.copy_to_fragment(roots[2]);
        let mut r = vec![peer.adopt(f).unwrap()];
        if seed % 4 == 0 {
            peer.collect(&mut r);
        }
    } else {
        drop(h.copy_to_fragment(roots[0]));
    }
    h
}

/// A heap big enough (> 8 MB) to be freed by the background reaper.
fn big_heap() {
    let mut h = Heap::new();
    let mut l = Value::NIL;
    for i in 0..500_000 {
        l = h.cons(int(i), l, ListKind::Q).unwrap();
    }
    h.major_gc(&mut l);
}

fn main() {
    heaps_messages_and_shared_objects_give_all_memory_back();
    println!("leaks: heaps, messages and shared objects gave all memory back");
}

fn heaps_messages_and_shared_objects_give_all_memory_back() {
    // Warm up everything that allocates once per process (the symbol table,
    // thread-locals of the test harness) before taking the baseline.
    let _ = valk_heap::intern("warm-up");
    big_heap(); // starts the reaper thread

    let baseline = live();
    let shared_before = shared_stats();

    // 10,000 heaps with data, messages between them, collections.
    for batch in 0..100 {
        let mut peer = Heap::new();
        let heaps: Vec<Heap> = (0..100)
            .map(|i| busy_heap(batch * 100 + i, &mut peer))
            .collect();
        drop(heaps);
        drop(peer);
    }
    big_heap();
    assert_eq!(live() - baseline, 0, "bytes leaked by heaps");
    assert_eq!(
        shared_stats(),
        shared_before,
        "shared objects leaked by heaps"
    );

    // Shared objects released through handles, lists long enough to need
    // the worklist, opaque objects holding Rust data.
    let payload: Arc<dyn Any + Send + Sync> = Arc::new(vec![1u8; 1000]);
    {
        let mut h = Heap::new();
        let mut l = Value::NIL;
        for i in 0..100_000 {
            l = h.cons(int(i), l, ListKind::S).unwrap();
        }
        let sv = h.to_shared(l);
        let op = SharedValue::opaque(payload.clone());
        let clones: Vec<SharedValue> = (0..10).map(|_| sv.clone()).collect();
        drop(h);
        let f = valk_heap::Fragment::from_shared(op.clone());
        let mut other = Heap::new();
        other.adopt(f).unwrap();
        drop(other);
        drop((sv, op, clones));
    }
    assert_eq!(Arc::strong_count(&payload), 1);
    drop(payload);
    assert_eq!(live() - baseline, 0, "bytes leaked by shared objects");
    assert_eq!(shared_stats(), shared_before, "shared objects leaked");
}
