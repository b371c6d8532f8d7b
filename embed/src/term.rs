//! [`Term`]: an owned Valk value, independent of any actor heap.
//!
//! A `Term` is how Rust code holds a Valk value outside an actor: an
//! argument to send into the runtime or a result that came out of it. It is
//! a plain Rust tree (`Send + Sync + 'static`), converted to and from heap
//! values with `Term::to_value` and `Term::from_value`.
//!
//! Values with no plain Rust form (closures, partial applications, builtins,
//! boxes, foreign pointers, Rust objects) become [`Term::Opaque`]: a counted
//! handle on a shared-heap copy of the value, which converts back to that
//! same shared value, usable from any heap.
//!
//! Every operation that walks a term (conversion both ways, `Clone`,
//! `PartialEq`, `Display`, `Debug` and `Drop`) uses an explicit work list,
//! never native recursion: a million-deep nested list is fine on a small
//! thread stack.

use core::fmt::{self, Write as _};
use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashSet;
use std::sync::Arc;

use valk_heap::{
    intern, symbol_name, Fragment, Heap, HeapError, ListKind, ObjKind, SharedReader, SharedValue,
    Value,
};

/// An owned Valk value.
///
/// Lists are Rust vectors: `{a b c}` is `List`, `(a b c)` is `SExpr`, and
/// the empty forms `{}` (Valk's `nil`) and `()` are `List(vec![])` and
/// `SExpr(vec![])`.
///
/// `Clone`, `PartialEq`, `Debug`, `Display` and `Drop` are iterative, so
/// arbitrarily deep terms neither overflow the stack nor need special care.
/// Equality is structural, with floats compared as `f64` (so a NaN is not
/// equal to itself, and `0.0 == -0.0`) and opaque values by identity.
///
/// ```
/// use valk::Term;
///
/// let t = Term::list(vec![Term::from(1), Term::keyword("ok"), Term::from("hi")]);
/// assert_eq!(t.to_string(), r#"{1 :ok "hi"}"#);
/// ```
pub enum Term {
    /// An integer (Valk stores small ones inline and boxes the rest; both
    /// are `Int` here).
    Int(i64),
    /// A double.
    Float(f64),
    /// A string.
    Str(String),
    /// A symbol, by name.
    Symbol(String),
    /// A keyword, by name without the leading `:`.
    Keyword(String),
    /// A Q-expression `{a b c}`; `List(vec![])` is `{}` (`nil`).
    List(Vec<Term>),
    /// An S-expression `(a b c)`; `SExpr(vec![])` is `()`.
    SExpr(Vec<Term>),
    /// A process id.
    Pid(u64),
    /// A unique reference.
    Ref(u64),
    /// An error value, by its message.
    Error(String),
    /// Anything else (closures, builtins, boxes, foreign pointers, Rust
    /// objects, improper lists): kept by reference, see [`Opaque`].
    Opaque(Opaque),
}

// The embedding API hands terms between threads and keeps them anywhere.
const _: fn() = || {
    fn assert_send_sync_static<T: Send + Sync + 'static>() {}
    assert_send_sync_static::<Term>();
    assert_send_sync_static::<Opaque>();
    assert_send_sync_static::<TermTypeError>();
};

/// Debug output stops descending at this list depth and prints `...`.
pub const DEBUG_MAX_DEPTH: usize = 10_000;

/// Pretty (`{:#?}`) Debug output indents at most this many levels.
const DEBUG_MAX_INDENT: usize = 64;

// ---------------------------------------------------------------------------
// Opaque

/// A Valk value with no plain Rust form, held by reference: a counted
/// handle on a shared-heap value (a closure, builtin, box, ...).
///
/// Converting it back into a heap value gives the very same shared
/// value, which any actor's heap may point to. Two `Opaque`s are equal when
/// they hold the same value (identity, not structure). The shared value is
/// released when the last clone of the `Opaque` (or of a `Term` holding
/// it) is dropped.
///
/// ```text
/// use valk_heap::{Heap, Value};
/// use valk::{Opaque, Term};
///
/// let mut heap = Heap::new();
/// let b = heap.make_box(Value::TRUE).unwrap();
/// let t = Term::from_value(&mut heap, b);
/// assert!(matches!(&t, Term::Opaque(o) if o.value() == b));
/// assert_eq!(format!("{t:?}"), "Opaque(#<opaque box>)");
/// ```
#[derive(Clone)]
pub struct Opaque(Arc<SharedValue>);

impl Opaque {
    /// Wrap a shared value (made with `Heap::to_shared`,
    /// `SharedValue::opaque`, ...).
    ///
    /// `Term::from_value` never makes an `Opaque` for a value that has a
    /// variant of its own, but one made here may hold anything; it converts
    /// back to exactly the value it holds.
    pub(crate) fn new(value: SharedValue) -> Opaque {
        Opaque(Arc::new(value))
    }

