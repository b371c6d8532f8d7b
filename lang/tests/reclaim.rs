//! Reclamation: replaced globals are freed (counted with the shared heap's
//! live-object figure), and a value read from a global stays valid after
//! the global is replaced. The full-size runs are `#[ignore]`d and run in
//! release from `.ci/run`.
//!
//! The shared heap's figures are process-wide: the tests of this file take
//! a lock so that they do not count each other's objects.

use std::sync::Mutex;

use valk_heap::shared_stats;
use valk_lang::Interp;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn eval(it: &mut Interp, src: &str) -> String {
    match it.eval_source(src, "reclaim.valk") {
        Ok(v) => it.repr(v),
        Err(e) => panic!("{src}: {e}"),
    }
}

/// `n` `def`s of a fresh 10-element list over one global: the shared heap
/// must not keep them (each is 10 shared cons cells).
fn redefine(n: u64) {
    let _one = serial();
    let mut it = Interp::new();
    eval(
        &mut it,
        "(fun {redef n} {if (== n 0) {0} {do (def {x} (list n 2 3 4 5 6 7 8 9 10)) (redef (- n 1))}})",
    );
    eval(&mut it, "(redef 1000)");
    let before = shared_stats().objects;
    assert_eq!(eval(&mut it, &format!("(redef {n})")), "0");
    let after = shared_stats().objects;
    let grown = after.saturating_sub(before);
    // Without reclamation: 10 objects per `def`. With it: what one slice
    // retired while its thread was pinned, and the retired list's slack.
    assert!(
        grown < 60_000,
        "{n} defs left {grown} more shared objects ({before} -> {after})"
    );
    assert_eq!(eval(&mut it, "x"), "{1 2 3 4 5 6 7 8 9 10}");
}

#[test]
fn replaced_globals_are_freed() {
    redefine(30_000);
}

#[test]
#[ignore = "2M defs: run in release from .ci/run"]
fn two_million_defs_in_constant_memory() {
    redefine(2_000_000);
}

/// A value read from a global (and kept in a local) outlives many `def`s
/// of that global over later slices, reclaims and collections.
#[test]
fn a_value_read_from_a_global_survives_its_replacement() {
    let _one = serial();
    let mut it = Interp::new();
    eval(&mut it, "(def {x} (list 1 2 3 (list 4 5)))");
    eval(
        &mut it,
        "(fun {redef n} {if (== n 0) {0} {do (def {x} (list n n n)) (redef (- n 1))}})",
    );
    eval(
        &mut it,
        "(fun {hold} {do (= {a} x) (redef 20000) (def {y} (list 0)) a})",
    );
    assert_eq!(eval(&mut it, "(hold)"), "{1 2 3 {4 5}}");
    // And from the host: `Interp::global` takes a count too.
    let v = it.global("x").expect("bound");
    eval(&mut it, "(redef 5000)");
    assert_eq!(it.repr(v), "{1 1 1}");
}

/// A loop through `eval` in tail position, each step a new list: no code
/// is compiled per step (`code::count`) and the frame stack stays flat
/// (the frame limit is lowered below the step count).
fn eval_loop(steps: u64) {
    let _one = serial();
    let mut it = Interp::new();
    it.set_stack_limit(1_000, valk_lang::DEFAULT_MAX_REGS);
    eval(
        &mut it,
        "(fun {lp n} {if (== n 0) {:done} {eval (list lp (- n 1))}})",
    );
    eval(&mut it, "(lp 10)");
    let code_before = valk_lang::code::count();
    let shared_before = shared_stats().objects;
    assert_eq!(eval(&mut it, &format!("(lp {steps})")), ":done");
    let code_grown = valk_lang::code::count() - code_before;
    assert!(
        code_grown < 10,
        "{steps} eval steps compiled {code_grown} protos"
    );
    let shared_grown = shared_stats().objects.saturating_sub(shared_before);
    assert!(
        shared_grown < 1_000,
        "{steps} eval steps kept {shared_grown} shared objects"
    );
}

#[test]
fn an_eval_loop_compiles_nothing_per_step_and_stays_flat() {
    eval_loop(20_000);
}

#[test]
#[ignore = "1M steps: run in release from .ci/run"]
fn a_million_step_eval_loop_in_constant_memory() {
    eval_loop(1_000_000);
}

/// Distinct lists through `unpack` (the issue's `(unpack + (list n 1))`):
/// no code per list, no cache entry per list.
fn distinct_evals(n: u64) {
    let _one = serial();
    let mut it = Interp::new();
    eval(
        &mut it,
        "(fun {many n acc} {if (== n 0) {acc} {many (- n 1) (+ acc (unpack + (list n 1)))}})",
    );
    eval(&mut it, "(many 10 0)");
    let code_before = valk_lang::code::count();
    let shared_before = shared_stats().objects;
    let want = n * (n + 1) / 2 + n;
    assert_eq!(eval(&mut it, &format!("(many {n} 0)")), want.to_string());
    let code_grown = valk_lang::code::count() - code_before;
    assert!(code_grown < 10, "{n} evals compiled {code_grown} protos");
    let shared_grown = shared_stats().objects.saturating_sub(shared_before);
    assert!(
        shared_grown < 1_000,
        "{n} evals kept {shared_grown} shared objects"
    );
}

#[test]
fn distinct_evals_compile_nothing_per_list() {
    distinct_evals(20_000);
}

#[test]
#[ignore = "1M evals: run in release from .ci/run"]
fn a_million_distinct_evals_in_constant_memory() {
    distinct_evals(1_000_000);
}

/// Distinct lists that must be compiled (a nested call is not a plain
/// call): each compiles a chunk, which is transient and freed once no frame
/// runs it, so code stays bounded (the sweep keeps at most a few dozen), in
/// a loop and in a loop through `eval` in tail position.
fn compiled_evals(n: u64) {
    let _one = serial();
    let mut it = Interp::new();
    it.set_stack_limit(1_000, valk_lang::DEFAULT_MAX_REGS);
    eval(
        &mut it,
        "(def {six} (read-forms \"(* 2 3)\"))
         (fun {many n acc} {if (== n 0) {acc} {many (- n 1) (+ acc (eval (cons + (cons n six))))}})
         (fun {lp n} {if (== n 0) {:done} {eval (cons lp (read-forms (str \"(- \" n \" 1)\")))}})",
    );
    eval(&mut it, "(many 10 0)");
    let code_before = valk_lang::code::count();
    let want = n * (n + 1) / 2 + 6 * n;
    assert_eq!(eval(&mut it, &format!("(many {n} 0)")), want.to_string());
    assert_eq!(eval(&mut it, &format!("(lp {n})")), ":done");
    let code_grown = valk_lang::code::count().saturating_sub(code_before);
    assert!(
        code_grown < 300,
        "{n} compiled evals kept {code_grown} protos"
    );
    // The interpreter's transient code goes with it.
    drop(it);
    assert!(
        valk_lang::code::count() <= code_before,
        "dropping the interpreter left {} protos",
        valk_lang::code::count().saturating_sub(code_before)
    );
}

#[test]
fn compiled_evals_keep_bounded_code() {
    compiled_evals(5_000);
}

#[test]
#[ignore = "1M evals: run in release from .ci/run"]
fn a_million_compiled_evals_in_constant_code() {
    compiled_evals(1_000_000);
}
