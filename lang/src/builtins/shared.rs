//! Values shared by reference between actors (LANGUAGE.md §9): boxes
//! (immutable, in the shared heap, sent without a copy, freed with their
//! last reference) and atoms (a cell updated by compare-and-swap).
//! `atom/swap!` is Valk (`prelude.valk`) over `atom/compare-and-set!`: `f`
//! is Valk code, which a builtin does not call.

use std::sync::Arc;

use valk_heap::{ObjKind, SharedValue, Value};
use valk_sync::atom_cell::AtomCell;

use super::{BuiltinCx, BuiltinDef, Failure};

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "box",
        1,
        1,
        "(box v): v made immutable and shared by reference between actors (sent without a copy; freed when the last reference goes).",
        make_box,
    ),
    BuiltinDef::new("unbox", 1, 1, "(unbox b): the value inside box b.", unbox),
    BuiltinDef::new(
        "atom",
        1,
        1,
        "(atom v): a cell shared by reference between actors, holding v; see atom/get, atom/reset!, atom/swap!.",
        make_atom,
    ),
    BuiltinDef::new("atom/get", 1, 1, "(atom/get a): the value in atom a now.", atom_get),
    BuiltinDef::new(
        "atom/reset!",
        2,
        2,
        "(atom/reset! a v): store v in atom a; returns v.",
        atom_reset,
    ),
    BuiltinDef::new(
        "atom/compare-and-set!",
        3,
        3,
        "(atom/compare-and-set! a old new): store new in atom a if it still holds old (the very value atom/get gave); 1 if it did, else 0.",
        atom_cas,
    ),
];

/// An atom: the cell (one `Arc` per stored value, swapped atomically).
struct Atom {
    cell: AtomCell<SharedValue>,
}

/// Is `v` an atom (for `type` and printing)?
pub(crate) fn is_atom(heap: &valk_heap::Heap, v: Value) -> bool {
    v.is_ptr()
        && heap
            .opaque(v)
            .is_some_and(|o| o.downcast_ref::<Atom>().is_some())
}

fn make_box(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    Ok(cx.heap.make_box(args[0])?)
}

fn unbox(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let b = args[0];
    if b.is_ptr() && cx.heap.kind(b) == Some(ObjKind::Box) {
        if let Some(v) = cx.heap.unbox(b) {
            return Ok(v);
        }
    }
    Err(cx.arg_error(0, "box", b))
}

fn atom_of<'a>(cx: &'a BuiltinCx<'_>, args: &[Value]) -> Result<&'a Atom, Failure> {
    cx.opaque_arg::<Atom>(args, 0, "atom")
}

fn make_atom(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let v = cx.heap.try_to_shared(args[0])?;
    let atom = SharedValue::opaque(Arc::new(Atom {
        cell: AtomCell::new(Arc::new(v)),
    }));
    // The heap keeps its own count; `atom` gives its up when it drops.
    let a = atom.value();
    cx.heap.keep_shared(a);
    Ok(a)
}

fn atom_get(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let v = atom_of(cx, args)?.cell.load().value();
    // A later reset may drop the atom's count: this heap takes its own.
    cx.heap.keep_shared(v);
    Ok(v)
}

fn atom_reset(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let v = cx.heap.try_to_shared(args[1])?;
    atom_of(cx, args)?.cell.store(Arc::new(v));
    Ok(args[1])
}

fn atom_cas(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let new = Arc::new(cx.heap.try_to_shared(args[2])?);
    let atom = atom_of(cx, args)?;
    let current = atom.cell.load();
    // The same value: the very shared object atom/get gave, or an equal
    // immediate. The current `Arc` is held, so that object cannot be
    // freed and reused meanwhile (no ABA).
    let swapped = current.value() == args[1] && atom.cell.compare_and_swap(&current, new).is_ok();
    Ok(Value::small_int(i64::from(swapped)).unwrap_or(Value::NIL))
}
