//! The native tier against the interpreter: the same values, compiled
//! code used where it can be, and every way out of compiled code (bails,
//! hot reload, a replaced builtin, deep recursion, a kill) ending as the
//! interpreter would.

mod common;

use common::Rt;
use valk_lang::tier::JitMode;

const FIB: &str = "(fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})";
const TAK: &str = "(fun {tak x y z} {if (< y x) {tak (tak (- x 1) y z) (tak (- y 1) z x) (tak (- z 1) x y)} {z}})";
const LOOP: &str = "(fun {loop i acc} {if (== i 0) {acc} {loop (- i 1) (+ acc i)}})";

#[test]
fn compiled_functions_give_the_interpreters_values() {
    let off = Rt::new(JitMode::Off, 1);
    let always = Rt::new(JitMode::Always, 1);
    for rt in [&off, &always] {
        rt.eval(FIB).unwrap();
        rt.eval(TAK).unwrap();
        rt.eval(LOOP).unwrap();
    }
    for e in [
        "(fib 20)",
        "(tak 18 12 6)",
        "(loop 100000 0)",
        "(fib 0)",
        "(fib -3)",
    ] {
        assert_eq!(always.eval(e), off.eval(e), "{e}");
    }
    assert!(always.compiled("fib") && always.compiled("tak") && always.compiled("loop"));
    assert!(!off.compiled("fib"));
}

