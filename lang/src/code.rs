//! The process-wide code registry: every compiled [`Proto`] gets a stable
//! index. A closure's `code` word is that index as a small integer (negative
//! for macros: `-(index + 1)`), so closures copy between heaps and into the
//! shared heap as plain data and any actor can run them.
//!
//! Two lifetimes:
//!
//! - **Permanent** protos (functions, and everything a closure may name)
//!   live as long as the process: a closure's code word is plain data that
//!   may sit in any heap, so no owner can tell when the last one goes.
//! - **Transient** protos are the top-level chunks `eval` compiles for a
//!   list that makes no closure ([`Proto::makes_closures`]): only the frames
//!   and the `eval` cache of the interpreter that compiled them can name
//!   them, so that interpreter frees them ([`free_transient`]) once none of
//!   its frames runs them (`Interp::sweep_transient`). A loop through `eval`
//!   over a million distinct lists so runs in constant code memory; a freed
//!   index is reused.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use valk_heap::symbol::symbol_name;
use valk_heap::Value;

use crate::ir::Proto;

/// Lock-free to read: every call of a closure looks its proto up here,
/// from any worker thread, so actors need no local copy. A slot is null
/// while free.
static REGISTRY: boxcar::Vec<AtomicPtr<Proto>> = boxcar::Vec::new();

/// Slots freed by [`free_transient`], reused by the next registration.
static FREE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Protos registered and not freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Register a proto; returns its index.
pub fn register(p: Proto) -> u32 {
    let ptr = Box::into_raw(Box::new(p));
    LIVE.fetch_add(1, Ordering::Relaxed);
    let reused = FREE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    if let Some(index) = reused {
        if let Some(slot) = REGISTRY.get(index as usize) {
            slot.store(ptr, Ordering::Release);
            return index;
        }
    }
    let index = REGISTRY.push(AtomicPtr::new(ptr));
    u32::try_from(index).expect("more than 2^32 compiled functions")
}

/// The proto at `index`.
#[inline]
pub fn get(index: u32) -> Option<&'static Proto> {
    let ptr = REGISTRY.get(index as usize)?.load(Ordering::Acquire);
    // SAFETY: a non-null slot holds a `Box<Proto>` leaked by `register`.
    // Permanent protos are never freed. A transient one is freed only by
    // `free_transient`, whose caller (the one interpreter that can name
    // it) guarantees that nothing holds or will look up its index again,
    // so a reference handed out here is never used after that free.
    unsafe { ptr.as_ref() }
}

/// Frees transient proto `index` (compiled by `eval`, see the module note)
/// and lets a later registration reuse its slot.
///
/// The caller must own the index: it was registered for a chunk with no
/// closures, and no frame runs it, no cache names it and nothing else has
/// been given it. Freeing any other proto is a use-after-free.
pub(crate) fn free_transient(index: u32) {
    let Some(slot) = REGISTRY.get(index as usize) else {
        return;
    };
    let ptr = slot.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `Box::into_raw` in `register` and was just
    // taken out of its slot (the swap), so it is freed once; by the
    // contract above no reference to it is in use.
    drop(unsafe { Box::from_raw(ptr) });
    LIVE.fetch_sub(1, Ordering::Relaxed);
    FREE.lock().unwrap_or_else(|e| e.into_inner()).push(index);
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

/// How many protos are registered and not freed.
pub fn count() -> usize {
    LIVE.load(Ordering::Relaxed)
}
