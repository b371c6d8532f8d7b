//! Behaviour of the private heap, its collector, the shared heap and
//! message copy. (Leak checks with a counting allocator: tests/leaks.rs.)

use valk_heap::{
    Fragment, Heap, HeapError, ListKind, ObjKind, RootsFn, SharedReader, SharedValue, SourceLoc,
    Value, LARGE_STRING,
};

fn int(i: i64) -> Value {
    Value::small_int(i).unwrap()
}

/// A proper list 0..n of small ints.
fn range_list(h: &mut Heap, n: i64) -> Value {
    let mut l = Value::NIL;
    for i in (0..n).rev() {
        l = h.cons(int(i), l, ListKind::Q).unwrap();
    }
    l
}

fn list_ints(h: &Heap, v: Value) -> Vec<i64> {
    h.list_to_vec(v)
        .unwrap()
        .into_iter()
        .map(|x| h.as_int(x).unwrap())
        .collect()
}

#[test]
fn a_new_heap_allocates_nothing_and_starts_small() {
    assert!(
        std::mem::size_of::<Heap>() <= 256,
        "Heap is {} bytes",
        std::mem::size_of::<Heap>()
    );
    let mut h = Heap::new();
    assert_eq!(h.bytes_in_use(), 0);
    h.cons(Value::NIL, Value::NIL, ListKind::S).unwrap();
    assert!(
        h.bytes_in_use() <= 512,
        "first chunk is {} bytes",
        h.bytes_in_use()
    );
    assert!(!h.gc_wanted());
}

#[test]
fn every_kind_reads_back_and_survives_both_collections() {
    let mut h = Heap::new();
    let msg = h.string("boom").unwrap();
    let loc = SourceLoc {
        file: valk_heap::intern("a.valk"),
        line: 3,
        col: 14,
    };
    let err = h.error(msg, Some(loc), Some(int(5))).unwrap();
    let bare = h.error(msg, None, None).unwrap();
    let pid = h.pid(77).unwrap();
    let r = h.make_ref(u64::MAX).unwrap();
    let kw = Value::keyword(valk_heap::intern("ptr"));
    let f = h.foreign(0xdead_beef, kw).unwrap();
    let big = h.int(i64::MIN).unwrap();
    let clo = h.closure(Value::builtin(3), &[msg, big]).unwrap();
    let part = h.partial(clo, &[int(1)]).unwrap();
    let bx = h.make_box(err).unwrap();
    let s = h.list(&[pid, r], ListKind::S).unwrap();
    let mut roots = vec![err, bare, pid, r, f, big, clo, part, bx, s];
    for round in 0..3 {
        match round {
            0 => {}
            1 => h.minor_gc(&mut roots),
            _ => h.major_gc(&mut roots),
        }
        h.check_invariants(&mut roots).unwrap();
        let [err, bare, pid, r, f, big, clo, part, bx, s] = roots[..] else {
            unreachable!()
        };
        let e = h.error_parts(err).unwrap();
        assert_eq!(h.str(e.message), Some("boom"));
        assert_eq!(e.loc, Some(loc));
        assert_eq!(e.payload, Some(int(5)));
        let e2 = h.error_parts(bare).unwrap();
        assert_eq!((e2.loc, e2.payload), (None, None));
        assert_eq!(h.pid_id(pid), Some(77));
        assert_eq!(h.ref_id(r), Some(u64::MAX));
        assert_eq!(h.foreign_parts(f), Some((0xdead_beef, kw)));
        assert_eq!(h.as_int(big), Some(i64::MIN));
        assert_eq!(h.kind(big), Some(ObjKind::BigInt));
        let (code, caps) = h.closure_parts(clo).unwrap();
        assert_eq!(code, Value::builtin(3));
        assert_eq!(h.str(caps[0]), Some("boom"));
        assert_eq!(h.as_int(caps[1]), Some(i64::MIN));
        let (func, args) = h.partial_parts(part).unwrap();
        assert_eq!((func, args), (clo, &[int(1)][..]));
        assert!(bx.is_shared());
        let inner = h.unbox(bx).unwrap();
        assert!(inner.is_shared());
        assert_eq!(
            SharedReader.str(SharedReader.error_parts(inner).unwrap().message),
            Some("boom")
        );
        assert_eq!(h.list_kind(s), Some(ListKind::S));
        assert_eq!(h.list_to_vec(s), Some(vec![pid, r]));
        assert_eq!(h.kind(int(1)), None);
        assert_eq!(h.car_cdr(pid), None);
    }
}

