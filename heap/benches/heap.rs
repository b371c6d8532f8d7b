//! Heap benchmarks: allocation vs Box, minor-collection pauses, message
//! copy throughput, dropping a big heap. `cargo bench -p valk-heap`.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::{Duration, Instant};
use valk_heap::{Heap, ListKind, Value};

const CELLS: usize = 10_000_000;

fn int(i: i64) -> Value {
    Value::small_int(i).unwrap()
}

/// The same cell, allocated with `Box` and the system allocator.
#[allow(dead_code)]
struct BoxCell {
    car: u64,
    cdr: *const BoxCell,
}

fn alloc(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc_10M_cons");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(CELLS as u64));
    // Every cell kept alive: fresh memory for both.
    g.bench_function("valk_heap_all_live", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut h = Heap::new();
                let t = Instant::now();
                let mut l = Value::NIL;
                for i in 0..CELLS {
                    l = h.cons(int(i as i64), l, ListKind::Q).unwrap();
                }
                black_box(l);
                total += t.elapsed();
                drop(h);
            }
            total
        })
    });
    g.bench_function("box_system_all_live", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut keep: Vec<Box<BoxCell>> = Vec::with_capacity(CELLS);
                let t = Instant::now();
                let mut prev: *const BoxCell = core::ptr::null();
                for i in 0..CELLS {
                    let cell = Box::new(BoxCell {
                        car: i as u64,
                        cdr: prev,
                    });
                    prev = &*cell;
                    keep.push(cell);
                }
                black_box(prev);
                total += t.elapsed();
                drop(keep);
            }
            total
        })
    });
    // Short-lived cells, collected at safepoints (the common case in an
    // actor): the heap bumps through a warm nursery chunk; Box pairs each
    // allocation with a free.
    g.bench_function("valk_heap_short_lived", |b| {
        let mut h = Heap::new();
        b.iter(|| {
            let mut l = Value::NIL;
            for i in 0..CELLS {
                l = h.cons(int(i as i64), l, ListKind::Q).unwrap();
                if h.gc_wanted() {
                    black_box(l);
                    l = Value::NIL;
                    h.minor_gc(&mut ());
                }
            }
            black_box(l);
        })
    });
    g.bench_function("box_system_short_lived", |b| {
        let batch = 256 * 1024 / 24;
        let mut keep: Vec<Box<BoxCell>> = Vec::with_capacity(batch);
        b.iter(|| {
            let mut prev: *const BoxCell = core::ptr::null();
            for i in 0..CELLS {
                let cell = Box::new(BoxCell {
                    car: i as u64,
                    cdr: prev,
                });
                prev = &*cell;
                keep.push(cell);
                if keep.len() == batch {
                    black_box(prev);
                    prev = core::ptr::null();
                    keep.clear();
                }
            }
            black_box(prev);
            keep.clear();
        })
    });
    g.finish();
}

fn minor_pause(c: &mut Criterion) {
    let mut g = c.benchmark_group("minor_gc_pause");
    g.sample_size(20);
    for mb in [1usize, 10] {
        let cells = mb * 1024 * 1024 / 24;
        // Worst case: the whole nursery is live and must be copied.
        g.bench_function(format!("{mb}MB_live_nursery"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut h = Heap::new();
                    let mut l = Value::NIL;
                    for i in 0..cells {
                        l = h.cons(int(i as i64), l, ListKind::Q).unwrap();
                    }
                    let t = Instant::now();
                    h.minor_gc(&mut l);
                    total += t.elapsed();
                    black_box(l);
                }
                total
            })
        });
        // Typical: the live set is old, the nursery is garbage.
        g.bench_function(format!("{mb}MB_live_old_1MB_garbage"), |b| {
            let mut h = Heap::new();
            let mut l = Value::NIL;
            for i in 0..cells {
                l = h.cons(int(i as i64), l, ListKind::Q).unwrap();
            }
            h.major_gc(&mut l);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut g = Value::NIL;
                    for i in 0..1024 * 1024 / 24 {
                        g = h.cons(int(i), g, ListKind::Q).unwrap();
                    }
                    black_box(g);
                    let t = Instant::now();
                    h.minor_gc(&mut l);
                    total += t.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

fn message_copy(c: &mut Criterion) {
    let mut g = c.benchmark_group("message_copy");
    let mut h = Heap::new();
    // 1,000 small lists of 5 ints in one message.
    let lists: Vec<Value> = (0..1000)
        .map(|i| {
            let items: Vec<Value> = (0..5).map(|k| int(i * 5 + k)).collect();
            h.list(&items, ListKind::Q).unwrap()
        })
        .collect();
    let msg = h.list(&lists, ListKind::Q).unwrap();
    let source_bytes = 1000 * 6 * 24;
    g.throughput(Throughput::Bytes(source_bytes as u64));
    g.bench_function("1000_small_lists", |b| {
        b.iter_with_large_drop(|| h.copy_to_fragment(black_box(msg)))
    });
    g.bench_function("1000_small_lists_copy_adopt_drop", |b| {
        b.iter_batched(
            Heap::new,
            |mut r| {
                let f = h.copy_to_fragment(black_box(msg));
                black_box(r.adopt(f).unwrap());
                r
            },
            BatchSize::SmallInput,
        )
    });
    // The ping-pong message: `{pid 12345}`, sent and received one at a
    // time, the receiver collecting at its safepoints.
    let pid = h.pid(12345).unwrap();
    let small = h.list(&[pid, int(12345)], ListKind::Q).unwrap();
    g.throughput(Throughput::Elements(1));
    g.bench_function("pid_pair_copy_drop", |b| {
        b.iter(|| h.copy_to_fragment(black_box(small)))
    });
    let mut r = Heap::new();
    g.bench_function("pid_pair_copy_adopt", |b| {
        b.iter(|| {
            let f = h.copy_to_fragment(black_box(small));
            black_box(r.adopt(f).unwrap());
            if r.gc_wanted() {
                r.collect(&mut ());
            }
        })
    });
    let big = h.string(&"x".repeat(1 << 20)).unwrap();
    let msg2 = h.list(&[big], ListKind::Q).unwrap();
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("1MB_string", |b| {
        b.iter_with_large_drop(|| h.copy_to_fragment(black_box(msg2)))
    });
    g.finish();
}

fn drop_heap(c: &mut Criterion) {
    let mut g = c.benchmark_group("drop_heap");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let cells = 100 * 1024 * 1024 / 24;
    for major in [true, false] {
        let name = if major {
            "100MB_old_space"
        } else {
            "100MB_nursery"
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut h = Heap::new();
                    let mut l = Value::NIL;
                    for i in 0..cells {
                        l = h.cons(int(i as i64), l, ListKind::Q).unwrap();
                    }
                    if major {
                        h.major_gc(&mut l);
                    }
                    assert!(h.bytes_in_use() >= 100 << 20);
                    let t = Instant::now();
                    drop(h);
                    total += t.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, alloc, minor_pause, message_copy, drop_heap);
criterion_main!(benches);
