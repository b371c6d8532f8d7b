//! Printing values: the re-readable form the REPL shows (`repr`) and the
//! display form `print`/`str` use (strings raw at the top level, quoted
//! inside lists). Iterative, so a deeply nested list cannot overflow the
//! native stack.

use core::fmt::Write as _;

use valk_heap::symbol::symbol_name;
use valk_heap::{Heap, ListKind, ObjKind, Value};

use crate::builtins;
use crate::code;

/// The longest text the builtins make (`str`, `repr`, `print`,
/// `string/replace`, ...): past it they fail with an error instead of asking
/// the system for more than it may have (a failed Rust allocation aborts
/// the process).
pub const MAX_TEXT: usize = 1 << 30;

/// A text would pass its cap, or the system refused memory for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// Makes room for `more` bytes in `out`, fallibly, within `cap`.
pub fn try_room(out: &mut String, more: usize, cap: usize) -> Result<(), TooLong> {
    match out.len().checked_add(more) {
        Some(n) if n <= cap => out.try_reserve(more).map_err(|_| TooLong),
        _ => Err(TooLong),
    }
}

/// Appends `s` to `out` within `cap` (see [`try_room`]).
pub fn try_push(out: &mut String, s: &str, cap: usize) -> Result<(), TooLong> {
    try_room(out, s.len(), cap)?;
    out.push_str(s);
    Ok(())
}

/// The re-readable form: `3`, `1.5`, `"a\nb"`, `:ok`, `{1 {2 3} "x"}`.
/// (Cut short, never an abort, if memory runs out.)
pub fn repr(heap: &Heap, v: Value) -> String {
    let mut s = String::new();
    let _ = try_write_value(heap, v, true, &mut s, usize::MAX);
    s
}

/// The display form: like [`repr`] but a string prints raw.
pub fn display(heap: &Heap, v: Value) -> String {
    if let Some(text) = heap.str(v) {
        return text.to_owned();
    }
    repr(heap, v)
}

/// [`repr`] within `cap` bytes.
pub fn try_repr(heap: &Heap, v: Value, cap: usize) -> Result<String, TooLong> {
    let mut s = String::new();
    try_write_value(heap, v, true, &mut s, cap)?;
    Ok(s)
}

/// [`display`] within `cap` bytes.
pub fn try_display(heap: &Heap, v: Value, cap: usize) -> Result<String, TooLong> {
    if let Some(text) = heap.str(v) {
        let mut s = String::new();
        try_push(&mut s, text, cap)?;
        return Ok(s);
    }
    try_repr(heap, v, cap)
}

/// The name `type` gives a value (without the colon).
pub fn type_name(heap: &Heap, v: Value) -> &'static str {
    if v.is_float() || v.is_small_int() {
        return "number";
    }
    if v.is_nil() {
        return "qexpr";
    }
    if v.is_empty_s() {
        return "sexpr";
    }
    if v.as_symbol().is_some() {
        return "symbol";
    }
    if v.as_keyword().is_some() {
        return "keyword";
    }
    if v.as_builtin().is_some() {
        return "function";
    }
    match heap.kind(v) {
        Some(ObjKind::Cons) => match heap.list_kind(v) {
            Some(ListKind::S) => "sexpr",
            _ => "qexpr",
        },
        Some(ObjKind::Str) => "string",
        Some(ObjKind::BigInt) => "number",
        Some(ObjKind::Closure | ObjKind::Partial) => "function",
        Some(ObjKind::Error) => "error",
        Some(ObjKind::Pid) => "pid",
        Some(ObjKind::Ref) => "ref",
        Some(ObjKind::Box) => "box",
        Some(ObjKind::Foreign) if is_c_pointer(heap, v) => "ptr",
        Some(ObjKind::Foreign) => "foreign",
        Some(ObjKind::Opaque) if crate::builtins::shared::is_atom(heap, v) => "atom",
        Some(ObjKind::Opaque) => opaque_name(heap, v),
        None => "opaque",
    }
}

/// For a partial application of an internal (`/-`) builtin to a
/// registered opaque handle: the handle's type name.
fn handle_name(heap: &Heap, partial: Value, builtin: &str) -> Option<&'static str> {
    if !builtin.contains("/-") {
        return None;
    }
    let (_, args) = heap.partial_parts(partial)?;
    let first = *args.first()?;
    (heap.kind(first) == Some(ObjKind::Opaque)).then(|| opaque_name(heap, first))
}

/// Is `v` a C pointer (the C layer's foreign objects: tagged `:ptr`, or
/// with the id of a `c-malloc` block)?
fn is_c_pointer(heap: &Heap, v: Value) -> bool {
    heap.foreign_parts(v).is_some_and(|(_, tag)| {
        tag.as_small_int().is_some()
            || tag
                .as_keyword()
                .is_some_and(|k| valk_heap::symbol_name(k) == "ptr")
    })
}

