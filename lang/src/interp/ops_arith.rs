//! The fused arithmetic and comparison instructions (`Arith`, `ArithImm`,
//! `Compare`, `CompareImm`, `CompareBranch`, `CompareImmBranch`): their
//! fast paths, inlined by the run loop, and the slow path it calls when an
//! operand is not a small integer (or float) or the builtin was replaced.

use valk_heap::Value;

use super::call::{Called, Stop};
use super::run::{Flow, OpResult, Site};
use super::Interp;
use crate::builtins;
use crate::compiler::known;
use crate::ir::{ArithOp, CmpOp, Reg};
use crate::syntax::Span;

impl Interp {
    /// The general route of a fused arithmetic/comparison at `s`: the
    /// builtin `idx` on non-fast operands (type errors, big integers), or a
    /// call of whatever the global of that name now holds. The result lands
    /// in `dst` (if a frame was pushed, when it returns).
    pub(super) fn op_binary_slow(
        &mut self,
        s: Site,
        idx: u32,
        x: Value,
        y: Value,
        dst: Reg,
    ) -> OpResult {
        let span = s.span();
        let v = if self.globals.builtin_intact(idx) {
            self.builtin_now(idx, &[x, y], span)?
        } else {
            let name = builtins::def(idx).map(|d| d.name).unwrap_or("+");
            let f = self.lookup(valk_heap::intern(name), span)?;
            self.argbuf.clear();
            self.argbuf.push(x);
            self.argbuf.push(y);
            self.set_pc(s.next());
            match self.apply(f, dst, false, span)? {
                Called::Value(v) => v,
                Called::Pushed => return Ok(Flow::Reload),
            }
        };
        self.regs[s.reg(dst)] = v;
        Ok(Flow::Next)
    }

    /// Call a plain builtin on two values right now (the slow path of the
    /// arithmetic and comparison fast paths).
    fn builtin_now(&mut self, idx: u32, args: &[Value], span: Span) -> Result<Value, Stop> {
        self.argbuf.clear();
        self.argbuf.extend_from_slice(args);
        match self.apply(Value::builtin(idx), Reg::MAX, false, span)? {
            Called::Value(v) => Ok(v),
            // Plain builtins never push frames.
            Called::Pushed => Ok(Value::NIL),
        }
    }
}

/// The builtin (global) index of an arithmetic op.
pub(crate) fn arith_index(op: ArithOp) -> u32 {
    let k = known();
    match op {
        ArithOp::Add => k.plus,
        ArithOp::Sub => k.minus,
        ArithOp::Mul => k.times,
    }
}

/// The builtin (global) index of a comparison op.
pub(crate) fn compare_index(op: CmpOp) -> u32 {
    let k = known();
    match op {
        CmpOp::Lt => k.lt,
        CmpOp::Gt => k.gt,
        CmpOp::Le => k.le,
        CmpOp::Ge => k.ge,
        CmpOp::Eq => k.eq,
        CmpOp::Ne => k.ne,
    }
}

/// Small integers whose result stays small, or two floats.
#[inline(always)]
pub(super) fn arith_fast(op: ArithOp, x: Value, y: Value) -> Option<Value> {
    if let (Some(i), Some(j)) = (x.as_small_int(), y.as_small_int()) {
        let r = match op {
            ArithOp::Add => i + j,
            ArithOp::Sub => i - j,
            // 48-bit operands: the product may not fit; let the builtin wrap it.
            ArithOp::Mul => i.checked_mul(j)?,
        };
        return Value::small_int(r);
    }
    let (f, g) = (x.as_float()?, y.as_float()?);
    Some(Value::float(match op {
        ArithOp::Add => f + g,
        ArithOp::Sub => f - g,
        ArithOp::Mul => f * g,
    }))
}

/// Two small integers.
#[inline(always)]
pub(super) fn compare_fast(op: CmpOp, x: Value, y: Value) -> Option<Value> {
    let (i, j) = (x.as_small_int()?, y.as_small_int()?);
    Some(Value::bool(compare_ints(op, i, j)))
}

#[inline(always)]
pub(super) fn compare_ints(op: CmpOp, i: i64, j: i64) -> bool {
    match op {
        CmpOp::Lt => i < j,
        CmpOp::Gt => i > j,
        CmpOp::Le => i <= j,
        CmpOp::Ge => i >= j,
        CmpOp::Eq => i == j,
        CmpOp::Ne => i != j,
    }
}
