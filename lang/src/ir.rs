//! Valk IR: one function per lambda (and per top-level form or `eval`ed
//! list), register based and CFG structured.
//!
//! - A [`Function`] is a list of basic [`Block`]s. Every block ends in exactly
//!   one terminator (see [`Op::is_terminator`]); the entry is block 0.
//! - Registers are the frame's slots: `0..nparams` the parameters (the `&`
//!   rest list last), then the captured variables (copied in by the call, a
//!   flat closure), then locals and temporaries.
//! - Calls, tail calls and loop back-edges are safepoints: reductions are
//!   charged and the collector may run there, and only there.
//! - Tail calls are explicit ([`Op::TailCall`]).
//!
//! [`Proto`] is the executable form: the blocks laid out in one array with
//! jump targets turned into instruction indices (fall-through jumps
//! dropped). The interpreter runs `Proto::code`; a native tier lowers
//! `Proto::blocks`.

use valk_heap::{SharedValue, Value};

use crate::syntax::Span;

/// A register (frame slot) number.
pub type Reg = u16;
/// A block number in [`Function::blocks`]; an instruction index in
/// [`Proto::code`].
pub type Target = u32;

/// Where an error raised by an instruction goes: `None` returns it from the
/// function; `Some((block, reg))` moves it to `reg` and jumps (an inline
/// `try` body).
pub type Handler = Option<(Target, Reg)>;

/// Arithmetic with a small-integer fast path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
}

/// Comparison with a small-integer fast path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CmpOp {
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
}