#[test]
fn on_compiles_a_function_once_it_is_hot() {
    let rt = Rt::new(JitMode::On, 1);
    rt.eval(FIB).unwrap();
    rt.eval("(fib 3)").unwrap();
    assert!(!rt.compiled("fib"), "compiled after a handful of calls");
    for _ in 0..200 {
        assert_eq!(rt.eval("(fib 15)").unwrap(), "610");
        if rt.compiled("fib") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("fib was never compiled");
}

#[test]
fn integers_leave_the_small_range_exactly_as_interpreted() {
    let off = Rt::new(JitMode::Off, 1);
    let always = Rt::new(JitMode::Always, 1);
    let defs = "(fun {pow10 n} {if (== n 0) {1} {* 10 (pow10 (- n 1))}})
                (fun {sum-to n acc} {if (== n 0) {acc} {sum-to (- n 1) (+ acc n)}})
                (fun {dbl n k} {if (== k 0) {n} {dbl (+ n n) (- k 1)}})";
    off.eval(defs).unwrap();
    always.eval(defs).unwrap();
    for e in [
        "(pow10 14)",
        "(pow10 15)",
        "(pow10 18)",
        "(pow10 19)",
        "(pow10 25)",
        "(sum-to 20000000 140737488000000)",
        "(dbl 1 46)",
        "(dbl 1 47)",
        "(dbl 1 63)",
        "(dbl 1 64)",
        "(dbl -1 47)",
        "(dbl -1 48)",
    ] {
        assert_eq!(always.eval(e), off.eval(e), "{e}");
    }
}

#[test]
fn a_million_deep_tail_loop_runs_compiled_in_constant_stack() {
    let rt = Rt::new(JitMode::Always, 1);
    rt.eval(LOOP).unwrap();
    assert_eq!(rt.eval("(loop 1000000 0)").unwrap(), "500000500000");
    assert_eq!(rt.eval("(loop 10000000 0)").unwrap(), "50000005000000");
    assert!(rt.compiled("loop"));
}

#[test]
fn deep_recursion_falls_back_to_the_interpreter() {
    let off = Rt::new(JitMode::Off, 1);
    let always = Rt::new(JitMode::Always, 1);
    // `count` recurses as loop turns of its accumulating twin; `pair`
    // makes two calls in one block (the second takes its level without
    // checking again: the first checked it and gave it back).
    let defs = "(fun {count n} {if (== n 0) {0} {+ 1 (count (- n 1))}})
                (fun {pair n} {if (== n 0) {0} {- (pair (- n 1)) (pair 0)}})";
    off.eval(defs).unwrap();
    always.eval(defs).unwrap();
    for e in [
        "(count 100)",
        "(count 100000)",
        "(pair 100)",
        "(pair 100000)",
    ] {
        assert_eq!(always.eval(e), off.eval(e), "{e}");
    }
}

#[test]
fn a_def_replaces_compiled_code_at_the_next_call() {
    let rt = Rt::new(JitMode::Always, 1);
    rt.eval("(fun {step n} {+ n 1}) (fun {twice n} {step (step n)})")
        .unwrap();
    assert_eq!(rt.eval("(twice 1)").unwrap(), "3");
    assert!(rt.compiled("twice") && rt.compiled("step"));
    rt.eval("(fun {step n} {* n 10})").unwrap();
    assert_eq!(rt.eval("(twice 1)").unwrap(), "100");
    // The stale unit was withdrawn and `twice` compiled again against
    // the new `step` (at `always`, by its next call).
    assert_eq!(rt.eval("(twice 2)").unwrap(), "200");
    assert!(rt.compiled("twice") && rt.compiled("step"));
    // A function that calls a stale unit's function from a unit of its
    // own sees the new code too.
    rt.eval("(fun {outer n} {+ (twice n) 1})").unwrap();
    assert_eq!(rt.eval("(outer 3)").unwrap(), "301");
    rt.eval("(fun {step n} {+ n 5})").unwrap();
    assert_eq!(rt.eval("(outer 3)").unwrap(), "14");
    assert_eq!(rt.eval("(outer 4)").unwrap(), "15");
    assert!(rt.compiled("outer") && rt.compiled("twice"));
    // A new definition that the tier cannot compile is interpreted.
    rt.eval("(fun {step n} {len (list n n)})").unwrap();
    assert_eq!(rt.eval("(twice 1)").unwrap(), "2");
}

#[test]
fn a_replaced_arithmetic_builtin_is_called_as_interpreted() {
    let rt = Rt::new(JitMode::Always, 1);
    rt.eval(FIB).unwrap();
    assert_eq!(rt.eval("(fib 10)").unwrap(), "55");
    assert!(rt.compiled("fib"));
    rt.eval("(def {old+} +) (def {+} (\\ {a b} {old+ (old+ a b) 1}))")
        .unwrap();
    let off = Rt::new(JitMode::Off, 1);
    off.eval(FIB).unwrap();
    off.eval("(def {old+} +) (def {+} (\\ {a b} {old+ (old+ a b) 1}))")
        .unwrap();
    assert_eq!(rt.eval("(fib 10)"), off.eval("(fib 10)"));
}

#[test]
fn errors_inside_compiled_code_are_the_interpreters_errors() {
    let off = Rt::new(JitMode::Off, 1);
    let always = Rt::new(JitMode::Always, 1);
    let defs = "(fun {half n} {if (< n 1) {n} {half (- n 2)}})";
    off.eval(defs).unwrap();
    always.eval(defs).unwrap();
    for e in ["(half \"x\")", "(half 7)", "(half 7.5)", "(half {})"] {
        assert_eq!(always.eval(e), off.eval(e), "{e}");
    }
}

#[test]
fn a_busy_compiled_loop_yields_to_other_actors() {
    // One scheduler: the spinning actor must give its thread back for the
    // ping-pong pair to finish.
    let rt = Rt::new(JitMode::Always, 1);
    rt.eval("(fun {spin n} {spin (+ n 1)})").unwrap();
    rt.eval(FIB).unwrap();
    rt.eval("(def {a} (spawn spin 0)) (def {b} (spawn (\\ {} {fib 40})))")
        .unwrap();
    let pong = "(fun {pong} {receive {{p n} (do (send p n) (pong))}})
                (def {pp} (spawn pong))
                (fun {ping k} {if (== k 0) {:done} {do (send pp (list (self) k)) (receive {_ 0}) (ping (- k 1))}})
                (ping 1000)";
    assert_eq!(rt.eval(pong).unwrap(), ":done");
    assert!(rt.compiled("spin") && rt.compiled("fib"));
    // Both are killed in the middle of compiled code (the fib actor with
    // native frames on its stack).
    assert_eq!(
        rt.eval("(def {m} (monitor b)) (exit a :kill) (exit b :kill) (receive {{:DOWN ^m p r} r})")
            .unwrap(),
        ":killed"
    );
    assert_eq!(rt.eval("(fib 15)").unwrap(), "610");
}

/// The fuzz target's differential check (`codegen/fuzz`, `jit_diff`) over
/// a fixed stream of inputs: generated integer programs give the same
/// values and errors interpreted and compiled.
#[test]
fn generated_programs_match_the_interpreter() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut compiled_before = valk_codegen::stats().compiled;
    for round in 0..300 {
        let data = valk_codegen::fuzzing::seeded_bytes(&mut seed, 256);
        if let Err(report) = valk_codegen::fuzzing::check(&data) {
            panic!("round {round}:\n{report}");
        }
    }
    compiled_before = valk_codegen::stats().compiled - compiled_before;
    eprintln!(
        "{compiled_before} functions compiled, stats {:?}",
        valk_codegen::stats()
    );
    assert!(
        compiled_before > 50,
        "only {compiled_before} functions compiled"
    );
}

