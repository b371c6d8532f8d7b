//! The builtin registry: every builtin is registered with its name, arity
//! and doc (the steel model). A builtin value is the immediate
//! `Value::builtin(index)` where `index` is its position in the process-wide
//! registry ([`def`]). Each layer (this core, the actor layer, `net`, `ffi`,
//! an embedding host) registers its builtins into a [`BuiltinSet`] when a
//! runtime is built; the runtime's [`Globals`] bind exactly that set. The
//! core knows no other layer: it only defines the registry.
//!
//! Writing a builtin (for the files owned by other helpers, too):
//!
//! ```ignore
//! use super::{BuiltinDef, BuiltinCx, Failure, VARIADIC};
//! pub(crate) static BUILTINS: &[BuiltinDef] = &[
//!     BuiltinDef::new("string/upper", 1, 1, "Upper-case a string.", upper),
//! ];
//! fn upper(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
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
//!
//! A builtin whose work grows with its input reports that work to
//! `cx.meter` (elements, bytes; see [`fair`]): it is charged in reductions
//! in proportion, and a long one yields to the scheduler every slice's
//! worth of work and resumes in place. The metered helpers
//! ([`BuiltinCx::list_arg`], [`BuiltinCx::list_of`], [`BuiltinCx::qlist`],
//! [`BuiltinCx::string`]) charge for themselves.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, OnceLock, RwLock};

use valk_heap::{Heap, HeapError, ObjKind, Value};

use crate::globals::Globals;
use crate::printer;

mod arith;
mod compare;
mod control;
mod core;
pub mod fair;
mod format;
pub mod help;
pub(crate) mod io;
mod list;
pub(crate) mod shared;
pub(crate) mod string;
pub mod system;
mod testing;

/// `max_args` of a variadic builtin.
pub const VARIADIC: usize = usize::MAX;

/// A builtin written in Rust.
pub type BuiltinFn = fn(&mut BuiltinCx<'_>, &[Value]) -> Result<Value, Failure>;

/// A builtin that is a closure (a host function registered at run time).
pub type HostFn = dyn Fn(&mut BuiltinCx<'_>, &[Value]) -> Result<Value, Failure> + Send + Sync;

/// What a builtin does.
#[derive(Clone, Copy)]
pub enum Imp {
    /// An ordinary function of its (evaluated) arguments.
    Fn(BuiltinFn),
    /// A closure registered at run time (lives for the rest of the process).
    Host(&'static HostFn),
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
    /// `(async {body})`: `body` as a closure, handed to `future/-async`.
    Async,
    /// `(reset {body})`: run body in a frame that delimits `shift`.
    Reset,
    /// `(shift {k} {body})`: capture up to the nearest `reset`.
    Shift,
    /// `(reset/-resume token v)`: what a continuation `k` calls.
    Resume,
    /// `(load/-source text path)`: run a file's forms as one top-level
    /// chunk, with their own locations.
    LoadSource,
    /// `(await f [ms])`: `(future/-await f)` or `(future/-await-ms f ms)`,
    /// chosen by the argument count at compile time (no rest list).
    Await,
    /// `(error/-at-caller msg)`: an Error located at the innermost call
    /// site in the user's code (not the prelude helper that raised it).
    ErrorAtCaller,
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
}

impl From<HeapError> for Failure {
    fn from(e: HeapError) -> Failure {
        Failure::Heap(e)
    }
}

/// The core language's builtins, in registration order (their indices are
/// the first ones of the process, so they are the same in every runtime).
static CORE: &[&[BuiltinDef]] = &[
    arith::BUILTINS,
    compare::BUILTINS,
    list::BUILTINS,
    control::BUILTINS,
    core::BUILTINS,
    string::BUILTINS,
    io::BUILTINS,
    system::BUILTINS,
    shared::BUILTINS,
    help::BUILTINS,
    testing::BUILTINS,
];

/// The process-wide registry: definitions by index (append-only, lock-free
/// reads: every builtin call looks its definition up here).
static DEFS: boxcar::Vec<BuiltinDef> = boxcar::Vec::new();

/// Registration state: the first index of each static layer registered
/// (by address, so a layer is added once however many runtimes use it) and
/// the first index per name (for the compiler's inline forms).
struct Index {
    layers: Vec<(usize, u32)>,
    names: HashMap<&'static str, u32>,
}

fn index() -> &'static RwLock<Index> {
    static INDEX: OnceLock<RwLock<Index>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let index = RwLock::new(Index {
            layers: Vec::new(),
            names: HashMap::new(),
        });
        {
            let mut ix = index.write().unwrap_or_else(|e| e.into_inner());
            for layer in CORE {
                register_layer(&mut ix, layer);
            }
        }
        index
    })
}

fn push_def(ix: &mut Index, d: BuiltinDef) -> u32 {
    let i = DEFS.push(d) as u32;
    ix.names.entry(d.name).or_insert(i);
    i
}