/// One instruction.
#[derive(Clone, Debug)]
pub enum Op {
    /// `dst = val` (an immediate: no heap object).
    Imm {
        dst: Reg,
        val: Value,
    },
    /// `dst = consts[idx]` (a shared-heap literal).
    Const {
        dst: Reg,
        idx: u32,
    },
    Move {
        dst: Reg,
        src: Reg,
    },
    /// `dst =` the global `sym`, else the nearest binding along the calling
    /// frames, else the error ``unbound symbol `sym` ``.
    Global {
        dst: Reg,
        sym: u32,
    },
    /// A free name of run-time code (the outer level of an `eval`ed list,
    /// LANGUAGE.md §3): the nearest binding along the frames it runs in,
    /// innermost first, else the global, else the unbound-symbol error.
    FrameGlobal {
        dst: Reg,
        sym: u32,
    },
    /// A local bound by `=` that may not be bound yet on this path: if `src`
    /// holds the unset marker, behave as [`Op::Global`].
    LocalChecked {
        dst: Reg,
        src: Reg,
        sym: u32,
    },
    /// Bind the global `sym` to the value in `src` (moved to the shared heap).
    DefGlobal {
        sym: u32,
        src: Reg,
    },
    /// `dst =` a closure of `proto` (a code-registry index) capturing `caps`.
    Closure {
        dst: Reg,
        proto: u32,
        caps: Box<[Reg]>,
    },
    /// `dst = a OP b`: small integers and floats inline while the global
    /// builtin is intact; anything else calls whatever the global holds
    /// (the builtin for type errors, or its replacement). No separate guard.
    Arith {
        op: ArithOp,
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    /// [`Op::Arith`] with a small integer literal as second operand.
    ArithImm {
        op: ArithOp,
        dst: Reg,
        a: Reg,
        imm: i32,
    },
    /// `dst = a OP b` (1 or 0), like [`Op::Arith`]; `Eq`/`Ne` structural.
    Compare {
        op: CmpOp,
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    /// [`Op::Compare`] with a small integer literal as second operand.
    CompareImm {
        op: CmpOp,
        dst: Reg,
        a: Reg,
        imm: i32,
    },
    /// [`Op::Compare`] fused with the [`Op::Branch`] on `dst` that follows
    /// it: on small integers with the builtin intact, set `dst` and jump;
    /// otherwise fall through to that `Compare` and `Branch` (the slow
    /// path). Made by [`Proto::from_function`], never by the compiler.
    CompareBranch {
        op: CmpOp,
        dst: Reg,
        a: Reg,
        b: Reg,
        then: Target,
        else_: Target,
    },
    /// [`Op::CompareBranch`] for [`Op::CompareImm`].
    CompareImmBranch {
        op: CmpOp,
        dst: Reg,
        a: Reg,
        imm: i32,
        then: Target,
        else_: Target,
    },
    /// [`Op::Global`] for the head of a call, fused with
    /// [`Op::MacroCheck`] (`forms`, `res`, `done` as there).
    GlobalHead {
        dst: Reg,
        sym: u32,
        forms: u32,
        res: Reg,
        done: Target,
    },
    /// `dst = (== a b)` structurally (pattern matching, `case`).
    TestEqual {
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    /// Call the function in `func` with `argc` arguments in `args..`;
    /// the result goes to `dst`. Safepoint.
    Call {
        dst: Reg,
        func: Reg,
        args: Reg,
        argc: u16,
    },
    /// Call the `try` handler in `func` on the Error in `arg` (the one call
    /// that passes an Error argument on instead of returning it). In tail
    /// position it replaces the frame. Safepoint.
    CallHandler {
        dst: Reg,
        func: Reg,
        arg: Reg,
        tail: bool,
    },
    /// The special form `consts`-side `macro_forms[form][0]` whose builtin
    /// name was redefined: compile it at run time as a plain call (cached)
    /// and run it as `eval` code; the result goes to `dst` (or, for `tail`,
    /// replaces this frame). Safepoint.
    Deopt {
        dst: Reg,
        form: u32,
        tail: bool,
    },
    /// Call builtin `index` (known to be the original) on `args..`.
    CallBuiltin {
        dst: Reg,
        index: u32,
        args: Reg,
        argc: u16,
    },
    /// If `func` holds a macro, call it with the unevaluated argument forms
    /// `consts[forms]` (a Q list of `{arg}`s), put the result in `dst` and
    /// jump to `done`; otherwise fall through and evaluate the arguments.
    MacroCheck {
        func: Reg,
        forms: u32,
        dst: Reg,
        done: Target,
    },
    /// A loop back-edge marker: charges a reduction; the collector may run.
    Safepoint,
    /// The frame's final value is to be called with no arguments `n` more
    /// times, as [`Op::TailCall`]'s `then_apply` does: emitted before a
    /// tail-position `((FORM ...))` whose inner form is not a plain call
    /// (`{pattern (do ...)}` clause bodies), so that form stays in tail
    /// position.
    ApplyResult {
        n: u32,
    },
    /// Start a `receive`: scan the actor's queued messages from the oldest.
    ReceiveStart,
    /// `dst =` the next message the current `receive` has not scanned; with
    /// none, wait for one (parking the actor: this instruction runs again on
    /// wake-up). If the deadline of `timeout` (milliseconds, or `UNSET` for
    /// none) passes first, go to `timed_out`. An Error in `dst` when this
    /// is no actor or `timeout` is not an integer. Safepoint.
    Receive {
        dst: Reg,
        timeout: Reg,
        timed_out: Target,
    },
    /// Take the message `Receive` returned last out of the queue: the
    /// `receive` is over.
    ReceiveAccept,

    // ---- terminators ----
    Jump {
        to: Target,
    },
    /// `cond` must be a number: nonzero goes to `then`, zero to `else_`;
    /// an Error is propagated, anything else is a type error naming builtin
    /// `what`; either is returned from the function or handed to `handler`.
    Branch {
        cond: Reg,
        then: Target,
        else_: Target,
        what: u32,
        handler: Handler,
    },
    /// If `src` holds an Error, return it from the function (errors
    /// propagate); else go on at `ok`.
    ReturnIfError {
        src: Reg,
        ok: Target,
    },
    /// If `src` holds an Error go to `err`, else to `ok` (`try`).
    IfError {
        src: Reg,
        err: Target,
        ok: Target,
    },
    /// Go to `intact` while the global named like builtin `index` still
    /// holds that builtin, else to `replaced`.
    Guard {
        index: u32,
        intact: Target,
        replaced: Target,
    },
    /// If `src` is a non-empty list, split it into `head`/`tail` and go to
    /// `ok`, else go to `fail` (pattern matching).
    Uncons {
        src: Reg,
        head: Reg,
        tail: Reg,
        ok: Target,
        fail: Target,
    },
    Return {
        src: Reg,
    },
    /// Replace this frame by a call of `func` on `args..`. Safepoint.
    /// `then_apply`: this is the inner call of `then_apply` tail-position
    /// wrappers `((f x))`: the frame's final value is then called with no
    /// arguments that many times (a counter, so the stack does not grow).
    TailCall {
        func: Reg,
        args: Reg,
        argc: u16,
        then_apply: u32,
    },
    /// Return the error whose message is the string `consts[msg]`, made
    /// with `"... VALUE"` appended when `value` is given (`no match for X`).
    Fail {
        msg: u32,
        value: Option<Reg>,
        handler: Handler,
    },
}

impl Op {
    /// Does this instruction end a basic block?
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            Op::Jump { .. }
                | Op::Branch { .. }
                | Op::ReturnIfError { .. }
                | Op::IfError { .. }
                | Op::Guard { .. }
                | Op::Uncons { .. }
                | Op::Return { .. }
                | Op::TailCall { .. }
                | Op::CallHandler { tail: true, .. }
                | Op::Deopt { tail: true, .. }
                | Op::Fail { .. }
        )
    }

    /// The jump targets of this instruction.
    pub fn targets_mut(&mut self) -> Vec<&mut Target> {
        match self {
            Op::Jump { to } => vec![to],
            Op::Branch {
                then,
                else_,
                handler,
                ..
            } => {
                let mut v = vec![then, else_];
                if let Some((t, _)) = handler {
                    v.push(t);
                }
                v
            }
            Op::Fail {
                handler: Some((t, _)),
                ..
            } => vec![t],
            Op::ReturnIfError { ok, .. } => vec![ok],
            Op::IfError { err, ok, .. } => vec![err, ok],
            Op::Guard {
                intact, replaced, ..
            } => vec![intact, replaced],
            Op::Uncons { ok, fail, .. } => vec![ok, fail],
            Op::CompareBranch { then, else_, .. } | Op::CompareImmBranch { then, else_, .. } => {
                vec![then, else_]
            }
            Op::MacroCheck { done, .. } | Op::GlobalHead { done, .. } => vec![done],
            Op::Receive { timed_out, .. } => vec![timed_out],
            _ => vec![],
        }
    }
}

/// Superinstructions (fewer dispatches on the hottest paths): a compare
/// whose result the next `Branch` tests gets a fused compare-and-jump in
/// front of it (the pair stays behind as its slow path), and a `Move` into
/// the head register of a `TailCall` is folded into the call (the frame
/// ends there, and the register is a temporary no name maps to).
fn fuse(blocks: &mut [Block]) {
    for b in blocks {
        let mut j = 0;
        while j + 1 < b.ops.len() {
            let fused = match (&b.ops[j], &b.ops[j + 1]) {
                (
                    &Op::CompareImm { op, dst, a, imm },
                    &Op::Branch {
                        cond, then, else_, ..
                    },
                ) if cond == dst => Some(Op::CompareImmBranch {
                    op,
                    dst,
                    a,
                    imm,
                    then,
                    else_,
                }),
                (
                    &Op::Compare { op, dst, a, b: rb },
                    &Op::Branch {
                        cond, then, else_, ..
                    },
                ) if cond == dst => Some(Op::CompareBranch {
                    op,
                    dst,
                    a,
                    b: rb,
                    then,
                    else_,
                }),
                _ => None,
            };
            if let Some(f) = fused {
                let span = b.spans[j];
                b.ops.insert(j, f);
                b.spans.insert(j, span);
                j += 3;
                continue;
            }
            if let Op::Move { dst, src } = b.ops[j] {
                if let Op::TailCall {
                    func, args, argc, ..
                } = &mut b.ops[j + 1]
                {
                    let in_args = (*args..args.saturating_add(*argc)).contains(&dst);
                    if *func == dst && !in_args {
                        *func = src;
                        b.ops.remove(j);
                        b.spans.remove(j);
                        continue;
                    }
                }
            }
            j += 1;
        }
    }
}

fn is_jump_to(op: &Op, next: Option<usize>) -> bool {
    matches!(op, Op::Jump { to } if Some(*to as usize) == next)
}

/// Block order for the flat code: depth-first from the entry, first
/// successor first, so the likely path (guard intact, `then`, no error)
/// falls through. Unreachable blocks are left out.
fn layout_order(blocks: &[Block]) -> Vec<usize> {
    let mut seen = vec![false; blocks.len()];
    let mut order = Vec::with_capacity(blocks.len());
    let mut stack = vec![0usize];
    while let Some(b) = stack.pop() {
        if b >= blocks.len() || seen[b] {
            continue;
        }
        seen[b] = true;
        order.push(b);
        // Successors in reverse so the first one is visited next. A
        // terminator's targets; a `MacroCheck` in the middle adds its own.
        let mut succ: Vec<usize> = Vec::new();
        for op in &blocks[b].ops {
            let mut op = op.clone();
            succ.extend(op.targets_mut().into_iter().map(|t| *t as usize));
        }
        // Fall-through successors first: the terminator's first target is
        // the last collected; keep the terminator's order, mid-block ones last.
        let n_term = blocks[b]
            .ops
            .last()
            .map(|op| op.clone().targets_mut().len())
            .unwrap_or(0);
        let (mid, term) = succ.split_at(succ.len() - n_term.min(succ.len()));
        for &t in mid.iter() {
            stack.push(t);
        }
        for &t in term.iter().rev() {
            stack.push(t);
        }
    }
    order
}

/// A basic block: straight-line instructions, the last one a terminator,
/// each with the span of the form it came from.
#[derive(Clone, Debug, Default)]
pub struct Block {
    pub ops: Vec<Op>,
    pub spans: Vec<Span>,
}

/// A function in IR form.
#[derive(Debug, Default)]
pub struct Function {
    pub blocks: Vec<Block>,
    pub meta: Meta,
}

/// What both forms of a function know about it.
#[derive(Debug, Default)]
pub struct Meta {
    /// The name it was defined with (`fun`), for messages; 0 if none.
    pub name: Option<u32>,
    /// Parameter names, without `&` (the rest parameter last).
    pub formals: Vec<u32>,
    /// Number of fixed parameters.
    pub nparams: u16,
    /// Has a `& rest` parameter (in register `nparams`).
    pub rest: bool,
    /// Number of captured values (registers after the parameters).
    pub ncaps: u16,
    /// Registers the frame needs.
    pub nregs: u16,
    /// Literals (Q-expressions, strings, boxed numbers) in the shared heap.
    pub consts: Vec<SharedValue>,
    /// Names bound to registers (parameters, captures, `=` locals): the
    /// dynamic-scope fallback and `penv` read them.
    pub names: Vec<(u32, Reg)>,
    /// Names this function looks up globally (and then dynamically).
    pub free: Vec<u32>,
    /// A macro: its arguments arrive unevaluated, each wrapped as `{arg}`.
    pub is_macro: bool,
    /// Where it was defined.
    pub span: Span,
    /// The unevaluated argument forms of each call site with a
    /// [`Op::MacroCheck`] (built into values only when a macro is called).
    pub macro_forms: Vec<Vec<crate::syntax::Node>>,
}

/// The executable form of a [`Function`].
#[derive(Debug)]
pub struct Proto {
    pub code: Vec<Op>,
    pub spans: Vec<Span>,
    pub meta: Meta,
    /// The IR this was laid out from (for a native tier).
    pub blocks: Vec<Block>,
    /// Its native-tier state (`tier.rs`).
    pub tier: crate::tier::TierSlot,
}

impl Proto {
    /// Does running this make a closure (so that another proto's index may
    /// escape into a value)? A chunk that does not can be transient
    /// (`code.rs`).
    pub fn makes_closures(&self) -> bool {
        self.code.iter().any(|op| matches!(op, Op::Closure { .. }))
    }

