//! Interpreter benchmarks: fib 25/30, tak, a 1M-iteration tail loop.
//! `cargo bench -p valk-lang --bench interp`

use criterion::{criterion_group, criterion_main, Criterion};
use valk_lang::Interp;

const DEFS: &str = "
(fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})
(fun {tak x y z} {if (< y x) {tak (tak (- x 1) y z) (tak (- y 1) z x) (tak (- z 1) x y)} {z}})
(fun {loop n acc} {if (== n 0) {acc} {loop (- n 1) (+ acc 1)}})
";

fn run(it: &mut Interp, src: &str) {
    let v = it.eval_source(src, "bench").expect("bench program runs");
    std::hint::black_box(v);
}

fn benches(c: &mut Criterion) {
    let mut it = Interp::new();
    it.eval_source(DEFS, "defs").expect("defs load");
    let mut g = c.benchmark_group("interp");
    g.sample_size(10);
    g.bench_function("fib 25", |b| b.iter(|| run(&mut it, "(fib 25)")));
    g.bench_function("fib 30", |b| b.iter(|| run(&mut it, "(fib 30)")));
    g.bench_function("tak 18 12 6", |b| b.iter(|| run(&mut it, "(tak 18 12 6)")));
    g.bench_function("tail loop 1M", |b| {
        b.iter(|| run(&mut it, "(loop 1000000 0)"))
    });
    g.finish();
}

criterion_group!(interp, benches);
criterion_main!(interp);