    /// The shared value this handle keeps alive.
    pub(crate) fn shared(&self) -> &SharedValue {
        &self.0
    }

    /// The value (a shared-heap pointer or an immediate such as a builtin),
    /// valid while this handle lives.
    pub(crate) fn value(&self) -> Value {
        self.0.value()
    }

    /// The kind of heap object held, `None` for an immediate (a builtin).
    pub(crate) fn kind(&self) -> Option<ObjKind> {
        SharedReader.kind(self.value())
    }

    /// A short name for what is held: `closure`, `box`, `builtin 12`, ...
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.value();
        if let Some(i) = v.as_builtin() {
            return write!(f, "builtin {i}");
        }
        let name = match self.kind() {
            Some(ObjKind::Cons) => "cons",
            Some(ObjKind::Str) => "string",
            Some(ObjKind::BigInt) => "integer",
            Some(ObjKind::Closure) => "closure",
            Some(ObjKind::Partial) => "partial",
            Some(ObjKind::Error) => "error",
            Some(ObjKind::Pid) => "pid",
            Some(ObjKind::Ref) => "ref",
            Some(ObjKind::Box) => "box",
            Some(ObjKind::Foreign) => "foreign",
            Some(ObjKind::Opaque) => "object",
            None => return write!(f, "{v:?}"),
        };
        f.write_str(name)
    }
}

impl PartialEq for Opaque {
    fn eq(&self, other: &Opaque) -> bool {
        self.value() == other.value()
    }
}

impl Eq for Opaque {}

/// `#<opaque closure>`, `#<opaque box>`, `#<opaque builtin 3>`, ...
impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("#<opaque ")?;
        self.describe(f)?;
        f.write_str(">")
    }
}

// ---------------------------------------------------------------------------
// Construction

impl Term {
    /// A Q-expression `{...}` of `items`.
    ///
    /// ```
    /// use valk::Term;
    /// assert_eq!(Term::list(vec![1.into(), 2.into()]).to_string(), "{1 2}");
    /// ```
    pub fn list(items: Vec<Term>) -> Term {
        Term::List(items)
    }

    /// An S-expression `(...)` of `items`.
    pub fn sexpr(items: Vec<Term>) -> Term {
        Term::SExpr(items)
    }

    /// A keyword. A leading `:` is optional: `keyword("ok")` and
    /// `keyword(":ok")` are both `:ok`.
    ///
    /// ```
    /// use valk::Term;
    /// assert_eq!(Term::keyword(":ok"), Term::Keyword("ok".into()));
    /// ```
    pub fn keyword(name: &str) -> Term {
        Term::Keyword(name.strip_prefix(':').unwrap_or(name).to_owned())
    }

    /// A symbol.
    pub fn symbol(name: &str) -> Term {
        Term::Symbol(name.to_owned())
    }

    /// `{}`: Valk's `nil`, the empty Q-expression.
    pub fn nil() -> Term {
        Term::List(Vec::new())
    }

    /// The name of this term's variant as error messages use it:
    /// `integer`, `float`, `string`, `symbol`, `keyword`, `list`,
    /// `s-expression`, `pid`, `ref`, `error` or `opaque`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Term::Int(_) => "integer",
            Term::Float(_) => "float",
            Term::Str(_) => "string",
            Term::Symbol(_) => "symbol",
            Term::Keyword(_) => "keyword",
            Term::List(_) => "list",
            Term::SExpr(_) => "s-expression",
            Term::Pid(_) => "pid",
            Term::Ref(_) => "ref",
            Term::Error(_) => "error",
            Term::Opaque(_) => "opaque",
        }
    }

    /// The items of a `List` or `SExpr`.
    fn items(&self) -> Option<&[Term]> {
        match self {
            Term::List(v) | Term::SExpr(v) => Some(v),
            _ => None,
        }
    }

    /// The list kind and items of a non-empty `List` or `SExpr`.
    fn nonempty_list(&self) -> Option<(ListKind, &[Term])> {
        match self {
            Term::List(v) if !v.is_empty() => Some((ListKind::Q, v)),
            Term::SExpr(v) if !v.is_empty() => Some((ListKind::S, v)),
            _ => None,
        }
    }
}

impl Default for Term {
    /// `{}` (`nil`).
    fn default() -> Term {
        Term::nil()
    }
}

impl From<i64> for Term {
    fn from(i: i64) -> Term {
        Term::Int(i)
    }
}

impl From<f64> for Term {
    fn from(f: f64) -> Term {
        Term::Float(f)
    }
}

/// Valk's truth values: `true` is `1`, `false` is `0`.
impl From<bool> for Term {
    fn from(b: bool) -> Term {
        Term::Int(i64::from(b))
    }
}

impl From<&str> for Term {
    fn from(s: &str) -> Term {
        Term::Str(s.to_owned())
    }
}

