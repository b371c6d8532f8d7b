//! Reading objects. One implementation, exposed as methods on `Heap` (any
//! value of that heap, its adopted fragments, or the shared heap) and on
//! `SharedReader` (shared values and immediates only) by `read_methods!`.
//!
//! Every function here relies on the *value contract* (see the crate docs):
//! a pointer-tagged `Value` handed to the heap addresses a live object, i.e.
//! it was produced by this crate and its owner has not collected or been
//! dropped since (shared objects: someone holds a count).

use crate::object::{self, flag, ErrorParts, ListKind, ObjKind};
use crate::value::Value;
use std::any::Any;
use std::sync::Arc;

/// The header of the object `v` points to.
#[inline]
fn header(v: Value) -> Option<(*mut u64, u64)> {
    let p = v.ptr()?;
    // SAFETY: value contract: `p` addresses a live object header.
    Some((p, unsafe { *p }))
}

/// The object `v` points to, if it has kind `k`.
#[inline]
fn expect(v: Value, k: ObjKind) -> Option<(*mut u64, u64)> {
    let (p, h) = header(v)?;
    (object::header_kind(h) == Some(k)).then_some((p, h))
}

/// Payload word `i` (`i` < payload size, checked by the callers' layouts).
#[inline]
fn word(p: *mut u64, i: usize) -> u64 {
    // SAFETY: value contract, and every caller reads within its kind's
    // fixed payload layout (object.rs).
    unsafe { *p.add(1 + i) }
}

/// `n` payload words from `from` as values.
#[inline]
fn values<'a>(p: *mut u64, from: usize, n: usize) -> &'a [Value] {
    // SAFETY: value contract; `Value` is `repr(transparent)` over `u64`;
    // the words lie inside the object (callers pass `from + n <= size`),
    // and nothing mutates a closure/partial payload after construction
    // except the collector, which needs `&mut Heap` (so no `&self` borrow
    // that produced this slice is alive then).
    unsafe { core::slice::from_raw_parts(p.add(1 + from) as *const Value, n) }
}

#[inline]
pub(crate) fn kind(v: Value) -> Option<ObjKind> {
    object::header_kind(header(v)?.1)
}

#[inline]
pub(crate) fn as_int(v: Value) -> Option<i64> {
    if let Some(i) = v.as_small_int() {
        return Some(i);
    }
    let (p, _) = expect(v, ObjKind::BigInt)?;
    Some(word(p, 0) as i64)
}

#[inline]
pub(crate) fn list_kind(v: Value) -> Option<ListKind> {
    if v.is_nil() {
        return Some(ListKind::Q);
    }
    if v.is_empty_s() {
        return Some(ListKind::S);
    }
    let (_, h) = expect(v, ObjKind::Cons)?;
    Some(if h & flag::S_LIST != 0 {
        ListKind::S
    } else {
        ListKind::Q
    })
}

#[inline]
pub(crate) fn car_cdr(v: Value) -> Option<(Value, Value)> {
    let (p, _) = expect(v, ObjKind::Cons)?;
    Some((Value::from_bits(word(p, 0)), Value::from_bits(word(p, 1))))
}

#[inline]
pub(crate) fn str<'a>(v: Value) -> Option<&'a str> {
    let (p, _) = expect(v, ObjKind::Str)?;
    let len = word(p, 0) as usize;
    // SAFETY: value contract; a string object holds `len` bytes of valid
    // UTF-8 right after its length word (written from a `&str`), and string
    // objects are never mutated.
    unsafe {
        let bytes = core::slice::from_raw_parts(p.add(2) as *const u8, len);
        Some(core::str::from_utf8_unchecked(bytes))
    }
}

#[inline]
fn head_and_rest<'a>(v: Value, k: ObjKind) -> Option<(Value, &'a [Value])> {
    let (p, h) = expect(v, k)?;
    let n = object::payload_words(h);
    Some((Value::from_bits(word(p, 0)), values(p, 1, n - 1)))
}

#[inline]
pub(crate) fn closure_parts<'a>(v: Value) -> Option<(Value, &'a [Value])> {
    head_and_rest(v, ObjKind::Closure)
}

#[inline]
pub(crate) fn partial_parts<'a>(v: Value) -> Option<(Value, &'a [Value])> {
    head_and_rest(v, ObjKind::Partial)
}

pub(crate) fn error_parts(v: Value) -> Option<ErrorParts> {
    let (p, h) = expect(v, ObjKind::Error)?;
    Some(ErrorParts {
        message: Value::from_bits(word(p, 0)),
        payload: (h & flag::HAS_PAYLOAD != 0).then(|| Value::from_bits(word(p, 1))),
        loc: (h & flag::HAS_LOC != 0).then(|| object::decode_loc(word(p, 2), word(p, 3))),
    })
}

pub(crate) fn pid_id(v: Value) -> Option<u64> {
    expect(v, ObjKind::Pid).map(|(p, _)| word(p, 0))
}

pub(crate) fn ref_id(v: Value) -> Option<u64> {
    expect(v, ObjKind::Ref).map(|(p, _)| word(p, 0))
}

