//! The run loop: executes the current frame's instructions until a frame
//! change, then picks up the new current frame. Stops at safepoints when the
//! reduction budget is spent (resumable), and collects garbage there when the
//! heap asks for it.
//!
//! [`Interp::exec`] is the dispatch loop. It keeps the frame's code, register
//! base and pc in locals and runs the cheap instructions inline (moves,
//! constants, jumps, branches and guards, returns, the fast paths of the
//! fused arithmetic and comparisons). Every other instruction body is an
//! `op_*` method of its group, given the [`Site`] it runs at and the
//! instruction's operands, and answering an [`OpResult`]: what the loop does
//! next ([`Flow`]) or why it stops.
//!
//! - `ops_call.rs`: `Call`, `TailCall`, `CallBuiltin`, `CallHandler`,
//!   `Deopt`, the macro heads `GlobalHead` and `MacroCheck`, `Closure`;
//! - `ops_arith.rs`: the fast paths of the fused arithmetic and comparisons
//!   and their slow path;
//! - `ops_control.rs`: a `Branch` on a condition that is not a number,
//!   `Fail`, `Receive`.
//!
//! Speed rules (each one measured; see `docs/interpreter.md`):
//!
//! - the bodies on every Valk call (`Call`, `TailCall`, `GlobalHead`) are
//!   `#[inline(always)]`: the loop compiles as if they were written in it
//!   (the rare ones are left to the compiler);
//! - operands are passed by reference, as the `match` binds them, and read
//!   where used: passed by value they are all loaded before the body's first
//!   register write (which may alias the code, for all LLVM knows) and
//!   spilled;
//! - a [`Site`] is built at each use (`site!()`), and an inlined body never
//!   hands its `Site` to a function that is not inlined: an aggregate of
//!   three words is passed through memory, and its stores land on the hot
//!   path.

use valk_heap::Value;

use super::call::Stop;
use super::ops_arith::{arith_fast, arith_index, compare_fast, compare_index, compare_ints};
use super::{Interp, RunOutcome};
use crate::equal;
use crate::globals::UNSET;
use crate::ir::{Op, Proto, Reg};
use crate::syntax::Span;

/// What the run loop does after an `op_*` method.
pub(super) enum Flow {
    /// Go on with the next instruction.
    Next,
    /// Go on at this instruction of the same frame.
    Jump(usize),
    /// Return this value from the current frame.
    Return(Value),
    /// The current frame changed (a call pushed a frame or replaced this
    /// one): pick up the new current frame.
    Reload,
}

/// An `op_*` method's answer: the [`Flow`], or a stop of the run loop
/// (budget, exit, fatal error).
pub(super) type OpResult = Result<Flow, Stop>;

/// Where an instruction runs: its frame's code, the frame's first register
/// and the instruction's index.
#[derive(Clone, Copy)]
pub(super) struct Site {
    pub proto: &'static Proto,
    pub base: usize,
    pub at: usize,
}

impl Site {
    #[inline(always)]
    pub fn new(proto: &'static Proto, base: usize, at: usize) -> Site {
        Site { proto, base, at }
    }

    /// The register file index of register `r` of the frame.
    #[inline(always)]
    pub fn reg(self, r: Reg) -> usize {
        self.base + r as usize
    }

    /// The instruction after this one (where a call made here resumes).
    #[inline(always)]
    pub fn next(self) -> usize {
        self.at + 1
    }

    /// The instruction's source location (for Error values).
    #[inline]
    pub fn span(self) -> Span {
        self.proto.spans.get(self.at).copied().unwrap_or_default()
    }
}

impl Interp {
    /// Run the started computation for at most `budget` reductions (one per
    /// call, tail call and loop back-edge); what it spent is charged to the
    /// host ([`Interp::with_host`]), whose budget is normally the one given.
    pub fn run(&mut self, budget: u32) -> RunOutcome {
        let mut fuel = budget;
        self.slice_budget = budget;
        let o = self.run_pinned(|it| it.exec(&mut fuel));
        // Builtin work not yet paid at a safepoint is this slice's too.
        // (Native code that yielded began a new slice: `slice_budget`.)
        let debt = std::mem::take(&mut self.debt);
        self.reductions += u64::from(debt);
        let spent = self.slice_budget.saturating_sub(fuel);
        self.host.get().charge(spent.saturating_add(debt));
        o
    }