impl From<String> for Term {
    fn from(s: String) -> Term {
        Term::Str(s)
    }
}

/// A Q-expression `{...}`.
impl From<Vec<Term>> for Term {
    fn from(items: Vec<Term>) -> Term {
        Term::List(items)
    }
}

impl From<Opaque> for Term {
    fn from(o: Opaque) -> Term {
        Term::Opaque(o)
    }
}

// ---------------------------------------------------------------------------
// Extraction

/// A [`Term`] of the wrong variant given to a `TryFrom` conversion.
///
/// ```
/// use valk::Term;
/// let err = i64::try_from(Term::from("x")).unwrap_err();
/// assert_eq!(err.to_string(), "expected integer, got string");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TermTypeError {
    /// What the conversion accepts: `integer`, `number`, `string`, `list`.
    pub expected: &'static str,
    /// What it got ([`Term::type_name`]).
    pub found: &'static str,
}

impl fmt::Display for TermTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, got {}", self.expected, self.found)
    }
}

impl std::error::Error for TermTypeError {}

/// `Int` only.
impl TryFrom<Term> for i64 {
    type Error = TermTypeError;
    fn try_from(t: Term) -> Result<i64, TermTypeError> {
        match t {
            Term::Int(i) => Ok(i),
            other => Err(TermTypeError {
                expected: "integer",
                found: other.type_name(),
            }),
        }
    }
}

/// `Float`, or `Int` widened (`i as f64`, rounding beyond 2^53).
impl TryFrom<Term> for f64 {
    type Error = TermTypeError;
    fn try_from(t: Term) -> Result<f64, TermTypeError> {
        match t {
            Term::Float(f) => Ok(f),
            Term::Int(i) => Ok(i as f64),
            other => Err(TermTypeError {
                expected: "number",
                found: other.type_name(),
            }),
        }
    }
}

/// `Str` only (not symbols, keywords or error messages).
impl TryFrom<Term> for String {
    type Error = TermTypeError;
    fn try_from(mut t: Term) -> Result<String, TermTypeError> {
        match &mut t {
            Term::Str(s) => Ok(core::mem::take(s)),
            other => Err(TermTypeError {
                expected: "string",
                found: other.type_name(),
            }),
        }
    }
}

/// The items of a `List` or an `SExpr`.
impl TryFrom<Term> for Vec<Term> {
    type Error = TermTypeError;
    fn try_from(mut t: Term) -> Result<Vec<Term>, TermTypeError> {
        match &mut t {
            Term::List(v) | Term::SExpr(v) => Ok(core::mem::take(v)),
            other => Err(TermTypeError {
                expected: "list",
                found: other.type_name(),
            }),
        }
    }
}

// ---------------------------------------------------------------------------
// Conversion to and from heap values

/// An open list in `Term::to_value`: its items not yet converted, and
/// where its converted items start on the value stack.
struct ToFrame<'a> {
    kind: ListKind,
    items: core::slice::Iter<'a, Term>,
    start: usize,
}

/// An open list in `Term::from_value`: its first cell, the cell whose car
/// comes next, and where its items start on the term stack.
struct FromFrame {
    kind: ListKind,
    head: Value,
    cur: Value,
    start: usize,
}

/// What `Term::from_value` does with one value.
enum Step {
    Done(Term),
    /// A proper, non-empty list: kind, first cell, length.
    Open(ListKind, Value, usize),
}

impl Term {
    /// Build this term in `heap`: the value is valid until the heap's next
    /// collection (root it before collecting).
    ///
    /// Strings, integers outside 48 bits, errors, pids, refs and list cells
    /// are allocated in `heap` (long strings in the shared heap, owned by
    /// `heap`); an [`Opaque`] gives back its shared value, and `heap` takes
    /// a count on it. Fails only when the heap's byte limit is reached
    /// (what was allocated until then is garbage).
    ///
    /// ```text
    /// use valk_heap::Heap;
    /// use valk::Term;
    ///
    /// let mut heap = Heap::new();
    /// let t = Term::list(vec![Term::from(1), Term::sexpr(vec![])]);
    /// let v = t.to_value(&mut heap).unwrap();
    /// assert_eq!(Term::from_value(&mut heap, v), t);
    /// ```
    pub(crate) fn to_value(&self, heap: &mut Heap) -> Result<Value, HeapError> {
        let mut frames: Vec<ToFrame<'_>> = Vec::new();
        // Converted items of the open lists, innermost last. Allocation
        // never collects, so these stay valid until we return.
        let mut values: Vec<Value> = Vec::new();
        let mut next = self;
        loop {
            let mut done = match next.nonempty_list() {
                Some((kind, items)) => {
                    frames.push(ToFrame {
                        kind,
                        items: items.iter(),
                        start: values.len(),
                    });
                    None
                }
                None => Some(next.leaf_to_value(heap)?),
            };
            // Hand the finished value to its list, closing lists whose
            // items are all done, until some list has an item to convert.
            loop {
                if let Some(v) = done.take() {
                    if frames.is_empty() {
                        return Ok(v);
                    }
                    values.push(v);
                }
                let Some(frame) = frames.last_mut() else {
                    unreachable!("a value is done whenever no list is open")
                };
                if let Some(item) = frame.items.next() {
                    next = item;
                    break;
                }
                let (kind, start) = (frame.kind, frame.start);
                frames.pop();
                let list = heap.list(&values[start..], kind)?;
                values.truncate(start);
                done = Some(list);
            }
        }
    }

