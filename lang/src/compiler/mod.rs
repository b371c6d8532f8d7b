//! The compiler: forms to Valk IR.
//!
//! Scope is resolved here. A symbol is, in order: a register of the function
//! being compiled (a parameter, a capture, a `=` local), a register of an
//! enclosing function (captured by value: flat closure conversion), or a
//! global/dynamic lookup at run time ([`Op::Global`]).
//!
//! A call whose head is a symbol naming a special builtin (`if`, `\`, `def`,
//! ...) with literal Q-expression arguments compiles to control flow, behind
//! a [`Op::Guard`] that takes the general call path if the global of that name
//! has been redefined. Arithmetic and comparison of two operands get
//! small-integer fast paths the same way.

mod forms;
mod pattern;
mod receive;

use valk_heap::{Heap, ListKind, SharedValue, Value};

use crate::builtins::{self, Imp};
use crate::code;
use crate::ir::{Block, Function, Meta, Op, Proto, Reg, Target};
use crate::syntax::{Node, Span, Syn};

/// Registers at or above this are provisional capture numbers, renumbered
/// when the function is finished.
const CAP_BASE: u32 = 0x8000;
/// Most registers a function may use (leaves room for provisional numbers).
const MAX_REGS: u32 = CAP_BASE - 1;

/// A compile error (the message; the span says where).
#[derive(Debug, Clone)]
pub struct CompileError {
    pub span: Span,
    pub message: String,
}

type CResult<T> = Result<T, CompileError>;

/// Where the code being compiled runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// A top-level form of a file or REPL line: `=` at the outer scope binds
    /// globally (the top-level frame is the global environment).
    TopLevel,
    /// A list given to `eval` at run time: `=` at the outer scope binds in
    /// the calling frame, so it goes through the runtime builtin.
    Eval,
}

use crate::ir::Handler;

#[derive(Clone, Copy)]
struct Binding {
    sym: u32,
    reg: Reg,
    /// Bound by `=`: may be unset on some path, read with `LocalChecked`.
    checked: bool,
}

struct FnState {
    blocks: Vec<Block>,
    cur: usize,
    next: u32,
    floor: u32,
    max: u32,
    scope: Vec<Binding>,
    /// Captured names and the register in the enclosing function.
    caps: Vec<(u32, Reg, bool)>,
    meta: Meta,
    /// `=` at this scope depth binds globally (top-level mode).
    global_eq_depth: Option<usize>,
    /// `=` at scope depth 0 goes through the runtime builtin (eval mode).
    eval_mode: bool,
    let_depth: usize,
    handler: Handler,
}

/// Compiles one unit (a top-level form, an `eval`ed list, a run-time lambda).
pub struct Compiler<'h> {
    heap: &'h mut Heap,
    fns: Vec<FnState>,
    /// Tail-position `((...))` wrappers around the S-expression about to be
    /// compiled (see [`Op::TailCall`]).
    pending_apply: u32,
    /// Compile the outermost form as a plain call, never inline (the
    /// run-time path of [`Op::Deopt`]).
    generic_top: bool,
}

/// The builtin indices the compiler knows by role.
pub(crate) struct Known {
    pub plus: u32,
    pub minus: u32,
    pub times: u32,
    pub lt: u32,
    pub gt: u32,
    pub le: u32,
    pub ge: u32,
    pub eq: u32,
    pub ne: u32,
}

pub(crate) fn known() -> &'static Known {
    static K: std::sync::OnceLock<Known> = std::sync::OnceLock::new();
    K.get_or_init(|| {
        let i = |n| builtins::index_of(n).unwrap_or(u32::MAX);
        Known {
            plus: i("+"),
            minus: i("-"),
            times: i("*"),
            lt: i("<"),
            gt: i(">"),
            le: i("<="),
            ge: i(">="),
            eq: i("=="),
            ne: i("!="),
        }
    })
}

impl<'h> Compiler<'h> {
    pub fn new(heap: &'h mut Heap) -> Self {
        Compiler {
            heap,
            fns: Vec::new(),
            pending_apply: 0,
            generic_top: false,
        }
    }

    /// Compile a top-level form (or an `eval`ed one) as a function of no
    /// arguments; returns its code-registry index.
    pub fn compile_chunk(&mut self, form: &Node, mode: Mode) -> CResult<u32> {
        self.begin(
            Meta {
                span: form.span,
                ..Meta::default()
            },
            mode == Mode::TopLevel,
            mode == Mode::Eval,
        );
        let dst = self.alloc(form.span)?;
        // A top-level form's own call is not a tail call: the top-level
        // frame stays, so errors raised by a prelude function can be
        // located at the user's call (`error/-at-caller`). One frame.
        self.expr(form, dst, mode != Mode::TopLevel)?;
        Ok(self.finish())
    }

