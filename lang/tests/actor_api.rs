//! The resumable run loop the scheduler drives: a computation stops when its
//! reduction budget is spent and resumes where it stopped; actors of one
//! runtime share globals; the interpreter can move between threads.

use std::sync::Arc;

use valk_lang::{Globals, Interp, RunOutcome};

fn assert_send<T: Send>() {}

#[test]
fn interp_is_send_and_globals_are_shared_handles() {
    assert_send::<Interp>();
    assert_send::<Arc<Globals>>();
}

#[test]
fn run_stops_when_the_budget_is_spent_and_resumes() {
    let mut it = Interp::new();
    it.eval_source(
        "(fun {count n} {if (== n 0) {:done} {count (- n 1)}})",
        "a.valk",
    )
    .unwrap();
    let f = it.global("count").unwrap();
    it.start_call(f, &[valk_lang::Value::small_int(10_000).unwrap()])
        .unwrap();
    let mut slices = 0;
    let out = loop {
        match it.run(100) {
            RunOutcome::OutOfBudget => slices += 1,
            other => break other,
        }
    };
    assert!(
        slices >= 99,
        "only {slices} slices for 10,000 calls at 100 reductions each"
    );
    match out {
        RunOutcome::Done(v) => assert_eq!(it.repr(v), ":done"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn uncaught_errors_end_the_run_as_errors() {
    let mut it = Interp::new();
    it.eval_source("(fun {bad x} {+ x \"no\"})", "a.valk")
        .unwrap();
    let f = it.global("bad").unwrap();
    it.start_call(f, &[valk_lang::Value::small_int(1).unwrap()])
        .unwrap();
    match it.run(1000) {
        RunOutcome::Error(e) => {
            let err = it.error_of(e);
            assert_eq!(
                err.to_string(),
                "a.valk:1:15: error: `+`: argument 2: expected number, got string"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn actors_of_one_runtime_see_each_others_defs() {
    let mut a = Interp::new();
    let mut b = Interp::with_globals(a.globals().clone());
    a.eval_source("(def {shared-x} {1 2 3})", "a.valk").unwrap();
    let v = b.eval_source("(len shared-x)", "b.valk").unwrap();
    assert_eq!(b.repr(v), "3");
    // Redefinition (hot code reload) is seen by the next call.
    a.eval_source("(fun {f} {:v1})", "a.valk").unwrap();
    assert_eq!(
        b.eval_source("(f)", "b.valk").map(|v| b.repr(v)).unwrap(),
        ":v1"
    );
    a.eval_source("(fun {f} {:v2})", "a.valk").unwrap();
    assert_eq!(
        b.eval_source("(f)", "b.valk").map(|v| b.repr(v)).unwrap(),
        ":v2"
    );
    // A separate runtime does not.
    let mut c = Interp::new();
    assert!(c.eval_source("shared-x", "c.valk").is_err());
}

#[test]
fn repl_lines_and_args() {
    let mut it = Interp::new();
    assert_eq!(it.eval_repl_line("+ 1 2").map(|v| it.repr(v)).unwrap(), "3");
    assert_eq!(
        it.eval_repl_line("(+ 1 2)").map(|v| it.repr(v)).unwrap(),
        "3"
    );
    assert!(it.eval_repl_line("(+ 1").unwrap_err().is_incomplete());
    assert!(!it.eval_repl_line("(+ 1))").unwrap_err().is_incomplete());
    it.set_args(&["x".into(), "y z".into()]).unwrap();
    assert_eq!(
        it.eval_repl_line("*args*").map(|v| it.repr(v)).unwrap(),
        "{\"x\" \"y z\"}"
    );
}
