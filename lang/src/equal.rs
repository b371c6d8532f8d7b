//! Structural equality (`==`) and a structural hash (the `eval` cache key).
//! Both iterate with an explicit stack: lists can be deeper than the native
//! stack.

use std::hash::{Hash, Hasher};

use valk_heap::{Heap, ObjKind, Value};

/// `==`: same type and same contents; lists element by element; a
/// Q-expression never equals an S-expression. Numbers compare by value, so
/// `(== 1 1.0)` is true as in the original.
pub fn equal(heap: &Heap, a: Value, b: Value) -> bool {
    compare(heap, a, b, false)
}

/// Like [`equal`] but an integer never equals a float: the `eval` cache must
/// not hand `{+ 1 2}`'s code to `{+ 1.0 2}`.
pub fn identical(heap: &Heap, a: Value, b: Value) -> bool {
    compare(heap, a, b, true)
}

fn compare(heap: &Heap, a: Value, b: Value, strict: bool) -> bool {
    let mut stack = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        if a == b {
            continue;
        }
        if !equal_shallow(heap, a, b, strict, &mut stack) {
            return false;
        }
    }
    true
}

fn number(heap: &Heap, v: Value) -> Option<(Option<i64>, f64)> {
    if let Some(f) = v.as_float() {
        return Some((None, f));
    }
    heap.as_int(v).map(|i| (Some(i), i as f64))
}

fn equal_shallow(
    heap: &Heap,
    a: Value,
    b: Value,
    strict: bool,
    stack: &mut Vec<(Value, Value)>,
) -> bool {
    if let (Some(x), Some(y)) = (number(heap, a), number(heap, b)) {
        return match (x, y) {
            ((Some(i), _), (Some(j), _)) => i == j,
            ((None, f), (None, g)) => f == g,
            ((_, f), (_, g)) => !strict && f == g,
        };
    }
    if !a.is_ptr() || !b.is_ptr() {
        // Distinct immediates (symbols, keywords, builtins, `{}`, `()`).
        return false;
    }
    let (Some(ka), Some(kb)) = (heap.kind(a), heap.kind(b)) else {
        return false;
    };
    if ka != kb {
        return false;
    }
    match ka {
        ObjKind::Cons => {
            if heap.list_kind(a) != heap.list_kind(b) {
                return false;
            }
            match (heap.car_cdr(a), heap.car_cdr(b)) {
                (Some((ha, ta)), Some((hb, tb))) => {
                    stack.push((ta, tb));
                    stack.push((ha, hb));
                    true
                }
                _ => false,
            }
        }
        ObjKind::Str => heap.str(a) == heap.str(b),
        ObjKind::Error => match (heap.error_parts(a), heap.error_parts(b)) {
            (Some(x), Some(y)) => heap.str(x.message) == heap.str(y.message),
            _ => false,
        },
        ObjKind::Pid => heap.pid_id(a) == heap.pid_id(b),
        ObjKind::Ref => heap.ref_id(a) == heap.ref_id(b),
        ObjKind::Partial => match (heap.partial_parts(a), heap.partial_parts(b)) {
            (Some((fa, xa)), Some((fb, xb))) if xa.len() == xb.len() => {
                stack.push((fa, fb));
                stack.extend(xa.iter().copied().zip(xb.iter().copied()));
                true
            }
            _ => false,
        },
        ObjKind::Closure => match (heap.closure_parts(a), heap.closure_parts(b)) {
            (Some((ca, xa)), Some((cb, xb))) if ca == cb && xa.len() == xb.len() => {
                stack.extend(xa.iter().copied().zip(xb.iter().copied()));
                true
            }
            _ => false,
        },
        ObjKind::Box => match (heap.unbox(a), heap.unbox(b)) {
            (Some(x), Some(y)) => {
                stack.push((x, y));
                true
            }
            _ => false,
        },
        ObjKind::Foreign => heap.foreign_parts(a) == heap.foreign_parts(b),
        // Big integers were handled as numbers; opaque objects by identity.
        ObjKind::BigInt | ObjKind::Opaque => false,
    }
}

/// A hash consistent with [`equal`] on the values `eval` sees (lists of
/// numbers, strings, symbols, keywords and lists).
pub fn structural_hash(heap: &Heap, v: Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        if let Some((i, f)) = number(heap, v) {
            0u8.hash(&mut h);
            match i {
                Some(i) => i.hash(&mut h),
                None => f.to_bits().hash(&mut h),
            }
            continue;
        }
        if !v.is_ptr() {
            v.to_bits().hash(&mut h);
            continue;
        }
        match heap.kind(v) {
            Some(ObjKind::Cons) => {
                1u8.hash(&mut h);
                (heap.list_kind(v) == Some(valk_heap::ListKind::S)).hash(&mut h);
                if let Some((car, cdr)) = heap.car_cdr(v) {
                    stack.push(cdr);
                    stack.push(car);
                }
            }
            Some(ObjKind::Str) => {
                2u8.hash(&mut h);
                heap.str(v).hash(&mut h);
            }
            other => {
                3u8.hash(&mut h);
                (other.map(|k| k as u8)).hash(&mut h);
            }
        }
    }
    h.finish()
}
