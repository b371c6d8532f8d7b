//! Allocation failure is an error, never an abort: with the process-wide
//! hard limit (`valk_heap::memory::set_hard_limit`) standing in for a
//! system allocator that returns null, every path an actor's own growth
//! takes (nursery chunks, large objects, shared strings and boxes, message
//! copy, the collector's to-space) fails cleanly and leaves the heap valid.
//!
//! One test function: the limit is process-wide, so the cases run one after
//! another, never beside each other.

use valk_heap::memory::{allocated_bytes, set_hard_limit};
use valk_heap::{Heap, HeapError, ListKind, SharedReader, Value, LARGE_STRING};

fn int(i: i64) -> Value {
    Value::small_int(i).unwrap()
}

/// Cons `0..` onto a list until the heap refuses; returns the list and the
/// error.
fn grow_until_refused(h: &mut Heap) -> (Value, HeapError) {
    let mut l = Value::NIL;
    for i in 0.. {
        match h.cons(int(i), l, ListKind::Q) {
            Ok(v) => l = v,
            Err(e) => return (l, e),
        }
    }
    unreachable!()
}

/// A hard limit `headroom` bytes above what the process holds now.
fn limit_in(headroom: usize) {
    set_hard_limit(Some(allocated_bytes() + headroom));
}

fn nursery_growth_fails_with_out_of_memory() {
    let mut h = Heap::new();
    valk_heap::trim_chunk_pool();
    limit_in(8 << 20);
    let (l, err) = grow_until_refused(&mut h);
    set_hard_limit(None);
    assert!(
        matches!(err, HeapError::OutOfMemory { .. }),
        "unexpected error {err:?}"
    );
    assert!(err.to_string().starts_with("out of memory allocating"));
    assert_eq!(err.in_use(), h.bytes_in_use());
    // Everything allocated before the failure is intact.
    let n = h.list_to_vec(l).unwrap().len();
    assert!(n > 100_000, "only {n} cells before the limit");
    h.check_invariants(&mut vec![l]).unwrap();
    // Lifting the limit lets the heap grow again.
    assert!(h.cons(int(1), l, ListKind::Q).is_ok());
}

fn large_objects_and_shared_strings_fail_cleanly() {
    let mut h = Heap::new();
    limit_in(1 << 20);
    let big = "x".repeat(4 << 20);
    // A long string goes to the shared heap; a large local one does not
    // exist (long strings are shared), so a big closure is the large object.
    let err = h.string(&big).unwrap_err();
    assert!(matches!(err, HeapError::OutOfMemory { .. }));
    let captures = vec![Value::NIL; 1 << 20];
    let err = h.closure(Value::NIL, &captures).unwrap_err();
    assert!(matches!(err, HeapError::OutOfMemory { .. }));
    set_hard_limit(None);
    assert_eq!(h.bytes_in_use(), 0);
    assert!(h.string(&big).is_ok());
}

fn a_message_copy_that_runs_out_changes_nothing() {
    let mut h = Heap::new();
    let s = h.string(&"s".repeat(LARGE_STRING)).unwrap();
    let count = || SharedReader.ref_count(s).unwrap();
    let before = count();
    // 200,000 cells, each holding the shared string: a 4.8 MB message.
    let mut l = Value::NIL;
    for _ in 0..200_000 {
        l = h.cons(s, l, ListKind::Q).unwrap();
    }
    limit_in(1 << 20);
    let err = h.try_copy_to_fragment(l).unwrap_err();
    set_hard_limit(None);
    assert!(matches!(err, HeapError::OutOfMemory { .. }));
    // The source's headers are restored and the counts taken given back.
    assert_eq!(count(), before);
    h.check_invariants(&mut vec![l, s]).unwrap();
    assert_eq!(h.list_to_vec(l).unwrap().len(), 200_000);
    // Without the limit the same copy succeeds.
    let f = h.try_copy_to_fragment(l).unwrap();
    assert_eq!(f.list_to_vec(f.root()).unwrap().len(), 200_000);
}

