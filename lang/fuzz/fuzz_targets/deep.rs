//! Deep and wide structures, as source text and as lists built at run time,
//! through the reader, the compiler, `eval`, printing, `==`, `read-forms` and
//! a message copy between two heaps (what `send` does): any result is fine
//! except a panic, a hang or a crash. Each input runs on a thread with an
//! actor-sized stack, so the stack guard (`valk_sync::stack`) is what keeps
//! the walks off the stack's end, as in a real actor.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use valk_lang::{Globals, Interp};

/// About an actor's stack (128 KiB): sanitizer builds use bigger frames, so
/// the guard trips earlier, never later.
const STACK: usize = 192 * 1024;
/// Slices of `DEFAULT_BUDGET` reductions before an input counts as a loop.
const MAX_SLICES: usize = 400;

fn runtime() -> Arc<Globals> {
    static GLOBALS: OnceLock<Arc<Globals>> = OnceLock::new();
    GLOBALS
        .get_or_init(|| Interp::new().globals().clone())
        .clone()
}

/// The opening and closing text of one level of nesting.
const LEVELS: &[(&str, &str)] = &[
    ("(", ")"),
    ("{", "}"),
    ("(+ 1 ", ")"),
    ("(list ", ")"),
    ("(do ", ")"),
    ("(\\ {x} {", "})"),
    ("(if 1 {", "} {0})"),
    ("(match 1 {{", " x} 1} {_ 2})"),
    ("(== ", " 1)"),
    ("(eval {", "})"),
    ("(str ", ")"),
    ("((", "))"),
];

/// Source text from the input: a depth, then one level kind and a width
/// (extra siblings) per byte, cycled.
fn source(data: &[u8]) -> String {
    let (Some(&a), Some(&b)) = (data.first(), data.get(1)) else {
        return String::new();
    };
    // Mostly around the reader's limit (1,000), rarely far past it (a
    // million-deep input takes a while under the sanitizer).
    let depth = match a % 8 {
        0..=2 => usize::from(b) * 8,
        3..=5 => 900 + usize::from(b),
        6 => usize::from(b) * 100,
        _ => 1_000_000,
    };
    let kinds = if data.len() > 2 {
        &data[2..]
    } else {
        &[0u8][..]
    };
    let mut open = String::new();
    let mut close = Vec::new();
    for i in 0..depth {
        let k = kinds[i % kinds.len()];
        let (o, c) = LEVELS[usize::from(k) % LEVELS.len()];
        open.push_str(o);
        for _ in 0..(k >> 6) {
            open.push_str("1 ");
        }
        close.push(c);
    }
    open.push('x');
    for c in close.iter().rev() {
        open.push_str(c);
    }
    open
}

/// A program that builds lists at run time: deep (`list x`), wide
/// (`list x x`, sharing) or both, then walks them every way.
fn program(data: &[u8]) -> String {
    let n = match data.first().copied().unwrap_or(0) % 8 {
        7 => 1_000_000,
        _ => {
            data.iter()
                .take(3)
                .fold(0usize, |n, &b| n * 256 + usize::from(b))
                % 20_001
        }
    };
    let wrap = match data.get(3).copied().unwrap_or(0) % 4 {
        0 => "(list x)",
        1 => "(list 1 x 2)",
        2 => "(list x {})",
        _ => "(join (list x) {(+ 1 2)})",
    };
    format!(
        "(do (= {{x}} {{}}) (repeat {n} {{= {{x}} {wrap}}}) (= {{y}} x) \
         (list (== x y) (len (str x)) (error? (eval x)) (error? (read-forms (str x))) \
         (error? (eval (list x))) x))"
    )
}

/// Reads `text` as data and evaluates it under the budget; the result's
/// printed form and a copy into a second heap (a message) must work too.
fn run(interp: &mut Interp, other: &mut Interp, text: &str) {
    if let Some(v) = interp.eval_text_bounded(text, MAX_SLICES) {
        let _ = interp.repr(v);
        let message = interp.heap_mut().copy_to_fragment(v);
        if let Ok(copy) = other.heap_mut().adopt(message) {
            let _ = other.repr(copy);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    let globals = runtime();
    let ran = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let mut interp = Interp::with_globals(globals.clone());
            let mut other = Interp::with_globals(globals);
            interp.set_output(Box::new(std::io::sink()));
            let text = if data.first().is_some_and(|b| b & 0x80 != 0) {
                program(&data[1..])
            } else {
                source(&data)
            };
            run(&mut interp, &mut other, &text);
        })
        .map(|t| t.join());
    assert!(matches!(ran, Ok(Ok(()))), "the input panicked");
});
