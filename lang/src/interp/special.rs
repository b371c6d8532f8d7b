//! The special builtins called with computed (non-literal) arguments:
//! `eval`, and `if`/`\`/`select`/... when their Q-expressions come from
//! variables. Code given as values is turned into forms and compiled (with
//! a cache keyed by structural hash); `select`, `case`, `match`, `let`,
//! `try` and `repeat` are compiled as a small lambda around the same inline
//! form the compiler uses for literal arguments, so there is one
//! implementation of each.

use valk_heap::{intern, ListKind, SharedValue, Value};

use super::call::{Called, Stop};
use super::{Frame, FrameKind, Interp};
use crate::builtins::{self, Special};
use crate::code;
use crate::compiler::{value_to_node, CompileError, Compiler, Mode};
use crate::equal;
use crate::ir::Reg;
use crate::syntax::{Node, Span, Syn};

/// Cache tags (what kind of code a cached list compiled to).
const TAG_EVAL: u8 = 0;
const TAG_LAMBDA: u8 = 1;
const TAG_MACRO: u8 = 2;
const TAG_FORM: u8 = 3;
const TAG_DEOPT: u8 = 4;

/// The parameter name of synthesized lambdas: no reader can produce it.
const HIDDEN: &str = " value";

impl Interp {
    pub(super) fn apply_special(
        &mut self,
        s: Special,
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        let args = std::mem::take(&mut self.argbuf);
        let r = self.special_inner(s, &args, ret, tail, span);
        if self.argbuf.is_empty() {
            self.argbuf = args;
            self.argbuf.clear();
        }
        r
    }

    fn special_inner(
        &mut self,
        s: Special,
        args: &[Value],
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        match s {
            Special::Eval => self.eval_value(args[0], ret, tail, span),
            Special::If => {
                let c = args[0];
                let truth = match (c.as_float(), self.heap.as_int(c)) {
                    (Some(f), _) => f != 0.0,
                    (_, Some(i)) => i != 0,
                    _ => {
                        let msg = format!(
                            "`if`: condition: expected number, got {}",
                            crate::printer::type_name(&self.heap, c)
                        );
                        return Ok(Called::Value(self.error_value(&msg, span)?));
                    }
                };
                let chosen = if truth {
                    args[1]
                } else {
                    args.get(2).copied().unwrap_or(Value::NIL)
                };
                self.eval_value(chosen, ret, tail, span)
            }
            Special::Do => Ok(Called::Value(args.last().copied().unwrap_or(Value::NIL))),
            Special::Lambda | Special::Macro => {
                let is_macro = s == Special::Macro;
                match self.lambda_from_values(args[0], args[1], None, is_macro, span)? {
                    Ok(c) => Ok(Called::Value(c)),
                    Err(e) => Ok(Called::Value(e)),
                }
            }
            Special::Fun => {
                let Some(head) = self.heap.list_to_vec(args[0]).filter(|h| !h.is_empty()) else {
                    return Ok(Called::Value(
                        self.error_value("`fun`: expected {name formals...}", span)?,
                    ));
                };
                let Some(name) = head[0].as_symbol() else {
                    return Ok(Called::Value(
                        self.error_value("`fun`: the name must be a symbol", span)?,
                    ));
                };
                let formals = self
                    .heap
                    .list(&head[1..], ListKind::Q)
                    .map_err(|e| self.heap_fatal(e))?;
                match self.lambda_from_values(formals, args[1], Some(name), false, span)? {
                    Ok(c) => {
                        let sv = self.heap.to_shared(c);
                        self.globals.define(name, sv);
                        Ok(Called::Value(Value::EMPTY_S))
                    }
                    Err(e) => Ok(Called::Value(e)),
                }
            }
            Special::Local => self.bind_local(args, span),
            Special::Penv => self.penv(),
            Special::ErrorAtCaller => self.error_at_caller(args[0], span),
            Special::Let
            | Special::Select
            | Special::Case
            | Special::Match
            | Special::Try
            | Special::Receive
            | Special::Repeat => self.synthesized(s, args, ret, tail, span),
            Special::Async => self.async_call(args, ret, tail, span),
            Special::Reset => self.reset_form(args, ret, tail, span),
            Special::Shift => self.shift_form(args, ret, tail, span),
            Special::Resume => self.resume(args, ret, tail, span),
            Special::LoadSource => self.load_source(args, ret, tail, span),
            Special::Await => {
                let name = if args.len() == 1 {
                    "future/-await"
                } else {
                    "future/-await-ms"
                };
                let f = self.lookup(valk_heap::intern(name), span)?;
                self.argbuf.clear();
                self.argbuf.extend_from_slice(args);
                self.apply(f, ret, tail, span)
            }
        }
    }

