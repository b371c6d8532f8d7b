//! `Value`: one 64-bit word, NaN-boxed.
//!
//! Every bit pattern whose top 16 bits are below `0xFFF9` is an IEEE double
//! (NaNs are canonicalised to `0x7FF8_0000_0000_0000` on the way in, so no
//! double ever lands in the tagged range). The seven patterns `0xFFF9..=0xFFFF`
//! in the top 16 bits are tags; the low 48 bits are the payload:
//!
//! | top 16 bits | meaning | payload |
//! |---|---|---|
//! | `0xFFF9` | small integer | 48-bit two's complement |
//! | `0xFFFA` | special constant | [`Special`] |
//! | `0xFFFB` | symbol | interned id ([`crate::symbol`]) |
//! | `0xFFFC` | keyword | interned id |
//! | `0xFFFD` | builtin function | index into the language's builtin table |
//! | `0xFFFE` | pointer into the owning actor's private heap | address |
//! | `0xFFFF` | pointer into the shared heap | address |
//!
//! Integers outside the 48-bit range are boxed (`ObjKind::BigInt`); the
//! language sees one integer type either way (`Heap::int` builds one,
//! `Heap::as_int` reads both forms).
//!
//! Builtin functions are immediates (an index into the language's builtin
//! table), not heap objects: they need no allocation and are never copied.

use core::fmt;

/// One Valk value. Copy is a bit copy: a `Value` that points into a private
/// heap is only meaningful while that heap is alive and has not collected
/// since the value was read out of a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Value(u64);

const _: () = assert!(core::mem::size_of::<Value>() == 8);
const _: () = assert!(core::mem::size_of::<Option<Value>>() == 16);

const TAG_SHIFT: u32 = 48;
const PAYLOAD_MASK: u64 = (1 << TAG_SHIFT) - 1;
const CANONICAL_NAN: u64 = 0x7FF8_0000_0000_0000;

/// The tag of a non-float value (top 16 bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u16)]
pub enum Tag {
    Int = 0xFFF9,
    Special = 0xFFFA,
    Symbol = 0xFFFB,
    Keyword = 0xFFFC,
    Builtin = 0xFFFD,
    Local = 0xFFFE,
    Shared = 0xFFFF,
}

/// The special constants.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Special {
    /// The empty Q-expression `{}` (also `nil`).
    EmptyQ = 0,
    /// The empty S-expression `()` (the unit value `def` returns).
    EmptyS = 1,
}

/// Smallest integer stored inline.
pub const SMALL_INT_MIN: i64 = -(1 << 47);
/// Largest integer stored inline.
pub const SMALL_INT_MAX: i64 = (1 << 47) - 1;
/// Largest symbol/keyword/builtin id.
pub const MAX_IMMEDIATE_ID: u64 = PAYLOAD_MASK;

impl Value {
    /// `{}`: the empty Q-expression, Valk's `nil`.
    pub const NIL: Value = Value::tagged(Tag::Special, Special::EmptyQ as u64);
    /// `()`: the empty S-expression.
    pub const EMPTY_S: Value = Value::tagged(Tag::Special, Special::EmptyS as u64);
    /// The integer 1 (`true`).
    pub const TRUE: Value = Value::tagged(Tag::Int, 1);
    /// The integer 0 (`false`).
    pub const FALSE: Value = Value::tagged(Tag::Int, 0);

    const fn tagged(tag: Tag, payload: u64) -> Value {
        Value(((tag as u64) << TAG_SHIFT) | (payload & PAYLOAD_MASK))
    }

    /// The raw bits (for hashing, debugging and the JIT).
    #[inline]
    pub const fn to_bits(self) -> u64 {
        self.0
    }

    /// Rebuild a value from bits made by [`Value::to_bits`].
    ///
    /// Safe to call with any bits: a pointer value built this way is only
    /// dereferenced by heap code that checks it belongs to a live heap
    /// (debug-checks) or trusts the caller's bits came from `to_bits`.
    #[inline]
    pub const fn from_bits(bits: u64) -> Value {
        Value(bits)
    }