#[test]
fn integers_round_trip_across_the_whole_range() {
    let mut h = Heap::new();
    let xs = [
        i64::MIN,
        i64::MIN + 1,
        -(1 << 47) - 1,
        -(1 << 47),
        -1,
        0,
        1,
        (1 << 47) - 1,
        1 << 47,
        i64::MAX,
    ];
    let mut roots: Vec<Value> = xs.iter().map(|&i| h.int(i).unwrap()).collect();
    h.minor_gc(&mut roots);
    h.major_gc(&mut roots);
    let back: Vec<i64> = roots.iter().map(|&v| h.as_int(v).unwrap()).collect();
    assert_eq!(back, xs);
    assert!(roots[2].is_ptr() && !roots[3].is_ptr() && !roots[7].is_ptr() && roots[8].is_ptr());
}

#[test]
fn set_cdr_from_old_to_young_is_remembered() {
    let mut h = Heap::new();
    let cell = h.cons(int(1), Value::NIL, ListKind::Q).unwrap();
    let mut roots = vec![cell];
    h.minor_gc(&mut roots); // cell is old now
    let young = range_list(&mut h, 100);
    h.set_cdr(roots[0], young);
    h.check_invariants(&mut roots).unwrap();
    h.minor_gc(&mut roots); // `young` is reachable only through the old cell
    h.check_invariants(&mut roots).unwrap();
    let (car, cdr) = h.car_cdr(roots[0]).unwrap();
    assert_eq!(car, int(1));
    assert_eq!(list_ints(&h, cdr), (0..100).collect::<Vec<_>>());
    // Shared cells are immutable: set_cdr ignores them.
    let shared = h.to_shared(roots[0]);
    h.set_cdr(shared.value(), Value::EMPTY_S);
    assert_eq!(
        SharedReader.car_cdr(shared.value()).map(|p| p.1.is_ptr()),
        Some(true)
    );
}

#[test]
fn message_copy_preserves_sharing_and_cycles() {
    let mut a = Heap::new();
    let x = range_list(&mut a, 3);
    let pair = a.list(&[x, x], ListKind::Q).unwrap();
    // A cycle, made with set_cdr.
    let cyc = a.cons(int(9), Value::NIL, ListKind::S).unwrap();
    a.set_cdr(cyc, cyc);
    let msg = a.list(&[pair, cyc], ListKind::Q).unwrap();
    let frag = a.copy_to_fragment(msg);
    let mut b = Heap::new();
    let got = b.adopt(frag).unwrap();
    let mut roots = vec![got];
    for gc in 0..2 {
        let [pair2, cyc2] = b.list_to_vec(roots[0]).unwrap()[..] else {
            panic!()
        };
        let [x1, x2] = b.list_to_vec(pair2).unwrap()[..] else {
            panic!()
        };
        assert_eq!(x1, x2, "shared subterm copied twice");
        assert_ne!(x1, x, "not copied at all");
        assert_eq!(list_ints(&b, x1), vec![0, 1, 2]);
        let (nine, next) = b.car_cdr(cyc2).unwrap();
        assert_eq!((nine, next), (int(9), cyc2));
        assert_eq!(b.list_kind(cyc2), Some(ListKind::S));
        if gc == 0 {
            b.minor_gc(&mut roots);
        }
    }
    // The sender's headers are restored.
    a.check_invariants(&mut vec![msg]).unwrap();
    assert_eq!(list_ints(&a, x), vec![0, 1, 2]);
}

