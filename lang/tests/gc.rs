//! The collector under the interpreter: allocation-heavy loops keep the
//! heap bounded, and values survive collections at safepoints.

use valk_lang::Interp;

#[test]
fn allocating_loop_keeps_the_heap_bounded() {
    let mut it = Interp::new();
    it.eval_source(
        "(fun {churn n acc} {if (== n 0) {len acc} {churn (- n 1) (tail (cons n (list n n n n)))}})",
        "gc.valk",
    )
    .unwrap();
    // Millions of short-lived cells: far more than a bounded heap could hold
    // without collecting.
    let v = it.eval_source("(churn 300000 {})", "gc.valk").unwrap();
    assert_eq!(it.repr(v), "4");
    let stats = it.gc_stats();
    assert!(stats.minor_count > 0, "no collection ran: {stats:?}");
    assert!(
        stats.bytes_in_use < 64 << 20,
        "heap grew to {} bytes",
        stats.bytes_in_use
    );
}

#[test]
fn live_data_survives_collections() {
    let mut it = Interp::new();
    it.eval_source(
        "(fun {build n acc} {if (== n 0) {acc} {build (- n 1) (cons (list n (* n 2)) acc)}})",
        "gc.valk",
    )
    .unwrap();
    let v = it
        .eval_source("(len (build 200000 {}))", "gc.valk")
        .unwrap();
    assert_eq!(it.repr(v), "200000");
    let v = it
        .eval_source("(head (build 100000 {}))", "gc.valk")
        .unwrap();
    assert_eq!(it.repr(v), "{{1 2}}");
    // Non-tail recursion keeps values in many frames across collections.
    it.eval_source(
        "(fun {nest n} {if (== n 0) {{}} {cons (list n) (nest (- n 1))}})",
        "gc.valk",
    )
    .unwrap();
    let v = it.eval_source("(len (nest 50000))", "gc.valk").unwrap();
    assert_eq!(it.repr(v), "50000");
    assert!(it.gc_stats().minor_count > 0);
}
