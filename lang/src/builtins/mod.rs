//! The builtin table: every builtin is registered here, once, with its name,
//! arity and doc (the steel model). A builtin value is the immediate
//! `Value::builtin(index)` where `index` is its position in [`table`].
//!
//! Writing a builtin (for the files owned by other helpers, too):
//!
//! ```ignore
//! use super::{BuiltinDef, Cx, Failure, VARIADIC};
//! pub(crate) const BUILTINS: &[BuiltinDef] = &[
//!     BuiltinDef::new("string/upper", 1, 1, "Upper-case a string.", upper),
//! ];
//! fn upper(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
//!     let s = cx.str_arg(args, 0)?.to_uppercase();
//!     cx.string(&s)
//! }
//! ```
//!
//! Arguments arrive evaluated, never an Error (the interpreter returns the
//! first Error argument before calling, except for the exempt builtins that
//! set `takes_errors`), and already checked against `min_args..=max_args`.
//! A builtin that fails returns `Err(cx.error(..))`/`Err(cx.arg_error(..))`;
//! the interpreter turns the message into an Error value carrying the call's
//! location. Allocation never collects, so values held in Rust locals stay
//! valid for the whole builtin call.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use valk_heap::{Heap, HeapError, ObjKind, Value};

use crate::globals::Globals;
use crate::printer;

mod arith;
mod compare;
mod control;
mod core;
pub(crate) mod io;
mod list;
pub(crate) mod string;
pub(crate) mod system;

/// `max_args` of a variadic builtin.
pub const VARIADIC: usize = usize::MAX;

/// A builtin written in Rust.
pub type BuiltinFn = fn(&mut Cx<'_>, &[Value]) -> Result<Value, Failure>;

/// What a builtin does.
#[derive(Clone, Copy)]
pub enum Imp {
    /// An ordinary function of its (evaluated) arguments.
    Fn(BuiltinFn),
    /// A builtin the interpreter runs itself because it evaluates code or
    /// calls functions (`eval`, `if`, `try`, ...): the interpreter keeps all
    /// Valk frames in the actor's memory, so such builtins cannot be plain
    /// Rust functions that recurse into the evaluator.
    Special(Special),
}

/// The interpreter-run builtins.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Special {
    Eval,
    If,
    Lambda,
    Macro,
    /// `=`
    Local,
    Let,
    Do,
    Select,
    Case,
    Match,
    Try,
    Repeat,
    Fun,
    Penv,
    Receive,
}

/// One registered builtin.
#[derive(Clone, Copy)]
pub struct BuiltinDef {
    pub name: &'static str,
    pub min_args: usize,
    /// [`VARIADIC`] for no upper bound.
    pub max_args: usize,
    pub doc: &'static str,
    pub imp: Imp,
    /// Receives Error arguments instead of being skipped (`error?`, `type`, ...).
    pub takes_errors: bool,
}

impl BuiltinDef {
    /// An ordinary builtin.
    pub const fn new(
        name: &'static str,
        min_args: usize,
        max_args: usize,
        doc: &'static str,
        f: BuiltinFn,
    ) -> BuiltinDef {
        BuiltinDef {
            name,
            min_args,
            max_args,
            doc,
            imp: Imp::Fn(f),
            takes_errors: false,
        }
    }

    /// A builtin that is given Error arguments as they are.
    pub const fn taking_errors(mut self) -> BuiltinDef {
        self.takes_errors = true;
        self
    }

    pub(crate) const fn special(
        name: &'static str,
        min_args: usize,
        max_args: usize,
        doc: &'static str,
        s: Special,
    ) -> BuiltinDef {
        BuiltinDef {
            name,
            min_args,
            max_args,
            doc,
            imp: Imp::Special(s),
            takes_errors: false,
        }
    }
}

/// Why a builtin failed.
#[derive(Debug)]
pub enum Failure {
    /// An error message; the interpreter makes an Error value of it with the
    /// location of the call.
    Message(String),
    /// An existing Error value to return as it is.
    Value(Value),
    /// The actor's heap is over its limit: the actor stops.
    Heap(HeapError),
    /// No message yet: returned only by `receive`'s queue scan, for which
    /// the `Receive` instruction parks the actor and runs again on wake-up
    /// (`timeout` in ms). From a builtin call it becomes an error.
    Wait { timeout: Option<u64> },
}

impl From<HeapError> for Failure {
    fn from(e: HeapError) -> Failure {
        Failure::Heap(e)
    }
}

/// The full table, core builtins first. Indices are stable for the life of
/// the process (they are baked into code as `Value::builtin(i)`).
pub fn table() -> &'static [BuiltinDef] {
    static TABLE: OnceLock<Vec<BuiltinDef>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::new();
        for part in [
            arith::BUILTINS,
            compare::BUILTINS,
            list::BUILTINS,
            control::BUILTINS,
            core::BUILTINS,
            string::BUILTINS,
            io::BUILTINS,
            system::BUILTINS,
            crate::actor::builtins::BUILTINS,
        ] {
            t.extend_from_slice(part);
        }
        t
    })
}

