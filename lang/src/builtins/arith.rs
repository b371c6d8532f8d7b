//! Arithmetic: `+ - * /` (variadic; integers wrap; integer division
//! truncates; mixing in a float gives a float), `mod abs min max floor ceil
//! round sqrt pow`.

use valk_heap::Value;

use super::{BuiltinCx, BuiltinDef, Failure, VARIADIC};

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new("+", 1, VARIADIC, "Sum of the arguments.", add),
    BuiltinDef::new(
        "-",
        1,
        VARIADIC,
        "First argument minus the rest; with one argument, its negation.",
        sub,
    ),
    BuiltinDef::new("*", 1, VARIADIC, "Product of the arguments.", mul),
    BuiltinDef::new(
        "/",
        1,
        VARIADIC,
        "First argument divided by the rest (integer division truncates).",
        div,
    ),
    BuiltinDef::new(
        "mod",
        2,
        2,
        "Remainder of integer division (sign of the dividend).",
        modulo,
    ),
    BuiltinDef::new("abs", 1, 1, "Absolute value.", abs),
    BuiltinDef::new("min", 1, VARIADIC, "Smallest argument.", min),
    BuiltinDef::new("max", 1, VARIADIC, "Largest argument.", max),
    BuiltinDef::new(
        "floor",
        1,
        1,
        "Largest integer not above the argument.",
        floor,
    ),
    BuiltinDef::new(
        "ceil",
        1,
        1,
        "Smallest integer not below the argument.",
        ceil,
    ),
    BuiltinDef::new(
        "round",
        1,
        1,
        "Nearest integer (halves away from zero).",
        round,
    ),
    BuiltinDef::new("sqrt", 1, 1, "Square root (a float).", sqrt),
    BuiltinDef::new(
        "pow",
        2,
        2,
        "x to the power y (an integer for integers and a non-negative integer power).",
        pow,
    ),
];

/// A number argument.
#[derive(Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

pub(crate) fn num(cx: &BuiltinCx<'_>, args: &[Value], i: usize) -> Result<Num, Failure> {
    let v = args[i];
    if let Some(n) = v.as_small_int() {
        return Ok(Num::Int(n));
    }
    if let Some(f) = v.as_float() {
        return Ok(Num::Float(f));
    }
    match cx.heap.as_int(v) {
        Some(n) => Ok(Num::Int(n)),
        None => Err(cx.arg_error(i, "number", v)),
    }
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

pub(crate) fn make(cx: &mut BuiltinCx<'_>, n: Num) -> Result<Value, Failure> {
    match n {
        Num::Int(i) => cx.int(i),
        Num::Float(f) => Ok(Value::float(f)),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

fn step(cx: &BuiltinCx<'_>, op: Op, a: Num, b: Num) -> Result<Num, Failure> {
    Ok(match (a, b) {
        (Num::Int(x), Num::Int(y)) => Num::Int(match op {
            Op::Add => x.wrapping_add(y),
            Op::Sub => x.wrapping_sub(y),
            Op::Mul => x.wrapping_mul(y),
            Op::Div => {
                if y == 0 {
                    return Err(cx.error("division by zero"));
                }
                x.wrapping_div(y)
            }
        }),
        _ => {
            let (x, y) = (a.f(), b.f());
            Num::Float(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => {
                    if y == 0.0 {
                        return Err(cx.error("division by zero"));
                    }
                    x / y
                }
            })
        }
    })
}

fn fold(cx: &mut BuiltinCx<'_>, args: &[Value], op: Op) -> Result<Value, Failure> {
    let mut acc = num(cx, args, 0)?;
    if args.len() == 1 && op == Op::Sub {
        acc = match acc {
            Num::Int(i) => Num::Int(i.wrapping_neg()),
            Num::Float(f) => Num::Float(-f),
        };
    }
    for i in 1..args.len() {
        let b = num(cx, args, i)?;
        acc = step(cx, op, acc, b)?;
    }
    make(cx, acc)
}

fn add(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    fold(cx, args, Op::Add)
}

fn sub(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    fold(cx, args, Op::Sub)
}

fn mul(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    fold(cx, args, Op::Mul)
}

fn div(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    fold(cx, args, Op::Div)
}

fn modulo(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let r = match (num(cx, args, 0)?, num(cx, args, 1)?) {
        (Num::Int(x), Num::Int(y)) => {
            if y == 0 {
                return Err(cx.error("division by zero"));
            }
            Num::Int(x.wrapping_rem(y))
        }
        (a, b) => {
            if b.f() == 0.0 {
                return Err(cx.error("division by zero"));
            }
            Num::Float(a.f() % b.f())
        }
    };
    make(cx, r)
}

fn abs(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let r = match num(cx, args, 0)? {
        Num::Int(i) => Num::Int(i.wrapping_abs()),
        Num::Float(f) => Num::Float(f.abs()),
    };
    make(cx, r)
}

fn pick(cx: &mut BuiltinCx<'_>, args: &[Value], want_less: bool) -> Result<Value, Failure> {
    let mut best = num(cx, args, 0)?;
    let mut at = 0;
    for i in 1..args.len() {
        let n = num(cx, args, i)?;
        let less = match (n, best) {
            (Num::Int(a), Num::Int(b)) => a < b,
            (a, b) => a.f() < b.f(),
        };
        let more = match (n, best) {
            (Num::Int(a), Num::Int(b)) => a > b,
            (a, b) => a.f() > b.f(),
        };
        if (want_less && less) || (!want_less && more) {
            best = n;
            at = i;
        }
    }
    Ok(args[at])
}

fn min(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    pick(cx, args, true)
}

fn max(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    pick(cx, args, false)
}

/// A float rounded by `f` as an integer when it fits, else as a float.
fn to_integer(cx: &mut BuiltinCx<'_>, args: &[Value], f: fn(f64) -> f64) -> Result<Value, Failure> {
    match num(cx, args, 0)? {
        Num::Int(_) => Ok(args[0]),
        Num::Float(x) => {
            let r = f(x);
            if (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&r) {
                cx.int(r as i64)
            } else {
                Ok(Value::float(r))
            }
        }
    }
}

fn floor(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    to_integer(cx, args, f64::floor)
}

fn ceil(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    to_integer(cx, args, f64::ceil)
}

fn round(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    to_integer(cx, args, f64::round)
}

fn sqrt(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let x = num(cx, args, 0)?.f();
    Ok(Value::float(x.sqrt()))
}

fn pow(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    match (num(cx, args, 0)?, num(cx, args, 1)?) {
        (Num::Int(x), Num::Int(y)) if y >= 0 => {
            let e = u32::try_from(y).unwrap_or(u32::MAX);
            cx.int(x.wrapping_pow(e))
        }
        (a, b) => Ok(Value::float(a.f().powf(b.f()))),
    }
}