fn register_layer(ix: &mut Index, layer: &'static [BuiltinDef]) -> u32 {
    let key = layer.as_ptr() as usize;
    if let Some(&(_, first)) = ix.layers.iter().find(|(k, _)| *k == key) {
        return first;
    }
    let first = DEFS.count() as u32;
    for d in layer {
        push_def(ix, *d);
    }
    ix.layers.push((key, first));
    first
}

/// The builtins one runtime binds as globals: the core's, then each layer's
/// in the order added (a later builtin of the same name wins the global).
#[derive(Clone, Debug, Default)]
pub struct BuiltinSet {
    indices: Vec<u32>,
}

impl BuiltinSet {
    /// The core language (LANGUAGE.md §1-6): no actors, no I/O beyond
    /// printing and files.
    pub fn core() -> BuiltinSet {
        let mut set = BuiltinSet::default();
        for layer in CORE {
            set.add_layer(layer);
        }
        set
    }

    /// Adds a layer of builtins (registered once per process, recognised by
    /// its address: declare it as a `static`, not a `const`, which would
    /// make a new copy at each use).
    pub fn add_layer(&mut self, layer: &'static [BuiltinDef]) {
        let first = {
            let mut ix = index().write().unwrap_or_else(|e| e.into_inner());
            register_layer(&mut ix, layer)
        };
        self.indices
            .extend((0..layer.len() as u32).map(|i| first + i));
    }

    /// Registers a closure as a builtin (for embedding hosts); its index.
    /// The definition lives for the rest of the process.
    pub fn add_fn(
        &mut self,
        name: &str,
        min_args: usize,
        max_args: usize,
        doc: &str,
        f: Box<HostFn>,
    ) -> u32 {
        let i = register_fn(name, min_args, max_args, doc, f);
        self.indices.push(i);
        i
    }

    /// The registry indices of this set, in binding order.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// The definitions of this set, in binding order.
    pub fn defs(&self) -> impl Iterator<Item = &'static BuiltinDef> + '_ {
        self.indices.iter().filter_map(|&i| def(i))
    }
}

/// Registers a closure builtin process-wide; its index (bind it in a
/// runtime's globals with [`Globals::bind_builtin`]).
pub fn register_fn(name: &str, min_args: usize, max_args: usize, doc: &str, f: Box<HostFn>) -> u32 {
    let d = BuiltinDef {
        name: Box::leak(name.to_owned().into_boxed_str()),
        min_args,
        max_args: max_args.max(min_args),
        doc: Box::leak(doc.to_owned().into_boxed_str()),
        imp: Imp::Host(Box::leak(f)),
        takes_errors: false,
    };
    let mut ix = index().write().unwrap_or_else(|e| e.into_inner());
    push_def(&mut ix, d)
}

/// The index of the first builtin registered as `name` (the compiler
/// inlines forms by it, behind a guard that the runtime binds it).
pub fn index_of(name: &str) -> Option<u32> {
    index()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .names
        .get(name)
        .copied()
}

/// The definition behind a builtin value's index.
#[inline]
pub fn def(index: u32) -> Option<&'static BuiltinDef> {
    // Indices only exist once the registry is (a runtime's globals or the
    // compiler made it), so no initialisation check on this hot path.
    DEFS.get(index as usize)
}

/// The index of the core builtin that is special form `s`.
pub fn special_index(s: Special) -> Option<u32> {
    let n = CORE.iter().map(|l| l.len()).sum::<usize>() as u32;
    let _ = index();
    (0..n).find(|&i| matches!(def(i).map(|d| d.imp), Some(Imp::Special(x)) if x == s))
}

/// Builtins registered so far in the process.
pub fn registered() -> usize {
    let _ = index();
    DEFS.count()
}

/// What a builtin sees of the actor that calls it.
pub struct BuiltinCx<'a> {
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
    /// The work this call has done, charged in reductions; holds the host
    /// (the scheduler, an embedder, none) it yields to.
    pub meter: fair::Meter<'a>,
}

impl<'a> BuiltinCx<'a> {
    /// The interpreter's host (the actor layer downcasts it with
    /// [`Host::as_any`](crate::Host::as_any)).
    pub fn host(&mut self) -> &mut dyn crate::Host {
        self.meter.host.get()
    }

    /// Runs the Rust future `fut` to completion through the host's
    /// [`Host::await_future`](crate::Host::await_future): in an actor, the
    /// actor parks until the future's waker wakes it (the scheduler runs
    /// other actors meanwhile); elsewhere, this thread blocks. The one way
    /// for a builtin of any layer (C calls, sockets) to wait on the world.
    pub fn await_future<F>(&mut self, fut: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        let mut out = None;
        {
            let mut unit = std::pin::pin!(async {
                out = Some(fut.await);
            });
            self.host().await_future(unit.as_mut());
        }
        // A host returns only once the future is done (an actor killed
        // meanwhile never returns: its stack is unwound).
        out.expect("Host::await_future returned before the future finished")
    }

