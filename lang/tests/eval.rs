//! Evaluation semantics (LANGUAGE.md §1-§6): each case is source and the
//! expected repr of its value, or the expected error text.

use valk_lang::Interp;

fn ev(it: &mut Interp, src: &str) -> String {
    match it.eval_source(src, "t.valk") {
        Ok(v) => it.repr(v),
        Err(e) => format!("ERR {e}"),
    }
}

fn check(cases: &[(&str, &str)]) {
    let mut it = Interp::new();
    let mut failures = Vec::new();
    for (src, want) in cases {
        let got = ev(&mut it, src);
        if got != *want {
            failures.push(format!("{src}\n   want {want}\n    got {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn literals_and_printing() {
    check(&[
        ("3", "3"),
        ("1.5", "1.5"),
        ("3.0", "3.0"),
        ("1e9", "1000000000.0"),
        ("\"a\\nb\"", "\"a\\nb\""),
        (":ok", ":ok"),
        ("{1 {2 3} \"x\"}", "{1 {2 3} \"x\"}"),
        ("{(+ 1 2)}", "{(+ 1 2)}"),
        ("(\\ {x y} {+ x y})", "<lambda {x y}>"),
        ("+", "<builtin +>"),
        ("(error \"boom\")", "ERR t.valk:1:1: error: boom"),
        ("()", "()"),
        ("{}", "{}"),
        ("(/ 1.0 3)", "0.3333333333333333"),
        ("0.1", "0.1"),
    ]);
}

#[test]
fn arithmetic() {
    check(&[
        ("(+ 1 2 3)", "6"),
        ("(- 10 4 3)", "3"),
        ("(- 5)", "-5"),
        ("(* 2 3.5)", "7.0"),
        ("(/ 7 2)", "3"),
        ("(/ -7 2)", "-3"),
        ("(/ 1 0)", "ERR t.valk:1:1: error: division by zero"),
        ("(+ 9223372036854775807 1)", "-9223372036854775808"),
        ("(* 140737488355327 140737488355327)", "-281474976710655"),
        ("(+ 140737488355327 1)", "140737488355328"),
        ("(mod 7 3)", "1"),
        ("(mod -7 3)", "-1"),
        ("(abs -3)", "3"),
        ("(min 3 1 2)", "1"),
        ("(max 3 1.5 2)", "3"),
        ("(floor 2.5)", "2"),
        ("(ceil 2.1)", "3"),
        ("(round 2.5)", "3"),
        ("(sqrt 16)", "4.0"),
        ("(pow 2 10)", "1024"),
        ("(pow 2 0.5)", "1.4142135623730951"),
        (
            "(+ 1 \"a\")",
            "ERR t.valk:1:1: error: `+`: argument 2: expected number, got string",
        ),
        ("(< 1 2)", "1"),
        ("(>= 1 2)", "0"),
        ("(< 1 2.5)", "1"),
        ("(== {1 2} {1 2})", "1"),
        ("(== {1 2} (list 1 2))", "1"),
        ("(== {} ())", "0"),
        ("(!= \"a\" \"a\")", "0"),
        ("(== 1 1.0)", "1"),
    ]);
}

#[test]
fn lists() {
    check(&[
        ("(list 1 2 3)", "{1 2 3}"),
        ("(head {1 2 3})", "{1}"),
        ("(tail {1 2 3})", "{2 3}"),
        ("(init {1 2 3})", "{1 2}"),
        ("(cons 0 {1 2})", "{0 1 2}"),
        ("(join {1} {2 3} {})", "{1 2 3}"),
        ("(len {1 2 3})", "3"),
        ("(len \"héllo\")", "5"),
        ("(range 1 5)", "{1 2 3 4}"),
        ("(reverse {1 2 3})", "{3 2 1}"),
        ("(sort {3 1 2})", "{1 2 3}"),
        ("(eval {+ 1 2})", "3"),
        ("(eval (list + 1 2))", "3"),
        (
            "(head {})",
            "ERR t.valk:1:1: error: `head`: expected a non-empty list, got {}",
        ),
    ]);
}

#[test]
fn definitions_and_functions() {
    check(&[
        ("(def {x y} 1 2)", "()"),
        ("(+ x y)", "3"),
        ("(fun {add a b} {+ a b})", "()"),
        ("(add 1 2)", "3"),
        ("(add 1)", "<lambda {b}>"),
        ("((add 1) 2)", "3"),
        (
            "(add 1 2 3)",
            "ERR t.valk:1:1: error: `add`: too many arguments: expected 2, got 3",
        ),
        ("(fun {va a & rest} {list a rest})", "()"),
        ("(va 1 2 3)", "{1 {2 3}}"),
        ("(va 1)", "{1 {}}"),
        ("(fun {zero} {42})", "()"),
        ("(zero)", "42"),
        ("zero", "<lambda {}>"),
        ("(add)", "<lambda {a b}>"),
        ("((\\ {x} {* x x}) 5)", "25"),
        (
            "unbound-thing",
            "ERR t.valk:1:1: error: unbound symbol `unbound-thing`",
        ),
        (
            "(\n  + 1 nope)",
            "ERR t.valk:2:7: error: unbound symbol `nope`",
        ),
        ("(if 1 {:yes} {:no})", ":yes"),
        ("(if 0 {:yes} {:no})", ":no"),
        (
            "(if \"s\" {1} {2})",
            "ERR t.valk:1:1: error: `if`: condition: expected number, got string",
        ),
        ("(do (def {z} 5) (+ z 1))", "6"),
        ("(do)", "{}"),
        ("((+ 1 1) (+ 2 2) 7)", "7"),
        ("(eval {x})", "1"),
        ("(= {top} 9)", "()"),
        ("top", "9"),
    ]);
}

#[test]
fn closures_and_scope() {
    check(&[
        ("(fun {adder n} {\\ {x} {+ x n}})", "()"),
        ("(def {add5} (adder 5))", "()"),
        ("(add5 10)", "15"),
        ("((adder 1) 2)", "3"),
        ("(fun {mk a} {\\ {b} {\\ {c} {list a b c}}})", "()"),
        ("(((mk 1) 2) 3)", "{1 2 3}"),
        ("(fun {loc x} {do (= {y} (* x 2)) (+ y 1)})", "()"),
        ("(loc 4)", "9"),
        ("(fun {shadow x} {do (= {x} (+ x 1)) x})", "()"),
        ("(shadow 1)", "2"),
        // Dynamic fallback: helper sees its caller's binding.
        ("(fun {helper} {+ dyn-v 1})", "()"),
        ("(fun {caller dyn-v} {do (helper) })", "()"),
        ("(caller 41)", "42"),
        ("(fun {caller2 dyn-v} {helper})", "()"),
        ("(caller2 1)", "2"),
        ("(let {do (= {lv} 3) (* lv lv)})", "9"),
        ("lv", "ERR t.valk:1:1: error: unbound symbol `lv`"),
        ("(eval {= {evx} 5})", "()"),
        ("evx", "5"),
        ("(fun {g} {do (eval (list = {inner} 7)) inner})", "()"),
        ("(g)", "7"),
        ("inner", "ERR t.valk:1:1: error: unbound symbol `inner`"),
        ("((\\ {x y} {penv}) 1 2)", "{{y 2} {x 1}}"),
        ("((macro {a b} {list a b}) (+ 1 2) zz)", "{{(+ 1 2)} {zz}}"),
    ]);
}

#[test]
fn select_case_match_try() {
    check(&[
        (
            "(fun {sgn x} {select {(< x 0) -1} {(== x 0) 0} {otherwise 1}})",
            "()",
        ),
        ("(list (sgn -5) (sgn 0) (sgn 7))", "{-1 0 1}"),
        (
            "(select {0 1})",
            "ERR t.valk:1:1: error: no selection found",
        ),
        ("(fun {day n} {case n {{0} \"sun\"} {{1} \"mon\"}})", "()"),
        ("(day 1)", "\"mon\""),
        ("(day 5)", "ERR t.valk:1:15: error: no case found"),
        ("(match {1 2 3} {{a b} :two} {{a & r} r})", "{2 3}"),
        ("(match 5 {0 :zero} {n (* n 2)})", "10"),
        ("(match :ok {:err :bad} {:ok :good})", ":good"),
        ("(match {1 {2 3}} {{x {y z}} (+ x y z)})", "6"),
        ("(def {pinned} 4)", "()"),
        ("(match 4 {^pinned :same} {_ :other})", ":same"),
        ("(match 5 {^pinned :same} {_ :other})", ":other"),
        ("(match {} {{} :empty} {_ :other})", ":empty"),
        (
            "(match 7 {{} :empty})",
            "ERR t.valk:1:1: error: no match for 7",
        ),
        (
            "(try {error \"bad\"} {\\ {e} {error-message e}})",
            "\"bad\"",
        ),
        ("(try {+ 1 2} {\\ {e} {:caught}})", "3"),
        (
            "(try {do (+ 1 (error \"deep\")) 5} {\\ {e} {list :caught (error-message e)}})",
            "{:caught \"deep\"}",
        ),
        ("(error? (error \"x\"))", "1"),
        ("(error? 1)", "0"),
        ("(type (error \"x\"))", ":error"),
        ("(type 1)", ":number"),
        ("(type \"s\")", ":string"),
        ("(repeat 3 {+ 1 1})", "2"),
    ]);
}

#[test]
fn runtime_forms_fall_back_to_builtins() {
    check(&[
        ("(def {q} {+ 1 2})", "()"),
        ("(eval q)", "3"),
        ("(def {br} {:then})", "()"),
        ("(if 1 br {:else})", ":then"),
        ("(def {fs b} {x} {* x 3})", "()"),
        ("((\\ fs b) 4)", "12"),
        ("(def {cl} {{0 :a} {1 :b}})", "()"),
        ("(unpack select (list {0 :a} {1 :b}))", ":b"),
        ("(def {if} (\\ {c a b} {:mine}))", "()"),
        ("(if 1 {1} {2})", ":mine"),
        ("(fun {uses-list x} {list x x})", "()"),
        ("(uses-list 1)", "{1 1}"),
        ("(def {list} (\\ {& xs} {:my-list}))", "()"),
        ("(uses-list 1)", ":my-list"),
        ("(def {+} (\\ {a b} {* a b}))", "()"),
        ("(+ 3 4)", "12"),
        ("(fun {plus a b} {+ a b})", "()"),
        ("(plus 5 6)", "30"),
    ]);
}

#[test]
fn nested_guarded_forms_compile_in_linear_size() {
    // Each guarded form used to compile its arguments twice: 2^60 here.
    let mut it = Interp::new();
    let n = 60;
    let src = format!("{}0{}", "(do ".repeat(n), ")".repeat(n));
    assert_eq!(ev(&mut it, &src), "0");
    let src = format!("{}{{}}{}", "(list ".repeat(n), ")".repeat(n));
    assert!(ev(&mut it, &src).starts_with("{{{{"));
}

#[test]
fn deeply_nested_code_is_an_error_or_a_value_never_a_crash() {
    // Test threads have small stacks: the reader's nesting limit keeps the
    // compiler's recursion well inside them.
    let mut it = Interp::new();
    let depth = valk_lang::reader::MAX_NESTING;
    let src = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(ev(&mut it, &src), "1");
    let src = format!("{}1{}", "(".repeat(depth + 1), ")".repeat(depth + 1));
    assert!(ev(&mut it, &src).contains("levels of nesting"));
    let src = format!("(eval {}{{}}{})", "(list ".repeat(600), ")".repeat(600));
    let out = ev(&mut it, &src);
    assert!(!out.is_empty());
}

#[test]
fn errors_of_inline_forms_are_values_where_they_are_used() {
    check(&[
        (
            "(error-message (match 3 {1 \"one\"}))",
            "\"no match for 3\"",
        ),
        ("(error? (if \"x\" {1} {2}))", "1"),
        ("(error-message (case 5 {{1} :one}))", "\"no case found\""),
        ("(error-message (select {0 1}))", "\"no selection found\""),
        ("(error? (do (error \"a\") 2))", "1"),
        ("(error? (repeat 2 {error \"r\"}))", "1"),
        ("(fun {f} {error-message (match 3 {1 \"one\"})})", "()"),
        ("(f)", "\"no match for 3\""),
        // An enclosing call still propagates it; `try` still catches it.
        (
            "(list 1 (if \"x\" {1} {2}))",
            "ERR t.valk:1:9: error: `if`: condition: expected number, got string",
        ),
        (
            "(try {+ 1 (match 2 {1 1})} {\\ {e} {error-message e}})",
            "\"no match for 2\"",
        ),
        ("(def {m} (match 1 {1 :ok})) m", ":ok"),
    ]);
}

#[test]
fn case_clauses_have_a_quoted_key() {
    check(&[
        ("(case 1 {{1} \"one\"})", "\"one\""),
        ("(def {k} 2)", "()"),
        ("(case 2 {{1} :a} {{k} :b})", ":b"),
        ("(case 3 {{+ 1 2} :three})", ":three"),
        ("(unpack case {2 {{1} \"one\"} {{2} \"two\"}})", "\"two\""),
        (
            "(error-message (case 1 {1 \"one\"}))",
            "\"`case`: expected a value, then clauses of the form {{key} value}\"",
        ),
    ]);
}

#[test]
fn eval_sees_the_bindings_of_frames_a_tail_call_replaced() {
    check(&[
        ("(fun {h q} {eval q})", "()"),
        ("(fun {k v} {h {+ v 1}})", "()"),
        ("(k 5)", "6"),
        ("(fun {in-range v} {all? {> v 0} {< v 10}})", "()"),
        ("(list (in-range 5) (in-range 50))", "{1 0}"),
    ]);
}

#[test]
fn tail_and_join_share_cells_instead_of_copying() {
    let mut it = Interp::new();
    let l = it
        .eval_source("(def {l} (range 1000)) l", "t.valk")
        .unwrap();
    let rest = it.heap().car_cdr(l).map(|p| p.1);
    let tail = it.global("tail").unwrap();
    let t = it.call(tail, &[l]).unwrap();
    assert_eq!(Some(t), rest, "`tail` returns the list's own rest");
    let join = it.global("join").unwrap();
    let front = it.eval_source("{1 2}", "t.valk").unwrap();
    let j = it.call(join, &[front, l]).unwrap();
    let h = it.heap();
    let after_two = h.car_cdr(j).and_then(|p| h.car_cdr(p.1)).map(|p| p.1);
    assert_eq!(after_two, Some(l), "`join` shares its last list");
    check(&[
        ("(tail {1 2 3})", "{2 3}"),
        ("(head {1 2 3})", "{1}"),
        ("(head (list + 1))", "{<builtin +>}"),
        (
            "(tail {})",
            "ERR t.valk:1:1: error: `tail`: expected a non-empty list, got {}",
        ),
        (
            "(tail 5)",
            "ERR t.valk:1:1: error: `tail`: argument 1: expected list, got number",
        ),
        ("(join {1} {2 3} {})", "{1 2 3}"),
        ("(join {1} (tail (list 1 2)))", "{1 2}"),
        ("(len {1 2 3})", "3"),
    ]);
}

#[test]
fn fused_compare_and_branch_keeps_the_slow_paths() {
    check(&[
        ("(fun {lt2 x} {if (< x 2) {:lt} {:ge}})", "()"),
        (
            "(list (lt2 1) (lt2 2) (lt2 1.5) (lt2 9999999999999999))",
            "{:lt :ge :lt :ge}",
        ),
        ("(fun {lt x y} {if (< x y) {:lt} {:ge}})", "()"),
        (
            "(list (lt 1 2) (lt 2 1) (lt 0.5 1) (lt 1 0.5))",
            "{:lt :ge :lt :ge}",
        ),
        (
            "(lt2 \"a\")",
            "ERR t.valk:1:18: error: `<`: argument 1: expected number, got string",
        ),
        // A redefined `<` is called instead of the inline comparison.
        ("(def {<} (\\ {a b} {1}))", "()"),
        ("(list (lt2 5) (lt 5 1))", "{:lt :lt}"),
    ]);
}

#[test]
fn text_evaluated_under_a_budget_ends_or_is_cut_off() {
    let mut it = Interp::new();
    let v = it
        .eval_text_bounded("(+ 1 2) (* 6 7)", 10)
        .expect("finishes");
    assert_eq!(it.repr(v), "42");
    let v = it.eval_text_bounded("(/ 1 0)", 10).expect("finishes");
    assert!(it.is_error(v));
    assert!(
        it.eval_text_bounded("(print 1", 10).is_none(),
        "does not read"
    );
    it.eval_text_bounded("(fun {spin n} {spin (+ n 1)})", 10)
        .expect("defines");
    assert!(it.eval_text_bounded("(spin 0)", 3).is_none(), "cut off");
}
