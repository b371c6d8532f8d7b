//! The marshalling layer under random input (the `ffi_marshal` fuzz target
//! in `fuzz/`, and a short deterministic run in the tests): random type
//! specs and random values go through `marshal::write`/`read` and through
//! real C calls of the test library's echo functions. Nothing may panic or
//! crash; a value accepted for a type must come back equal (floats through
//! `:f32` rounded to `f32`).

use std::ffi::c_void;

use valk_heap::{Heap, ListKind, Value};

use crate::marshal::{self, Keep, Slot};
use crate::raw::Cif;
use crate::types::CType;

/// Reads bytes as choices; zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| acc << 8 | u64::from(self.byte()))
    }
}

const SCALARS: [CType; 16] = [
    CType::Bool,
    CType::I8,
    CType::U8,
    CType::I16,
    CType::U16,
    CType::I32,
    CType::U32,
    CType::I64,
    CType::U64,
    CType::Isize,
    CType::Usize,
    CType::F32,
    CType::F64,
    CType::Ptr,
    CType::Str,
    CType::I32,
];

fn random_type(b: &mut Bytes<'_>, depth: usize) -> CType {
    let k = b.byte();
    if depth < 3 && k % 8 == 7 {
        let n = 1 + usize::from(b.byte() % 5);
        return CType::Struct((0..n).map(|_| random_type(b, depth + 1)).collect());
    }
    SCALARS[usize::from(k) % SCALARS.len()].clone()
}

fn random_value(b: &mut Bytes<'_>, heap: &mut Heap, depth: usize) -> Value {
    match b.byte() % 9 {
        0 => Value::small_int(i64::from(b.byte() as i8)).unwrap_or(Value::NIL),
        1 => marshal::int_value(heap, b.u64() as i64).unwrap_or(Value::NIL),
        2 => Value::float(f64::from_bits(b.u64())),
        3 => Value::float(f64::from(b.byte()) / 4.0),
        4 => {
            let n = usize::from(b.byte() % 12);
            let text: String = (0..n).map(|_| char::from(b.byte() % 128)).collect();
            heap.string(&text).unwrap_or(Value::NIL)
        }
        5 => Value::EMPTY_S,
        6 if depth < 3 => {
            let n = usize::from(b.byte() % 5);
            let items: Vec<Value> = (0..n).map(|_| random_value(b, heap, depth + 1)).collect();
            heap.list(&items, ListKind::Q).unwrap_or(Value::NIL)
        }
        7 => Value::keyword(valk_heap::intern("ptr")),
        _ => Value::small_int(i64::from(b.byte() % 2)).unwrap_or(Value::NIL),
    }
}

/// Does `back` equal `v` as passed through `t`?
fn same(heap: &Heap, t: &CType, v: Value, back: Value) -> bool {
    match t {
        CType::F32 => {
            let f = v.as_float().or_else(|| heap.as_int(v).map(|i| i as f64));
            match (f, back.as_float()) {
                (Some(f), Some(g)) => {
                    (f as f32).to_bits() == (g as f32).to_bits() || (f.is_nan() && g.is_nan())
                }
                _ => false,
            }
        }
        CType::F64 => {
            let f = v.as_float().or_else(|| heap.as_int(v).map(|i| i as f64));
            match (f, back.as_float()) {
                (Some(f), Some(g)) => f.to_bits() == g.to_bits() || (f.is_nan() && g.is_nan()),
                _ => false,
            }
        }
        // A pointer comes back as a pointer value; () is NULL.
        CType::Ptr => true,
        // () and {} both pass NULL, which reads back as ().
        CType::Str if v.is_nil() || v.is_empty_s() => back.is_empty_s(),
        CType::Struct(fields) => {
            let (Some(a), Some(b)) = (heap.list_to_vec(v), heap.list_to_vec(back)) else {
                return false;
            };
            a.len() == b.len()
                && fields
                    .iter()
                    .zip(a.iter().zip(&b))
                    .all(|(f, (x, y))| same(heap, f, *x, *y))
        }
        _ => valk_lang::equal::equal(heap, v, back),
    }
}

/// The test library's echo function for `t`, if it has one.
fn echo_symbol(t: &CType) -> Option<&'static str> {
    Some(match t {
        CType::U8 => "u8_echo",
        CType::U16 => "u16_echo",
        CType::I16 => "i16_echo",
        CType::U32 => "u32_echo",
        CType::U64 => "u64_echo",
        CType::Usize => "usize_echo",
        CType::Isize => "isize_echo",
        CType::Bool => "bool_not",
        CType::Struct(f) if *f == [CType::I32, CType::I32] => "point_swap",
        _ => return None,
    })
}

/// One fuzz input: a type, a value, a write/read round trip and, when the
/// test library at `lib` has an echo function for the type, a C call.
pub fn run(data: &[u8], lib: Option<&libloading::Library>) {
    let mut b = Bytes(data);
    let mut heap = Heap::new();
    let t = random_type(&mut b, 0);
    let v = random_value(&mut b, &mut heap, 0);
    let mut slot = Slot::for_type(&t);
    let mut keep = Keep::default();
    // SAFETY: the slot holds the type (at least 16 bytes, aligned).
    if unsafe { marshal::write(&heap, &t, v, slot.as_mut_ptr(), &mut keep) }.is_err() {
        return;
    }
    // SAFETY: the slot holds a value of type `t` just written (a `:string`
    // points into `keep`, still alive).
    let back =
        unsafe { marshal::read(&mut heap, &t, slot.as_ptr()) }.expect("a written value reads back");
    assert!(
        same(&heap, &t, v, back),
        "{t:?}: {} came back as {}",
        heap_repr(&heap, v),
        heap_repr(&heap, back)
    );
    let (Some(lib), Some(name)) = (lib, echo_symbol(&t)) else {
        return;
    };
    // SAFETY: looking up a symbol of the test library.
    let Ok(sym) = (unsafe { lib.get::<unsafe extern "C" fn()>(name.as_bytes()) }) else {
        return;
    };
    let code = *sym as *const c_void;
    let cif = Cif::new(vec![t.clone()], t.clone(), None).expect("an echo signature prepares");
    let mut ret = Slot::for_type(&t);
    let mut arg: *mut c_void = slot.as_mut_ptr().cast();
    // SAFETY: the echo function takes and returns `t` (the test library's
    // declarations); the argument slot holds a `t`; `ret` is ≥ 16 bytes.
    unsafe { cif.call(code, ret.as_mut_ptr().cast(), &mut arg) };
    // SAFETY: the function returned a `t`.
    let got = unsafe { crate::call::read_return(&mut heap, &t, &ret) }.expect("reads back");
    let ok = match &t {
        // point_swap: the fields come back swapped.
        CType::Struct(_) => match (heap.list_to_vec(back), heap.list_to_vec(got)) {
            (Some(a), Some(b)) => {
                valk_lang::equal::equal(&heap, a[0], b[1])
                    && valk_lang::equal::equal(&heap, a[1], b[0])
            }
            _ => false,
        },
        // bool_not.
        CType::Bool => heap
            .as_int(back)
            .zip(heap.as_int(got))
            .is_some_and(|(x, y)| x + y == 1),
        _ => valk_lang::equal::equal(&heap, back, got),
    };
    assert!(
        ok,
        "{name}: {} came back from C as {}",
        heap_repr(&heap, back),
        heap_repr(&heap, got)
    );
}

fn heap_repr(heap: &Heap, v: Value) -> String {
    valk_lang::printer::repr(heap, v)
}