    /// Charge one reduction and collect if asked. `pc` is the instruction to
    /// resume at if the budget is spent.
    #[inline]
    pub(super) fn safepoint(&mut self, fuel: &mut u32, pc: usize) -> Result<(), Stop> {
        // One branch on the hot path for both rare cases (`|`, not `||`):
        // the slice is spent, or a builtin left work to pay for.
        if (*fuel == 0) | (self.debt != 0) {
            self.safepoint_slow(fuel, pc)?;
        }
        *fuel -= 1;
        self.reductions += 1;
        if self.heap.gc_wanted() {
            self.collect_garbage();
        }
        Ok(())
    }

    /// The rare part of [`Interp::safepoint`]: takes the reductions builtins
    /// charged since the last safepoint (`builtins::fair`) from the fuel
    /// (what the slice cannot cover is charged to the host at once: the
    /// slice ends here either way), then stops if the fuel is spent. `Ok`:
    /// at least one reduction of fuel is left.
    #[cold]
    #[inline(never)]
    fn safepoint_slow(&mut self, fuel: &mut u32, pc: usize) -> Result<(), Stop> {
        let debt = std::mem::take(&mut self.debt);
        let paid = debt.min(*fuel);
        *fuel -= paid;
        self.reductions += u64::from(debt);
        if debt > paid {
            self.host.get().charge(debt - paid);
        }
        if *fuel == 0 {
            if let Some(fr) = self.frames.last_mut() {
                fr.pc = pc as u32;
            }
            return Err(RunOutcome::OutOfBudget);
        }
        Ok(())
    }

    /// Where the current frame resumes (set before a call that may push a
    /// frame).
    pub(super) fn set_pc(&mut self, pc: usize) {
        if let Some(fr) = self.frames.last_mut() {
            fr.pc = pc as u32;
        }
    }