    /// A double. NaNs are canonicalised.
    #[inline]
    pub fn float(f: f64) -> Value {
        if f.is_nan() {
            Value(CANONICAL_NAN)
        } else {
            Value(f.to_bits())
        }
    }

    /// An inline integer, or `None` if `i` needs boxing (see `Heap::int`).
    #[inline]
    pub const fn small_int(i: i64) -> Option<Value> {
        if i >= SMALL_INT_MIN && i <= SMALL_INT_MAX {
            Some(Value::tagged(Tag::Int, i as u64))
        } else {
            None
        }
    }

    /// A boolean as Valk spells it: 1 or 0.
    #[inline]
    pub const fn bool(b: bool) -> Value {
        if b {
            Value::TRUE
        } else {
            Value::FALSE
        }
    }

    /// A symbol from an interned id.
    #[inline]
    pub const fn symbol(id: u32) -> Value {
        Value::tagged(Tag::Symbol, id as u64)
    }

    /// A keyword from an interned id.
    #[inline]
    pub const fn keyword(id: u32) -> Value {
        Value::tagged(Tag::Keyword, id as u64)
    }

    /// A builtin function by its index in the language's builtin table.
    #[inline]
    pub const fn builtin(index: u32) -> Value {
        Value::tagged(Tag::Builtin, index as u64)
    }

    /// A pointer into a private heap. Used by the heap crate only.
    #[inline]
    pub(crate) fn local_ptr(addr: *const u64) -> Value {
        debug_assert!((addr as u64) & !PAYLOAD_MASK == 0 && (addr as u64) & 7 == 0);
        Value::tagged(Tag::Local, addr as u64)
    }

    /// A pointer into the shared heap. Used by the heap crate only.
    #[inline]
    pub(crate) fn shared_ptr(addr: *const u64) -> Value {
        debug_assert!((addr as u64) & !PAYLOAD_MASK == 0 && (addr as u64) & 7 == 0);
        Value::tagged(Tag::Shared, addr as u64)
    }

    /// The tag, or `None` for a double.
    #[inline]
    pub const fn tag(self) -> Option<Tag> {
        match (self.0 >> TAG_SHIFT) as u16 {
            0xFFF9 => Some(Tag::Int),
            0xFFFA => Some(Tag::Special),
            0xFFFB => Some(Tag::Symbol),
            0xFFFC => Some(Tag::Keyword),
            0xFFFD => Some(Tag::Builtin),
            0xFFFE => Some(Tag::Local),
            0xFFFF => Some(Tag::Shared),
            _ => None,
        }
    }

    #[inline]
    const fn has_tag(self, tag: Tag) -> bool {
        (self.0 >> TAG_SHIFT) as u16 == tag as u16
    }

    #[inline]
    const fn payload(self) -> u64 {
        self.0 & PAYLOAD_MASK
    }

    /// Is this a double?
    #[inline]
    pub const fn is_float(self) -> bool {
        self.0 < ((Tag::Int as u64) << TAG_SHIFT)
    }

    /// The double, if this is one.
    #[inline]
    pub fn as_float(self) -> Option<f64> {
        if self.is_float() {
            Some(f64::from_bits(self.0))
        } else {
            None
        }
    }

    /// Is this an inline integer? (Boxed integers are objects: use
    /// [`Value::as_int`], which reads both.)
    #[inline]
    pub const fn is_small_int(self) -> bool {
        self.has_tag(Tag::Int)
    }

    /// The inline integer, if this is one.
    #[inline]
    pub const fn as_small_int(self) -> Option<i64> {
        if self.is_small_int() {
            // Sign-extend the 48-bit payload.
            Some(((self.0 << 16) as i64) >> 16)
        } else {
            None
        }
    }

    /// Is this `{}`?
    #[inline]
    pub const fn is_nil(self) -> bool {
        self.0 == Value::NIL.0
    }

    /// Is this `()`?
    #[inline]
    pub const fn is_empty_s(self) -> bool {
        self.0 == Value::EMPTY_S.0
    }

    /// The symbol id, if this is a symbol.
    #[inline]
    pub const fn as_symbol(self) -> Option<u32> {
        if self.has_tag(Tag::Symbol) {
            Some(self.payload() as u32)
        } else {
            None
        }
    }

