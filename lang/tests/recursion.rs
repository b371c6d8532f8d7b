//! Deep recursion: tail calls run in constant memory, deep non-tail
//! recursion works, and past the limit it is a clean `stack overflow` error
//! after which the interpreter is still usable.

use valk_lang::Interp;

fn ev(it: &mut Interp, src: &str) -> String {
    match it.eval_source(src, "rec.valk") {
        Ok(v) => it.repr(v),
        Err(e) => format!("ERR {e}"),
    }
}

#[test]
fn million_deep_tail_loop_runs_in_constant_memory() {
    let mut it = Interp::new();
    ev(
        &mut it,
        "(fun {loop n acc} {if (== n 0) {acc} {loop (- n 1) (+ acc 1)}})",
    );
    // The stack limit is far below a million frames: only a real tail call passes.
    it.set_stack_limit(1000, 100_000);
    assert_eq!(ev(&mut it, "(loop 1000000 0)"), "1000000");
    // Tail calls through `do`, `let`, `select`, `case` and `eval` too.
    ev(
        &mut it,
        "(fun {l2 n} {do (+ 1 1) (select {(== n 0) :done} {otherwise (let {l2 (- n 1)})})})",
    );
    assert_eq!(ev(&mut it, "(l2 100000)"), ":done");
    ev(
        &mut it,
        "(fun {l3 n} {case (== n 0) {{1} :done} {{0} (eval (list l3 (- n 1)))}})",
    );
    assert_eq!(ev(&mut it, "(l3 100000)"), ":done");
    ev(
        &mut it,
        "(fun {l4 n} {if (== n 0) {:done} {((l4 (- n 1)))}})",
    );
    assert_eq!(ev(&mut it, "(l4 100000)"), ":done");
}

#[test]
fn hundred_thousand_deep_non_tail_recursion_works() {
    let mut it = Interp::new();
    ev(
        &mut it,
        "(fun {count n} {if (== n 0) {0} {+ 1 (count (- n 1))}})",
    );
    assert_eq!(ev(&mut it, "(count 100000)"), "100000");
}

#[test]
fn too_deep_recursion_is_a_clean_error_and_the_interpreter_goes_on() {
    let mut it = Interp::new();
    ev(
        &mut it,
        "(fun {count n} {if (== n 0) {0} {+ 1 (count (- n 1))}})",
    );
    let out = ev(&mut it, "(count 10000000)");
    assert!(
        out.starts_with("ERR rec.valk:1:") && out.ends_with("error: stack overflow"),
        "{out}"
    );
    assert_eq!(ev(&mut it, "(count 1000)"), "1000");
    // `try` catches it too.
    assert_eq!(
        ev(&mut it, "(try {count 10000000} {\\ {e} {error-message e}})"),
        "\"stack overflow\""
    );
}
