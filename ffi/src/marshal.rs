//! Valk values to C memory and back, by [`CType`]: range-checked numbers,
//! NUL-terminated string copies, pointers, structs as lists of fields.
//! The one place values cross into C's representation (arguments, return
//! values, `c-read`/`c-write`, callback arguments and results).

use std::ffi::{CStr, CString};

use valk_heap::{Heap, ListKind, Value};

use crate::memory;
use crate::types::{layout, CType};

/// C strings made for one call, kept alive until it returns.
#[derive(Default)]
pub struct Keep {
    pub strings: Vec<CString>,
}

/// `v` checked against `t` and written at `dst`.
///
/// # Safety
/// `dst` must be valid for writes of `t.size()` bytes and aligned to
/// `t.align()`.
pub unsafe fn write(
    heap: &Heap,
    t: &CType,
    v: Value,
    dst: *mut u8,
    keep: &mut Keep,
) -> Result<(), String> {
    let type_name = || valk_lang::printer::type_name(heap, v);
    match t {
        CType::Void => Err(":void has no values".into()),
        CType::F32 | CType::F64 => {
            let f = match (v.as_float(), heap.as_int(v)) {
                (Some(f), _) => f,
                (None, Some(i)) => i as f64,
                _ => {
                    return Err(format!(
                        "expected number for {}, got {}",
                        t.describe(),
                        type_name()
                    ))
                }
            };
            if *t == CType::F32 {
                if f.is_finite() && f.abs() > f64::from(f32::MAX) {
                    return Err(format!("{f:e} is out of range for :f32"));
                }
                // SAFETY: the caller's contract (4 bytes, aligned).
                unsafe { dst.cast::<f32>().write(f as f32) };
            } else {
                // SAFETY: the caller's contract (8 bytes, aligned).
                unsafe { dst.cast::<f64>().write(f) };
            }
            Ok(())
        }
        CType::Bool => match heap.as_int(v) {
            Some(i @ (0 | 1)) => {
                // SAFETY: the caller's contract (1 byte).
                unsafe { dst.write(i as u8) };
                Ok(())
            }
            Some(i) => Err(format!("{i} is out of range for :bool (0 or 1)")),
            None => Err(format!("expected 0 or 1 for :bool, got {}", type_name())),
        },
        CType::Ptr => {
            let addr = memory::address_of(heap, v)?;
            // SAFETY: the caller's contract (a pointer's size and alignment).
            unsafe { dst.cast::<usize>().write(addr) };
            Ok(())
        }
        CType::Str => {
            let p = if v.is_nil() || v.is_empty_s() {
                std::ptr::null()
            } else {
                let Some(s) = heap.str(v) else {
                    return Err(format!("expected string for :string, got {}", type_name()));
                };
                let c = CString::new(s)
                    .map_err(|_| "a string passed as :string contains a NUL byte".to_owned())?;
                let p = c.as_ptr();
                keep.strings.push(c);
                p
            };
            // SAFETY: the caller's contract (a pointer's size and alignment).
            unsafe { dst.cast::<*const std::ffi::c_char>().write(p) };
            Ok(())
        }
        CType::Struct(fields) => {
            let items = heap.list_to_vec(v).ok_or_else(|| {
                format!("expected a list for {}, got {}", t.describe(), type_name())
            })?;
            if items.len() != fields.len() {
                return Err(format!(
                    "{} has {} fields, got a list of {}",
                    t.describe(),
                    fields.len(),
                    items.len()
                ));
            }
            let (offsets, _) = layout(fields);
            // Padding is zeroed: C may compare structs bytewise.
            // SAFETY: the caller's contract covers the whole struct.
            unsafe { std::ptr::write_bytes(dst, 0, t.size()) };
            for ((f, item), off) in fields.iter().zip(&items).zip(offsets) {
                // SAFETY: the field lies inside the struct at its C offset,
                // which is aligned for it because the struct is.
                unsafe { write(heap, f, *item, dst.add(off), keep)? };
            }
            Ok(())
        }
        int_type => {
            let Some(i) = heap.as_int(v) else {
                return Err(format!(
                    "expected integer for {}, got {}",
                    t.describe(),
                    type_name()
                ));
            };
            let (lo, hi) = int_type.int_range().unwrap_or((0, 0));
            if i128::from(i) < lo || i128::from(i) > hi {
                return Err(format!("{i} is out of range for {}", t.describe()));
            }
            // SAFETY: (every arm) the caller's contract: `dst` holds the
            // type's size and alignment; the value fits (checked above).
            unsafe {
                match int_type.size() {
                    1 => dst.write(i as u8),
                    2 => dst.cast::<u16>().write(i as u16),
                    4 => dst.cast::<u32>().write(i as u32),
                    _ => dst.cast::<u64>().write(i as u64),
                }
            }
            Ok(())
        }
    }
}

/// A Valk integer (boxed when it does not fit inline).
pub fn int_value(heap: &mut Heap, i: i64) -> Result<Value, String> {
    match Value::small_int(i) {
        Some(v) => Ok(v),
        None => heap.int(i).map_err(|e| e.to_string()),
    }
}

