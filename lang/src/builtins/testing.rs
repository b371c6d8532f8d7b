//! Test-report builtins. `test/-diff`: what `test/assert-eq` shows under "expected"/"actual"
//! when they differ: where two lists first differ (by element, through
//! nested lists) and where two strings first differ (a caret under the
//! character, or the first differing line of a multi-line string).
//! `test/-user-location`: where a failure is in the user's code.

use valk_heap::{Heap, Value};

use super::{BuiltinCx, BuiltinDef, Failure};
use crate::{equal, printer};

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "test/-diff",
        2,
        2,
        "(test/-diff expected actual): where two unequal lists or strings first differ, as lines for a test report; \"\" when there is nothing to add.",
        diff,
    ),
    BuiltinDef::new(
        "test/-user-location",
        1,
        1,
        "(test/-user-location e): the Error's \"file:line:col\" when that is in the user's code (not the prelude), else ().",
        user_location,
    )
    .taking_errors(),
];

fn user_location(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    match super::core::error_place(cx.heap, args[0]) {
        Some((file, line, col)) if !crate::prelude::is_prelude_file(file) => {
            Ok(cx.heap.string(&format!("{file}:{line}:{col}"))?)
        }
        _ => Ok(Value::EMPTY_S),
    }
}

/// A value's form in a report is cut at this many bytes.
const MAX_SHOWN: usize = 200;

fn diff(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let text = describe(cx.heap, args[0], args[1]).unwrap_or_default();
    cx.meter.bytes(text.len());
    Ok(cx.heap.string(&text)?)
}

/// The lines to add, or `None` when the values are equal or of kinds with
/// nothing to point at.
fn describe(heap: &Heap, expected: Value, actual: Value) -> Option<String> {
    if equal::equal(heap, expected, actual) {
        return None;
    }
    if let (Some(e), Some(a)) = (heap.str(expected), heap.str(actual)) {
        return Some(string_diff(e, a));
    }
    let mut path = Vec::new();
    list_diff(heap, expected, actual, &mut path)
}

/// `expected`/`actual` differ somewhere inside: the first place, with the
/// element path that leads to it (1-based, as `nth` counts).
fn list_diff(heap: &Heap, e: Value, a: Value, path: &mut Vec<usize>) -> Option<String> {
    let (Some(ev), Some(av)) = (heap.list_to_vec(e), heap.list_to_vec(a)) else {
        return None;
    };
    if heap.list_kind(e) != heap.list_kind(a) {
        return None;
    }
    for (i, (x, y)) in ev.iter().zip(&av).enumerate() {
        if equal::equal(heap, *x, *y) {
            continue;
        }
        path.push(i + 1);
        if let Some(deeper) = list_diff(heap, *x, *y, path) {
            return Some(deeper);
        }
        let place = path_text(path);
        return Some(format!(
            "{place}: expected {}, got {}",
            shown(heap, *x),
            shown(heap, *y)
        ));
    }
    let place = if path.is_empty() {
        "the actual list".to_owned()
    } else {
        format!("the list at {}", path_text(path))
    };
    let (short, long, verb) = if av.len() > ev.len() {
        (&ev, &av, "has extra")
    } else {
        (&av, &ev, "is missing")
    };
    let rest = &long[short.len()..];
    let n = rest.len();
    let items: Vec<String> = rest.iter().take(5).map(|v| shown(heap, *v)).collect();
    let more = if n > 5 { " ..." } else { "" };
    Some(format!(
        "{place} {verb} {n} element{} at the end: {}{more}",
        if n == 1 { "" } else { "s" },
        items.join(" ")
    ))
}

fn path_text(path: &[usize]) -> String {
    let parts: Vec<String> = path.iter().map(|i| format!("element {i}")).collect();
    parts.join(" > ")
}

fn shown(heap: &Heap, v: Value) -> String {
    let mut out = String::new();
    if printer::try_write_value(heap, v, true, &mut out, MAX_SHOWN).is_err() {
        out.truncate(MAX_SHOWN);
        out.push_str(" ...");
    }
    out
}

/// Where two unequal strings first differ.
fn string_diff(e: &str, a: &str) -> String {
    if e.contains('\n') || a.contains('\n') {
        let (el, al): (Vec<&str>, Vec<&str>) = (e.split('\n').collect(), a.split('\n').collect());
        let i = el.iter().zip(&al).take_while(|(x, y)| x == y).count();
        let line = |l: Option<&&str>| l.map_or_else(|| "(no such line)".to_owned(), |s| quoted(s));
        return format!(
            "first difference on line {}:\n  expected: {}\n  actual:   {}",
            i + 1,
            line(el.get(i)),
            line(al.get(i))
        );
    }
    let at = e.chars().zip(a.chars()).take_while(|(x, y)| x == y).count();
    let (qe, qa) = (quoted(e), quoted(a));
    if qe.chars().count() <= MAX_SHOWN && qa.chars().count() <= MAX_SHOWN {
        // The caret sits under the character in the quoted actual string.
        let prefix: String = a.chars().take(at).collect();
        let column = quoted(&prefix).chars().count() - 1;
        return format!(
            "expected: {qe}\nactual:   {qa}\n          {}^ first difference at character {}",
            " ".repeat(column),
            at + 1
        );
    }
    let window = |s: &str| -> String {
        let start = at.saturating_sub(20);
        let piece: String = s.chars().skip(start).take(60).collect();
        format!("...{}...", quoted(&piece))
    };
    format!(
        "first difference at character {}:\n  expected: {}\n  actual:   {}",
        at + 1,
        window(e),
        window(a)
    )
}

fn quoted(s: &str) -> String {
    let mut out = String::new();
    printer::quote_str(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::string_diff;

    #[test]
    fn the_caret_sits_under_the_first_differing_character() {
        let d = string_diff("hello world", "hello wordl");
        let lines: Vec<&str> = d.lines().collect();
        let caret = lines[2].find('^').unwrap();
        assert_eq!(&lines[1][caret..caret + 1], "d", "{d}");
        assert!(lines[2].ends_with("at character 10"), "{d}");
    }

    #[test]
    fn escapes_before_the_difference_move_the_caret() {
        let d = string_diff("a\tbc", "a\tbd");
        let lines: Vec<&str> = d.lines().collect();
        let caret = lines[2].find('^').unwrap();
        assert_eq!(&lines[1][caret..caret + 1], "d", "{d}");
    }

    #[test]
    fn multi_line_strings_name_the_first_differing_line() {
        let d = string_diff("a\nb\nc", "a\nB\nc");
        assert!(d.starts_with("first difference on line 2"), "{d}");
        assert!(d.contains("\"b\"") && d.contains("\"B\""), "{d}");
    }
}
