// Anchor for the native tier: fib(30) and tak(18, 12, 6) in Rust, timed
// in-process (the median of 5 runs of each), built with rustc -O.
use std::hint::black_box;
use std::time::Instant;

fn fib(n: i64) -> i64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn tak(x: i64, y: i64, z: i64) -> i64 {
    if y < x {
        tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y))
    } else {
        z
    }
}

fn main() {
    let t = Instant::now();
    let r = fib(black_box(30));
    println!("fib(30) = {r}\nfib-us: {}", t.elapsed().as_micros());
    let t = Instant::now();
    let r = tak(black_box(18), black_box(12), black_box(6));
    println!("tak(18,12,6) = {r}\ntak-us: {}", t.elapsed().as_micros());
}