    /// The value of a term that is not a non-empty list.
    fn leaf_to_value(&self, heap: &mut Heap) -> Result<Value, HeapError> {
        Ok(match self {
            Term::Int(i) => heap.int(*i)?,
            Term::Float(f) => Value::float(*f),
            Term::Str(s) => heap.string(s)?,
            Term::Symbol(name) => Value::symbol(intern(name)),
            Term::Keyword(name) => Value::keyword(intern(name)),
            Term::List(_) => Value::NIL,
            Term::SExpr(_) => Value::EMPTY_S,
            Term::Pid(id) => heap.pid(*id)?,
            Term::Ref(id) => heap.make_ref(*id)?,
            Term::Error(message) => {
                let m = heap.string(message)?;
                heap.error(m, None, None)?
            }
            // Adopting a message holding only the shared value moves one
            // count into the heap's owned set: the heap keeps the value
            // alive for as long as it reaches it, whatever happens to us.
            Term::Opaque(o) => heap.adopt(Fragment::from_shared(o.shared().clone()))?,
        })
    }

    /// Read a value of `heap` (or a shared or immediate value) into a term.
    ///
    /// - Integers (inline or boxed), floats, strings, symbols, keywords,
    ///   pids and refs map to their variants; `{}` and `()` to empty
    ///   `List`/`SExpr`.
    /// - A proper list maps to `List` or `SExpr` after its first cell's
    ///   kind. Sharing inside the value is not kept: a sublist reached
    ///   twice is converted twice.
    /// - An error maps to `Error` with its message; its source location and
    ///   payload are dropped. An error whose message is not a string is
    ///   `Opaque`.
    /// - Everything else (closures, partials, builtins, boxes, foreign
    ///   pointers, Rust objects, improper lists) is `Opaque`: a private
    ///   value is deep-copied into the shared heap (`Heap::to_shared`), a
    ///   shared one is kept as it is.
    /// - Cyclic lists (only Rust code calling `Heap::set_cdr` can make one)
    ///   still convert in finite time: a list whose cdr chain loops, or the
    ///   list where a loop through cars closes, becomes an `Opaque`. (Its
    ///   shared copy is cyclic too, so reference counting never frees it.)
    ///
    /// `heap` is needed mutably only for those shared copies; `v` must obey
    /// the heap's value contract (a live value of `heap`, or shared, or an
    /// immediate).
    pub(crate) fn from_value(heap: &mut Heap, v: Value) -> Term {
        let mut frames: Vec<FromFrame> = Vec::new();
        // Finished items of the open lists, innermost last.
        let mut items: Vec<Term> = Vec::new();
        // First cells of the open lists, to stop at a cycle through a car.
        let mut open: HashSet<u64, BuildHasherDefault<BitsHasher>> = HashSet::default();
        let mut next = v;
        loop {
            let mut done = match classify(heap, next) {
                Step::Open(kind, head, len) if open.insert(head.to_bits()) => {
                    items.reserve(len);
                    frames.push(FromFrame {
                        kind,
                        head,
                        cur: head,
                        start: items.len(),
                    });
                    None
                }
                // A list already being converted further out: a cycle.
                Step::Open(_, head, _) => Some(opaque(heap, head)),
                Step::Done(t) => Some(t),
            };
            loop {
                if let Some(t) = done.take() {
                    if frames.is_empty() {
                        return t;
                    }
                    items.push(t);
                }
                let Some(frame) = frames.last_mut() else {
                    unreachable!("a term is done whenever no list is open")
                };
                if let Some((car, cdr)) = heap.car_cdr(frame.cur) {
                    frame.cur = cdr;
                    next = car;
                    break;
                }
                let (kind, head, start) = (frame.kind, frame.head, frame.start);
                frames.pop();
                open.remove(&head.to_bits());
                let list = items.split_off(start);
                done = Some(match kind {
                    ListKind::Q => Term::List(list),
                    ListKind::S => Term::SExpr(list),
                });
            }
        }
    }
}