/// Type names of the Rust objects behind opaque values, registered by the
/// layers that make them (a future and its resolver: `register_opaque`).
type OpaqueNames = Vec<(std::any::TypeId, &'static str, &'static str)>;
static OPAQUE_NAMES: std::sync::RwLock<OpaqueNames> = std::sync::RwLock::new(Vec::new());

/// Names values whose opaque object holds a `T`: `plain` for the usual
/// handle, `alt` for the alternate one (`SharedValue::opaque_alt`). What
/// `type` answers and the printer shows (`<future>`); unregistered ones
/// are `opaque`.
pub fn register_opaque<T: std::any::Any>(plain: &'static str, alt: &'static str) {
    let mut names = OPAQUE_NAMES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let id = std::any::TypeId::of::<T>();
    if !names.iter().any(|(t, _, _)| *t == id) {
        names.push((id, plain, alt));
    }
}

fn opaque_name(heap: &Heap, v: Value) -> &'static str {
    let (obj, alt) = match (heap.opaque(v), heap.opaque_alt(v)) {
        (Some(o), _) => (o, false),
        (None, Some(o)) => (o, true),
        (None, None) => return "opaque",
    };
    let id = (**obj).type_id();
    let names = OPAQUE_NAMES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    names.iter().find(|(t, _, _)| *t == id).map_or(
        "opaque",
        |&(_, plain, other)| if alt { other } else { plain },
    )
}

/// A name as error messages show it: whole up to 64 characters, else its
/// first 60, an ellipsis and its length (a megabyte of name must not make
/// a megabyte of error).
pub fn short_name(name: &str) -> std::borrow::Cow<'_, str> {
    let n = name.chars().count();
    if n <= 64 {
        return name.into();
    }
    let cut: String = name.chars().take(60).collect();
    format!("{cut}… ({n} characters)").into()
}

/// A float in the shortest form that reads back as the same float.
pub fn float_text(f: f64) -> String {
    // Scheme's spellings, which the reader takes back (LANGUAGE.md §1).
    if f.is_nan() {
        return "+nan.0".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+inf.0".into()
        } else {
            "-inf.0".into()
        };
    }
    // `{:?}` is the shortest round-trip form and keeps a `.0` or an exponent.
    format!("{f:?}")
}

/// A string in double quotes with escapes that the reader accepts.
pub fn quote_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\0' => out.push_str("\\0"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