    /// Run a value as code: a list runs as an S-expression, a symbol is
    /// looked up, anything else is itself.
    pub(crate) fn eval_value(
        &mut self,
        v: Value,
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        if let Some(sym) = v.as_symbol() {
            return Ok(Called::Value(self.lookup_frames_first(sym, span)?));
        }
        if v.is_nil() || v.is_empty_s() || self.heap.list_kind(v).is_none() {
            return Ok(Called::Value(if v.is_nil() { Value::EMPTY_S } else { v }));
        }
        if let Some(called) = self.eval_plain_call(v, ret, tail, span)? {
            return Ok(called);
        }
        let proto = match self.cached(TAG_EVAL, v, span, |c, node, span| {
            let items: &[Node] = match &node.syn {
                Syn::List(_, items) => items,
                _ => std::slice::from_ref(node),
            };
            c.compile_body_chunk(items, span, Mode::Eval)
        })? {
            Ok(p) => p,
            Err(e) => return Ok(Called::Value(e)),
        };
        self.run_chunk(proto, ret, tail, span)
    }

    /// `eval` of a plain call, `(f a b ...)` or `{f a b ...}`: the head a function (or a
    /// global naming one) that is neither a macro nor a special form, every
    /// argument a value that evaluates to itself or a global's name. It is
    /// applied directly, compiling nothing (a run-time loop through `eval`
    /// makes a new list each step: compiling each would keep code per
    /// step), and in tail position it is a tail call. `None`: compile it.
    fn eval_plain_call(
        &mut self,
        v: Value,
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Option<Called>, Stop> {
        let Some(items) = self.heap.list_to_vec(v) else {
            return Ok(None);
        };
        let Some((&head, rest)) = items.split_first() else {
            return Ok(None);
        };
        let code = |it: &Interp, a: Value| {
            a.is_nil() || a.is_empty_s() || it.heap.list_kind(a) == Some(ListKind::S)
        };
        if rest.iter().any(|&a| code(self, a)) {
            return Ok(None);
        }
        // Names resolve along the frames first, as in compiled run-time
        // code (LANGUAGE.md §3).
        let f = match head.as_symbol() {
            Some(sym) => match self.dynamic_lookup(sym).or_else(|| self.read_global(sym)) {
                Some(f) => f,
                None => return Ok(None),
            },
            None => head,
        };
        let plain = match f.as_builtin() {
            Some(i) => {
                builtins::def(i).is_some_and(|d| !matches!(d.imp, builtins::Imp::Special(_)))
            }
            None => {
                f.is_ptr()
                    && self.heap.kind(f) == Some(valk_heap::ObjKind::Closure)
                    && !self
                        .heap
                        .closure_parts(f)
                        .and_then(|(c, _)| code::decode(c))
                        .is_some_and(|(_, is_macro)| is_macro)
            }
        };
        if !plain {
            return Ok(None);
        }
        let mut args = Vec::with_capacity(rest.len());
        for &a in rest {
            match a.as_symbol() {
                // A binding along the frames, or a global; an unbound
                // name compiles (and fails with its location).
                Some(sym) => match self.dynamic_lookup(sym).or_else(|| self.read_global(sym)) {
                    Some(x) => args.push(x),
                    None => return Ok(None),
                },
                None => args.push(a),
            }
        }
        self.argbuf.clear();
        self.argbuf.extend_from_slice(&args);
        self.apply(f, ret, tail, span).map(Some)
    }

    /// `(load/-source text path)`: the forms of `text`, read with their
    /// own locations (`path:line:col`), compiled as one top-level chunk
    /// (`(do form ...)`: the first error stops it and is its value) and run
    /// in a top-level frame, so their `=` and `def` bind globally.
    fn load_source(
        &mut self,
        args: &[Value],
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        let (Some(text), Some(path)) = (self.heap.str(args[0]), self.heap.str(args[1])) else {
            let msg = "`load`: expected the text and the path as strings";
            return Ok(Called::Value(self.error_value(msg, span)?));
        };
        let path = path.to_owned();
        let forms = match crate::reader::read_all(text, &path) {
            Ok(forms) => forms,
            Err(e) => {
                let msg = format!("{path}:{}:{}: {}", e.span.line, e.span.col, e.message);
                return Ok(Called::Value(self.error_value(&msg, span)?));
            }
        };
        let Some(first) = forms.first() else {
            return Ok(Called::Value(Value::EMPTY_S));
        };
        let at = first.span;
        let mut items = vec![Node::new(Syn::Sym(intern("do")), at)];
        items.extend(forms);
        items.push(Node::new(Syn::List(ListKind::S, Vec::new()), at));
        let whole = Node::new(Syn::List(ListKind::S, items), at);
        let compiled = Compiler::new(&mut self.heap).compile_chunk(&whole, Mode::TopLevel);
        let p = match compiled {
            Ok(p) => p,
            Err(e) => return Ok(Called::Value(self.compile_error(e))),
        };
        let called = self.run_chunk(p, ret, tail, span)?;
        if matches!(called, Called::Pushed) {
            if let Some(fr) = self.frames.last_mut() {
                fr.kind = FrameKind::TopLevel;
            }
        }
        Ok(called)
    }

    /// The run-time path of a special form whose builtin was redefined.
    pub(crate) fn deopt(
        &mut self,
        form: &Node,
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        let v =
            crate::compiler::node_to_value(&mut self.heap, form).map_err(|e| self.heap_fatal(e))?;
        let proto = match self.cached(TAG_DEOPT, v, span, |c, node, _| {
            c.compile_generic_chunk(node)
        })? {
            Ok(p) => p,
            Err(e) => return Ok(Called::Value(e)),
        };
        self.run_chunk(proto, ret, tail, span)
    }

    /// Push (or, for `tail`, replace the frame with) a compiled chunk.
    fn run_chunk(&mut self, proto: u32, ret: Reg, tail: bool, span: Span) -> Result<Called, Stop> {
        let Some(p) = self.proto(proto) else {
            return Ok(Called::Value(Value::EMPTY_S));
        };
        // `eval` code replacing a frame (tail) runs as that frame: a
        // top-level form stays top level, a function's frame keeps it `=`.
        let kind = match (tail, self.frames.last()) {
            (true, Some(f)) => f.kind,
            _ => FrameKind::Eval,
        };
        let Some(_) = self.enter(p, ret, tail, span)? else {
            return Ok(Called::Value(self.error_value("stack overflow", span)?));
        };
        if let Some(fr) = self.frames.last_mut() {
            fr.kind = kind;
        }
        Ok(Called::Pushed)
    }

    /// Compile `key` (a value) through the cache: the same list compiles
    /// once. `Err` inside: the compile error as an Error value.
    fn cached(
        &mut self,
        tag: u8,
        key: Value,
        span: Span,
        compile: impl FnOnce(
            &mut Compiler<'_>,
            &Node,
            Span,
        ) -> Result<u32, crate::compiler::CompileError>,
    ) -> Result<Result<u32, Value>, Stop> {
        let h = equal::structural_hash(&self.heap, key);
        if let Some(entries) = self.cold.as_ref().and_then(|c| c.eval_cache.get(&(tag, h))) {
            for (k, p) in entries {
                if equal::identical(&self.heap, k.value(), key) {
                    return Ok(Ok(*p));
                }
            }
        }
        let node = match value_to_node(&mut self.heap, key, span, 0) {
            Ok(n) => n,
            Err(m) => return Ok(Err(self.error_value(&m, span)?)),
        };
        let compiled = compile(&mut Compiler::new(&mut self.heap), &node, span);
        match compiled {
            Ok(p) => {
                // A chunk that makes no closure is transient (`code.rs`):
                // freed once no frame runs it, so distinct lists through
                // `eval` keep no code. The sweep comes before this one is
                // listed (it is not on a frame yet).
                let transient = tag != TAG_LAMBDA
                    && tag != TAG_MACRO
                    && code::get(p).is_some_and(|proto| !proto.makes_closures());
                if transient {
                    let c = self.cold();
                    if c.transient.len() >= c.transient_limit.max(super::TRANSIENT_SWEEP) {
                        self.sweep_transient();
                    }
                    self.cold().transient.push((p, (tag, h)));
                }
                let sv: SharedValue = self
                    .heap
                    .try_to_shared(key)
                    .map_err(|e| self.heap_fatal(e))?;
                self.cold()
                    .eval_cache
                    .entry((tag, h))
                    .or_default()
                    .push((sv, p));
                Ok(Ok(p))
            }
            Err(e) => Ok(Err(self.compile_error(e))),
        }
    }

    /// A lambda from run-time formals and body lists (no captures: names
    /// not bound by its parameters resolve globally, then dynamically).
    pub(super) fn lambda_from_values(
        &mut self,
        formals: Value,
        body: Value,
        name: Option<u32>,
        is_macro: bool,
        span: Span,
    ) -> Result<Result<Value, Value>, Stop> {
        let fs = self
            .heap
            .list_to_vec(formals)
            .filter(|_| self.heap.list_kind(formals).is_some() || formals.is_nil());
        let ok_formals = fs
            .as_ref()
            .is_some_and(|f| f.iter().all(|v| v.as_symbol().is_some()));
        if !ok_formals || self.heap.list_kind(body).is_none() && !body.is_nil() {
            let what = if is_macro { "macro" } else { "\\" };
            let msg =
                format!("`{what}`: expected a Q-expression of symbols and a Q-expression body");
            return Ok(Err(self.error_value(&msg, span)?));
        }
        let key = self
            .heap
            .list(&[formals, body], ListKind::Q)
            .map_err(|e| self.heap_fatal(e))?;
        let tag = if is_macro { TAG_MACRO } else { TAG_LAMBDA };
        let compiled = self.cached(tag, key, span, |c, node, span| {
            let parts = key_parts(node, span)?;
            let formals = list_items(&parts[0]);
            let body = list_items(&parts[1]);
            c.compile_lambda(formals, body, span, name, is_macro)
        })?;
        match compiled {
            Ok(p) => {
                let c = self
                    .heap
                    .closure(code::code_word(p, is_macro), &[])
                    .map_err(|e| self.heap_fatal(e))?;
                Ok(Ok(c))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// `=` with computed arguments: bind in the calling frame (the nearest
    /// frame that is not run-time `eval` code); at the top level, globally.
    fn bind_local(&mut self, args: &[Value], span: Span) -> Result<Called, Stop> {
        let names = self.heap.list_to_vec(args[0]).unwrap_or_default();
        if names.len() != args.len() - 1 || names.iter().any(|n| n.as_symbol().is_none()) {
            let msg = format!(
                "`=`: expected a Q-expression of symbols and one value for each, got {} and {}",
                crate::printer::count(names.len(), "symbol"),
                crate::printer::count(args.len() - 1, "value")
            );
            return Ok(Called::Value(self.error_value(&msg, span)?));
        }
        let target = self.frames.iter().rposition(|f| f.kind != FrameKind::Eval);
        for (n, v) in names.iter().zip(&args[1..]) {
            let sym = n.as_symbol().unwrap_or(0);
            match target.map(|i| (i, self.frames[i].kind)) {
                None | Some((_, FrameKind::TopLevel)) => {
                    let sv = self.heap.to_shared(*v);
                    self.globals.define(sym, sv);
                }
                Some((i, _)) => set_binding(&mut self.frames[i], &mut self.regs, sym, *v),
            }
        }
        Ok(Called::Value(Value::EMPTY_S))
    }

    /// `penv`: the current frame's bindings as `{{name value} ...}`; at the
    /// top level, the globals that are not builtins.
    /// `(error/-at-caller msg)`: the Error `msg` (displayed as `print`
    /// would), located at the innermost call site outside the prelude, or
    /// with no location when every live frame is prelude code (the user's
    /// call was replaced by a tail call).
    fn error_at_caller(&mut self, msg: Value, span: Span) -> Result<Called, Stop> {
        let text = self.display(msg);
        let sites = std::iter::once(span).chain(self.frames.iter().rev().skip(1).map(|f| {
            let at = (f.pc as usize).saturating_sub(1);
            f.proto.spans.get(at).copied().unwrap_or_default()
        }));
        let user = sites
            .filter(|s| s.line != 0)
            .find(|s| !crate::prelude::is_prelude_file(valk_heap::symbol_name(s.file)))
            .unwrap_or_default();
        Ok(Called::Value(self.error_value(&text, user)?))
    }

    fn penv(&mut self) -> Result<Called, Stop> {
        let idx = self.frames.iter().rposition(|f| f.kind != FrameKind::Eval);
        let pairs = match idx.map(|i| (i, self.frames[i].kind)) {
            Some((i, FrameKind::Call)) => self.frame_bindings(i),
            _ => self
                .globals
                .bound()
                .into_iter()
                .filter(|(_, v)| v.as_builtin().is_none())
                .collect(),
        };
        let mut items = Vec::with_capacity(pairs.len());
        for (s, v) in pairs {
            // A global's value, now in this heap's list: counted, so a
            // later `def` of the name cannot free it under the list.
            self.heap.keep_shared(v);
            let p = self
                .heap
                .list(&[Value::symbol(s), v], ListKind::Q)
                .map_err(|e| self.heap_fatal(e))?;
            items.push(p);
        }
        let l = self
            .heap
            .list(&items, ListKind::Q)
            .map_err(|e| self.heap_fatal(e))?;
        Ok(Called::Value(l))
    }

    /// `let`/`select`/`case`/`match`/`try`/`repeat` with computed
    /// arguments: compile `(\ {v} {FORM v args...})` with the form's builtin
    /// as a literal head (inlined like literal arguments), then call it.
    fn synthesized(
        &mut self,
        s: Special,
        args: &[Value],
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        // Which leading argument is a plain value (passed as the parameter).
        let takes_value = matches!(s, Special::Case | Special::Match | Special::Repeat);
        let idx = builtins::special_index(s);
        let Some(idx) = idx else {
            return Ok(Called::Value(Value::NIL));
        };
        if s == Special::Let && self.heap.list_kind(args[0]).is_none() && !args[0].is_nil() {
            return Ok(Called::Value(args[0]));
        }
        let wrapped;
        let mut code_args = if takes_value { &args[1..] } else { args };
        if s == Special::Try && self.heap.list_kind(args[0]).is_none() && !args[0].is_nil() {
            // `(try VALUE handler)`: run `{VALUE}` (an Error there is caught).
            let body = self
                .heap
                .list(&[args[0]], ListKind::Q)
                .map_err(|e| self.heap_fatal(e))?;
            wrapped = [body, args.get(1).copied().unwrap_or(Value::NIL)];
            code_args = &wrapped[..args.len().min(2)];
        }
        let key_list = self
            .heap
            .list(code_args, ListKind::Q)
            .map_err(|e| self.heap_fatal(e))?;
        let key = self
            .heap
            .list(&[Value::builtin(idx), key_list], ListKind::Q)
            .map_err(|e| self.heap_fatal(e))?;
        let compiled = self.cached(TAG_FORM, key, span, move |c, node, span| {
            let parts = key_parts(node, span)?;
            let head = Node::new(
                Syn::Value(
                    parts[0]
                        .clone()
                        .into_shared()
                        .unwrap_or_else(|| builtin_shared(idx as usize)),
                ),
                span,
            );
            let hidden = intern(HIDDEN);
            let mut form = vec![head];
            if takes_value {
                form.push(Node::new(Syn::Sym(hidden), span));
            }
            form.extend(list_items(&parts[1]).iter().cloned());
            if !crate::compiler::special_fits(s, &form[1..]) {
                let message = expected_shape(s).map_or_else(
                    || {
                        format!(
                            "`{}`: malformed arguments",
                            builtins::def(idx).map_or("?", |d| d.name)
                        )
                    },
                    str::to_owned,
                );
                return Err(CompileError { span, message });
            }
            let formals: Vec<Node> = if takes_value {
                vec![Node::new(Syn::Sym(hidden), span)]
            } else {
                Vec::new()
            };
            let body = [Node::new(Syn::List(ListKind::S, form), span)];
            c.compile_lambda(&formals, &body, span, None, false)
        })?;
        let p = match compiled {
            Ok(p) => p,
            Err(e) => return Ok(Called::Value(e)),
        };
        let f = self
            .heap
            .closure(code::code_word(p, false), &[])
            .map_err(|e| self.heap_fatal(e))?;
        self.argbuf.clear();
        if takes_value {
            self.argbuf.push(args[0]);
        }
        // A zero-parameter lambda called with no arguments runs.
        self.apply(f, ret, tail, span)
    }
}

/// The two parts of a cache key list.
fn key_parts(node: &Node, span: Span) -> Result<&[Node], CompileError> {
    match &node.syn {
        Syn::List(_, parts) if parts.len() == 2 => Ok(parts),
        _ => Err(CompileError {
            span,
            message: "malformed code list".into(),
        }),
    }
}

fn builtin_shared(idx: usize) -> SharedValue {
    // A builtin is an immediate, so this always succeeds; NIL otherwise.
    SharedValue::from_immediate(Value::builtin(idx as u32))
        .or_else(|| SharedValue::from_immediate(Value::NIL))
        .unwrap_or_else(|| SharedValue::opaque(std::sync::Arc::new(())))
}

trait IntoShared {
    fn into_shared(self) -> Option<SharedValue>;
}

impl IntoShared for Node {
    fn into_shared(mut self) -> Option<SharedValue> {
        match std::mem::replace(&mut self.syn, Syn::Int(0)) {
            Syn::Value(v) => Some(v),
            _ => None,
        }
    }
}

fn list_items(n: &Node) -> &[Node] {
    match &n.syn {
        Syn::List(_, items) => items,
        _ => std::slice::from_ref(n),
    }
}

/// Bind `sym` in frame `fr`: its register if the frame has one by that name,
/// else its dynamic bindings.
fn set_binding(fr: &mut Frame, regs: &mut [Value], sym: u32, v: Value) {
    if let Some((_, r)) = fr.proto.meta.names.iter().rev().find(|(s, _)| *s == sym) {
        if let Some(slot) = regs.get_mut(fr.base as usize + *r as usize) {
            *slot = v;
            return;
        }
    }
    match fr.extras.iter_mut().find(|(s, _)| *s == sym) {
        Some(slot) => slot.1 = v,
        None => fr.extras.push((sym, v)),
    }
}

/// What a code-taking form expects, for the error when its computed
/// arguments do not fit.
fn expected_shape(s: Special) -> Option<&'static str> {
    Some(match s {
        Special::Case => "`case`: expected a value, then clauses of the form {{key} value}",
        Special::Select => "`select`: expected clauses of the form {condition value}",
        Special::Match => "`match`: expected a value, then clauses of the form {pattern body...}",
        Special::Let => "`let`: expected one body, `(let {body})`",
        Special::Try => "`try`: expected a body and a handler, `(try {body} (\\ {e} {...}))`",
        Special::Repeat => "`repeat`: expected a count and a body, `(repeat n {body})`",
        Special::Receive => {
            "`receive`: expected clauses of the form {pattern body...}, the last may be {:after ms body...}"
        }
        _ => return None,
    })
}