/// What to do with one value: a finished term, or a list to open.
fn classify(heap: &mut Heap, v: Value) -> Step {
    if let Some(i) = v.as_small_int() {
        return Step::Done(Term::Int(i));
    }
    if let Some(f) = v.as_float() {
        return Step::Done(Term::Float(f));
    }
    if v.is_nil() {
        return Step::Done(Term::nil());
    }
    if v.is_empty_s() {
        return Step::Done(Term::SExpr(Vec::new()));
    }
    if let Some(id) = v.as_symbol() {
        return Step::Done(Term::Symbol(symbol_name(id).to_owned()));
    }
    if let Some(id) = v.as_keyword() {
        return Step::Done(Term::Keyword(symbol_name(id).to_owned()));
    }
    let known = match heap.kind(v) {
        Some(ObjKind::Cons) => {
            if let (Some(kind), Some(len)) = (heap.list_kind(v), proper_len(heap, v)) {
                return Step::Open(kind, v, len);
            }
            None
        }
        Some(ObjKind::Str) => heap.str(v).map(|s| Term::Str(s.to_owned())),
        Some(ObjKind::BigInt) => heap.as_int(v).map(Term::Int),
        Some(ObjKind::Error) => heap
            .error_parts(v)
            .and_then(|p| heap.str(p.message))
            .map(|m| Term::Error(m.to_owned())),
        Some(ObjKind::Pid) => heap.pid_id(v).map(Term::Pid),
        Some(ObjKind::Ref) => heap.ref_id(v).map(Term::Ref),
        _ => None,
    };
    Step::Done(known.unwrap_or_else(|| opaque(heap, v)))
}

/// `v` as an opaque term (a shared copy, or `v` itself if shared).
fn opaque(heap: &mut Heap, v: Value) -> Term {
    Term::Opaque(Opaque::new(heap.to_shared(v)))
}

/// The length of the list starting at cons cell `v` if it is proper (ends
/// in `{}` or `()`); `None` if it is improper or its cdr chain is cyclic.
fn proper_len(heap: &Heap, v: Value) -> Option<usize> {
    let (mut fast, mut slow) = (v, v);
    let mut len = 0usize;
    loop {
        match heap.car_cdr(fast) {
            Some((_, cdr)) => fast = cdr,
            None => return (fast.is_nil() || fast.is_empty_s()).then_some(len),
        }
        len += 1;
        // Floyd: `slow` takes one step for every two of `fast`; in a cycle
        // they meet.
        if len % 2 == 0 {
            slow = heap.car_cdr(slow)?.1;
            if slow == fast {
                return None;
            }
        }
    }
}

/// A hasher for value bits (object addresses are 8-aligned).
#[derive(Default)]
struct BitsHasher(u64);

impl Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, x: u64) {
        let m = (x >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = m ^ (m >> 29);
    }
}

// ---------------------------------------------------------------------------
// Clone, PartialEq, Drop: iterative

impl Term {
    /// A copy of a term that is not a non-empty list.
    fn clone_leaf(&self) -> Term {
        match self {
            Term::Int(i) => Term::Int(*i),
            Term::Float(f) => Term::Float(*f),
            Term::Str(s) => Term::Str(s.clone()),
            Term::Symbol(s) => Term::Symbol(s.clone()),
            Term::Keyword(s) => Term::Keyword(s.clone()),
            Term::List(v) => Term::List(Vec::with_capacity(v.len())),
            Term::SExpr(v) => Term::SExpr(Vec::with_capacity(v.len())),
            Term::Pid(id) => Term::Pid(*id),
            Term::Ref(id) => Term::Ref(*id),
            Term::Error(s) => Term::Error(s.clone()),
            Term::Opaque(o) => Term::Opaque(o.clone()),
        }
    }
}

