//! The symbol table's cap (`heap/src/symbol.rs`): reading more distinct
//! names than `MAX_SYMBOLS` is a Valk read error naming the cap, and the
//! interpreter goes on. Fills the process's table, so it is alone in its
//! test binary and `#[ignore]`d (run in release from `.ci/run`).

use valk_heap::symbol::{symbol_count, MAX_SYMBOLS};
use valk_lang::Interp;

#[test]
#[ignore = "interns a million names: run in release from .ci/run"]
fn past_the_symbol_cap_the_reader_errors_and_the_runtime_goes_on() {
    let mut it = Interp::new();
    let mut n = 0usize;
    let err = loop {
        // 10,000 fresh names a form, quoted so that none is looked up.
        let names: Vec<String> = (0..10_000).map(|i| format!("cap-sym-{}", n + i)).collect();
        n += names.len();
        match it.eval_source(&format!("(len {{{}}})", names.join(" ")), "cap.valk") {
            Ok(_) => assert!(n <= MAX_SYMBOLS + 10_000, "no cap after {n} names"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(err.contains("symbol table full"), "{err}");
    assert!(err.contains("MAX_SYMBOLS"), "{err}");
    assert!(err.starts_with("cap.valk:1:"), "{err}");
    assert!(symbol_count() <= MAX_SYMBOLS);
    // Known names still read; the runtime goes on.
    let v = it.eval_source("(+ 1 2)", "cap.valk").expect("still runs");
    assert_eq!(it.repr(v), "3");
}
