//! Quick timing: `cargo run --release -p valk-lang --example time`.
use std::time::Instant;
fn main() {
    let mut it = valk_lang::Interp::new();
    it.eval_source(
        "(fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})
         (fun {tak x y z} {if (< y x) {tak (tak (- x 1) y z) (tak (- y 1) z x) (tak (- z 1) x y)} {z}})
         (fun {loop n acc} {if (== n 0) {acc} {loop (- n 1) (+ acc 1)}})",
        "t",
    )
    .unwrap();
    let only = std::env::args().nth(1);
    for src in ["(fib 30)", "(tak 18 12 6)", "(loop 1000000 0)", "(fib 20)"] {
        if only.as_deref().is_some_and(|o| !src.contains(o)) {
            continue;
        }
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let v = it.eval_source(src, "t").unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(v);
        }
        println!("{src}: {:.1} ms", best * 1e3);
    }
}