impl Clone for Term {
    fn clone(&self) -> Term {
        // Each open list: its items still to copy, and its copy so far.
        let mut frames: Vec<(core::slice::Iter<'_, Term>, Term)> = Vec::new();
        let mut next = self;
        loop {
            let mut done = match next.items() {
                Some(items) if !items.is_empty() => {
                    frames.push((items.iter(), next.clone_leaf()));
                    None
                }
                _ => Some(next.clone_leaf()),
            };
            loop {
                if let Some(t) = done.take() {
                    match frames.last_mut() {
                        Some((_, Term::List(out) | Term::SExpr(out))) => out.push(t),
                        Some(_) => unreachable!("only lists are opened"),
                        None => return t,
                    }
                }
                let Some((items, _)) = frames.last_mut() else {
                    unreachable!("a term is done whenever no list is open")
                };
                if let Some(item) = items.next() {
                    next = item;
                    break;
                }
                done = frames.pop().map(|(_, t)| t);
            }
        }
    }
}

impl PartialEq for Term {
    fn eq(&self, other: &Term) -> bool {
        // Pairs of lists being compared, item by item.
        let mut stack: Vec<(core::slice::Iter<'_, Term>, core::slice::Iter<'_, Term>)> = Vec::new();
        let (mut a, mut b) = (self, other);
        loop {
            let same = match (a, b) {
                (Term::List(x), Term::List(y)) | (Term::SExpr(x), Term::SExpr(y)) => {
                    if x.len() == y.len() {
                        stack.push((x.iter(), y.iter()));
                    }
                    x.len() == y.len()
                }
                (Term::Int(x), Term::Int(y)) => x == y,
                (Term::Float(x), Term::Float(y)) => x == y,
                (Term::Str(x), Term::Str(y))
                | (Term::Symbol(x), Term::Symbol(y))
                | (Term::Keyword(x), Term::Keyword(y))
                | (Term::Error(x), Term::Error(y)) => x == y,
                (Term::Pid(x), Term::Pid(y)) | (Term::Ref(x), Term::Ref(y)) => x == y,
                (Term::Opaque(x), Term::Opaque(y)) => x == y,
                _ => false,
            };
            if !same {
                return false;
            }
            loop {
                let Some((xs, ys)) = stack.last_mut() else {
                    return true;
                };
                if let (Some(x), Some(y)) = (xs.next(), ys.next()) {
                    (a, b) = (x, y);
                    break;
                }
                stack.pop();
            }
        }
    }
}

impl Drop for Term {
    /// Frees nested lists from a work list: the derived drop would recurse
    /// once per nesting level.
    fn drop(&mut self) {
        let mut work: Vec<Vec<Term>> = match self {
            Term::List(v) | Term::SExpr(v) if v.iter().any(has_items) => {
                vec![core::mem::take(v)]
            }
            _ => return,
        };
        while let Some(mut items) = work.pop() {
            for item in &mut items {
                if let Term::List(v) | Term::SExpr(v) = item {
                    if !v.is_empty() {
                        work.push(core::mem::take(v));
                    }
                }
            }
            // `items` now holds no nested items: dropping it is shallow.
        }
    }
}

/// Is `t` a non-empty list?
fn has_items(t: &Term) -> bool {
    t.items().is_some_and(|v| !v.is_empty())
}

// ---------------------------------------------------------------------------
// Display and Debug: iterative

/// Valk's printed form (the REPL's, with strings quoted): `42`, `1.5`,
/// `"a\nb"`, `:ok`, `{1 (f x) "s"}`, `<pid 0.5.1>`, `<ref 7>`,
/// `Error: msg`, `<closure>`.
///
/// Numbers, strings, symbols, keywords and lists of them read back with the
/// Valk reader, except `nan`/`inf` floats and symbol names the reader would
/// split or take for numbers. Pids, refs, errors and opaque values print as
/// Valk shows them and do not read back. Opaque values print by kind only
/// (`<closure>`, `<box>`, `<builtin 3>`): without the language crate there
/// are no parameter lists or builtin names to show.
///
/// ```
/// use valk::Term;
/// let t = Term::sexpr(vec![Term::symbol("f"), Term::from(-0.5), Term::from("a\"b")]);
/// assert_eq!(t.to_string(), r#"(f -0.5 "a\"b")"#);
/// ```
impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each open list: its items still to print, its closing bracket,
        // and whether it has printed an item yet.
        let mut stack: Vec<(core::slice::Iter<'_, Term>, char, bool)> = Vec::new();
        let mut next = self;
        loop {
            match next {
                Term::List(items) => {
                    f.write_char('{')?;
                    stack.push((items.iter(), '}', false));
                }
                Term::SExpr(items) => {
                    f.write_char('(')?;
                    stack.push((items.iter(), ')', false));
                }
                leaf => write_leaf(leaf, f)?,
            }
            loop {
                let Some((items, close, started)) = stack.last_mut() else {
                    return Ok(());
                };
                if let Some(item) = items.next() {
                    if *started {
                        f.write_char(' ')?;
                    }
                    *started = true;
                    next = item;
                    break;
                }
                f.write_char(*close)?;
                stack.pop();
            }
        }
    }
}

/// Print a term that is not a list, as Valk's printer does.
fn write_leaf(t: &Term, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match t {
        Term::Int(i) => write!(f, "{i}"),
        Term::Float(x) => write_float(*x, f),
        Term::Str(s) => write_quoted(s, f),
        Term::Symbol(s) => f.write_str(s),
        Term::Keyword(s) => write!(f, ":{s}"),
        Term::Pid(id) => write!(f, "<pid 0.{}.{}>", id & 0xFFFF_FFFF, id >> 32),
        Term::Ref(id) => write!(f, "<ref {id}>"),
        Term::Error(m) => write!(f, "Error: {m}"),
        Term::Opaque(o) => {
            f.write_char('<')?;
            o.describe(f)?;
            f.write_char('>')
        }
        Term::List(_) | Term::SExpr(_) => unreachable!("lists are not leaves"),
    }
}