    /// Compile a form whose special builtin was redefined: the outermost call
    /// is a plain call, as run-time code (the [`Op::Deopt`] path).
    pub fn compile_generic_chunk(&mut self, form: &Node) -> CResult<u32> {
        self.generic_top = true;
        self.compile_chunk(form, Mode::Eval)
    }

    /// Compile `{body}` run as code, as a chunk (`eval` of a Q-expression).
    pub fn compile_body_chunk(&mut self, items: &[Node], span: Span, mode: Mode) -> CResult<u32> {
        self.begin(
            Meta {
                span,
                ..Meta::default()
            },
            mode == Mode::TopLevel,
            mode == Mode::Eval,
        );
        let dst = self.alloc(span)?;
        self.body(items, span, dst, true)?;
        Ok(self.finish())
    }

    /// Compile a lambda from formals and a body given as values at run time
    /// (the `\` builtin called on computed lists). Free names resolve
    /// globally, then dynamically.
    pub fn compile_lambda(
        &mut self,
        formals: &[Node],
        body: &[Node],
        span: Span,
        name: Option<u32>,
        is_macro: bool,
    ) -> CResult<u32> {
        Ok(self.lambda_proto(formals, body, span, name, is_macro)?.0)
    }

    // ---- function state ----

    fn begin(&mut self, meta: Meta, toplevel: bool, eval_mode: bool) {
        self.fns.push(FnState {
            blocks: vec![Block::default()],
            cur: 0,
            next: 0,
            floor: 0,
            max: 0,
            scope: Vec::new(),
            caps: Vec::new(),
            meta,
            global_eq_depth: toplevel.then_some(0),
            eval_mode,
            let_depth: 0,
            handler: None,
        });
    }

    fn f(&mut self) -> &mut FnState {
        let i = self.fns.len() - 1;
        &mut self.fns[i]
    }

    /// Finish the innermost function: renumber captures after the locals,
    /// lay it out, register it.
    fn finish(&mut self) -> u32 {
        self.finish_with_caps().0
    }

    /// [`Compiler::finish`], also giving the enclosing function's registers
    /// the new closure captures (in order).
    fn finish_with_caps(&mut self) -> (u32, Vec<Reg>) {
        let Some(mut st) = self.fns.pop() else {
            return (0, Vec::new());
        };
        let outer_caps: Vec<Reg> = st.caps.iter().map(|c| c.1).collect();
        let nlocals = st.max;
        let ncaps = st.caps.len() as u32;
        let fix = |r: &mut Reg| {
            if u32::from(*r) >= CAP_BASE {
                *r = (u32::from(*r) - CAP_BASE + nlocals) as Reg;
            }
        };
        for b in &mut st.blocks {
            for op in &mut b.ops {
                for_each_reg(op, fix);
            }
        }
        for (_, r) in &mut st.meta.names {
            fix(r);
        }
        for (i, (sym, _, _)) in st.caps.iter().enumerate() {
            st.meta.names.push((*sym, (nlocals + i as u32) as Reg));
        }
        st.meta.ncaps = ncaps as u16;
        st.meta.nregs = (nlocals + ncaps) as u16;
        st.meta.free.sort_unstable();
        st.meta.free.dedup();
        // Blocks left open (unreachable joins) get a terminator.
        for b in &mut st.blocks {
            if !b.ops.last().is_some_and(Op::is_terminator) {
                b.ops.push(Op::Return { src: 0 });
                b.spans.push(st.meta.span);
            }
        }
        let func = Function {
            blocks: st.blocks,
            meta: st.meta,
        };
        (code::register(Proto::from_function(func)), outer_caps)
    }

    /// The native stack guard: every level of the compiler's recursion over
    /// a form passes here (through [`Compiler::sexpr`] or a register
    /// allocation, which the pattern compiler makes at each level too), so a
    /// form nested deeper than the stack allows is a compile error at its
    /// position instead of an overflow.
    fn deeper(span: Span) -> CResult<()> {
        valk_sync::stack::check().map_err(|e| CompileError {
            span,
            message: e.to_string(),
        })
    }

    fn alloc(&mut self, span: Span) -> CResult<Reg> {
        Self::deeper(span)?;
        let f = self.f();
        if f.next >= MAX_REGS {
            return Err(CompileError {
                span,
                message: "function needs too many registers".into(),
            });
        }
        let r = f.next;
        f.next += 1;
        f.max = f.max.max(f.next);
        Ok(r as Reg)
    }