enum Work {
    Value(Value),
    Text(&'static str),
    /// The rest of a list from `cur` (`first`: no space before it). A list
    /// is walked a cell at a time, so the stack grows with nesting only.
    Rest {
        cur: Value,
        first: bool,
    },
}

/// Room every item but a string's text needs (numbers, names, markers).
const ITEM_ROOM: usize = 128;

/// Append the form of `v`; `quote_top` says whether a top-level string is
/// quoted. (Cut short if memory runs out.)
pub fn write_value(heap: &Heap, v: Value, quote_top: bool, out: &mut String) {
    let _ = try_write_value(heap, v, quote_top, out, usize::MAX);
}

/// [`write_value`] within `cap` bytes of `out`: `Err` (with `out` cut
/// short) past it or when the system refuses memory. Room is reserved
/// fallibly before each item, so no push reallocates.
pub fn try_write_value(
    heap: &Heap,
    v: Value,
    quote_top: bool,
    out: &mut String,
    cap: usize,
) -> Result<(), TooLong> {
    let mut stack = vec![Work::Value(v)];
    let mut top = true;
    while let Some(w) = stack.pop() {
        let v = match w {
            Work::Text(t) => {
                try_push(out, t, cap)?;
                continue;
            }
            Work::Rest { cur, first } => {
                match heap.car_cdr(cur) {
                    Some((car, cdr)) => {
                        stack.push(Work::Rest {
                            cur: cdr,
                            first: false,
                        });
                        stack.push(Work::Value(car));
                        if !first {
                            stack.push(Work::Text(" "));
                        }
                    }
                    None if !(cur.is_nil() || cur.is_empty_s()) => {
                        // An improper tail (only Rust code can build one).
                        stack.push(Work::Value(cur));
                        stack.push(Work::Text(" . "));
                    }
                    None => {}
                }
                continue;
            }
            Work::Value(v) => v,
        };
        let quote = quote_top || !top;
        top = false;
        // A string needs up to 4 bytes per byte (`\x..` escapes), a name its
        // length; anything else fits in `ITEM_ROOM`.
        let room = match (heap.str(v), v.as_symbol().or(v.as_keyword())) {
            (Some(s), _) => s.len().saturating_mul(4).saturating_add(2),
            (None, Some(sym)) => symbol_name(sym).len() + 1,
            _ => ITEM_ROOM,
        };
        try_room(out, room, cap)?;
        if let Some(n) = v.as_small_int() {
            let _ = write!(out, "{n}");
        } else if let Some(f) = v.as_float() {
            out.push_str(&float_text(f));
        } else if v.is_nil() {
            out.push_str("{}");
        } else if v.is_empty_s() {
            out.push_str("()");
        } else if let Some(s) = v.as_symbol() {
            out.push_str(symbol_name(s));
        } else if let Some(k) = v.as_keyword() {
            out.push(':');
            out.push_str(symbol_name(k));
        } else if let Some(b) = v.as_builtin() {
            match builtins::def(b) {
                Some(d) => {
                    let _ = write!(out, "<builtin {}>", d.name);
                }
                None => out.push_str("<unbound>"),
            }
        } else {
            match heap.kind(v) {
                Some(ObjKind::Cons) => {
                    let s_list = heap.list_kind(v) == Some(ListKind::S);
                    let (open, close) = if s_list { ("(", ")") } else { ("{", "}") };
                    out.push_str(open);
                    stack.push(Work::Text(close));
                    stack.push(Work::Rest {
                        cur: v,
                        first: true,
                    });
                }
                Some(ObjKind::Str) => {
                    let s = heap.str(v).unwrap_or("");
                    if quote {
                        quote_str(s, out);
                    } else {
                        out.push_str(s);
                    }
                }
                Some(ObjKind::BigInt) => {
                    let _ = write!(out, "{}", heap.as_int(v).unwrap_or(0));
                }
                Some(ObjKind::Closure) => {
                    let code = heap.closure_parts(v).map(|(c, _)| c).unwrap_or(Value::NIL);
                    let formals = code::formals_text(code, 0);
                    try_room(out, formals.len(), cap)?;
                    let _ = write!(out, "<{} {formals}>", code::kind_word(code));
                }
                Some(ObjKind::Partial) => {
                    let (f, bound) = heap
                        .partial_parts(v)
                        .map(|(f, a)| (f, a.len()))
                        .unwrap_or((Value::NIL, 0));
                    if let Some(b) = f.as_builtin().and_then(builtins::def) {
                        if matches!(b.imp, builtins::Imp::Special(builtins::Special::Resume)) {
                            // `k` of a `shift` (`interp/continuation.rs`).
                            out.push_str("<continuation>");
                        } else if let Some(name) = handle_name(heap, v, b.name) {
                            // An internal builtin bound to a handle (a C
                            // function from `dlsym`): named by the handle.
                            let _ = write!(out, "<{name}>");
                        } else {
                            let _ = write!(out, "<builtin {}>", b.name);
                        }
                    } else {
                        let code = heap.closure_parts(f).map(|(c, _)| c).unwrap_or(Value::NIL);
                        let formals = code::formals_text(code, bound);
                        try_room(out, formals.len(), cap)?;
                        let _ = write!(out, "<{} {formals}>", code::kind_word(code));
                    }
                }
                Some(ObjKind::Error) => {
                    let msg = heap
                        .error_parts(v)
                        .and_then(|p| heap.str(p.message))
                        .unwrap_or("");
                    try_room(out, msg.len(), cap)?;
                    let _ = write!(out, "Error: {msg}");
                }
                Some(ObjKind::Pid) => {
                    let id = heap.pid_id(v).unwrap_or(0);
                    out.push_str(&pid_text(id));
                }
                Some(ObjKind::Ref) => {
                    let _ = write!(out, "<ref {}>", heap.ref_id(v).unwrap_or(0));
                }
                Some(ObjKind::Box) => {
                    out.push_str("<box ");
                    stack.push(Work::Text(">"));
                    stack.push(Work::Value(heap.unbox(v).unwrap_or(Value::NIL)));
                }
                Some(ObjKind::Foreign) if is_c_pointer(heap, v) => {
                    let (addr, _) = heap.foreign_parts(v).unwrap_or((0, Value::NIL));
                    let _ = write!(out, "<ptr {addr:#x}>");
                }
                Some(ObjKind::Foreign) => {
                    let (addr, tag) = heap.foreign_parts(v).unwrap_or((0, Value::NIL));
                    let tag = repr(heap, tag);
                    try_room(out, tag.len(), cap)?;
                    let _ = write!(out, "<foreign {tag} {addr:#x}>");
                }
                Some(ObjKind::Opaque) if crate::builtins::shared::is_atom(heap, v) => {
                    out.push_str("<atom>")
                }
                Some(ObjKind::Opaque) => {
                    let _ = write!(out, "<{}>", opaque_name(heap, v));
                }
                None => out.push_str("<opaque>"),
            }
        }
    }
    Ok(())
}

/// How a pid prints: `<pid 0.5.0>` (slot index, then generation), also in
/// the runtime's crash reports and deadlock messages.
pub fn pid_text(id: u64) -> String {
    format!("<pid 0.{}.{}>", id & 0xFFFF_FFFF, id >> 32)
}

/// "1 value", "2 values": a count with its noun, for messages.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
