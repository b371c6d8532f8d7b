//! Values and memory for Valk: the one-word `Value`, per-actor heaps with
//! their collector, the shared immutable heap, and message copy.
//!
//! # The value contract
//!
//! A `Value` is a bare word, so the type system cannot tell a live pointer
//! from a stale one. Every pointer-tagged `Value` given to a read method
//! (or stored into an object) must address a live object:
//!
//! - a private pointer came from this heap (or a fragment it adopted) and the
//!   heap has not collected since it was read out of a root (collections
//!   rewrite the roots, nothing else);
//! - a shared pointer is kept alive by a count: a `SharedValue`, a global, a
//!   heap that owns it, or a message.
//!
//! Roots are precise: a collection only keeps and updates what the
//! [`Roots`] visitor hands it, once per slot. Immediates (numbers, `{}`,
//! `()`, symbols, keywords and builtins, which are indexes into the
//! language's table) need no heap at all.
//!
//! The `debug-checks` feature verifies the heap after every collection
//! (see `debug_checks.rs`); [`Heap::check_invariants`] runs the same checks
//! on demand.
#![deny(unsafe_op_in_unsafe_fn)]

mod chunk;
mod copy;
mod debug_checks;
pub mod fragment;
mod gc;
pub mod heap;
pub mod memory;
pub mod object;
mod read;
mod reaper;
pub mod roots;
pub mod shared;
pub mod stats;
pub mod symbol;
pub mod value;

#[cfg(all(test, valk_loom))]
mod loom_tests;

pub use chunk::trim_chunk_pool;
pub use fragment::Fragment;
pub use heap::{Heap, LARGE_STRING};
pub use object::{ErrorParts, ListKind, ObjKind, SourceLoc};
pub use roots::{Roots, RootsFn};
pub use shared::{shared_stats, SharedReader, SharedStats, SharedValue};
pub use stats::{GcStats, HeapError};
pub use symbol::{intern, symbol_name, try_intern, SymbolLimit};
pub use value::Value;

const _: () = assert!(core::mem::size_of::<Value>() == 8);

#[cfg(test)]
mod send_sync {
    use super::*;
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_cross_threads() {
        send::<Heap>();
        send::<Fragment>();
        send_sync::<SharedValue>();
        send_sync::<SharedReader>();
    }
}