    fn alloc_n(&mut self, n: usize, span: Span) -> CResult<Reg> {
        let first = self.f().next as Reg;
        for _ in 0..n {
            self.alloc(span)?;
        }
        Ok(first)
    }

    fn mark(&mut self) -> u32 {
        self.f().next
    }

    fn release(&mut self, mark: u32) {
        let f = self.f();
        f.next = mark.max(f.floor);
    }

    /// A register that survives [`Compiler::release`] (a binding).
    fn alloc_pinned(&mut self, span: Span) -> CResult<Reg> {
        let r = self.alloc(span)?;
        let f = self.f();
        f.floor = f.next;
        Ok(r)
    }

    fn new_block(&mut self) -> Target {
        let f = self.f();
        f.blocks.push(Block::default());
        (f.blocks.len() - 1) as Target
    }

    fn switch_to(&mut self, b: Target) {
        self.f().cur = b as usize;
    }

    fn emit(&mut self, op: Op, span: Span) {
        let f = self.f();
        let b = &mut f.blocks[f.cur];
        if b.ops.last().is_some_and(Op::is_terminator) {
            // Unreachable code after a terminator: put it in a fresh block.
            f.blocks.push(Block::default());
            f.cur = f.blocks.len() - 1;
        }
        let b = &mut f.blocks[f.cur];
        b.ops.push(op);
        b.spans.push(span);
    }

    fn terminated(&mut self) -> bool {
        let f = self.f();
        f.blocks[f.cur].ops.last().is_some_and(Op::is_terminator)
    }

    fn jump(&mut self, to: Target, span: Span) {
        if !self.terminated() {
            self.emit(Op::Jump { to }, span);
        }
    }

    /// Finish an expression: in tail position return `dst`.
    fn done(&mut self, dst: Reg, tail: bool, span: Span) {
        if tail && !self.terminated() {
            self.emit(Op::Return { src: dst }, span);
        }
    }

    fn handler(&mut self) -> Handler {
        self.f().handler
    }

    /// Errors in `src` leave the function (or go to the `try` handler).
    fn check_error(&mut self, src: Reg, span: Span) {
        match self.handler() {
            None => {
                let ok = self.new_block();
                self.emit(Op::ReturnIfError { src, ok }, span);
                self.switch_to(ok);
            }
            Some((target, reg)) => {
                let ok = self.new_block();
                let err = self.new_block();
                self.emit(Op::IfError { src, err, ok }, span);
                self.switch_to(err);
                self.emit(Op::Move { dst: reg, src }, span);
                self.emit(Op::Jump { to: target }, span);
                self.switch_to(ok);
            }
        }
    }

    fn constant(&mut self, v: SharedValue) -> u32 {
        let f = self.f();
        f.meta.consts.push(v);
        (f.meta.consts.len() - 1) as u32
    }

    fn load_value(&mut self, v: Value, dst: Reg, span: Span) {
        if v.is_ptr() {
            let sv = self.heap.to_shared(v);
            let idx = self.constant(sv);
            self.emit(Op::Const { dst, idx }, span);
        } else {
            self.emit(Op::Imm { dst, val: v }, span);
        }
    }

    fn heap_err(span: Span) -> impl Fn(valk_heap::HeapError) -> CompileError {
        move |e| CompileError {
            span,
            message: e.to_string(),
        }
    }

    /// The value of a literal form (Q-expressions as data).
    pub(crate) fn literal_value(&mut self, n: &Node) -> CResult<Value> {
        node_to_value(self.heap, n).map_err(Self::heap_err(n.span))
    }

    // ---- scope ----

    /// Resolve `sym` in function `depth` (index into `fns`). Iterative (lambdas
    /// may nest as deep as forms do): find the nearest function that binds
    /// or already captures `sym`, then capture it in each function between
    /// that one and `depth`.
    fn resolve_in(&mut self, depth: usize, sym: u32) -> Option<(Reg, bool)> {
        let mut found = depth;
        let (mut reg, checked) = loop {
            let f = &self.fns[found];
            if let Some(b) = f.scope.iter().rev().find(|b| b.sym == sym) {
                break (b.reg, b.checked);
            }
            if let Some(i) = f.caps.iter().position(|c| c.0 == sym) {
                break ((CAP_BASE + i as u32) as Reg, f.caps[i].2);
            }
            if found == 0 {
                return None;
            }
            found -= 1;
        };
        for f in &mut self.fns[found + 1..=depth] {
            f.caps.push((sym, reg, checked));
            reg = (CAP_BASE + f.caps.len() as u32 - 1) as Reg;
        }
        Some((reg, checked))
    }