/// A float as Valk prints it: the shortest form that reads back the same
/// (`1.0`, `-0.0`, `1e300`), or `nan`, `inf`, `-inf`.
fn write_float(x: f64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if x.is_nan() {
        f.write_str("nan")
    } else if x.is_infinite() {
        f.write_str(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        write!(f, "{x:?}")
    }
}

/// A string in double quotes with the escapes Valk's reader accepts.
fn write_quoted(s: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\0' => f.write_str("\\0")?,
            '\x07' => f.write_str("\\a")?,
            '\x08' => f.write_str("\\b")?,
            '\x0b' => f.write_str("\\v")?,
            '\x0c' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Like a derived `Debug` (`List([Int(1), Str("a")])`, one item a line
/// with `{:#?}`), but iterative: lists nested deeper than
/// [`DEBUG_MAX_DEPTH`] print as `List([...])`, and pretty output stops
/// indenting further after 64 levels.
impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pretty = f.alternate();
        let newline = |f: &mut fmt::Formatter<'_>, depth: usize| -> fmt::Result {
            f.write_char('\n')?;
            for _ in 0..depth.min(DEBUG_MAX_INDENT) {
                f.write_str("    ")?;
            }
            Ok(())
        };
        // Each open list: its items still to print, and whether it has
        // printed an item yet.
        let mut stack: Vec<(core::slice::Iter<'_, Term>, bool)> = Vec::new();
        let mut next = self;
        loop {
            match next {
                Term::List(items) | Term::SExpr(items) => {
                    let name = if matches!(next, Term::List(_)) {
                        "List"
                    } else {
                        "SExpr"
                    };
                    if items.is_empty() {
                        write!(f, "{name}([])")?;
                    } else if stack.len() >= DEBUG_MAX_DEPTH {
                        write!(f, "{name}([...])")?;
                    } else {
                        write!(f, "{name}([")?;
                        stack.push((items.iter(), false));
                    }
                }
                Term::Int(i) => write!(f, "Int({i:?})")?,
                Term::Float(x) => write!(f, "Float({x:?})")?,
                Term::Str(s) => write!(f, "Str({s:?})")?,
                Term::Symbol(s) => write!(f, "Symbol({s:?})")?,
                Term::Keyword(s) => write!(f, "Keyword({s:?})")?,
                Term::Pid(id) => write!(f, "Pid({id:?})")?,
                Term::Ref(id) => write!(f, "Ref({id:?})")?,
                Term::Error(m) => write!(f, "Error({m:?})")?,
                Term::Opaque(o) => write!(f, "Opaque({o:?})")?,
            }
            loop {
                let depth = stack.len();
                let Some((items, started)) = stack.last_mut() else {
                    return Ok(());
                };
                if let Some(item) = items.next() {
                    if pretty {
                        if *started {
                            f.write_char(',')?;
                        }
                        newline(f, depth)?;
                    } else if *started {
                        f.write_str(", ")?;
                    }
                    *started = true;
                    next = item;
                    break;
                }
                stack.pop();
                if pretty {
                    f.write_char(',')?;
                    newline(f, depth - 1)?;
                }
                f.write_str("])")?;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Tests

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(t: &Term) -> Term {
        let mut heap = Heap::new();
        let v = t.to_value(&mut heap).unwrap();
        Term::from_value(&mut heap, v)
    }

    #[test]
    fn leaves_round_trip() {
        for t in [
            Term::from(0),
            Term::from(-7),
            Term::from(1i64 << 47),
            Term::from(-(1i64 << 47) - 1),
            Term::from(i64::MAX),
            Term::from(i64::MIN),
            Term::from(1.5),
            Term::from(f64::INFINITY),
            Term::from("hello"),
            Term::from("x".repeat(5000)),
            Term::symbol("foo"),
            Term::keyword("ok"),
            Term::nil(),
            Term::sexpr(vec![]),
            Term::Pid(u64::MAX),
            Term::Ref(12),
            Term::Error("boom".into()),
        ] {
            assert_eq!(round_trip(&t), t);
        }
    }

    #[test]
    fn nan_and_negative_zero() {
        // NaN converts to Valk's one canonical NaN; it is a NaN either way
        // but, as for f64, not equal to itself.
        let back = round_trip(&Term::Float(f64::NAN));
        assert!(matches!(back, Term::Float(x) if x.is_nan()));
        assert_ne!(back, back.clone());
        // Negative zero keeps its sign bit.
        let back = round_trip(&Term::Float(-0.0));
        assert!(matches!(back, Term::Float(x) if x.to_bits() == (-0.0f64).to_bits()));
        assert_eq!(Term::Float(0.0), Term::Float(-0.0));
    }

    #[test]
    fn equality_tells_kinds_apart() {
        assert_ne!(Term::nil(), Term::sexpr(vec![]));
        assert_ne!(Term::symbol("a"), Term::keyword("a"));
        assert_ne!(Term::from("a"), Term::symbol("a"));
        assert_ne!(Term::from(1), Term::from(1.0));
        assert_ne!(
            Term::list(vec![1.into(), 2.into()]),
            Term::list(vec![1.into()])
        );
        assert_ne!(
            Term::list(vec![Term::list(vec![1.into()]), 2.into()]),
            Term::list(vec![Term::list(vec![3.into()]), 2.into()])
        );
    }

    #[test]
    fn debug_looks_derived() {
        let t = Term::list(vec![1.into(), Term::sexpr(vec![]), "a".into()]);
        assert_eq!(format!("{t:?}"), r#"List([Int(1), SExpr([]), Str("a")])"#);
        assert_eq!(
            format!("{t:#?}"),
            "List([\n    Int(1),\n    SExpr([]),\n    Str(\"a\"),\n])"
        );
    }

    #[test]
    fn debug_cuts_off_deep_nesting() {
        let mut t = Term::from(1);
        for _ in 0..DEBUG_MAX_DEPTH + 5 {
            t = Term::list(vec![t]);
        }
        let s = format!("{t:?}");
        assert!(s.contains("List([...])"));
        assert!(!s.contains("Int(1)"));
        assert_eq!(s.matches('[').count(), DEBUG_MAX_DEPTH + 1);
    }

    #[test]
    fn improper_list_is_opaque() {
        let mut heap = Heap::new();
        let v = heap.cons(Value::TRUE, Value::FALSE, ListKind::Q).unwrap();
        let t = Term::from_value(&mut heap, v);
        let Term::Opaque(o) = &t else {
            panic!("got {t:?}")
        };
        assert_eq!(o.kind(), Some(ObjKind::Cons));
        assert_eq!(format!("{t:?}"), "Opaque(#<opaque cons>)");
    }

    #[test]
    fn cyclic_lists_terminate() {
        let mut heap = Heap::new();
        // A cdr cycle: {1 1 1 ...}.
        let a = heap.cons(Value::TRUE, Value::NIL, ListKind::Q).unwrap();
        heap.set_cdr(a, a);
        assert!(matches!(Term::from_value(&mut heap, a), Term::Opaque(_)));
        // A car cycle: b = {2 c}, c = {b}.
        let two = Value::small_int(2).unwrap();
        let b = heap.cons(two, Value::NIL, ListKind::Q).unwrap();
        let c = heap.cons(b, Value::NIL, ListKind::Q).unwrap();
        let tail = heap.cons(c, Value::NIL, ListKind::Q).unwrap();
        heap.set_cdr(b, tail);
        let t = Term::from_value(&mut heap, b);
        let Term::List(items) = &t else {
            panic!("got {t:?}")
        };
        assert_eq!(items[0], Term::from(2));
        let Term::List(inner) = &items[1] else {
            panic!("got {t:?}")
        };
        assert!(matches!(&inner[0], Term::Opaque(o) if o.kind() == Some(ObjKind::Cons)));
    }

    #[test]
    fn car_cycle_into_the_middle_of_a_list_terminates() {
        let mut heap = Heap::new();
        // cell2 = {2 x}, x = {cell2}, a = {1 . cell2} = {1 2 x}.
        let (one, two) = (Value::small_int(1).unwrap(), Value::small_int(2).unwrap());
        let cell2 = heap.cons(two, Value::NIL, ListKind::Q).unwrap();
        let x = heap.cons(cell2, Value::NIL, ListKind::Q).unwrap();
        let cell3 = heap.cons(x, Value::NIL, ListKind::Q).unwrap();
        heap.set_cdr(cell2, cell3);
        let a = heap.cons(one, cell2, ListKind::Q).unwrap();
        let t = Term::from_value(&mut heap, a);
        assert_eq!(t.to_string(), "{1 2 {{2 <cons>}}}");
    }

    #[test]
    fn builtins_are_opaque_immediates() {
        let mut heap = Heap::new();
        let t = Term::from_value(&mut heap, Value::builtin(3));
        assert_eq!(format!("{t:?}"), "Opaque(#<opaque builtin 3>)");
        assert_eq!(t.to_string(), "<builtin 3>");
        assert_eq!(t.to_value(&mut heap).unwrap(), Value::builtin(3));
    }

    #[test]
    fn errors_keep_their_message_only() {
        let mut heap = Heap::new();
        let m = heap.string("bad thing").unwrap();
        let loc = valk_heap::SourceLoc {
            file: intern("x.valk"),
            line: 3,
            col: 4,
        };
        let e = heap.error(m, Some(loc), Some(Value::TRUE)).unwrap();
        assert_eq!(
            Term::from_value(&mut heap, e),
            Term::Error("bad thing".into())
        );
        // A non-string message: kept whole, as an opaque value.
        let e = heap.error(Value::TRUE, None, None).unwrap();
        assert!(matches!(Term::from_value(&mut heap, e), Term::Opaque(_)));
    }
}