fn a_collection_without_to_space_starves_the_heap_instead_of_breaking_it() {
    let mut h = Heap::new();
    // A live nursery list of 100,000 cells (2.4 MB).
    let mut l = Value::NIL;
    for i in 0..100_000 {
        l = h.cons(int(i), l, ListKind::Q).unwrap();
    }
    let mut roots = vec![l];
    // No room for the survivors' to-space (pooled chunks would be reused
    // without asking the system: empty the pool first).
    valk_heap::trim_chunk_pool();
    limit_in(0);
    h.minor_gc(&mut roots);
    h.major_gc(&mut roots);
    // Nothing moved: the values are still valid.
    h.check_invariants(&mut roots).unwrap();
    assert_eq!(h.list_to_vec(roots[0]).unwrap().len(), 100_000);
    set_hard_limit(None);
    // The heap refuses to grow from now on (its owner is to end).
    let (_, err) = grow_until_refused(&mut h);
    assert!(matches!(err, HeapError::Limit { .. }), "{err:?}");
    // With memory, collection works as usual.
    h.set_limit(None);
    h.minor_gc(&mut roots);
    h.check_invariants(&mut roots).unwrap();
    assert_eq!(h.list_to_vec(roots[0]).unwrap().len(), 100_000);
}

/// The process figure rises by about what a heap takes.
fn allocated_bytes_follows_heap_growth() {
    valk_heap::trim_chunk_pool();
    let before = allocated_bytes();
    let mut h = Heap::new();
    let mut l = Value::NIL;
    for i in 0..400_000 {
        l = h.cons(int(i), l, ListKind::Q).unwrap();
    }
    let grown = allocated_bytes().saturating_sub(before);
    assert!(h.bytes_in_use() >= 9 << 20);
    assert!(
        grown + (256 << 10) >= h.bytes_in_use(),
        "grew {grown} for {}",
        h.bytes_in_use()
    );
    h.check_invariants(&mut vec![l]).unwrap();
}

/// Past the hard limit the heap that grew there is refused, but a light
/// heap (a bystander: main waiting for the runaway's `{:DOWN ..}`) still
/// gets memory from the reserve above it, itself bounded; runtime notices
/// ignore the limit.
fn bystanders_use_the_reserve_and_notices_pass_the_limit() {
    let mut heavy = Heap::new();
    valk_heap::trim_chunk_pool();
    limit_in(8 << 20);
    let (l, _) = grow_until_refused(&mut heavy);
    assert!(heavy.cons(int(1), l, ListKind::Q).is_err());
    let mut light = Heap::new();
    let mut small = Value::NIL;
    for i in 0..50_000 {
        small = light
            .cons(int(i), small, ListKind::Q)
            .expect("a light heap allocates from the reserve");
    }
    // The reserve is bounded too: the light heap is refused once heavy.
    let (rest, err) = grow_until_refused(&mut light);
    assert!(matches!(err, HeapError::OutOfMemory { .. }), "{err:?}");
    // A notice is built past any limit.
    let notice = valk_heap::memory::past_the_hard_limit(|| heavy.cons(int(2), l, ListKind::Q));
    set_hard_limit(None);
    assert!(notice.is_ok());
    heavy.check_invariants(&mut vec![l]).unwrap();
    light.check_invariants(&mut vec![rest]).unwrap();
}

/// A copy into the shared heap (`def`) that runs out half-way frees what
/// it made, gives back the counts it took and leaves the source intact.
fn a_shared_copy_that_runs_out_changes_nothing() {
    let mut h = Heap::new();
    let s = h.string(&"s".repeat(LARGE_STRING)).unwrap();
    let count = || SharedReader.ref_count(s).unwrap();
    let before = count();
    let mut l = Value::NIL;
    for i in 0..200_000 {
        let pair = h.cons(int(i), s, ListKind::Q).unwrap();
        l = h.cons(pair, l, ListKind::Q).unwrap();
    }
    let objects = valk_heap::shared_stats().objects;
    limit_in(1 << 20);
    let err = h.try_to_shared(l).err();
    set_hard_limit(None);
    assert!(
        matches!(err, Some(HeapError::OutOfMemory { .. })),
        "{err:?}"
    );
    assert_eq!(count(), before, "counts taken on the way are given back");
    assert_eq!(
        valk_heap::shared_stats().objects,
        objects,
        "partial copies freed"
    );
    h.check_invariants(&mut vec![l, s]).unwrap();
    assert_eq!(h.list_to_vec(l).unwrap().len(), 200_000);
    // Without the limit the same copy succeeds.
    let sv = h.try_to_shared(l).unwrap();
    assert_eq!(h.list_to_vec(sv.value()).unwrap().len(), 200_000);
}

#[test]
fn allocation_failure_is_an_error_never_an_abort() {
    allocated_bytes_follows_heap_growth();
    nursery_growth_fails_with_out_of_memory();
    large_objects_and_shared_strings_fail_cleanly();
    a_message_copy_that_runs_out_changes_nothing();
    a_collection_without_to_space_starves_the_heap_instead_of_breaking_it();
    bystanders_use_the_reserve_and_notices_pass_the_limit();
    a_shared_copy_that_runs_out_changes_nothing();
}