    fn resolve(&mut self, sym: u32) -> Option<(Reg, bool)> {
        let d = self.fns.len() - 1;
        self.resolve_in(d, sym)
    }

    fn is_lexical(&mut self, sym: u32) -> bool {
        let d = self.fns.len();
        self.fns
            .iter()
            .take(d)
            .any(|f| f.scope.iter().any(|b| b.sym == sym) || f.caps.iter().any(|c| c.0 == sym))
    }

    fn bind(&mut self, sym: u32, reg: Reg, checked: bool) {
        let f = self.f();
        f.scope.push(Binding { sym, reg, checked });
        f.meta.names.push((sym, reg));
    }

    /// Load the value of symbol `sym` into `dst`.
    fn symbol(&mut self, sym: u32, dst: Reg, span: Span) {
        match self.resolve(sym) {
            Some((src, false)) => {
                if src != dst {
                    self.emit(Op::Move { dst, src }, span)
                }
            }
            Some((src, true)) => self.emit(Op::LocalChecked { dst, src, sym }, span),
            None => {
                self.f().meta.free.push(sym);
                let op = self.free_name(dst, sym);
                self.emit(op, span);
            }
        }
    }

    /// How this function loads a free name: run-time code (`eval`'s outer
    /// level) looks along the frames first, other code at the globals
    /// first (LANGUAGE.md §3).
    fn free_name(&mut self, dst: Reg, sym: u32) -> Op {
        if self.frames_first() {
            Op::FrameGlobal { dst, sym }
        } else {
            Op::Global { dst, sym }
        }
    }

    fn frames_first(&mut self) -> bool {
        let f = self.f();
        f.eval_mode && f.let_depth == 0
    }

    /// A register holding `n`'s value: a parameter's own register when `n` is
    /// one, else `n` compiled into a fresh register.
    fn operand(&mut self, n: &Node) -> CResult<Reg> {
        if let Syn::Sym(s) = n.syn {
            if let Some((r, false)) = self.resolve(s) {
                return Ok(r);
            }
        }
        let r = self.alloc(n.span)?;
        self.expr(n, r, false)?;
        Ok(r)
    }

    // ---- expressions ----

    /// Compile `n` so its value lands in `dst`; in tail position, return it
    /// (or tail-call).
    pub(crate) fn expr(&mut self, n: &Node, dst: Reg, tail: bool) -> CResult<()> {
        match &n.syn {
            Syn::Int(i) => {
                let v = match Value::small_int(*i) {
                    Some(v) => v,
                    None => self.heap.int(*i).map_err(Self::heap_err(n.span))?,
                };
                self.load_value(v, dst, n.span);
            }
            Syn::Float(f) => self.emit(
                Op::Imm {
                    dst,
                    val: Value::float(*f),
                },
                n.span,
            ),
            Syn::Kw(k) => self.emit(
                Op::Imm {
                    dst,
                    val: Value::keyword(*k),
                },
                n.span,
            ),
            Syn::Sym(s) => self.symbol(*s, dst, n.span),
            Syn::Str(_) | Syn::List(ListKind::Q, _) => {
                let v = self.literal_value(n)?;
                self.load_value(v, dst, n.span);
            }
            Syn::Value(v) => {
                let idx = self.constant(v.clone());
                self.emit(Op::Const { dst, idx }, n.span);
            }
            Syn::List(ListKind::S, items) => return self.sexpr(items, n.span, dst, tail),
        }
        self.done(dst, tail, n.span);
        Ok(())
    }

    /// `{items}` run as code: the S-expression `(items...)`.
    pub(crate) fn body(&mut self, items: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        // Errors point at the code, not at the `{` around it.
        let span = items.first().map_or(span, |n| n.span);
        self.sexpr(items, span, dst, tail)
    }