/// The value of type `t` at `src`, in `heap`. A `:u64` above the largest
/// Valk integer reads as its 64-bit two's complement (integers wrap at 64
/// bits); a NULL `:string` is `()`.
///
/// # Safety
/// `src` must be valid for reads of `t.size()` bytes, aligned to
/// `t.align()`, holding a value of that type (a `:string` pointer must be
/// NULL or point to a NUL-terminated string).
pub unsafe fn read(heap: &mut Heap, t: &CType, src: *const u8) -> Result<Value, String> {
    // SAFETY: (every read below) the caller's contract.
    unsafe {
        Ok(match t {
            CType::Void => Value::EMPTY_S,
            CType::Bool => Value::bool(src.read() != 0),
            CType::I8 => Value::small_int(i64::from(src.cast::<i8>().read())).unwrap_or(Value::NIL),
            CType::U8 => Value::small_int(i64::from(src.read())).unwrap_or(Value::NIL),
            CType::I16 => int_value(heap, i64::from(src.cast::<i16>().read()))?,
            CType::U16 => int_value(heap, i64::from(src.cast::<u16>().read()))?,
            CType::I32 => int_value(heap, i64::from(src.cast::<i32>().read()))?,
            CType::U32 => int_value(heap, i64::from(src.cast::<u32>().read()))?,
            CType::I64 => int_value(heap, src.cast::<i64>().read())?,
            CType::U64 => int_value(heap, src.cast::<u64>().read() as i64)?,
            CType::Isize => int_value(heap, src.cast::<isize>().read() as i64)?,
            CType::Usize => int_value(heap, src.cast::<usize>().read() as i64)?,
            CType::F32 => Value::float(f64::from(src.cast::<f32>().read())),
            CType::F64 => Value::float(src.cast::<f64>().read()),
            CType::Ptr => memory::foreign_pointer(heap, src.cast::<usize>().read())?,
            CType::Str => {
                let p = src.cast::<*const std::ffi::c_char>().read();
                if p.is_null() {
                    Value::EMPTY_S
                } else {
                    let text = CStr::from_ptr(p).to_string_lossy();
                    heap.string(&text).map_err(|e| e.to_string())?
                }
            }
            CType::Struct(fields) => {
                let (offsets, _) = layout(fields);
                let mut items = Vec::with_capacity(fields.len());
                for (f, off) in fields.iter().zip(offsets) {
                    items.push(read(heap, f, src.add(off))?);
                }
                heap.list(&items, ListKind::Q).map_err(|e| e.to_string())?
            }
        })
    }
}

/// Storage for one value of a type, aligned to 16 (covers every C type
/// here), with room for libffi's widened integer returns: inline for up to
/// 32 bytes (every scalar, small structs), on the heap beyond.
pub enum Slot {
    Inline([u128; 2]),
    Heap(Vec<u128>),
}

impl Slot {
    pub fn for_type(t: &CType) -> Slot {
        let bytes = t.size().max(16);
        if bytes <= 32 {
            Slot::Inline([0; 2])
        } else {
            Slot::Heap(vec![0; bytes.div_ceil(16)])
        }
    }

    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            Slot::Inline(a) => a.as_mut_ptr().cast(),
            Slot::Heap(v) => v.as_mut_ptr().cast(),
        }
    }

    pub fn as_ptr(&self) -> *const u8 {
        match self {
            Slot::Inline(a) => a.as_ptr().cast(),
            Slot::Heap(v) => v.as_ptr().cast(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(t: &CType, v: Value, heap: &mut Heap) -> Result<Value, String> {
        let mut slot = Slot::for_type(t);
        let mut keep = Keep::default();
        // SAFETY: the slot holds the type's size, aligned to 16.
        unsafe {
            write(heap, t, v, slot.as_mut_ptr(), &mut keep)?;
            read(heap, t, slot.as_ptr())
        }
    }

    #[test]
    fn integers_are_range_checked() {
        let mut heap = Heap::new();
        let v = Value::small_int(300).unwrap();
        assert!(round_trip(&CType::U8, v, &mut heap)
            .unwrap_err()
            .contains("out of range"));
        assert_eq!(
            round_trip(&CType::I16, v, &mut heap)
                .unwrap()
                .as_small_int(),
            Some(300)
        );
        let neg = Value::small_int(-1).unwrap();
        assert!(round_trip(&CType::U32, neg, &mut heap).is_err());
        assert_eq!(
            round_trip(&CType::I8, neg, &mut heap)
                .unwrap()
                .as_small_int(),
            Some(-1)
        );
    }

    #[test]
    fn structs_round_trip_with_their_layout() {
        let mut heap = Heap::new();
        let t = CType::Struct(vec![CType::I8, CType::F64, CType::I32]);
        let items = [
            Value::small_int(-3).unwrap(),
            Value::float(2.5),
            Value::small_int(70000).unwrap(),
        ];
        let v = heap.list(&items, ListKind::Q).unwrap();
        let back = round_trip(&t, v, &mut heap).unwrap();
        assert!(valk_lang::equal::equal(&heap, v, back));
        let short = heap.list(&items[..2], ListKind::Q).unwrap();
        assert!(round_trip(&t, short, &mut heap)
            .unwrap_err()
            .contains("3 fields"));
    }

    #[test]
    fn strings_go_in_as_copies_and_null_is_unit() {
        let mut heap = Heap::new();
        let s = heap.string("héllo").unwrap();
        let back = round_trip(&CType::Str, s, &mut heap).unwrap();
        assert_eq!(heap.str(back), Some("héllo"));
        assert!(round_trip(&CType::Str, Value::EMPTY_S, &mut heap)
            .unwrap()
            .is_empty_s());
        let nul = heap.string("a\0b").unwrap();
        assert!(round_trip(&CType::Str, nul, &mut heap)
            .unwrap_err()
            .contains("NUL"));
    }
}