    /// Runs `job` through the host's [`Host::blocking`](crate::Host::blocking)
    /// (off the scheduler threads when in an actor) and gives its result;
    /// an error if the job panicked.
    pub fn blocking<T: Send + 'static>(
        &mut self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Failure> {
        let slot = Arc::new(valk_sync::Mutex::new(None));
        let out = slot.clone();
        self.host().blocking(Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            *out.lock() = r.ok();
        }));
        let taken = slot.lock().take();
        taken.ok_or_else(|| self.error(format!("`{}`: the blocking call panicked", self.name)))
    }

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

    /// Argument `i` as the Rust object of type `T` inside an opaque shared
    /// value (an atom, a future...), or the argument error naming `what`.
    pub fn opaque_arg<T: std::any::Any>(
        &self,
        args: &[Value],
        i: usize,
        what: &str,
    ) -> Result<&T, Failure> {
        let v = args[i];
        v.is_ptr()
            .then(|| self.heap.opaque(v))
            .flatten()
            .and_then(|o| o.downcast_ref::<T>())
            .ok_or_else(|| self.arg_error(i, what, v))
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

    /// Appends the display form of `v` (`quote`: the re-readable form) to
    /// `out`, charging the meter for it; an error past
    /// [`printer::MAX_TEXT`] or when memory runs out (never an abort).
    pub fn append_value(&mut self, out: &mut String, v: Value, quote: bool) -> Result<(), Failure> {
        let before = out.len();
        let done = self.append_value_unmetered(out, v, quote);
        self.meter.bytes(out.len() - before);
        done
    }

    /// [`BuiltinCx::append_value`] without the meter's charge (for callers
    /// holding borrows of the heap; they charge what they made).
    pub fn append_value_unmetered(
        &self,
        out: &mut String,
        v: Value,
        quote: bool,
    ) -> Result<(), Failure> {
        let done = match self.heap.str(v) {
            Some(text) if !quote => printer::try_push(out, text, printer::MAX_TEXT),
            _ => printer::try_write_value(self.heap, v, quote, out, printer::MAX_TEXT),
        };
        done.map_err(|_| self.text_too_long())
    }

    /// Appends `text` to `out` within [`printer::MAX_TEXT`].
    pub fn append_text(&mut self, out: &mut String, text: &str) -> Result<(), Failure> {
        printer::try_push(out, text, printer::MAX_TEXT).map_err(|_| self.text_too_long())
    }

    /// The error for a text past [`printer::MAX_TEXT`] (or memory refused).
    pub fn text_too_long(&self) -> Failure {
        self.error(format!(
            "`{}`: the text would pass {} bytes (or memory ran out)",
            self.builtin_name(),
            printer::MAX_TEXT
        ))
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

    /// Argument `i` as the items of a list (Q or S); charged per element.
    pub fn list_arg(&mut self, args: &[Value], i: usize) -> Result<Vec<Value>, Failure> {
        let v = args[i];
        match fair::walk_list(self.heap, &mut self.meter, v) {
            Some(items) => Ok(items),
            None => Err(self.arg_error(i, "list", v)),
        }
    }

    /// A new list of kind `kind` of `items`; charged per element.
    pub fn list_of(
        &mut self,
        items: &[Value],
        kind: valk_heap::ListKind,
    ) -> Result<Value, Failure> {
        fair::build_list(self.heap, &mut self.meter, items, kind, fair::empty(kind))
    }

    /// A new string value; charged per byte.
    pub fn string(&mut self, s: &str) -> Result<Value, Failure> {
        self.meter.bytes(s.len());
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
        self.list_of(items, valk_heap::ListKind::Q)
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
        let set = BuiltinSet::core();
        for (&i, b) in set.indices().iter().zip(set.defs()) {
            assert!(b.min_args <= b.max_args, "{}", b.name);
            assert!(!b.doc.is_empty(), "{} has no doc", b.name);
            assert_eq!(index_of(b.name), Some(i), "duplicate builtin {}", b.name);
        }
        assert!(index_of("+").is_some() && index_of("eval").is_some());
        assert!(
            index_of("spawn").is_none(),
            "the core has no actor builtins"
        );
    }

    #[test]
    fn layers_register_once_and_closures_get_fresh_indices() {
        static LAYER: &[BuiltinDef] = &[BuiltinDef::new(
            "test/layer-fn",
            0,
            0,
            "A test builtin.",
            |_, _| Ok(Value::NIL),
        )];
        let mut a = BuiltinSet::core();
        a.add_layer(LAYER);
        let mut b = BuiltinSet::core();
        b.add_layer(LAYER);
        assert_eq!(a.indices(), b.indices(), "a layer is registered once");
        let f = a.add_fn("test/closure", 1, 1, "doc", Box::new(|_, args| Ok(args[0])));
        let g = b.add_fn("test/closure", 1, 1, "doc", Box::new(|_, args| Ok(args[0])));
        assert_ne!(f, g, "each closure is its own builtin");
        assert_eq!(index_of("test/closure"), Some(f.min(g)));
        assert!(matches!(def(f).map(|d| d.imp), Some(Imp::Host(_))));
    }
}