pub(crate) fn foreign_parts(v: Value) -> Option<(usize, Value)> {
    let (p, _) = expect(v, ObjKind::Foreign)?;
    Some((word(p, 1) as usize, Value::from_bits(word(p, 0))))
}

pub(crate) fn unbox(v: Value) -> Option<Value> {
    expect(v, ObjKind::Box).map(|(p, _)| Value::from_bits(word(p, 0)))
}

pub(crate) fn opaque<'a>(v: Value) -> Option<&'a Arc<dyn Any + Send + Sync>> {
    opaque_flagged(v, 0)
}

pub(crate) fn opaque_alt<'a>(v: Value) -> Option<&'a Arc<dyn Any + Send + Sync>> {
    opaque_flagged(v, object::flag::ALT)
}

fn opaque_flagged<'a>(v: Value, alt: u64) -> Option<&'a Arc<dyn Any + Send + Sync>> {
    let (p, h) = expect(v, ObjKind::Opaque)?;
    if h & object::flag::ALT != alt {
        return None;
    }
    // SAFETY: value contract; an Opaque object's payload holds an
    // initialised `Arc<dyn Any + Send + Sync>` (written by
    // `SharedValue::opaque`, dropped only when the object is freed).
    Some(unsafe { &*(p.add(1) as *const Arc<dyn Any + Send + Sync>) })
}

pub(crate) fn list_to_vec(mut v: Value) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    loop {
        if v.is_nil() || v.is_empty_s() {
            return Some(out);
        }
        let (car, cdr) = car_cdr(v)?;
        out.push(car);
        v = cdr;
    }
}

/// Accept any value (a heap reads its own pointers and shared ones).
#[inline]
pub(crate) fn any(_: Value) -> Option<()> {
    Some(())
}

/// Accept immediates and shared pointers only.
#[inline]
pub(crate) fn not_local(v: Value) -> Option<()> {
    (!v.is_local()).then_some(())
}

/// The read methods, generated for `Heap` and `SharedReader`. `$accept`
/// filters which values the reader may dereference.
macro_rules! read_methods {
    ($accept:path) => {
        /// The kind of object `v` points to (`None` for immediates).
        #[inline]
        pub fn kind(&self, v: Value) -> Option<ObjKind> {
            $accept(v)?;
            $crate::read::kind(v)
        }
        /// An integer, inline or boxed.
        #[inline]
        pub fn as_int(&self, v: Value) -> Option<i64> {
            $accept(v)?;
            $crate::read::as_int(v)
        }
        /// The list kind of a cons cell, `{}` (Q) or `()` (S).
        #[inline]
        pub fn list_kind(&self, v: Value) -> Option<ListKind> {
            $accept(v)?;
            $crate::read::list_kind(v)
        }
        /// Head and tail of a cons cell.
        #[inline]
        pub fn car_cdr(&self, v: Value) -> Option<(Value, Value)> {
            $accept(v)?;
            $crate::read::car_cdr(v)
        }
        /// The text of a string.
        #[inline]
        pub fn str(&self, v: Value) -> Option<&str> {
            $accept(v)?;
            $crate::read::str(v)
        }
        /// `(code, captures)` of a closure.
        #[inline]
        pub fn closure_parts(&self, v: Value) -> Option<(Value, &[Value])> {
            $accept(v)?;
            $crate::read::closure_parts(v)
        }
        /// `(function, bound arguments)` of a partial application.
        #[inline]
        pub fn partial_parts(&self, v: Value) -> Option<(Value, &[Value])> {
            $accept(v)?;
            $crate::read::partial_parts(v)
        }
        /// Message, location and payload of an error.
        pub fn error_parts(&self, v: Value) -> Option<ErrorParts> {
            $accept(v)?;
            $crate::read::error_parts(v)
        }
        /// The id of a pid object.
        pub fn pid_id(&self, v: Value) -> Option<u64> {
            $accept(v)?;
            $crate::read::pid_id(v)
        }
        /// The id of a ref object.
        pub fn ref_id(&self, v: Value) -> Option<u64> {
            $accept(v)?;
            $crate::read::ref_id(v)
        }
        /// `(address, type tag)` of a foreign pointer.
        pub fn foreign_parts(&self, v: Value) -> Option<(usize, Value)> {
            $accept(v)?;
            $crate::read::foreign_parts(v)
        }
        /// The value inside a box.
        pub fn unbox(&self, v: Value) -> Option<Value> {
            $accept(v)?;
            $crate::read::unbox(v)
        }
        /// The Rust object inside an opaque (code objects, futures...).
        pub fn opaque(&self, v: Value) -> Option<&Arc<dyn Any + Send + Sync>> {
            $accept(v)?;
            $crate::read::opaque(v)
        }
        /// The Rust object behind an alternate handle
        /// ([`SharedValue::opaque_alt`](crate::SharedValue::opaque_alt)).
        pub fn opaque_alt(&self, v: Value) -> Option<&Arc<dyn Any + Send + Sync>> {
            $accept(v)?;
            $crate::read::opaque_alt(v)
        }
        /// The elements of a proper list (ending in `{}` or `()`).
        pub fn list_to_vec(&self, v: Value) -> Option<Vec<Value>> {
            $accept(v)?;
            $crate::read::list_to_vec(v)
        }
    };
}
pub(crate) use read_methods;