    fn sexpr(&mut self, items: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        Self::deeper(span)?;
        let Some(head) = items.first() else {
            self.emit(
                Op::Imm {
                    dst,
                    val: Value::EMPTY_S,
                },
                span,
            );
            self.done(dst, tail, span);
            return Ok(());
        };
        let args = &items[1..];
        if std::mem::take(&mut self.generic_top) {
            return self.call(items, span, dst, tail);
        }
        // `((f x))` in tail position: tail-call `(f x)` and have the frame
        // call its result (constant stack for wrapped tail calls).
        let wrap = std::mem::take(&mut self.pending_apply);
        if tail && args.is_empty() {
            if let Syn::List(ListKind::S, inner) = &head.syn {
                let plain = match inner.first().map(|h| &h.syn) {
                    Some(Syn::Sym(s)) => {
                        let s = *s;
                        self.is_lexical(s)
                            || builtins::index_of(valk_heap::symbol_name(s)).is_none()
                    }
                    Some(Syn::List(ListKind::S, _)) => true,
                    _ => false,
                };
                if plain {
                    self.pending_apply = wrap + 1;
                    return self.sexpr(inner, head.span, dst, true);
                }
                // A special form or builtin (`((do a (loop)))`, the usual
                // `match`/`receive` clause body): compiled inline in tail
                // position, the frame calling its final value.
                self.emit(Op::ApplyResult { n: wrap + 1 }, head.span);
                return self.sexpr(inner, head.span, dst, true);
            }
        }
        if wrap > 0 {
            return self.call_inner(items, span, dst, tail, wrap);
        }
        // A literal special builtin as head (synthetic code made by the
        // runtime builtins): inline without a guard.
        if let Syn::Value(v) = &head.syn {
            if let Some(idx) = v.value().as_builtin() {
                if self.special_fits(idx, args) {
                    return self.special(idx, args, span, dst, tail);
                }
            }
        }
        if let Syn::Sym(s) = head.syn {
            if !self.is_lexical(s) {
                if let Some(idx) = builtins::index_of(valk_heap::symbol_name(s)) {
                    if args.len() == 2 && self.arith_or_compare(idx, args, span, dst, tail)? {
                        return Ok(());
                    }
                    if self.special_fits(idx, args) || self.fast_path(idx, args.len()) {
                        return self.guarded(idx, items, span, dst, tail);
                    }
                }
            }
        }
        self.call(items, span, dst, tail)
    }

    /// Guard on builtin `idx` being intact: inline form, else general call.
    /// Guard on builtin `idx` being intact. A special form is inlined; if
    /// the name has been redefined, [`Op::Deopt`] compiles the form as a
    /// general call at run time (so the form's code is not duplicated).
    /// A plain builtin evaluates its arguments once, then either calls the
    /// builtin directly or whatever the global now holds.
    fn guarded(
        &mut self,
        idx: u32,
        items: &[Node],
        span: Span,
        dst: Reg,
        tail: bool,
    ) -> CResult<()> {
        let mark = self.mark();
        if self.special_fits(idx, &items[1..]) {
            let intact = self.new_block();
            let replaced = self.new_block();
            let join = self.new_block();
            self.emit(
                Op::Guard {
                    index: idx,
                    intact,
                    replaced,
                },
                span,
            );
            self.switch_to(intact);
            self.special(idx, &items[1..], span, dst, tail)?;
            self.release(mark);
            self.jump(join, span);
            self.switch_to(replaced);
            let form = Node::new(Syn::List(ListKind::S, items.to_vec()), span);
            let forms = self.f().meta_macro_forms_push(vec![form]);
            self.emit(
                Op::Deopt {
                    dst,
                    form: forms,
                    tail,
                },
                span,
            );
            if !tail {
                self.jump(join, span);
            }
            self.switch_to(join);
            return Ok(());
        }
        let args = &items[1..];
        let base = self.alloc_n(args.len(), span)?;
        for (i, a) in args.iter().enumerate() {
            self.expr(a, base + i as Reg, false)?;
        }
        let argc = args.len() as u16;
        let intact = self.new_block();
        let replaced = self.new_block();
        let join = self.new_block();
        self.emit(
            Op::Guard {
                index: idx,
                intact,
                replaced,
            },
            span,
        );
        self.switch_to(intact);
        self.emit(
            Op::CallBuiltin {
                dst,
                index: idx,
                args: base,
                argc,
            },
            span,
        );
        self.done(dst, tail, span);
        self.jump(join, span);
        self.switch_to(replaced);
        let func = self.alloc(span)?;
        if let Syn::Sym(sym) = items[0].syn {
            self.f().meta.free.push(sym);
            let op = self.free_name(func, sym);
            self.emit(op, items[0].span);
        }
        if tail {
            self.emit(
                Op::TailCall {
                    func,
                    args: base,
                    argc,
                    then_apply: 0,
                },
                span,
            );
        } else {
            self.emit(
                Op::Call {
                    dst,
                    func,
                    args: base,
                    argc,
                },
                span,
            );
            self.jump(join, span);
        }
        self.switch_to(join);
        self.release(mark);
        Ok(())
    }

    /// Builtins worth a guarded direct call: arithmetic and comparison with
    /// two operands get an inline fast path; every other plain builtin a
    /// call that skips the global load and the macro check.
    fn fast_path(&self, idx: u32, argc: usize) -> bool {
        match builtins::def(idx) {
            Some(d) => matches!(d.imp, Imp::Fn(_) | Imp::Host(_)) && argc >= 1,
            None => false,
        }
    }