    /// The keyword id, if this is a keyword.
    #[inline]
    pub const fn as_keyword(self) -> Option<u32> {
        if self.has_tag(Tag::Keyword) {
            Some(self.payload() as u32)
        } else {
            None
        }
    }

    /// The builtin index, if this is a builtin.
    #[inline]
    pub const fn as_builtin(self) -> Option<u32> {
        if self.has_tag(Tag::Builtin) {
            Some(self.payload() as u32)
        } else {
            None
        }
    }

    /// Does this point to an object (private or shared)?
    #[inline]
    pub const fn is_ptr(self) -> bool {
        self.0 >= Value::FIRST_PTR_BITS
    }

    /// The bits of the lowest pointer: every value at or above them points
    /// to an object, none below does (for code that tests bits, the JIT).
    pub const FIRST_PTR_BITS: u64 = (Tag::Local as u64) << TAG_SHIFT;

    /// Does this point into a private heap?
    #[inline]
    pub const fn is_local(self) -> bool {
        self.has_tag(Tag::Local)
    }

    /// Does this point into the shared heap?
    #[inline]
    pub const fn is_shared(self) -> bool {
        self.has_tag(Tag::Shared)
    }

    /// The object address, if this is a pointer.
    #[inline]
    pub(crate) fn ptr(self) -> Option<*mut u64> {
        if self.is_ptr() {
            Some(self.payload() as *mut u64)
        } else {
            None
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(x) = self.as_float() {
            return write!(f, "Float({x:?})");
        }
        match self.tag() {
            Some(Tag::Int) => write!(f, "Int({})", self.as_small_int().unwrap_or(0)),
            Some(Tag::Special) if self.is_nil() => write!(f, "Nil"),
            Some(Tag::Special) => write!(f, "EmptyS"),
            Some(Tag::Symbol) => write!(f, "Symbol({})", self.payload()),
            Some(Tag::Keyword) => write!(f, "Keyword({})", self.payload()),
            Some(Tag::Builtin) => write!(f, "Builtin({})", self.payload()),
            Some(Tag::Local) => write!(f, "Local({:#x})", self.payload()),
            Some(Tag::Shared) => write!(f, "Shared({:#x})", self.payload()),
            None => unreachable!("non-float without tag"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ints_round_trip_at_the_edges() {
        for i in [0, 1, -1, SMALL_INT_MIN, SMALL_INT_MAX, 12345, -98765] {
            assert_eq!(Value::small_int(i).and_then(Value::as_small_int), Some(i));
        }
        assert!(Value::small_int(SMALL_INT_MAX + 1).is_none());
        assert!(Value::small_int(SMALL_INT_MIN - 1).is_none());
        assert!(Value::small_int(i64::MIN).is_none());
    }

    #[test]
    fn floats_stay_floats_and_nan_is_canonical() {
        for f in [
            0.0,
            -0.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN,
            5e-324,
        ] {
            let v = Value::float(f);
            assert!(v.is_float());
            assert_eq!(v.as_float().unwrap().to_bits(), f.to_bits());
        }
        let weird_nan = f64::from_bits(0xFFFF_0000_0000_0001);
        assert!(weird_nan.is_nan());
        let v = Value::float(weird_nan);
        assert!(v.is_float() && v.as_float().unwrap().is_nan());
        assert_eq!(v.tag(), None);
    }

    #[test]
    fn immediates_are_told_apart() {
        assert!(Value::NIL.is_nil() && !Value::NIL.is_empty_s());
        assert_ne!(Value::NIL, Value::EMPTY_S);
        assert_eq!(Value::symbol(7).as_symbol(), Some(7));
        assert_eq!(Value::symbol(7).as_keyword(), None);
        assert_eq!(Value::keyword(7).as_keyword(), Some(7));
        assert_eq!(Value::builtin(3).as_builtin(), Some(3));
        assert!(!Value::TRUE.is_ptr() && !Value::float(1.0).is_ptr());
        assert_eq!(Value::bool(true).as_small_int(), Some(1));
    }
}