#[test]
fn message_copy_passes_shared_objects_by_count() {
    let mut a = Heap::new();
    let text = "x".repeat(1 << 20);
    let big = a.string(&text).unwrap();
    assert!(big.is_shared());
    let before = SharedReader.ref_count(big).unwrap();
    let msg = a.list(&[big, big], ListKind::Q).unwrap();
    let frag = a.copy_to_fragment(msg);
    assert!(
        frag.byte_size() < 1024,
        "1 MB string was copied: {} bytes",
        frag.byte_size()
    );
    assert_eq!(SharedReader.ref_count(big), Some(before + 2));
    let mut b = Heap::new();
    let got = b.adopt(frag).unwrap();
    // b keeps one count however many times the message mentions it.
    assert_eq!(SharedReader.ref_count(big), Some(before + 1));
    let items = b.list_to_vec(got).unwrap();
    assert_eq!(items, vec![big, big], "same address in the receiver");
    assert_eq!(b.str(items[0]).map(str::len), Some(1 << 20));
    // When b stops reaching it, a major collection gives the count back.
    b.major_gc(&mut ());
    assert_eq!(SharedReader.ref_count(big), Some(before));
    drop(b);
    // A message dropped unread releases its counts too.
    drop(a.copy_to_fragment(msg));
    assert_eq!(SharedReader.ref_count(big), Some(before));
}

#[test]
fn shared_values_are_deep_immutable_copies() {
    let mut h = Heap::new();
    let inner = range_list(&mut h, 4);
    let s = h.string("hi").unwrap();
    let v = h.list(&[inner, inner, s], ListKind::S).unwrap();
    let sv = h.to_shared(v);
    let r = SharedReader;
    let items = r.list_to_vec(sv.value()).unwrap();
    assert_eq!(items[0], items[1], "sharing preserved");
    assert_eq!(r.ref_count(items[0]), Some(2));
    assert_eq!(r.str(items[2]), Some("hi"));
    assert_eq!(r.list_kind(sv.value()), Some(ListKind::S));
    // Private pointers are refused by the shared reader.
    assert_eq!(r.car_cdr(v), None);
    // Sharing a shared value bumps its count instead of copying.
    let again = h.to_shared(sv.value());
    assert_eq!(again.value(), sv.value());
    assert_eq!(sv.ref_count(), Some(2));
    // Readable from another thread with no heap.
    let sv2 = sv.clone();
    let n = std::thread::spawn(move || SharedReader.list_to_vec(sv2.value()).map(|v| v.len()))
        .join()
        .unwrap();
    assert_eq!(n, Some(3));
    assert!(SharedValue::from_immediate(int(3)).is_some());
    assert!(SharedValue::from_immediate(v).is_none());
}