    /// `(+ a b)`-style forms: one fused instruction (it checks the builtin
    /// itself). False if `idx` is not arithmetic or comparison.
    fn arith_or_compare(
        &mut self,
        idx: u32,
        args: &[Node],
        span: Span,
        dst: Reg,
        tail: bool,
    ) -> CResult<bool> {
        use crate::ir::{ArithOp, CmpOp};
        let k = known();
        let arith = [
            (k.plus, ArithOp::Add),
            (k.minus, ArithOp::Sub),
            (k.times, ArithOp::Mul),
        ];
        let cmp = [
            (k.lt, CmpOp::Lt),
            (k.gt, CmpOp::Gt),
            (k.le, CmpOp::Le),
            (k.ge, CmpOp::Ge),
            (k.eq, CmpOp::Eq),
            (k.ne, CmpOp::Ne),
        ];
        let aop = arith.iter().find(|(i, _)| *i == idx).map(|p| p.1);
        let cop = cmp.iter().find(|(i, _)| *i == idx).map(|p| p.1);
        if aop.is_none() && cop.is_none() {
            return Ok(false);
        }
        let mark = self.mark();
        let a = self.operand(&args[0])?;
        let imm = match args[1].syn {
            Syn::Int(i) => i32::try_from(i).ok(),
            _ => None,
        };
        let op = match (aop, cop, imm) {
            (Some(op), _, Some(imm)) => Op::ArithImm { op, dst, a, imm },
            (_, Some(op), Some(imm)) => Op::CompareImm { op, dst, a, imm },
            (Some(op), _, None) => Op::Arith {
                op,
                dst,
                a,
                b: self.operand(&args[1])?,
            },
            (_, Some(op), None) => Op::Compare {
                op,
                dst,
                a,
                b: self.operand(&args[1])?,
            },
            _ => return Ok(false),
        };
        self.emit(op, span);
        self.release(mark);
        self.done(dst, tail, span);
        Ok(true)
    }

    /// The general call: evaluate the head, then (unless it is a macro) the
    /// arguments, then call.
    fn call(&mut self, items: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        self.call_inner(items, span, dst, tail, 0)
    }

    fn call_inner(
        &mut self,
        items: &[Node],
        span: Span,
        dst: Reg,
        tail: bool,
        then_apply: u32,
    ) -> CResult<()> {
        let mark = self.mark();
        let func = self.alloc(span)?;
        let args = &items[1..];
        let join = self.new_block();
        let global_head = match items[0].syn {
            Syn::Sym(s)
                if !args.is_empty() && self.resolve(s).is_none() && !self.frames_first() =>
            {
                Some(s)
            }
            _ => None,
        };
        if let Some(sym) = global_head {
            self.f().meta.free.push(sym);
            let forms = self.f().meta_macro_forms_push(args.to_vec());
            self.emit(
                Op::GlobalHead {
                    dst: func,
                    sym,
                    forms,
                    res: dst,
                    done: join,
                },
                items[0].span,
            );
        } else {
            self.expr(&items[0], func, false)?;
        }
        let head_is_name = match items[0].syn {
            Syn::Sym(s) => global_head.is_none() && !matches!(self.resolve(s), Some((_, false))),
            Syn::List(ListKind::S, _) => true,
            _ => false,
        };
        if head_is_name && !args.is_empty() {
            let forms = {
                let f = self.f();
                f.meta_macro_forms_push(args.to_vec())
            };
            self.emit(
                Op::MacroCheck {
                    func,
                    forms,
                    dst,
                    done: join,
                },
                span,
            );
        }
        let base = self.alloc_n(args.len(), span)?;
        for (i, a) in args.iter().enumerate() {
            self.expr(a, base + i as Reg, false)?;
        }
        let argc = args.len() as u16;
        if tail {
            self.emit(
                Op::TailCall {
                    func,
                    args: base,
                    argc,
                    then_apply,
                },
                span,
            );
        } else {
            self.emit(
                Op::Call {
                    dst,
                    func,
                    args: base,
                    argc,
                },
                span,
            );
        }
        self.jump(join, span);
        self.switch_to(join);
        self.release(mark);
        if tail {
            // The macro path lands here with the result in `dst`.
            self.emit(Op::Return { src: dst }, span);
        }
        Ok(())
    }

    /// Does this special builtin's argument shape allow inline compilation?
    fn special_fits(&self, idx: u32, args: &[Node]) -> bool {
        let Some(d) = builtins::def(idx) else {
            return false;
        };
        let Imp::Special(s) = d.imp else { return false };
        forms::fits(
            s,
            args,
            self.fns
                .last()
                .is_some_and(|f| f.eval_mode && f.let_depth == 0),
        )
    }