/// A self call added to and returned, in a function that also tail-calls
/// another function (which must keep its accumulated sum).
const PASS_ON: &str = "(fun {g n} {* n 2})
    (fun {pass-on n} {if (< n 1) {g 21} {+ 1 (pass-on (- n 1))}})";

/// Self calls whose result is only added and returned run as loop turns
/// (`accumulate.rs`): the sums, overflow into the boxed form, the depth
/// limit and a runaway recursion all end as interpreted.
#[test]
fn accumulated_recursion_gives_the_interpreters_values() {
    let off = Rt::new(JitMode::Off, 1);
    let always = Rt::new(JitMode::Always, 1);
    // `big` adds 2^46 - 1 per level, so a few levels leave the small
    // range; `tri` has the call on the left; `zz` alternates signs; `two`
    // adds two self calls (fib's shape) with a constant on top.
    let defs = "(fun {big n} {if (== n 0) {0} {+ 70368744177663 (big (- n 1))}})
                (fun {tri n} {if (== n 0) {0} {+ (tri (- n 1)) n}})
                (fun {zz n s} {if (== n 0) {s} {+ s (zz (- n 1) (- 0 s))}})
                (fun {two n} {if (< n 2) {1} {+ (two (- n 1)) (+ 1 (two (- n 2)))}})
                (fun {forever n} {+ 0 (forever n)})";
    for rt in [&off, &always] {
        rt.eval(defs).unwrap();
        rt.eval(FIB).unwrap();
        rt.eval(PASS_ON).unwrap();
    }
    // Each function's first call stays in native code (it is compiled
    // then); later ones bail (a sum past the small range, the native
    // stack's depth), and a function that bails often is withdrawn.
    for (e, first_of) in [
        ("(pass-on 0)", Some("pass-on")),
        ("(pass-on 10)", None),
        ("(big 0)", Some("big")),
        ("(big 1)", None),
        ("(big 2)", None),
        ("(big 3)", None),
        ("(big 1000)", None),
        ("(tri 100)", Some("tri")),
        ("(tri 1000)", None),
        ("(tri 200000)", None),
        ("(zz 101 140737488355327)", Some("zz")),
        ("(zz 1001 140737488355327)", None),
        ("(zz 1000 -140737488355328)", None),
        ("(two 20)", Some("two")),
        ("(fib 30)", Some("fib")),
        ("(fib 1)", None),
        ("(forever 1)", None),
    ] {
        assert_eq!(always.eval(e), off.eval(e), "{e}");
        if let Some(f) = first_of {
            assert!(always.compiled(f), "{f} was not compiled");
        }
    }
}

/// The transformation is applied (a regression here costs fib a third
/// of its speed and no test of values would notice): fib's native code
/// has the accumulating twin, and a function with a tail call to another
/// function has none.
#[test]
fn fib_runs_in_an_accumulating_twin() {
    let src = format!("{FIB}\n{PASS_ON}\n");
    let (ir, _) = valk_codegen::emit(&src, "twin.valk", valk_codegen::EmitKind::Llvm, 0).unwrap();
    let ir = String::from_utf8(ir).unwrap();
    let twins = ir
        .lines()
        .filter(|l| l.starts_with("define") && l.contains("_body_acc("))
        .count();
    // Not `pass-on`, whose tail call to `g` would skip the pending sum.
    assert_eq!(twins, 1, "{ir}");
}

/// Compiled code charges the reductions the interpreter does, one a call:
/// a loop turn of the accumulating twin charges the call it replaces. (A
/// turn right after a call that spent the slice is not charged: it has no
/// yield path of its own, and yields at the next safepoint instead.)
#[test]
fn compiled_code_charges_the_interpreters_reductions() {
    let spent = |mode| {
        let rt = Rt::new(mode, 1);
        rt.eval(FIB).unwrap();
        rt.eval("(fun {reds} {fst (tail (fst (tail (tail (actor/info (self))))))})")
            .unwrap();
        rt.eval("(fib 5)").unwrap();
        let before: i64 = rt.eval("(reds)").unwrap().parse().unwrap();
        assert_eq!(rt.eval("(fib 22)").unwrap(), "17711");
        let after: i64 = rt.eval("(reds)").unwrap().parse().unwrap();
        after - before
    };
    let (interpreted, compiled) = (spent(JitMode::Off), spent(JitMode::Always));
    // fib(22) makes 57,313 calls.
    assert!(interpreted > 57_313, "{interpreted}");
    assert!(
        (compiled - interpreted).abs() <= interpreted / 1000,
        "compiled {compiled} against interpreted {interpreted}"
    );
}
