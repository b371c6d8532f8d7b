//! Definitions and errors: `def`, `error`, `error?`, `error-message`,
//! `type`, `gc/stats`.

use valk_heap::Value;

use super::{BuiltinCx, BuiltinDef, Failure, VARIADIC};

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "def",
        1,
        VARIADIC,
        "`(def {names} values...)`: bind globally (visible to every actor); returns ().",
        def,
    ),
    BuiltinDef::new("error", 1, 1, "An Error value with this message.", error),
    BuiltinDef::new(
        "error?",
        1,
        1,
        "1 if the argument is an Error, else 0.",
        is_error,
    )
    .taking_errors(),
    BuiltinDef::new(
        "error-message",
        1,
        1,
        "The message of an Error, as a string.",
        error_message,
    )
    .taking_errors(),
    BuiltinDef::new(
        "error-location",
        1,
        1,
        "Where an Error was raised, as \"file:line:col\", or () when it has no location.",
        error_location,
    )
    .taking_errors(),
    BuiltinDef::new(
        "type",
        1,
        1,
        "The type of a value as a keyword (:number, :string, ...).",
        type_of,
    )
    .taking_errors(),
    BuiltinDef::new(
        "gc/stats",
        0,
        0,
        "This actor's heap figures as {:bytes-in-use N :live-after-gc N ...}.",
        gc_stats,
    ),
];

fn def(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let names = cx.list_arg(args, 0)?;
    if names.len() != args.len() - 1 {
        return Err(cx.error(format!(
            "`def`: expected {} (one for each symbol), got {}",
            crate::printer::count(names.len(), "value"),
            args.len() - 1
        )));
    }
    let mut syms = Vec::with_capacity(names.len());
    for n in &names {
        match n.as_symbol() {
            Some(s) => syms.push(s),
            None => {
                return Err(cx.error(format!("`def`: expected symbols, got {}", cx.type_name(*n))))
            }
        }
    }
    for (s, v) in syms.iter().zip(&args[1..]) {
        let sv = cx.heap.try_to_shared(*v)?;
        cx.globals.define(*s, sv);
    }
    Ok(Value::EMPTY_S)
}

fn error(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let mut msg = String::new();
    cx.append_value(&mut msg, args[0], false)?;
    Err(Failure::Message(msg))
}

fn is_error(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    Ok(Value::bool(cx.is_error(args[0])))
}

fn error_message(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let v = args[0];
    match cx.heap.error_parts(v) {
        Some(p) => Ok(p.message),
        None => Err(cx.arg_error(0, "error", v)),
    }
}

fn error_location(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let v = args[0];
    if cx.heap.error_parts(v).is_none() {
        return Err(cx.arg_error(0, "error", v));
    }
    match error_place(cx.heap, v) {
        Some((file, line, col)) => Ok(cx.heap.string(&format!("{file}:{line}:{col}"))?),
        None => Ok(Value::EMPTY_S),
    }
}

/// Where the Error `v` was raised (file, line, column), if it says.
pub(crate) fn error_place(heap: &valk_heap::Heap, v: Value) -> Option<(&'static str, u32, u32)> {
    let l = heap.error_parts(v)?.loc.filter(|l| l.line != 0)?;
    Some((valk_heap::symbol_name(l.file), l.line, l.col))
}

fn type_of(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = cx.type_name(args[0]);
    Ok(Value::keyword(valk_heap::intern(name)))
}

fn gc_stats(cx: &mut BuiltinCx<'_>, _args: &[Value]) -> Result<Value, Failure> {
    let s = cx.heap.stats();
    let fields: [(&str, u64); 6] = [
        ("bytes-in-use", s.bytes_in_use as u64),
        ("live-after-gc", s.live_after_last_gc as u64),
        ("minor-gcs", s.minor_count),
        ("major-gcs", s.major_count),
        ("total-pause-ns", s.total_pause_ns),
        ("last-pause-ns", s.last_pause_ns),
    ];
    let mut items = Vec::with_capacity(fields.len() * 2);
    for (k, v) in fields {
        items.push(Value::keyword(valk_heap::intern(k)));
        items.push(cx.int(v.min(i64::MAX as u64) as i64)?);
    }
    cx.qlist(&items)
}