    fn special(
        &mut self,
        idx: u32,
        args: &[Node],
        span: Span,
        dst: Reg,
        tail: bool,
    ) -> CResult<()> {
        let Some(Imp::Special(s)) = builtins::def(idx).map(|d| d.imp) else {
            return self.call(&[], span, dst, tail);
        };
        self.special_form(s, args, span, dst, tail)
    }

    /// Compile a nested lambda; returns its code-registry index and the
    /// enclosing registers it captures.
    fn lambda_proto(
        &mut self,
        formals: &[Node],
        body: &[Node],
        span: Span,
        name: Option<u32>,
        is_macro: bool,
    ) -> CResult<(u32, Vec<Reg>)> {
        let (params, rest) =
            parse_formals(formals).map_err(|m| CompileError { span, message: m })?;
        let mut meta = Meta {
            span,
            name,
            is_macro,
            ..Meta::default()
        };
        meta.nparams = params.len() as u16;
        meta.rest = rest.is_some();
        meta.formals = params.iter().copied().chain(rest).collect();
        self.begin(meta, false, false);
        for (i, p) in params.iter().chain(rest.iter()).enumerate() {
            self.alloc_pinned(span)?;
            self.bind(*p, i as Reg, false);
        }
        let dst = self.alloc(span)?;
        self.body(body, span, dst, true)?;
        Ok(self.finish_with_caps())
    }
}

impl FnState {
    fn meta_macro_forms_push(&mut self, forms: Vec<Node>) -> u32 {
        self.meta.macro_forms.push(forms);
        (self.meta.macro_forms.len() - 1) as u32
    }
}

/// Can special `s` be compiled inline with these argument forms?
pub(crate) fn special_fits(s: crate::builtins::Special, args: &[Node]) -> bool {
    forms::fits(s, args, false)
}

/// `{x y & rest}` to the fixed parameters and the rest parameter.
pub(crate) fn parse_formals(formals: &[Node]) -> Result<(Vec<u32>, Option<u32>), String> {
    let amp = valk_heap::intern("&");
    let mut params = Vec::new();
    let mut i = 0;
    while i < formals.len() {
        let Some(s) = formals[i].as_sym() else {
            return Err("`\\`: formals must be symbols".into());
        };
        if s == amp {
            if i + 2 != formals.len() {
                return Err("`\\`: `&` must be followed by exactly one symbol".into());
            }
            let Some(r) = formals[i + 1].as_sym() else {
                return Err("`\\`: formals must be symbols".into());
            };
            return Ok((params, Some(r)));
        }
        params.push(s);
        i += 1;
    }
    Ok((params, None))
}

