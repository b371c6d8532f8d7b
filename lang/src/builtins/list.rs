//! Lists: `list head tail init cons join len range reverse sort`.

use valk_heap::{ListKind, Value};

use super::arith::{num, Num};
use super::{fair, BuiltinCx, BuiltinDef, Failure, VARIADIC};

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "list",
        0,
        VARIADIC,
        "A Q-expression of the arguments.",
        list,
    ),
    BuiltinDef::new(
        "head",
        1,
        1,
        "A one-element list of the first element.",
        head,
    ),
    BuiltinDef::new("tail", 1, 1, "The list without its first element.", tail),
    BuiltinDef::new("init", 1, 1, "The list without its last element.", init),
    BuiltinDef::new("cons", 2, 2, "The list with a value put in front.", cons),
    BuiltinDef::new(
        "join",
        1,
        VARIADIC,
        "The lists joined into one (or the strings into one string).",
        join,
    ),
    BuiltinDef::new(
        "len",
        1,
        1,
        "Number of elements of a list, or characters of a string.",
        len,
    ),
    BuiltinDef::new(
        "range",
        1,
        3,
        "`(range end)`, `(range start end)`, `(range start end step)`: {start .. end-1}.",
        range,
    ),
    BuiltinDef::new("reverse", 1, 1, "The list (or string) reversed.", reverse),
    BuiltinDef::new(
        "sort",
        1,
        1,
        "The list sorted ascending (numbers, or strings).",
        sort,
    ),
];

/// The kind of a list argument (`{}` is Q, `()` is S).
fn kind_of(cx: &BuiltinCx<'_>, v: Value) -> ListKind {
    cx.heap.list_kind(v).unwrap_or(ListKind::Q)
}

fn list(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    cx.qlist(args)
}

