//! Strings: `str`, `string/*`, number/symbol conversions, `repr`.
//!
//! Owned by the library helper; see `super` for how to write a builtin.
//!
//! Positions in strings (`string/slice`) count Unicode characters, not bytes,
//! so no index can land inside a UTF-8 sequence.
//!
//! Each builtin charges the bytes it scans (`cx.meter`, see `super::fair`);
//! the strings it makes are charged by `cx.string`.

use valk_heap::Value;

use super::{BuiltinCx, BuiltinDef, Failure, VARIADIC};
use crate::printer;
use crate::reader;
use crate::syntax::Syn;

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "str",
        0,
        VARIADIC,
        "(str x ...): the display forms of the arguments joined into one string (strings raw, no separator).",
        str_concat,
    ),
    BuiltinDef::new(
        "repr",
        1,
        1,
        "(repr x): the re-readable form of x as a string, as the REPL shows it (strings quoted).",
        repr,
    ),
    BuiltinDef::new(
        "string/split",
        2,
        2,
        "(string/split s delimiter): the pieces of s between occurrences of delimiter, as a list of strings.",
        split,
    ),
    BuiltinDef::new(
        "string/join",
        1,
        2,
        "(string/join list [separator]): the display forms of the list's elements joined by separator (default \"\").",
        join,
    ),
    BuiltinDef::new(
        "string/slice",
        2,
        3,
        "(string/slice s start [end]): the characters of s from start up to but not including end (default: the end); positions are clamped to the string.",
        slice,
    ),
    BuiltinDef::new(
        "string/contains?",
        2,
        2,
        "(string/contains? s part): true when part occurs in s.",
        contains,
    ),
    BuiltinDef::new(
        "string/replace",
        3,
        3,
        "(string/replace s from to): s with every occurrence of from replaced by to.",
        replace,
    ),
    BuiltinDef::new("string/upper", 1, 1, "(string/upper s): s in upper case.", upper),
    BuiltinDef::new("string/lower", 1, 1, "(string/lower s): s in lower case.", lower),
    BuiltinDef::new(
        "string/trim",
        1,
        1,
        "(string/trim s): s without leading and trailing whitespace.",
        trim,
    ),
    BuiltinDef::new(
        "number->string",
        1,
        1,
        "(number->string n): the decimal text of a number (floats in their shortest re-readable form).",
        number_to_string,
    ),
    BuiltinDef::new(
        "string->number",
        1,
        1,
        "(string->number s): the number written in s (surrounding whitespace allowed), or an error.",
        string_to_number,
    ),
    BuiltinDef::new(
        "symbol->string",
        1,
        1,
        "(symbol->string sym): the name of a symbol.",
        symbol_to_string,
    ),
];

fn str_concat(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let mut text = String::new();
    for &arg in args {
        cx.append_value(&mut text, arg, false)?;
    }
    cx.string(&text)
}

fn repr(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let mut text = String::new();
    cx.append_value(&mut text, args[0], true)?;
    cx.string(&text)
}

fn split(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let s = cx.str_arg(args, 0)?.to_owned();
    cx.meter.bytes(s.len());
    let delimiter = cx.str_arg(args, 1)?;
    if delimiter.is_empty() {
        return Err(cx.error(format!(
            "`{}`: argument 2: the delimiter must not be empty",
            cx.builtin_name()
        )));
    }
    let pieces: Vec<String> = s.split(delimiter).map(str::to_owned).collect();
    let mut items = Vec::with_capacity(pieces.len());
    for piece in &pieces {
        items.push(cx.string(piece)?);
    }
    cx.qlist(&items)
}

fn join(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let items = cx.list_arg(args, 0)?;
    let separator = if args.len() > 1 {
        cx.str_arg(args, 1)?.to_owned()
    } else {
        String::new()
    };
    let mut text = String::new();
    for (i, &item) in items.iter().enumerate() {
        if i > 0 {
            cx.append_text(&mut text, &separator)?;
        }
        cx.append_value(&mut text, item, false)?;
    }
    cx.string(&text)
}

/// A character position clamped to `0..=len`.
fn clamp_position(position: i64, len: usize) -> usize {
    usize::try_from(position.max(0))
        .unwrap_or(usize::MAX)
        .min(len)
}

