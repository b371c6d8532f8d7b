//! Comparison: `< > <= >=` on numbers, `== !=` structural.

use valk_heap::Value;

use super::arith::{num, Num};
use super::{BuiltinCx, BuiltinDef, Failure};
use crate::equal::equal;

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "<",
        2,
        2,
        "1 if the first number is less than the second, else 0.",
        lt,
    ),
    BuiltinDef::new(
        ">",
        2,
        2,
        "1 if the first number is greater than the second, else 0.",
        gt,
    ),
    BuiltinDef::new(
        "<=",
        2,
        2,
        "1 if the first number is at most the second, else 0.",
        le,
    ),
    BuiltinDef::new(
        ">=",
        2,
        2,
        "1 if the first number is at least the second, else 0.",
        ge,
    ),
    BuiltinDef::new(
        "==",
        2,
        2,
        "1 if the values are structurally equal (same type, same contents), else 0.",
        eq,
    ),
    BuiltinDef::new(
        "!=",
        2,
        2,
        "0 if the values are structurally equal, else 1.",
        ne,
    ),
];

fn order(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<std::cmp::Ordering, Failure> {
    let (a, b) = (num(cx, args, 0)?, num(cx, args, 1)?);
    Ok(match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (x, y) => {
            let (x, y) = (as_f(x), as_f(y));
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
        }
    })
}

fn as_f(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

fn nan_involved(cx: &BuiltinCx<'_>, args: &[Value]) -> bool {
    let _ = cx;
    args.iter()
        .take(2)
        .any(|v| v.as_float().is_some_and(f64::is_nan))
}

fn lt(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let o = order(cx, args)?;
    Ok(Value::bool(!nan_involved(cx, args) && o.is_lt()))
}

fn gt(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let o = order(cx, args)?;
    Ok(Value::bool(!nan_involved(cx, args) && o.is_gt()))
}

fn le(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let o = order(cx, args)?;
    Ok(Value::bool(!nan_involved(cx, args) && o.is_le()))
}

fn ge(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let o = order(cx, args)?;
    Ok(Value::bool(!nan_involved(cx, args) && o.is_ge()))
}

fn eq(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    Ok(Value::bool(equal(cx.heap, args[0], args[1])))
}

fn ne(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    Ok(Value::bool(!equal(cx.heap, args[0], args[1])))
}