fn non_empty(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Vec<Value>, Failure> {
    let items = cx.list_arg(args, 0)?;
    if items.is_empty() {
        return Err(empty_error(cx));
    }
    Ok(items)
}

fn empty_error(cx: &BuiltinCx<'_>) -> Failure {
    cx.error(format!(
        "`{}`: expected a non-empty list, got {{}}",
        cx.builtin_name()
    ))
}

/// The first cons cell of a non-empty list argument: `(first, rest, kind)`,
/// read in place (lists are immutable, so parts are shared, never copied).
fn first_cell(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<(Value, Value, ListKind), Failure> {
    let v = args[0];
    let Some(k) = cx.heap.list_kind(v) else {
        return Err(cx.arg_error(0, "list", v));
    };
    match cx.heap.car_cdr(v) {
        Some((first, rest)) => Ok((first, rest, k)),
        None => Err(empty_error(cx)),
    }
}

/// The empty list of kind `k`.
fn empty(k: ListKind) -> Value {
    match k {
        ListKind::Q => Value::NIL,
        ListKind::S => Value::EMPTY_S,
    }
}

fn head(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let (first, _, k) = first_cell(cx, args)?;
    Ok(cx.heap.cons(first, empty(k), k)?)
}

fn tail(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    // The rest of a cons cell is already the tail: O(1), no copy.
    let (_, rest, _) = first_cell(cx, args)?;
    Ok(rest)
}

fn init(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let items = non_empty(cx, args)?;
    let k = kind_of(cx, args[0]);
    cx.list_of(&items[..items.len() - 1], k)
}

fn cons(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let v = args[1];
    if cx.heap.list_kind(v).is_none() {
        return Err(cx.arg_error(1, "list", v));
    }
    let k = kind_of(cx, v);
    Ok(cx.heap.cons(args[0], v, k)?)
}

fn join(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    if cx.heap.str(args[0]).is_some() {
        let mut s = String::new();
        for i in 0..args.len() {
            let piece = cx.str_arg(args, i)?;
            s.push_str(piece);
            let n = piece.len();
            cx.meter.bytes(n);
        }
        return cx.string(&s);
    }
    let k = kind_of(cx, args[0]);
    let last = args.len() - 1;
    let mut front = Vec::new();
    for i in 0..last {
        front.extend(cx.list_arg(args, i)?);
    }
    // The last list is shared, not copied, when it is of the result's kind
    // (its cells then end in the right empty list).
    let end = args[last];
    let rest = match cx.heap.list_kind(end) {
        Some(ek) if ek == k => end,
        Some(_) => {
            let items = cx.list_arg(args, last)?;
            cx.list_of(&items, k)?
        }
        None => return Err(cx.arg_error(last, "list", end)),
    };
    fair::build_list(cx.heap, &mut cx.meter, &front, k, rest)
}

fn len(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    if let Some(s) = cx.heap.str(args[0]) {
        // Counted a metered piece at a time (pieces cut at character
        // boundaries).
        let mut n = 0i64;
        let mut lo = 0;
        while lo < s.len() {
            let mut hi = (lo + STRING_PIECE).min(s.len());
            while !s.is_char_boundary(hi) {
                hi += 1;
            }
            n += s[lo..hi].chars().count() as i64;
            cx.meter.bytes(hi - lo);
            lo = hi;
        }
        return cx.int(n);
    }
    if cx.heap.list_kind(args[0]).is_none() {
        return Err(cx.arg_error(0, "list or string", args[0]));
    }
    // Walk the cells: counting needs no copy of the list.
    let mut n = 0i64;
    let mut cur = args[0];
    while let Some((_, rest)) = cx.heap.car_cdr(cur) {
        n += 1;
        cur = rest;
        if n % fair::BATCH as i64 == 0 {
            cx.meter.elements(fair::BATCH);
        }
    }
    cx.meter.elements(n as usize % fair::BATCH);
    cx.int(n)
}

fn int(cx: &BuiltinCx<'_>, args: &[Value], i: usize) -> Result<i64, Failure> {
    match num(cx, args, i)? {
        Num::Int(n) => Ok(n),
        Num::Float(_) => Err(cx.arg_error(i, "integer", args[i])),
    }
}

/// Longest list `range` builds (keeps a typo from eating the heap).
const MAX_RANGE: i64 = 1 << 28;

fn range(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let (start, end) = if args.len() == 1 {
        (0, int(cx, args, 0)?)
    } else {
        (int(cx, args, 0)?, int(cx, args, 1)?)
    };
    let step = if args.len() == 3 {
        int(cx, args, 2)?
    } else {
        1
    };
    if step == 0 {
        return Err(cx.error("`range`: step must not be zero"));
    }
    let count = if step > 0 {
        (end.saturating_sub(start).max(0) + step - 1) / step
    } else {
        (start.saturating_sub(end).max(0) + (-step) - 1) / (-step)
    };
    if count > MAX_RANGE {
        return Err(cx.error(format!("`range`: {count} elements is too many")));
    }
    // Built from the last element to the first, a metered batch at a time
    // (no vector of the elements: a long range may yield in the middle).
    let mut out = Value::NIL;
    let mut i = count;
    while i > 0 {
        let lo = (i - fair::BATCH as i64).max(0);
        for j in (lo..i).rev() {
            let x = cx.int(start.wrapping_add(j.wrapping_mul(step)))?;
            out = cx.heap.cons(x, out, ListKind::Q)?;
        }
        cx.meter.elements((i - lo) as usize);
        i = lo;
    }
    Ok(out)
}

fn reverse(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    if let Some(s) = cx.heap.str(args[0]) {
        // Piece by piece from the end (pieces cut at character boundaries),
        // metered, so a long string may yield in the middle.
        let mut r = String::with_capacity(s.len());
        let mut end = s.len();
        while end > 0 {
            let mut lo = end.saturating_sub(STRING_PIECE);
            while !s.is_char_boundary(lo) {
                lo -= 1;
            }
            r.extend(s[lo..end].chars().rev());
            cx.meter.bytes(end - lo);
            end = lo;
        }
        return cx.string(&r);
    }
    let v = args[0];
    let Some(k) = cx.heap.list_kind(v) else {
        return Err(cx.arg_error(0, "list", v));
    };
    // One walk, consing each element onto the result: no vector.
    let mut out = fair::empty(k);
    let mut cur = v;
    loop {
        for done in 0..fair::BATCH {
            let Some((car, cdr)) = cx.heap.car_cdr(cur) else {
                if cur.is_nil() || cur.is_empty_s() {
                    cx.meter.elements(done);
                    return Ok(out);
                }
                return Err(cx.arg_error(0, "list", v));
            };
            out = cx.heap.cons(car, out, k)?;
            cur = cdr;
        }
        cx.meter.elements(fair::BATCH);
    }
}

/// Bytes of a string handled between two reports to the meter.
const STRING_PIECE: usize = 16 * 1024;

fn sort(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let items = cx.list_arg(args, 0)?;
    let k = kind_of(cx, args[0]);
    // Every pass over the items is metered a batch at a time (a pass over
    // millions of elements would otherwise hold the thread for milliseconds).
    // The heap does not move while the builtin runs, yields included, so the
    // texts are read in place.
    let heap = &*cx.heap;
    let meter = &mut cx.meter;
    let sorted: Vec<Value> = if let Ok(texts) = fair::map(meter, &items, |v| heap.str(*v)) {
        let mut order: Vec<u32> = (0..items.len() as u32).collect();
        fair::merge_sort(meter, &mut order, |a, b| {
            texts[*a as usize].cmp(texts[*b as usize])
        });
        fair::map(meter, &order, |&i| Some(items[i as usize])).unwrap_or_default()
    } else if let Ok(mut ints) = fair::map(meter, &items, |v| Some((v.as_small_int()?, *v))) {
        fair::merge_sort(meter, &mut ints, |a, b| a.0.cmp(&b.0));
        fair::map(meter, &ints, |p| Some(p.1)).unwrap_or_default()
    } else {
        let key = |v: &Value| match v.as_float() {
            Some(f) => Some((f, *v)),
            None => heap.as_int(*v).map(|n| (n as f64, *v)),
        };
        let mut keyed = match fair::map(meter, &items, key) {
            Ok(keyed) => keyed,
            Err(i) => {
                return Err(cx.error(format!(
                    "`sort`: expected a list of numbers or of strings, got {} at position {}",
                    cx.type_name(items[i]),
                    i + 1
                )))
            }
        };
        fair::merge_sort(meter, &mut keyed, |a, b| a.0.total_cmp(&b.0));
        fair::map(meter, &keyed, |p| Some(p.1)).unwrap_or_default()
    };
    cx.list_of(&sorted, k)
}