fn slice(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let s = cx.str_arg(args, 0)?;
    let start = cx.int_arg(args, 1)?;
    let chars = s.chars().count();
    let end = if args.len() > 2 {
        cx.int_arg(args, 2)?
    } else {
        chars as i64
    };
    let start = clamp_position(start, chars);
    let end = clamp_position(end, chars).max(start);
    let piece: String = s.chars().skip(start).take(end - start).collect();
    let scanned = s.len();
    cx.meter.bytes(scanned);
    cx.string(&piece)
}

fn contains(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let s = cx.str_arg(args, 0)?;
    let part = cx.str_arg(args, 1)?;
    let (found, scanned) = (s.contains(part), s.len());
    cx.meter.bytes(scanned);
    Ok(Value::bool(found))
}

fn replace(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let s = cx.str_arg(args, 0)?;
    let from = cx.str_arg(args, 1)?;
    let to = cx.str_arg(args, 2)?;
    if from.is_empty() {
        return Err(cx.error(format!(
            "`{}`: argument 2: the text to replace must not be empty",
            cx.builtin_name()
        )));
    }
    // The result's size first: a short text replaced by a long one many
    // times must be an error, not an allocation the system refuses.
    let matches = s.matches(from).count();
    let size = (to.len() as u128 * matches as u128) + (s.len() - matches * from.len()) as u128;
    let mut replaced = String::new();
    if size > printer::MAX_TEXT as u128
        || printer::try_room(&mut replaced, size as usize, printer::MAX_TEXT).is_err()
    {
        return Err(cx.text_too_long());
    }
    let mut last = 0;
    for (at, _) in s.match_indices(from) {
        replaced.push_str(&s[last..at]);
        replaced.push_str(to);
        last = at + from.len();
    }
    replaced.push_str(&s[last..]);
    cx.meter.bytes(s.len() + replaced.len());
    cx.string(&replaced)
}

fn map_string(
    cx: &mut BuiltinCx<'_>,
    args: &[Value],
    f: impl FnOnce(&str) -> String,
) -> Result<Value, Failure> {
    let s = cx.str_arg(args, 0)?;
    let (mapped, scanned) = (f(s), s.len());
    cx.meter.bytes(scanned);
    cx.string(&mapped)
}

fn upper(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    map_string(cx, args, str::to_uppercase)
}

fn lower(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    map_string(cx, args, str::to_lowercase)
}

fn trim(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    map_string(cx, args, |s| s.trim().to_owned())
}

fn number_to_string(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let v = args[0];
    if cx.type_name(v) != "number" {
        return Err(cx.arg_error(0, "number", v));
    }
    let text = cx.repr(v);
    cx.string(&text)
}

fn string_to_number(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let s = cx.str_arg(args, 0)?;
    // The reader's own number rules, so `string->number` accepts exactly what
    // a program may write.
    let parsed = match reader::read_all(s.trim(), "<string>") {
        Ok(nodes) if nodes.len() == 1 => match nodes[0].syn {
            Syn::Int(n) => Some(Ok(n)),
            Syn::Float(f) => Some(Err(f)),
            _ => None,
        },
        _ => None,
    };
    let scanned = s.len();
    cx.meter.bytes(scanned);
    match parsed {
        Some(Ok(n)) => cx.int(n),
        Some(Err(f)) => Ok(Value::float(f)),
        None => {
            let shown = cx.repr(args[0]);
            Err(cx.error(format!("`{}`: {shown} is not a number", cx.builtin_name())))
        }
    }
}

fn symbol_to_string(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    match args[0].as_symbol() {
        Some(id) => cx.string(valk_heap::symbol::symbol_name(id)),
        None => Err(cx.arg_error(0, "symbol", args[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::clamp_position;

    #[test]
    fn positions_clamp_to_the_string() {
        assert_eq!(clamp_position(-3, 5), 0);
        assert_eq!(clamp_position(2, 5), 2);
        assert_eq!(clamp_position(9, 5), 5);
        assert_eq!(clamp_position(i64::MAX, 5), 5);
    }
}