#[test]
fn allocation_past_the_limit_is_an_error_not_an_abort() {
    let limit = 64 * 1024;
    let mut h = Heap::with_limit(limit);
    let mut l = Value::NIL;
    let err = loop {
        match h.cons(int(1), l, ListKind::Q) {
            Ok(v) => l = v,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, HeapError::Limit { limit: 65536, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "heap limit of 65536 bytes exceeded");
    assert!(h.bytes_in_use() <= limit);
    assert_eq!(h.stats().limit, Some(limit));
    // Large objects and adoption are limited too.
    let caps = vec![int(0); 4096];
    assert!(h.closure(int(0), &caps).is_err());
    let mut other = Heap::new();
    let big_msg = range_list(&mut other, 10_000);
    let frag = other.copy_to_fragment(big_msg);
    assert!(matches!(h.adopt(frag), Err(HeapError::Limit { .. })));
    // After a collection drops the garbage, allocation works again.
    h.collect(&mut ());
    assert!(h.cons(int(1), Value::NIL, ListKind::Q).is_ok());
    h.set_limit(None);
    assert_eq!(h.stats().limit, None);
}

#[test]
fn garbage_is_reclaimed_and_the_heap_stays_within_twice_the_live_set() {
    let mut h = Heap::new();
    // ~12 MB live: 500k cons cells. (Chunks are up to 2 MiB, so a few MB of
    // slack is fixed overhead: the 2x bound is about live sets above that.)
    let live = range_list(&mut h, 500_000);
    let mut roots = vec![live, Value::NIL];
    h.major_gc(&mut roots);
    let live_bytes = h.stats().live_after_last_gc;
    assert!(live_bytes >= 12_000_000);
    let mut allocated = 0usize;
    let mut batch = 0;
    // With debug-checks every collection walks the 12 MB live set: keep the
    // garbage total smaller there.
    let total = if cfg!(feature = "debug-checks") {
        40 << 20
    } else {
        100 << 20
    };
    while allocated < total {
        // 1 MB of garbage per batch; a 256 KB piece of it stays reachable
        // for one collection (so it is promoted, then dies in old space).
        let mut l = Value::NIL;
        for i in 0..(1 << 20) / 24 {
            l = h.cons(int(i), l, ListKind::Q).unwrap();
            if i == 256 * 1024 / 24 {
                roots[1] = l;
            }
        }
        allocated += 1 << 20;
        batch += 1;
        h.collect(&mut roots); // a safepoint
        assert!(
            h.bytes_in_use() <= 2 * live_bytes,
            "batch {batch}: {} bytes in use for {live_bytes} live",
            h.bytes_in_use()
        );
    }
    let st = h.stats();
    assert!(st.minor_count >= batch && st.major_count >= 2, "{st:?}");
    assert_eq!(list_ints(&h, roots[0]).len(), 500_000);
    assert_eq!(
        h.list_to_vec(roots[1]).map(|v| v.len()),
        Some(256 * 1024 / 24 + 1)
    );
}

#[test]
fn gc_is_requested_but_never_run_by_allocation() {
    let mut h = Heap::new();
    let first = h.cons(int(1), Value::NIL, ListKind::Q).unwrap();
    let _ = range_list(&mut h, 100_000);
    assert!(h.gc_wanted());
    assert_eq!(h.stats().minor_count, 0);
    // Nothing moved: the first cell is still readable where it was.
    assert_eq!(h.car_cdr(first), Some((int(1), Value::NIL)));
    let mut root = first;
    h.collect(&mut root);
    assert!(!h.gc_wanted());
    assert_eq!(h.car_cdr(root), Some((int(1), Value::NIL)));
}

#[test]
fn large_objects_get_their_own_chunk_and_move_like_others() {
    let mut h = Heap::new();
    let s = h.string("captured").unwrap();
    let caps: Vec<Value> = (0..5000)
        .map(|i| if i % 2 == 0 { s } else { int(i) })
        .collect();
    let clo = h.closure(Value::builtin(1), &caps).unwrap();
    let before = h.bytes_in_use();
    assert!(before >= 5000 * 8);
    let mut roots = vec![clo];
    h.minor_gc(&mut roots);
    h.major_gc(&mut roots);
    let (_, got) = h.closure_parts(roots[0]).unwrap();
    assert_eq!(got.len(), 5000);
    assert_eq!(h.str(got[0]), Some("captured"));
    assert_eq!(got[0], got[2], "captures still share one string");
    // Sent as a message and adopted, then collected away.
    let f = h.copy_to_fragment(roots[0]);
    let mut b = Heap::new();
    let mut r2 = vec![b.adopt(f).unwrap()];
    b.minor_gc(&mut r2);
    assert_eq!(b.closure_parts(r2[0]).map(|(_, c)| c.len()), Some(5000));
    h.major_gc(&mut ());
    assert!(
        h.bytes_in_use() < 4096,
        "{} bytes after dropping everything",
        h.bytes_in_use()
    );
}

#[test]
fn long_lists_copy_and_drop_without_recursion() {
    let mut h = Heap::new();
    let l = range_list(&mut h, 1_000_000);
    let mut roots = vec![l];
    h.minor_gc(&mut roots);
    let f = h.copy_to_fragment(roots[0]);
    let sv = h.to_shared(roots[0]);
    drop(f);
    let n = SharedReader.list_to_vec(sv.value()).unwrap().len();
    assert_eq!(n, 1_000_000);
    drop(sv); // frees a million shared cells with a worklist
              // Deeply nested (car-wise) lists too.
    let mut deep = Value::NIL;
    for _ in 0..200_000 {
        deep = h.cons(deep, Value::NIL, ListKind::Q).unwrap();
    }
    let mut roots = vec![deep];
    h.major_gc(&mut roots);
    drop(h.to_shared(roots[0]));
    drop(h.copy_to_fragment(roots[0]));
}

#[test]
fn roots_can_be_a_closure() {
    let mut h = Heap::new();
    let mut a = range_list(&mut h, 3);
    let mut b = h.string("b").unwrap();
    h.minor_gc(&mut RootsFn(|visit: &mut dyn FnMut(&mut Value)| {
        visit(&mut a);
        visit(&mut b);
    }));
    assert_eq!(list_ints(&h, a), vec![0, 1, 2]);
    assert_eq!(h.str(b), Some("b"));
}

#[test]
fn fragments_built_from_shared_and_immediates() {
    let mut h = Heap::new();
    let s = h.string(&"s".repeat(LARGE_STRING)).unwrap();
    let sv = h.to_shared(s);
    let f = Fragment::from_shared(sv);
    assert_eq!(f.byte_size(), 0);
    assert_eq!(f.str(f.root()).map(str::len), Some(LARGE_STRING));
    let mut b = Heap::new();
    assert_eq!(b.adopt(f).unwrap(), s);
    assert_eq!(
        b.adopt(Fragment::immediate(Value::EMPTY_S)).unwrap(),
        Value::EMPTY_S
    );
    let heap_copy = h.copy_to_fragment(int(4));
    assert_eq!(heap_copy.root(), int(4));
}

/// A burst of allocation grows nursery chunks; the last one is kept for the
/// next cycle. It must not make every later message start a collection (a
/// kept chunk larger than the nursery budget once did: one minor GC per
/// message received in a ping-pong loop).
#[test]
fn messages_after_a_burst_do_not_collect_each_time() {
    let mut h = Heap::new();
    let mut root = range_list(&mut h, 200_000); // ~4.8 MB, no safepoint
    root = h.list_to_vec(root).map_or(Value::NIL, |v| v[0]);
    h.collect(&mut root);
    let before = h.stats().minor_count;
    let mut sender = Heap::new();
    let mut received = 0;
    for i in 0..10_000 {
        let msg = range_list(&mut sender, 2);
        let m = h.adopt(sender.copy_to_fragment(msg)).unwrap();
        let small = h.adopt(Fragment::immediate(int(i))).unwrap();
        received += list_ints(&h, m).len() + usize::from(small == int(i));
        if h.gc_wanted() {
            h.collect(&mut root); // the receiver's safepoint
        }
    }
    assert_eq!(received, 30_000);
    let collections = h.stats().minor_count - before;
    // 10,000 two-cell messages are ~1.3 MB of fragment chunks: a few dozen
    // 32 KiB budgets, not one collection per message.
    assert!(
        collections <= 100,
        "{collections} minor collections for 10,000 messages"
    );
}

/// A heap that owns boxes it no longer reaches (an actor that receives big
/// boxes and drops them, allocating almost nothing itself) must collect
/// them by weight: past 16 MiB of dropped boxes a collection is due and
/// frees them, however small the private heap stays.
#[test]
fn dropped_boxes_make_a_collection_due_by_their_weight() {
    let mut maker = Heap::new();
    let mut owner = Heap::new();
    // Each box holds 40,000 shared cons cells: about 1.3 MB.
    let boxes: Vec<SharedValue> = (0..40)
        .map(|_| {
            let l = range_list(&mut maker, 40_000);
            let b = maker.make_box(l).unwrap();
            maker.to_shared(b)
        })
        .collect();
    drop(maker);
    let mut due_after = None;
    for (i, b) in boxes.iter().enumerate() {
        // As a message would: the owner takes its own count.
        let f = owner.try_copy_to_fragment(b.value()).unwrap();
        owner.adopt(f).unwrap();
        if owner.gc_wanted() && due_after.is_none() {
            due_after = Some(i + 1);
        }
    }
    let due_after = due_after.expect("owning ~50 MB of boxes made no collection due");
    assert!(
        (10..=16).contains(&due_after),
        "due after {due_after} boxes of ~1.3 MB (16 MiB expected)"
    );
    let witness = boxes[0].clone();
    drop(boxes);
    assert_eq!(witness.ref_count(), Some(2), "the witness and the owner");
    owner.collect(&mut RootsFn(|_: &mut dyn FnMut(&mut Value)| {}));
    assert_eq!(
        witness.ref_count(),
        Some(1),
        "the collection gave back the owner's count on an unreachable box"
    );
}
