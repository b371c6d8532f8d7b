//! Object layout: one header word followed by the payload words.
//!
//! ```text
//! header: | size in payload words (48 bits) | flags (8 bits) | kind (8 bits) |
//! ```
//!
//! A `Value` pointer addresses the header word. Shared objects have one more
//! word *before* the header: their atomic reference count (see `shared.rs`).
//!
//! The first `traced_words(header)` payload words of every object are
//! `Value`s; the rest are raw data (string bytes, ids, addresses). The
//! collector and the copiers only look at the traced prefix, so each kind puts
//! its values first.
//!
//! | kind | payload |
//! |---|---|
//! | Cons | car, cdr (flag `S_LIST` for S-expressions) |
//! | Str | byte length, UTF-8 bytes padded to words |
//! | BigInt | the i64 |
//! | Closure | code, captures... |
//! | Partial | function, bound arguments... |
//! | Error | message, payload (`NIL` unless `HAS_PAYLOAD`), file, line<<32 \| col (`HAS_LOC`) |
//! | Pid, Ref | the u64 id |
//! | Box | the boxed (shared) value |
//! | Foreign | type tag value, address |
//! | Opaque | an `Arc<dyn Any + Send + Sync>` (two words; shared heap only) |
//!
//! During a collection or a copy a moved object's header is overwritten by a
//! forwarding header: kind byte `0xFF`, the new address in the upper bits.

use crate::value::Value;

/// Which list syntax a cons cell (or an empty list) belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ListKind {
    /// `{...}`: data, not evaluated.
    Q,
    /// `(...)`: evaluated.
    S,
}

/// The kinds of heap objects.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum ObjKind {
    Cons = 0,
    Str = 1,
    BigInt = 2,
    Closure = 3,
    Partial = 4,
    Error = 5,
    Pid = 6,
    Ref = 7,
    Box = 8,
    Foreign = 9,
    Opaque = 10,
}

impl ObjKind {
    /// Decode a kind byte; `None` for a forwarding header or garbage.
    #[inline]
    pub(crate) fn from_byte(b: u8) -> Option<ObjKind> {
        Some(match b {
            0 => ObjKind::Cons,
            1 => ObjKind::Str,
            2 => ObjKind::BigInt,
            3 => ObjKind::Closure,
            4 => ObjKind::Partial,
            5 => ObjKind::Error,
            6 => ObjKind::Pid,
            7 => ObjKind::Ref,
            8 => ObjKind::Box,
            9 => ObjKind::Foreign,
            10 => ObjKind::Opaque,
            _ => return None,
        })
    }
}

/// A source position: interned file name, 1-based line and column.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SourceLoc {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

/// The parts of an error object.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ErrorParts {
    pub message: Value,
    pub loc: Option<SourceLoc>,
    pub payload: Option<Value>,
}

/// Header flag bits (bits 8..16).
pub(crate) mod flag {
    /// A cons cell of an S-expression (absent: Q-expression).
    pub const S_LIST: u64 = 1 << 8;
    /// Lives in the nursery (or an adopted, not yet collected fragment).
    pub const YOUNG: u64 = 1 << 9;
    /// An old object already in the remembered set.
    pub const REMEMBERED: u64 = 1 << 10;
    /// Error object: the location words are meaningful.
    pub const HAS_LOC: u64 = 1 << 11;
    /// Error object: the payload word is meaningful.
    pub const HAS_PAYLOAD: u64 = 1 << 12;
    /// Opaque object: the second handle kind on its Rust object (a
    /// future's resolver shares the future's cell), told apart by this
    /// bit instead of a wrapper type (`SharedValue::opaque_alt`).
    pub const ALT: u64 = 1 << 13;
    /// Flags that describe where an object lives, not what it is: dropped
    /// when an object is copied somewhere else.
    pub const SPACE: u64 = YOUNG | REMEMBERED;
}

const KIND_MASK: u64 = 0xFF;
const FORWARD_KIND: u64 = 0xFF;
const SIZE_SHIFT: u32 = 16;
const FLAGS_MASK: u64 = 0xFF00;

/// Largest payload a header can describe.
pub(crate) const MAX_PAYLOAD_WORDS: usize = (1 << 48) - 1;

/// Build a header.
#[inline]
pub(crate) const fn header(kind: ObjKind, flags: u64, payload_words: usize) -> u64 {
    ((payload_words as u64) << SIZE_SHIFT) | (flags & FLAGS_MASK) | kind as u64
}

/// The kind of a (non-forwarding) header.
#[inline]
pub(crate) fn header_kind(h: u64) -> Option<ObjKind> {
    ObjKind::from_byte((h & KIND_MASK) as u8)
}

/// Payload size in words.
#[inline]
pub(crate) const fn payload_words(h: u64) -> usize {
    (h >> SIZE_SHIFT) as usize
}

/// Header plus payload, in words.
#[inline]
pub(crate) const fn object_words(h: u64) -> usize {
    payload_words(h) + 1
}

/// Is this header a forwarding pointer left by a copy?
#[inline]
pub(crate) const fn is_forwarded(h: u64) -> bool {
    h & KIND_MASK == FORWARD_KIND
}

/// A forwarding header to `to`.
#[inline]
pub(crate) fn forwarding(to: *const u64) -> u64 {
    ((to as u64) << 8) | FORWARD_KIND
}

/// Where a forwarding header points.
#[inline]
pub(crate) fn forward_target(h: u64) -> *mut u64 {
    (h >> 8) as usize as *mut u64
}

/// How many leading payload words are `Value`s.
#[inline]
pub(crate) fn traced_words(h: u64) -> usize {
    match (h & KIND_MASK) as u8 {
        0 => 2,                    // Cons: car, cdr
        3 | 4 => payload_words(h), // Closure, Partial: all values
        5 => 2,                    // Error: message, payload
        8 | 9 => 1,                // Box: value; Foreign: type tag
        _ => 0,                    // Str, BigInt, Pid, Ref, Opaque, forwarded
    }
}

/// Payload words of a string of `len` bytes (length word + bytes).
#[inline]
pub(crate) const fn str_payload_words(len: usize) -> usize {
    1 + len.div_ceil(8)
}

/// Error location words.
#[inline]
pub(crate) fn encode_loc(loc: SourceLoc) -> (u64, u64) {
    (loc.file as u64, ((loc.line as u64) << 32) | loc.col as u64)
}

#[inline]
pub(crate) fn decode_loc(file: u64, line_col: u64) -> SourceLoc {
    SourceLoc {
        file: file as u32,
        line: (line_col >> 32) as u32,
        col: line_col as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_round_trip() {
        let h = header(ObjKind::Closure, flag::YOUNG | flag::S_LIST, 12345);
        assert_eq!(header_kind(h), Some(ObjKind::Closure));
        assert_eq!(payload_words(h), 12345);
        assert_eq!(h & flag::YOUNG, flag::YOUNG);
        assert!(!is_forwarded(h));
        assert_eq!(traced_words(h), 12345);
    }

    #[test]
    fn forwarding_round_trips_user_space_addresses() {
        let addr = 0x7fff_ffff_fff8usize as *const u64;
        let h = forwarding(addr);
        assert!(is_forwarded(h));
        assert_eq!(header_kind(h), None);
        assert_eq!(forward_target(h) as usize, addr as usize);
        assert_eq!(traced_words(h), 0);
    }

    #[test]
    fn locations_round_trip() {
        let loc = SourceLoc {
            file: 7,
            line: u32::MAX,
            col: 3,
        };
        let (a, b) = encode_loc(loc);
        assert_eq!(decode_loc(a, b), loc);
    }
}
