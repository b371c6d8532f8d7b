//! The process-wide code registry: every compiled [`Proto`] gets a stable
//! index. A closure's `code` word is that index as a small integer (negative
//! for macros: `-(index + 1)`), so closures copy between heaps and into the
//! shared heap as plain data and any actor can run them.
//!
//! Protos are never freed (code is small next to data; the `eval` cache
//! bounds what run-time compilation adds).

use valk_heap::symbol::symbol_name;
use valk_heap::Value;

use crate::ir::Proto;

/// Append-only and lock-free to read: every call of a closure looks its
/// proto up here, from any worker thread, so actors need no local copy.
static REGISTRY: boxcar::Vec<&'static Proto> = boxcar::Vec::new();

/// Register a proto; returns its index.
pub fn register(p: Proto) -> u32 {
    // Leaked on purpose: code lives as long as the process (see above), and
    // `&'static` frames need no reference counting on calls.
    let index = REGISTRY.push(Box::leak(Box::new(p)));
    u32::try_from(index).expect("more than 2^32 compiled functions")
}

/// The proto at `index`.
#[inline]
pub fn get(index: u32) -> Option<&'static Proto> {
    REGISTRY.get(index as usize).copied()
}

/// The closure code word for a proto.
pub fn code_word(index: u32, is_macro: bool) -> Value {
    let i = index as i64;
    Value::small_int(if is_macro { -(i + 1) } else { i }).unwrap_or(Value::NIL)
}

/// The proto index and macro flag in a closure code word.
#[inline]
pub fn decode(code: Value) -> Option<(u32, bool)> {
    let n = code.as_small_int()?;
    if n >= 0 {
        Some((n as u32, false))
    } else {
        Some(((-n - 1) as u32, true))
    }
}

/// `lambda` or `macro`, for printing.
pub fn kind_word(code: Value) -> &'static str {
    match decode(code) {
        Some((_, true)) => "macro",
        _ => "lambda",
    }
}

/// The formals still unbound after `bound` arguments, as `{x y}`.
pub fn formals_text(code: Value, bound: usize) -> String {
    let Some(p) = decode(code).and_then(|(i, _)| get(i)) else {
        return "{}".into();
    };
    let m = &p.meta;
    let mut parts: Vec<&str> = Vec::new();
    let fixed = m.nparams as usize;
    for (i, f) in m.formals.iter().enumerate() {
        if i < fixed {
            if i >= bound {
                parts.push(symbol_name(*f));
            }
        } else {
            parts.push("&");
            parts.push(symbol_name(*f));
        }
    }
    format!("{{{}}}", parts.join(" "))
}

/// How many protos are registered.
pub fn count() -> usize {
    REGISTRY.count()
}
