//! Valk: an Erlang-style actor runtime hosting the Valkyria Lisp.
//!
//! This crate is the `valk` binary and the embedding facade: it re-exports the
//! runtime's crates and holds the command line (`cli`).
#![forbid(unsafe_code)]

pub use valk_heap as heap;
pub use valk_lang as lang;

pub mod cli;
