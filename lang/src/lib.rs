//! The Valk language: reader, printer, compiler to Valk IR, the IR
//! interpreter, builtins and the embedded prelude.
//!
//! # Public API (for the CLI and embedders)
//!
//! ```
//! use valk_lang::Interp;
//! let mut it = Interp::new();                    // fresh runtime + prelude
//! let v = it.eval_source("(def {x} 20) (+ x 22)", "demo.valk").unwrap();
//! assert_eq!(it.repr(v), "42");
//! let v = it.eval_repl_line("+ 1 2").unwrap();    // several forms = one S-expr
//! assert_eq!(it.repr(v), "3");
//! let e = it.eval_source("(+ 1 \"a\")", "bad.valk").unwrap_err();
//! assert_eq!(e.to_string(), "bad.valk:1:1: error: `+`: argument 2: expected number, got string");
//! ```
//!
//! - [`Interp::eval_source`]: a file, form by form; the first top-level
//!   error stops it (`ValkError`, `Display` = `file:line:col: error: msg`).
//! - [`Interp::eval_repl_line`]: a REPL line; `ValkError::is_incomplete`
//!   tells the REPL to read another line.
//! - [`Interp::repr`] / [`Interp::display`]: printing.
//! - [`Interp::set_args`]: `*args*` for `valk run FILE ARGS`.
//! - [`Interp::set_output`]: where `print` writes.
//!
//! # Hosting (for the actor layer and embedders)
//!
//! The core knows no scheduler. Whatever runs an interpreter implements
//! [`Host`] (budget, charging, the `receive` mailbox) and installs it with
//! [`Interp::with_host`]. [`Interp::start_call`] (or a compiled form) then
//! [`Interp::run`]`(budget)` returns [`RunOutcome`]: `Done`/`Error`
//! (finished), `OutOfBudget` (call `run` again later), `WaitingForMessage`
//! (parked in `receive`; no native frames held), `Exit`, `Fatal`. Actors of
//! one runtime share [`Globals`] ([`Interp::with_globals`]), which bind the
//! runtime's [`BuiltinSet`].
// Only `interp::host_slot` (one pointer to the running host), `code`
// (the registry's freeable slots) and `tier` (native entries) use unsafe.
#![deny(unsafe_code)]

pub mod builtins;
#[allow(unsafe_code)]
pub mod code;
pub mod compiler;
pub mod equal;
mod error;
pub mod globals;
pub mod host;
mod interp;
pub mod ir;
pub mod ir_dump;
pub mod lint;
pub mod prelude;
pub mod printer;
pub mod reader;
pub mod reclaim;
pub mod syntax;
#[allow(unsafe_code)]
pub mod tier;

#[cfg(all(test, valk_loom))]
mod loom_tests;

pub use builtins::{BuiltinCx, BuiltinDef, BuiltinFn, BuiltinSet, Failure, HostFn};
pub use error::{ErrorKind, TraceEntry, ValkError};
pub use globals::Globals;
pub use host::{Host, Next, NoHost};
pub use interp::{Interp, RunOutcome, DEFAULT_BUDGET, DEFAULT_MAX_FRAMES, DEFAULT_MAX_REGS};
pub use valk_heap::Value;