/// The index of the builtin called `name`.
pub fn index_of(name: &str) -> Option<u32> {
    table()
        .iter()
        .position(|b| b.name == name)
        .map(|i| i as u32)
}

/// The definition behind a builtin value's index.
pub fn def(index: u32) -> Option<&'static BuiltinDef> {
    table().get(index as usize)
}

/// What a builtin sees of the actor that calls it.
pub struct Cx<'a> {
    /// The actor's heap (allocation never collects).
    pub heap: &'a mut Heap,
    /// The runtime's globals (shared by every actor).
    pub globals: &'a Arc<Globals>,
    /// Where `print` and friends write.
    pub out: &'a mut dyn Write,
    /// The builtin being run (for error messages).
    pub(crate) name: &'static str,
    /// Set by `exit`/`shutdown` style builtins: the interpreter stops with it.
    pub exit_request: Option<i32>,
    /// The calling actor's link to the scheduler and its received messages.
    pub(crate) actor: &'a mut crate::actor::Local,
}

impl<'a> Cx<'a> {
    /// The name of the builtin being run.
    pub fn builtin_name(&self) -> &'static str {
        self.name
    }

    /// A failure whose message is prefixed by the builtin's name:
    /// "`+`: division by zero" style messages read `cx.error("division by zero")`.
    pub fn error(&self, msg: impl Into<String>) -> Failure {
        Failure::Message(msg.into())
    }

    /// "`NAME`: argument N: expected WHAT, got TYPE" (N counts from 1).
    pub fn arg_error(&self, index: usize, expected: &str, got: Value) -> Failure {
        Failure::Message(format!(
            "`{}`: argument {}: expected {}, got {}",
            self.name,
            index + 1,
            expected,
            self.type_name(got)
        ))
    }

    /// The type name of a value as `type` spells it (without the colon).
    pub fn type_name(&self, v: Value) -> &'static str {
        printer::type_name(self.heap, v)
    }

    /// The re-readable form of a value.
    pub fn repr(&self, v: Value) -> String {
        printer::repr(self.heap, v)
    }

    /// The display form (strings raw).
    pub fn display(&self, v: Value) -> String {
        printer::display(self.heap, v)
    }

    /// Argument `i` as an integer.
    pub fn int_arg(&self, args: &[Value], i: usize) -> Result<i64, Failure> {
        let v = args[i];
        if let Some(n) = v.as_small_int() {
            return Ok(n);
        }
        self.heap
            .as_int(v)
            .ok_or_else(|| self.arg_error(i, "integer", v))
    }

    /// Argument `i` as a number (integers widen to floats).
    pub fn float_arg(&self, args: &[Value], i: usize) -> Result<f64, Failure> {
        let v = args[i];
        if let Some(f) = v.as_float() {
            return Ok(f);
        }
        match self.heap.as_int(v) {
            Some(n) => Ok(n as f64),
            None => Err(self.arg_error(i, "number", v)),
        }
    }

    /// Argument `i` as a string.
    pub fn str_arg<'s>(&'s self, args: &[Value], i: usize) -> Result<&'s str, Failure> {
        let v = args[i];
        self.heap
            .str(v)
            .ok_or_else(|| self.arg_error(i, "string", v))
    }

    /// Argument `i` as the items of a list (Q or S).
    pub fn list_arg(&self, args: &[Value], i: usize) -> Result<Vec<Value>, Failure> {
        let v = args[i];
        if self.heap.list_kind(v).is_some() {
            if let Some(items) = self.heap.list_to_vec(v) {
                return Ok(items);
            }
        }
        Err(self.arg_error(i, "list", v))
    }

    /// A new string value.
    pub fn string(&mut self, s: &str) -> Result<Value, Failure> {
        Ok(self.heap.string(s)?)
    }

    /// A new integer value.
    pub fn int(&mut self, n: i64) -> Result<Value, Failure> {
        match Value::small_int(n) {
            Some(v) => Ok(v),
            None => Ok(self.heap.int(n)?),
        }
    }

    /// A new Q-expression.
    pub fn qlist(&mut self, items: &[Value]) -> Result<Value, Failure> {
        Ok(self.heap.list(items, valk_heap::ListKind::Q)?)
    }

    /// Is this value an Error?
    pub fn is_error(&self, v: Value) -> bool {
        v.is_ptr() && self.heap.kind(v) == Some(ObjKind::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_are_unique_and_arities_sane() {
        let t = table();
        for (i, b) in t.iter().enumerate() {
            assert!(b.min_args <= b.max_args, "{}", b.name);
            assert!(!b.doc.is_empty(), "{} has no doc", b.name);
            assert_eq!(
                index_of(b.name),
                Some(i as u32),
                "duplicate builtin {}",
                b.name
            );
        }
        assert!(index_of("+").is_some() && index_of("eval").is_some());
    }
}
