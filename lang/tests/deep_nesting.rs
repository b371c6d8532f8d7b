//! Nesting a million deep through every entry point of the language core
//! (source text, `eval`, `read-forms`, `==`, printing, non-tail recursion):
//! the right answer or a clear error, never a native stack overflow, and the
//! interpreter goes on. Each test runs on a thread with an actor-sized stack
//! (the stack guard, `valk_sync::stack`, reads a plain thread's own bounds).

use valk_lang::Interp;

const MILLION: usize = 1_000_000;

/// About an actor's stack (128 KiB) plus room for the test harness.
const SMALL_STACK: usize = 192 * 1024;

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn a test thread")
        .join()
        .expect("the test thread ended without a panic");
}

fn ev(it: &mut Interp, src: &str) -> String {
    match it.eval_source(src, "t.valk") {
        Ok(v) => it.repr(v),
        Err(e) => format!("ERR {e}"),
    }
}

/// `deep n`: `{{...{}...}}`, n levels, built at run time.
const DEEP: &str = "(def {deep} (\\ {n} {do (= {x} {}) (repeat n {= {x} (list x)}) x}))";

#[test]
fn a_million_deep_source_is_a_read_error_at_its_position() {
    on_small_stack(|| {
        let mut it = Interp::new();
        for (open, close) in [("(", ")"), ("{", "}")] {
            let src = format!("{}{}", open.repeat(MILLION), close.repeat(MILLION));
            assert_eq!(
                ev(&mut it, &src),
                "ERR t.valk:1:1001: error: nesting too deep: expected at most 1000 levels of nesting"
            );
            assert_eq!(ev(&mut it, "(+ 1 2)"), "3", "the interpreter goes on");
        }
    });
}

#[test]
fn code_deeper_than_the_stack_is_a_compile_error_at_its_position() {
    on_small_stack(|| {
        let mut it = Interp::new();
        let n = 999;
        let src = format!("{}0{}", "(+ 1 ".repeat(n), ")".repeat(n));
        let out = ev(&mut it, &src);
        assert!(
            out.starts_with("ERR t.valk:1:") && out.ends_with("error: nesting too deep"),
            "{out}"
        );
        // Calls of a global function (the compiler keeps a copy of their
        // argument forms), of a builtin, nested lambdas, `if`s and patterns
        // recurse in other places.
        ev(&mut it, "(fun {f n} {n})");
        for head in ["f", "list", "do"] {
            let src = format!("{}0{}", format!("({head} ").repeat(n), ")".repeat(n));
            let out = ev(&mut it, &src);
            assert!(
                out.contains("t.valk:1:") && out.contains("nesting too deep"),
                "{out}"
            );
        }
        let src = format!("{}x{}", "(\\ {x} {".repeat(300), "})".repeat(300));
        assert!(ev(&mut it, &src).contains("nesting too deep"));
        let src = format!("{}1{}", "(if 1 {".repeat(400), "} {0})".repeat(400));
        assert!(ev(&mut it, &src).contains("nesting too deep"));
        let pattern = format!("{}x{}", "{".repeat(900), "}".repeat(900));
        let src = format!("(match 1 {{{pattern} x}} {{_ 2}})");
        assert!(ev(&mut it, &src).contains("nesting too deep"));
        // Data (a Q-expression) that deep is fine: it is not compiled.
        let src = format!("(len (str {}{}))", "{".repeat(998), "}".repeat(998));
        assert_eq!(ev(&mut it, &src), "1996");
        assert_eq!(ev(&mut it, "(+ 1 2)"), "3");
    });
}

#[test]
fn run_time_lists_a_million_deep_through_eval_read_forms_equality_and_print() {
    on_small_stack(|| {
        let mut it = Interp::new();
        it.set_output(Box::new(std::io::sink()));
        ev(&mut it, DEEP);
        ev(&mut it, "(def {d} (deep 1000000))");
        assert_eq!(ev(&mut it, "(== d (deep 1000000))"), "1");
        assert_eq!(ev(&mut it, "(== d (deep 999999))"), "0");
        assert_eq!(ev(&mut it, "(len (str d))"), "2000002");
        assert_eq!(ev(&mut it, "(print d)"), "()");
        assert!(ev(&mut it, "(repr d)").starts_with("\"{{{{"));
        assert_eq!(
            ev(&mut it, "(eval d)"),
            "ERR t.valk:1:1: error: nesting too deep to evaluate: expected at most 1000 levels of nesting"
        );
        assert_eq!(
            ev(&mut it, "(read-forms (str d))"),
            "ERR t.valk:1:1: error: <string>:1:1001: nesting too deep: expected at most 1000 levels of nesting"
        );
        // Within the reader's limit, data round-trips; code that deep is a
        // compile error where the stack runs short.
        assert_eq!(
            ev(
                &mut it,
                "(== (read-forms (str (deep 999))) (list (deep 999)))"
            ),
            "1"
        );
        assert_eq!(ev(&mut it, "(len (str (eval (deep 999))))"), "1998");
        let code = format!("{}0{}", "(+ 1 ".repeat(999), ")".repeat(999));
        let src = format!("(eval (head (read-forms \"{code}\")))");
        assert!(ev(&mut it, &src).contains("nesting too deep"));
        assert_eq!(ev(&mut it, "(+ 1 2)"), "3");
    });
}

#[test]
fn a_million_deep_non_tail_recursion_is_a_stack_overflow_error() {
    on_small_stack(|| {
        let mut it = Interp::new();
        ev(&mut it, "(fun {f n} {if (== n 0) {0} {+ 1 (f (- n 1))}})");
        assert_eq!(ev(&mut it, "(f 1000)"), "1000");
        let out = ev(&mut it, "(f 1000000)");
        assert!(out.contains("stack overflow"), "{out}");
        assert_eq!(ev(&mut it, "(f 10)"), "10");
    });
}