    /// Lay out `f`'s blocks in order, resolve targets to instruction
    /// indices, and drop jumps to the next instruction.
    pub fn from_function(f: Function) -> Proto {
        let Function { mut blocks, meta } = f;
        fuse(&mut blocks);
        let order = layout_order(&blocks);
        // Where each block starts, given dropped fall-through jumps.
        let mut start = vec![0u32; blocks.len()];
        let mut pc = 0u32;
        for (k, &i) in order.iter().enumerate() {
            start[i] = pc;
            let next = order.get(k + 1).copied();
            for (j, op) in blocks[i].ops.iter().enumerate() {
                if !(j + 1 == blocks[i].ops.len() && is_jump_to(op, next)) {
                    pc += 1;
                }
            }
        }
        let mut code = Vec::with_capacity(pc as usize);
        let mut spans = Vec::with_capacity(pc as usize);
        for (k, &i) in order.iter().enumerate() {
            let next = order.get(k + 1).copied();
            let b = &blocks[i];
            for (j, op) in b.ops.iter().enumerate() {
                if j + 1 == b.ops.len() && is_jump_to(op, next) {
                    continue;
                }
                let mut op = op.clone();
                for t in op.targets_mut() {
                    *t = start.get(*t as usize).copied().unwrap_or(0);
                }
                code.push(op);
                spans.push(b.spans[j]);
            }
        }
        Proto {
            code,
            spans,
            meta,
            blocks,
            tier: Default::default(),
        }
    }
}