/// Build the value of a form (Q-expressions and other literals as data).
/// Iterative (the lists being built are an explicit stack): a form may be
/// as deep as the reader allows on any stack.
pub fn node_to_value(heap: &mut Heap, n: &Node) -> Result<Value, valk_heap::HeapError> {
    // Each open list: its remaining items, its kind, the values so far.
    let mut open: Vec<(std::slice::Iter<'_, Node>, ListKind, Vec<Value>)> = Vec::new();
    let mut next = n;
    loop {
        let mut value = match &next.syn {
            Syn::Int(i) => match Value::small_int(*i) {
                Some(v) => v,
                None => heap.int(*i)?,
            },
            Syn::Float(f) => Value::float(*f),
            Syn::Str(s) => heap.string(s)?,
            Syn::Sym(s) => Value::symbol(*s),
            Syn::Kw(k) => Value::keyword(*k),
            Syn::Value(v) => v.value(),
            Syn::List(kind, items) => {
                let mut rest = items.iter();
                match rest.next() {
                    Some(first) => {
                        open.push((rest, *kind, Vec::with_capacity(items.len())));
                        next = first;
                        continue;
                    }
                    None => heap.list(&[], *kind)?,
                }
            }
        };
        // Hand the value to its list; close every list that is complete.
        loop {
            let Some((rest, _, vals)) = open.last_mut() else {
                return Ok(value);
            };
            vals.push(value);
            if let Some(item) = rest.next() {
                next = item;
                break;
            }
            if let Some((_, kind, vals)) = open.pop() {
                value = heap.list(&vals, kind)?;
            }
        }
    }
}

/// Turn a value given to `eval` into a form. Iterative; lists nested deeper
/// than the reader allows ([`crate::reader::MAX_NESTING`], counting from
/// `depth`) are an error, like source text. A form within the limit may
/// still be too deep for the stack the compiler runs on: that is the
/// compiler's "nesting too deep" error.
pub fn value_to_node(heap: &mut Heap, v: Value, span: Span, depth: usize) -> Result<Node, String> {
    // Each open list: its remaining items, its kind, the forms so far.
    let mut open: Vec<(std::vec::IntoIter<Value>, ListKind, Vec<Node>)> = Vec::new();
    let mut next = v;
    loop {
        let syn = if let Some(i) = next.as_small_int() {
            Syn::Int(i)
        } else if let Some(f) = next.as_float() {
            Syn::Float(f)
        } else if let Some(s) = next.as_symbol() {
            Syn::Sym(s)
        } else if let Some(k) = next.as_keyword() {
            Syn::Kw(k)
        } else if next.is_nil() {
            Syn::List(ListKind::Q, Vec::new())
        } else if next.is_empty_s() {
            Syn::List(ListKind::S, Vec::new())
        } else if let Some(kind) = heap.list_kind(next) {
            if depth + open.len() >= crate::reader::MAX_NESTING {
                return Err(format!(
                    "nesting too deep to evaluate: expected at most {} levels of nesting",
                    crate::reader::MAX_NESTING
                ));
            }
            let items = heap.list_to_vec(next).ok_or("improper list")?;
            let mut rest = items.into_iter();
            match rest.next() {
                Some(first) => {
                    open.push((rest, kind, Vec::new()));
                    next = first;
                    continue;
                }
                None => Syn::List(kind, Vec::new()),
            }
        } else if let Some(s) = heap.str(next) {
            Syn::Str(s.to_owned())
        } else {
            Syn::Value(heap.to_shared(next))
        };
        let mut node = Node::new(syn, span);
        loop {
            let Some((rest, _, nodes)) = open.last_mut() else {
                return Ok(node);
            };
            nodes.push(node);
            if let Some(item) = rest.next() {
                next = item;
                break;
            }
            let Some((_, kind, nodes)) = open.pop() else {
                return Err("internal error: no open list".into());
            };
            node = Node::new(Syn::List(kind, nodes), span);
        }
    }
}

/// Apply `fix` to every register an instruction names.
fn for_each_reg(op: &mut Op, mut fix: impl FnMut(&mut Reg)) {
    match op {
        Op::Imm { dst, .. }
        | Op::Const { dst, .. }
        | Op::Global { dst, .. }
        | Op::FrameGlobal { dst, .. } => fix(dst),
        Op::Move { dst, src } | Op::LocalChecked { dst, src, .. } => {
            fix(dst);
            fix(src)
        }
        Op::DefGlobal { src, .. } => fix(src),
        Op::Closure { dst, caps, .. } => {
            fix(dst);
            caps.iter_mut().for_each(fix)
        }
        Op::ArithImm { dst, a, .. }
        | Op::CompareImm { dst, a, .. }
        | Op::CompareImmBranch { dst, a, .. } => {
            fix(dst);
            fix(a)
        }
        Op::Deopt { dst, .. } => fix(dst),
        Op::GlobalHead { dst, res, .. } => {
            fix(dst);
            fix(res)
        }
        Op::Arith { dst, a, b, .. }
        | Op::Compare { dst, a, b, .. }
        | Op::CompareBranch { dst, a, b, .. }
        | Op::TestEqual { dst, a, b } => {
            fix(dst);
            fix(a);
            fix(b)
        }
        Op::Call {
            dst, func, args, ..
        } => {
            fix(dst);
            fix(func);
            fix(args)
        }
        Op::CallHandler { dst, func, arg, .. } => {
            fix(dst);
            fix(func);
            fix(arg)
        }
        Op::CallBuiltin { dst, args, .. } => {
            fix(dst);
            fix(args)
        }
        Op::MacroCheck { func, dst, .. } => {
            fix(func);
            fix(dst)
        }
        Op::Branch { cond, handler, .. } => {
            fix(cond);
            if let Some((_, r)) = handler {
                fix(r)
            }
        }
        Op::ReturnIfError { src, .. } | Op::IfError { src, .. } | Op::Return { src } => fix(src),
        Op::Uncons {
            src, head, tail, ..
        } => {
            fix(src);
            fix(head);
            fix(tail)
        }
        Op::TailCall { func, args, .. } => {
            fix(func);
            fix(args)
        }
        Op::Fail { value, handler, .. } => {
            if let Some(v) = value {
                fix(v)
            }
            if let Some((_, r)) = handler {
                fix(r)
            }
        }
        Op::Receive { dst, timeout, .. } => {
            fix(dst);
            fix(timeout)
        }
        Op::Safepoint
        | Op::ApplyResult { .. }
        | Op::ReceiveStart
        | Op::ReceiveAccept
        | Op::Jump { .. }
        | Op::Guard { .. } => {}
    }
}
