//! The differential check of the native tier: a program of small integer
//! functions generated from bytes, run by the interpreter alone and with
//! every function compiled first (`--jit=always`); the two must print the
//! same values and the same errors. Used by the fuzz target `jit_diff`
//! (`codegen/fuzz`) and by a fixed stream of inputs in `cargo test`.

use std::sync::{Arc, OnceLock};

use valk_lang::tier::JitMode;
use valk_lang::{Globals, Interp};

/// Reads choices from fuzz bytes (zeros once they run out).
struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn below(&mut self, n: u8) -> u8 {
        self.byte() % n.max(1)
    }
}

const LITERALS: [&str; 12] = [
    "0",
    "1",
    "2",
    "-1",
    "7",
    "100",
    "1000000",
    "140737488355327",
    "-140737488355328",
    "4294967296",
    "1.5",
    "\"s\"",
];

/// A function's shape while generating: its index and parameter count.
#[derive(Clone, Copy)]
struct Shape {
    index: usize,
    params: usize,
}

/// An expression as the body of a `{...}` (code): `(+ a b)` is written
/// `{+ a b}`, since `{(+ a b)}` would call the sum.
fn body(e: String) -> String {
    match e.strip_prefix('(').and_then(|e| e.strip_suffix(')')) {
        Some(inner) => inner.to_string(),
        None => e,
    }
}

fn param(i: usize) -> String {
    format!("p{i}")
}

fn expr(c: &mut Choices<'_>, me: Shape, others: &[Shape], depth: u32) -> String {
    let leaf = depth == 0 || c.below(4) == 0;
    if leaf {
        return if c.below(3) == 0 {
            LITERALS[c.below(LITERALS.len() as u8) as usize].to_string()
        } else {
            param(c.below(me.params as u8) as usize)
        };
    }
    let d = depth - 1;
    match c.below(10) {
        0 => format!("(+ {} {})", expr(c, me, others, d), expr(c, me, others, d)),
        1 => format!("(- {} {})", expr(c, me, others, d), expr(c, me, others, d)),
        2 => format!("(* {} {})", expr(c, me, others, d), expr(c, me, others, d)),
        3 => {
            let op = ["<", ">", "<=", ">=", "==", "!="][c.below(6) as usize];
            format!(
                "({op} {} {})",
                expr(c, me, others, d),
                expr(c, me, others, d)
            )
        }
        4 | 5 => {
            let op = ["<", "==", ">="][c.below(3) as usize];
            format!(
                "(if ({op} {} {}) {{{}}} {{{}}})",
                expr(c, me, others, d),
                expr(c, me, others, d),
                body(expr(c, me, others, d)),
                body(expr(c, me, others, d))
            )
        }
        6 if !others.is_empty() => {
            let f = others[c.below(others.len() as u8) as usize];
            call(c, f, me, others, d)
        }
        7 => {
            // Recursion on a shrinking first parameter, at most 10 deep
            // (several recursive sites multiply).
            let args: Vec<String> = (1..me.params).map(|_| expr(c, me, others, d)).collect();
            let rec = format!("(f{} (- p0 1) {})", me.index, args.join(" "));
            // Added to on either side, in tail position it is a loop turn
            // of the accumulating twin (`accumulate.rs`).
            let rec = match c.below(3) {
                0 => rec,
                1 => format!("(+ {} {rec})", expr(c, me, others, d)),
                _ => format!("(+ {rec} {})", expr(c, me, others, d)),
            };
            format!(
                "(if (< p0 1) {{{}}} {{if (> p0 10) {{p0}} {{{}}}}})",
                body(expr(c, me, others, d)),
                body(rec)
            )
        }
        _ => param(c.below(me.params as u8) as usize),
    }
}

fn call(c: &mut Choices<'_>, f: Shape, me: Shape, others: &[Shape], d: u32) -> String {
    let args: Vec<String> = (0..f.params).map(|_| expr(c, me, others, d)).collect();
    format!("(f{} {})", f.index, args.join(" "))
}

/// `n` bytes of a fixed xorshift stream from `seed` (advanced): the
/// inputs the differential tests replay without the fuzzer.
pub fn seeded_bytes(seed: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 24) as u8
        })
        .collect()
}

/// The program `data` stands for: its definitions, and the calls whose
/// values are compared.
pub fn program(data: &[u8]) -> (String, Vec<String>) {
    let mut c = Choices { data, at: 0 };
    let n = 1 + c.below(3) as usize;
    let mut shapes: Vec<Shape> = Vec::new();
    let mut defs = String::new();
    for index in 0..n {
        let me = Shape {
            index,
            params: 1 + c.below(3) as usize,
        };
        let params: Vec<String> = (0..me.params).map(param).collect();
        let code = body(expr(&mut c, me, &shapes, 4));
        defs += &format!("(fun {{f{index} {}}} {{{code}}})\n", params.join(" "));
        shapes.push(me);
    }
    let calls = (0..4)
        .map(|_| {
            let f = shapes[c.below(shapes.len() as u8) as usize];
            let args: Vec<String> = (0..f.params)
                .map(|_| {
                    if c.below(4) == 0 {
                        LITERALS[c.below(LITERALS.len() as u8) as usize].to_string()
                    } else {
                        format!("{}", c.byte() as i8 / 8)
                    }
                })
                .collect();
            format!("(f{} {})", f.index, args.join(" "))
        })
        .collect();
    (defs, calls)
}

/// The two runtimes every check uses (compiled code lives as long as the
/// process, so they are made once).
fn runtimes() -> (Arc<Globals>, Arc<Globals>) {
    static BOTH: OnceLock<(Arc<Globals>, Arc<Globals>)> = OnceLock::new();
    BOTH.get_or_init(|| {
        let plain = Interp::new().globals().clone();
        let jit = Interp::new().globals().clone();
        crate::install(&jit, JitMode::Always);
        (plain, jit)
    })
    .clone()
}

fn outcome(it: &mut Interp, src: &str) -> String {
    match it.eval_source(src, "jit_diff.valk") {
        Ok(v) => it.repr(v),
        Err(e) => format!("error: {e}"),
    }
}

/// Runs the program of `data` both ways. `Err`: the first call whose
/// outcomes differ, with the program.
pub fn check(data: &[u8]) -> Result<(), String> {
    let (defs, calls) = program(data);
    let (plain, jit) = runtimes();
    let mut a = Interp::with_globals(plain);
    let mut b = Interp::with_globals(jit);
    for it in [&mut a, &mut b] {
        it.set_output(Box::new(std::io::sink()));
        it.set_stack_limit(20_000, 1 << 20);
    }
    let da = outcome(&mut a, &defs);
    let db = outcome(&mut b, &defs);
    if da != db {
        return Err(format!("{defs}\ndefinitions: {da} / {db}"));
    }
    for call in &calls {
        let (x, y) = (outcome(&mut a, call), outcome(&mut b, call));
        if x != y {
            return Err(format!("{defs}{call}\ninterpreted: {x}\ncompiled:    {y}"));
        }
    }
    Ok(())
}
