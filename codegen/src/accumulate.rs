//! Accumulator recursion: `(+ x (f ...))` in tail position of `f` itself
//! becomes a loop.
//!
//! A body like fib's, `{+ (fib (- n 1)) (fib (- n 2))}`, calls itself
//! and then only adds. Lowering gives such a function a twin of its body
//! (`lower`), which turns that second call into a jump back to the top
//! with the new arguments and keeps the pending additions in one
//! accumulator that every return adds to its value. Half of fib's
//! calls disappear; this is the transformation LLVM applies to plain
//! Rust's fib, which it cannot apply to ours because every `+` checks
//! for overflow.
//!
//! Why the result is exactly the interpreter's:
//!
//! - Compiled code has no effect but its result, and the calls happen in
//!   the same order (the left operand is computed before the loop turn).
//! - Integers wrap at 64 bits, so addition is associative: a sum that
//!   stays in the small range is the same whichever way it is grouped.
//!   The accumulator is added with the same overflow check as any `+`,
//!   and a sum that leaves the small range bails, as any `+` does: the
//!   interpreter then reruns the call.
//! - Each turn charges the reduction and takes the nesting level the call
//!   would have taken (`lower`), so fuel, yields and the depth limit are
//!   those of the calls it replaces: a recursion too deep for the native
//!   stack still bails where it did, rather than looping forever.

use std::collections::HashMap;

use valk_lang::ir::{ArithOp, Op, Reg};

use crate::plan::{live_ops, CallKind, Plan};

/// The call sites of `plan` that lowering turns into loop turns: (block,
/// op index) of the self call, and the register added to its result.
/// Empty when the function has a tail call to another function (its
/// result would skip the accumulator).
pub fn sites(plan: &Plan) -> HashMap<(usize, usize), Reg> {
    let mut sites = HashMap::new();
    for (bi, _) in plan.reachable.iter().enumerate().filter(|(_, r)| **r) {
        let ops = live_ops(plan.proto, bi);
        for (k, op) in ops.iter().enumerate() {
            let call = plan.calls.get(&(bi, k)).copied();
            match *op {
                Op::TailCall { .. }
                    if !calls_itself(plan, call) && call != Some(CallKind::Sequence) =>
                {
                    return HashMap::new();
                }
                Op::Call { dst, .. } if calls_itself(plan, call) => {
                    if let Some(other) = added_then_returned(plan, &ops[k + 1..], dst) {
                        sites.insert((bi, k), other);
                    }
                }
                _ => {}
            }
        }
    }
    sites
}

fn calls_itself(plan: &Plan, call: Option<CallKind>) -> bool {
    match call {
        Some(CallKind::Direct(sym)) => plan
            .callees
            .get(&sym)
            .is_some_and(|c| c.proto == plan.index),
        _ => false,
    }
}

/// If all that follows a call writing `dst` (through jumps) is
/// `r = x + dst` (either order) and `return r`: `x`.
fn added_then_returned(plan: &Plan, mut rest: &[Op], dst: Reg) -> Option<Reg> {
    let mut tail: Vec<&Op> = Vec::new();
    // Jumps only go forward in a body's IR, but bound the walk anyway.
    for _ in 0..plan.proto.blocks.len() + 1 {
        match rest.split_first() {
            Some((Op::Jump { to }, _)) => rest = live_ops(plan.proto, *to as usize),
            Some((op, more)) => {
                tail.push(op);
                rest = more;
                if matches!(op, Op::Return { .. }) || tail.len() > 2 {
                    break;
                }
            }
            None => return None,
        }
    }
    match tail[..] {
        [Op::Arith {
            op: ArithOp::Add,
            dst: sum,
            a,
            b,
        }, Op::Return { src }]
            if *src == *sum && (*a == dst) != (*b == dst) =>
        {
            Some(if *a == dst { *b } else { *a })
        }
        _ => None,
    }
}