    /// The dispatch loop (see the module documentation).
    fn exec(&mut self, fuel: &mut u32) -> RunOutcome {
        // The current frame, reloaded at `continue 'frames` (a call or return).
        let mut proto: &'static Proto;
        let mut base: usize;
        let mut pc: usize;
        let mut code: &'static [Op];
        // The index of the instruction being run (`pc` is the next one).
        let mut at: usize;
        macro_rules! reg {
            ($r:expr) => {
                self.regs[base + $r as usize]
            };
        }
        macro_rules! tri {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(stop) => return stop,
                }
            };
        }
        // Return `$v` from the current frame and pick up the caller.
        macro_rules! ret {
            ($l:lifetime, $v:expr) => {{
                let v = $v;
                // An error leaving a function: a line of its backtrace.
                // (`pc` is past the returning instruction.)
                if v.is_ptr() && self.is_error(v) {
                    self.note_trace(Site::new(proto, base, pc.saturating_sub(1)), v);
                }
                match self.do_return(v) {
                    None => continue $l,
                    Some(o) => return o,
                }
            }};
        }
        // The current instruction's `Site`, built where an op method needs
        // it (a `Site` variable made before the `match` was stored to the
        // stack on every instruction).
        macro_rules! site {
            () => {
                Site::new(proto, base, at)
            };
        }
        // Act on an `op_*` method's `OpResult`.
        macro_rules! flow {
            ($l:lifetime, $e:expr) => {
                match $e {
                    Ok(Flow::Next) => {}
                    Ok(Flow::Jump(to)) => pc = to,
                    Ok(Flow::Return(v)) => ret!($l, v),
                    Ok(Flow::Reload) => continue $l,
                    Err(stop) => return stop,
                }
            };
        }
        // The fused arithmetic/comparison ops: the fast result while the
        // global builtin `idx` is intact, else the slow path (the builtin on
        // other operands, or a call of whatever the global now holds).
        macro_rules! binary {
            ($l:lifetime, $idx:expr, $fast:expr, $dst:expr, $x:expr, $y:expr) => {{
                let (idx, x, y) = ($idx, $x, $y);
                let fast = if self.globals.builtin_intact(idx) {
                    $fast(x, y)
                } else {
                    None
                };
                match fast {
                    Some(v) => reg!($dst) = v,
                    None => flow!($l, self.op_binary_slow(site!(), idx, x, y, $dst)),
                }
            }};
        }
        // An immediate operand's value.
        macro_rules! imm {
            ($i:expr) => {
                Value::small_int(i64::from($i)).unwrap_or(Value::FALSE)
            };
        }
        // `Arith`/`ArithImm` and `Compare`/`CompareImm`.
        macro_rules! arith {
            ($l:lifetime, $op:expr, $dst:expr, $x:expr, $y:expr) => {
                binary!(
                    $l,
                    arith_index($op),
                    |x, y| arith_fast($op, x, y),
                    $dst,
                    $x,
                    $y
                )
            };
        }
        macro_rules! compare {
            ($l:lifetime, $op:expr, $dst:expr, $x:expr, $y:expr) => {
                binary!(
                    $l,
                    compare_index($op),
                    |x, y| compare_fast($op, x, y),
                    $dst,
                    $x,
                    $y
                )
            };
        }
        'frames: loop {
            let Some(fr) = self.frames.last() else {
                return if self.is_error(self.result) {
                    RunOutcome::Error(self.result)
                } else {
                    RunOutcome::Done(self.result)
                };
            };
            proto = fr.proto;
            base = fr.base as usize;
            pc = fr.pc as usize;
            code = &proto.code[..];
            loop {
                let Some(op) = code.get(pc) else {
                    ret!('frames, Value::EMPTY_S)
                };
                at = pc;
                pc += 1;
                match op {
                    Op::Imm { dst, val } => reg!(*dst) = *val,
                    Op::Const { dst, idx } => {
                        reg!(*dst) = proto
                            .meta
                            .consts
                            .get(*idx as usize)
                            .map(|c| c.value())
                            .unwrap_or(Value::NIL)
                    }
                    Op::Move { dst, src } => reg!(*dst) = reg!(*src),
                    Op::Global { dst, sym } => {
                        let v = match self.read_global(*sym) {
                            Some(v) => v,
                            None => tri!(self.lookup(*sym, site!().span())),
                        };
                        reg!(*dst) = v;
                    }
                    Op::FrameGlobal { dst, sym } => {
                        reg!(*dst) = tri!(self.lookup_frames_first(*sym, site!().span()));
                    }
                    Op::LocalChecked { dst, src, sym } => {
                        let v = reg!(*src);
                        reg!(*dst) = if v == UNSET {
                            tri!(self.lookup(*sym, site!().span()))
                        } else {
                            v
                        };
                    }
                    Op::DefGlobal { sym, src } => {
                        let v = reg!(*src);
                        let sv = tri!(self.heap.try_to_shared(v).map_err(|e| self.heap_fatal(e)));
                        self.globals.define(*sym, sv);
                    }
                    Op::Closure {
                        dst,
                        proto: p,
                        caps,
                    } => tri!(self.op_closure(site!(), dst, p, caps)),
                    Op::Arith { op, dst, a, b } => arith!('frames, *op, *dst, reg!(*a), reg!(*b)),
                    Op::ArithImm { op, dst, a, imm } => {
                        arith!('frames, *op, *dst, reg!(*a), imm!(*imm))
                    }
                    Op::Compare { op, dst, a, b } => {
                        compare!('frames, *op, *dst, reg!(*a), reg!(*b))
                    }
                    Op::CompareImm { op, dst, a, imm } => {
                        compare!('frames, *op, *dst, reg!(*a), imm!(*imm))
                    }
                    // Slow path of the two below: fall through to the
                    // `Compare`/`Branch` pair that follows.
                    Op::CompareBranch {
                        op,
                        dst,
                        a,
                        b,
                        then,
                        else_,
                    } => {
                        if self.globals.builtin_intact(compare_index(*op)) {
                            if let Some(v) = compare_fast(*op, reg!(*a), reg!(*b)) {
                                reg!(*dst) = v;
                                pc = if v == Value::TRUE { *then } else { *else_ } as usize;
                            }
                        }
                    }
                    Op::CompareImmBranch {
                        op,
                        dst,
                        a,
                        imm,
                        then,
                        else_,
                    } => {
                        if let Some(x) = reg!(*a).as_small_int() {
                            if self.globals.builtin_intact(compare_index(*op)) {
                                let t = compare_ints(*op, x, i64::from(*imm));
                                reg!(*dst) = Value::bool(t);
                                pc = if t { *then } else { *else_ } as usize;
                            }
                        }
                    }
                    Op::TestEqual { dst, a, b } => {
                        let t = equal::equal(&self.heap, reg!(*a), reg!(*b));
                        reg!(*dst) = Value::bool(t);
                    }
                    Op::Call {
                        dst,
                        func,
                        args,
                        argc,
                    } => flow!('frames, self.op_call(fuel, site!(), dst, func, args, argc)),
                    Op::Deopt { dst, form, tail } => {
                        flow!('frames, self.op_deopt(fuel, site!(), dst, form, tail))
                    }
                    Op::CallHandler {
                        dst,
                        func,
                        arg,
                        tail,
                    } => flow!(
                        'frames,
                        self.op_call_handler(fuel, site!(), dst, func, arg, tail)
                    ),
                    Op::CallBuiltin {
                        dst,
                        index,
                        args,
                        argc,
                    } => flow!(
                        'frames,
                        self.op_call_builtin(fuel, site!(), dst, index, args, argc)
                    ),
                    Op::MacroCheck {
                        func,
                        forms,
                        dst,
                        done,
                    } => flow!(
                        'frames,
                        self.op_macro_check(fuel, site!(), func, forms, dst, done)
                    ),
                    Op::GlobalHead {
                        dst,
                        sym,
                        forms,
                        res,
                        done,
                    } => flow!(
                        'frames,
                        self.op_global_head(fuel, site!(), dst, sym, forms, res, done)
                    ),
                    Op::Safepoint => tri!(self.safepoint(fuel, pc)),
                    Op::ApplyResult { n } => {
                        if let Some(fr) = self.frames.last_mut() {
                            fr.apply_result = fr.apply_result.saturating_add(*n);
                        }
                    }
                    Op::ReceiveStart => self.receive_start(site!().span()),
                    Op::Receive {
                        dst,
                        timeout,
                        timed_out,
                    } => flow!(
                        'frames,
                        self.op_receive(fuel, site!(), dst, timeout, timed_out)
                    ),
                    Op::ReceiveAccept => self.receive_accept(),
                    Op::Jump { to } => pc = *to as usize,
                    Op::Branch {
                        cond,
                        then,
                        else_,
                        what,
                        handler,
                    } => {
                        let c = reg!(*cond);
                        if let Some(i) = c.as_small_int() {
                            pc = if i != 0 { *then } else { *else_ } as usize;
                        } else if let Some(f) = c.as_float() {
                            pc = if f != 0.0 { *then } else { *else_ } as usize;
                        } else {
                            flow!(
                                'frames,
                                self.op_branch_other(site!(), c, then, else_, what, handler)
                            )
                        }
                    }
                    Op::ReturnIfError { src, ok } => {
                        let v = reg!(*src);
                        if v.is_ptr() && self.is_error(v) {
                            ret!('frames, v)
                        }
                        pc = *ok as usize;
                    }
                    Op::IfError { src, err, ok } => {
                        let v = reg!(*src);
                        pc = if v.is_ptr() && self.is_error(v) {
                            *err
                        } else {
                            *ok
                        } as usize;
                    }
                    Op::Guard {
                        index,
                        intact,
                        replaced,
                    } => {
                        pc = if self.globals.builtin_intact(*index) {
                            *intact
                        } else {
                            *replaced
                        } as usize;
                    }
                    Op::Uncons {
                        src,
                        head,
                        tail,
                        ok,
                        fail,
                    } => match self.heap.car_cdr(reg!(*src)) {
                        Some((h, t)) => {
                            reg!(*head) = h;
                            reg!(*tail) = t;
                            pc = *ok as usize;
                        }
                        None => pc = *fail as usize,
                    },
                    Op::Return { src } => ret!('frames, reg!(*src)),
                    Op::TailCall {
                        func,
                        args,
                        argc,
                        then_apply,
                    } => flow!(
                        'frames,
                        self.op_tail_call(fuel, site!(), func, args, argc, then_apply)
                    ),
                    Op::Fail {
                        msg,
                        value,
                        handler,
                    } => flow!('frames, self.op_fail(site!(), msg, value, handler)),
                }
            }
        }
    }
}
