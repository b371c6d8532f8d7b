//! Which functions the native tier compiles, and what it assumes about
//! them: a [`Plan`] per function, made from its Valk IR and the globals it
//! calls.
//!
//! A function is compiled when everything it can reach (with `if` and the
//! arithmetic builtins intact) is code the tier lowers: small-integer
//! arithmetic and comparisons, branches, locals, reads of globals holding
//! immediates, and calls of global functions that are compiled too. Such a
//! function has no effect but its result, which is what lets a bail replay
//! the call in the interpreter (`valk_lang::tier`). Anything else (lists,
//! strings, closures, `def`, messages, other builtins) keeps the function
//! in the interpreter.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use valk_heap::{SharedReader, SharedValue};
use valk_lang::ir::{Op, Proto, Reg};
use valk_lang::tier::MAX_NATIVE_PARAMS;
use valk_lang::Globals;

/// A global function a compiled call site calls directly, guarded by the
/// global still holding the very closure it held at compile time.
pub struct Callee {
    /// The closure's bits: the guard compares the slot with them.
    pub expected: u64,
    /// Its code index.
    pub proto: u32,
    /// A count on the closure, held as long as the code lives: its
    /// address is never reused for another value while a guard names it.
    pub keep: SharedValue,
}

/// How a compiled call site calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// The global function of this symbol (a key of [`Plan::callees`]),
    /// loaded by a `GlobalHead` earlier in the block.
    Direct(u32),
    /// A value called with no arguments (`{n}` as a body): it is its own
    /// result when it is not a function (the sequence rule).
    Sequence,
}

/// What lowering a function needs beyond its IR.
pub struct Plan {
    pub index: u32,
    pub proto: &'static Proto,
    /// The global functions it calls, by symbol.
    pub callees: HashMap<u32, Callee>,
    /// Each call site (block, op index in the block): what it calls.
    pub calls: HashMap<(usize, usize), CallKind>,
    /// The blocks compiled code can reach.
    pub reachable: Vec<bool>,
    /// The builtins whose fast paths it takes (their intact flags are
    /// checked on entry).
    pub intact: std::collections::BTreeSet<u32>,
}

/// Why a function stays interpreted (for `--jit-log` and tests).
pub type Reject = String;

/// The blocks an op may go to in compiled code, and whether the rest of
/// its block is still reached (false after a fused compare-and-branch,
/// whose slow path bails).
fn native_edges(op: &Op) -> (Vec<u32>, bool) {
    match op {
        Op::Guard { intact, .. } => (vec![*intact], false),
        Op::CompareBranch { then, else_, .. } | Op::CompareImmBranch { then, else_, .. } => {
            (vec![*then, *else_], false)
        }
        // A compiled head is never a macro: its `done` edge is not taken.
        Op::GlobalHead { .. } | Op::MacroCheck { .. } => (vec![], true),
        Op::ReturnIfError { ok, .. } | Op::IfError { ok, .. } => (vec![*ok], false),
        Op::Branch { then, else_, .. } => (vec![*then, *else_], false),
        _ => {
            let mut op = op.clone();
            let t = op.targets_mut().into_iter().map(|t| *t).collect();
            (t, !op.is_terminator())
        }
    }
}

/// The ops of `block` compiled code runs (up to the one that leaves it).
pub fn live_ops(p: &Proto, block: usize) -> &[Op] {
    let ops = &p.blocks[block].ops;
    for (i, op) in ops.iter().enumerate() {
        if !native_edges(op).1 {
            return &ops[..=i];
        }
    }
    ops
}

/// For each block, the block that jumps to it when that jump is its only
/// way in, in compiled code. Block 0 has none: loops come back to it.
pub fn sole_jumper(p: &Proto, reachable: &[bool]) -> Vec<Option<usize>> {
    let mut ins: Vec<Vec<(usize, bool)>> = vec![Vec::new(); p.blocks.len()];
    for (b, _) in reachable.iter().enumerate().filter(|(_, r)| **r) {
        for op in live_ops(p, b) {
            let jump = matches!(op, Op::Jump { .. });
            for t in native_edges(op).0 {
                if let Some(v) = ins.get_mut(t as usize) {
                    v.push((b, jump));
                }
            }
        }
    }
    ins.iter()
        .enumerate()
        .map(|(b, v)| match v[..] {
            [(from, true)] if b != 0 => Some(from),
            _ => None,
        })
        .collect()
}

fn reachable(p: &Proto) -> Vec<bool> {
    let mut seen = vec![false; p.blocks.len()];
    let mut work = vec![0usize];
    while let Some(b) = work.pop() {
        if b >= seen.len() || seen[b] {
            continue;
        }
        seen[b] = true;
        for op in live_ops(p, b) {
            work.extend(native_edges(op).0.into_iter().map(|t| t as usize));
        }
    }
    seen
}

/// The register an op writes on the path compiled code takes.
fn written(op: &Op) -> Option<Reg> {
    match op {
        Op::Imm { dst, .. }
        | Op::Move { dst, .. }
        | Op::Global { dst, .. }
        | Op::Arith { dst, .. }
        | Op::ArithImm { dst, .. }
        | Op::Compare { dst, .. }
        | Op::CompareImm { dst, .. }
        | Op::CompareBranch { dst, .. }
        | Op::CompareImmBranch { dst, .. }
        | Op::TestEqual { dst, .. }
        | Op::GlobalHead { dst, .. }
        | Op::Call { dst, .. } => Some(*dst),
        _ => None,
    }
}

/// Is this an op compiled code runs (given its operands check out)?
fn lowered(op: &Op) -> bool {
    matches!(
        op,
        Op::Imm { .. }
            | Op::Move { .. }
            | Op::Global { .. }
            | Op::Arith { .. }
            | Op::ArithImm { .. }
            | Op::Compare { .. }
            | Op::CompareImm { .. }
            | Op::CompareBranch { .. }
            | Op::CompareImmBranch { .. }
            | Op::GlobalHead { .. }
            | Op::TestEqual { .. }
            | Op::Call { .. }
            | Op::MacroCheck { .. }
            | Op::Safepoint
            | Op::Jump { .. }
            | Op::Branch { .. }
            | Op::ReturnIfError { .. }
            | Op::IfError { .. }
            | Op::Guard { .. }
            | Op::Return { .. }
            | Op::TailCall { then_apply: 0, .. }
    )
}

/// The plan for proto `index`, or why it stays interpreted.
pub fn plan(index: u32, globals: &Globals) -> Result<Plan, Reject> {
    let p = valk_lang::code::get(index).ok_or("no such code")?;
    let m = &p.meta;
    if m.is_macro || m.rest || m.ncaps > 0 {
        return Err("a macro, a rest parameter or a closure".into());
    }
    if m.nparams as usize > MAX_NATIVE_PARAMS {
        return Err(format!("more than {MAX_NATIVE_PARAMS} parameters"));
    }
    let reachable = reachable(p);
    let entry_heads = heads_at_entry(p, &reachable);
    let mut callees: HashMap<u32, Callee> = HashMap::new();
    let mut calls = HashMap::new();
    for (b, _) in reachable.iter().enumerate().filter(|(_, r)| **r) {
        // Head registers loaded and not written since, on every path here.
        let mut heads = entry_heads[b].clone().unwrap_or_default();
        for (k, op) in live_ops(p, b).iter().enumerate() {
            if !lowered(op) {
                return Err(format!("uses {}", op_name(op)));
            }
            if let Op::Imm { val, .. } = op {
                if val.is_ptr() {
                    return Err("a heap literal".into());
                }
            }
            let call = match op {
                Op::Call { func, argc, .. } | Op::TailCall { func, argc, .. } => {
                    Some((*func, *argc))
                }
                Op::MacroCheck { func, .. } => {
                    if !heads.contains_key(func) {
                        return Err("a call of a computed function".into());
                    }
                    None
                }
                _ => None,
            };
            if let Some((func, argc)) = call {
                let kind = match heads.get(&func) {
                    Some(&sym) => {
                        if let Entry::Vacant(e) = callees.entry(sym) {
                            e.insert(callee(globals, sym)?);
                        }
                        let c = &callees[&sym];
                        let cm = &valk_lang::code::get(c.proto).ok_or("no such code")?.meta;
                        if cm.nparams != argc || cm.rest || cm.ncaps > 0 || cm.is_macro {
                            return Err("a call whose arity or kind the tier does not take".into());
                        }
                        CallKind::Direct(sym)
                    }
                    None if argc == 0 => CallKind::Sequence,
                    None => return Err("a call of a computed function".into()),
                };
                calls.insert((b, k), kind);
            }
            step_heads(&mut heads, op);
        }
    }
    // A head loaded but never called through still needs its guard value.
    for (b, _) in reachable.iter().enumerate().filter(|(_, r)| **r) {
        for op in live_ops(p, b) {
            if let Op::GlobalHead { sym, .. } = op {
                if let Entry::Vacant(e) = callees.entry(*sym) {
                    e.insert(callee(globals, *sym)?);
                }
            }
        }
    }
    let mut intact = std::collections::BTreeSet::new();
    for (b, _) in reachable.iter().enumerate().filter(|(_, r)| **r) {
        for op in live_ops(p, b) {
            match op {
                Op::Guard { index, .. } => {
                    intact.insert(*index);
                }
                Op::Arith { op, .. } | Op::ArithImm { op, .. } => {
                    intact.insert(valk_lang::tier::arith_builtin(*op));
                }
                Op::Compare { op, .. }
                | Op::CompareImm { op, .. }
                | Op::CompareBranch { op, .. }
                | Op::CompareImmBranch { op, .. } => {
                    intact.insert(valk_lang::tier::compare_builtin(*op));
                }
                _ => {}
            }
        }
    }
    if intact.iter().any(|&i| !globals.builtin_intact(i)) {
        return Err("a fast path whose builtin was replaced".into());
    }
    Ok(Plan {
        index,
        proto: p,
        callees,
        calls,
        reachable,
        intact,
    })
}

/// Head registers (register -> global symbol) after `op`.
fn step_heads(heads: &mut HashMap<Reg, u32>, op: &Op) {
    if let Some(r) = written(op) {
        heads.remove(&r);
    }
    if let Op::GlobalHead { dst, sym, .. } = op {
        heads.insert(*dst, *sym);
    }
}

/// For each reachable block, the head registers loaded on every path into
/// it (a forward dataflow to a fixpoint; `None`: not reached yet).
fn heads_at_entry(p: &Proto, reachable: &[bool]) -> Vec<Option<HashMap<Reg, u32>>> {
    let mut at: Vec<Option<HashMap<Reg, u32>>> = vec![None; p.blocks.len()];
    if at.is_empty() {
        return at;
    }
    at[0] = Some(HashMap::new());
    let mut work = vec![0usize];
    while let Some(b) = work.pop() {
        let Some(mut heads) = at[b].clone() else {
            continue;
        };
        let mut succ = Vec::new();
        for op in live_ops(p, b) {
            step_heads(&mut heads, op);
            succ.extend(native_edges(op).0);
        }
        for t in succ.into_iter().map(|t| t as usize) {
            if t >= at.len() || !reachable[t] {
                continue;
            }
            let merged = match &at[t] {
                None => heads.clone(),
                Some(old) => old
                    .iter()
                    .filter(|(r, s)| heads.get(r) == Some(s))
                    .map(|(r, s)| (*r, *s))
                    .collect(),
            };
            if at[t].as_ref() != Some(&merged) {
                at[t] = Some(merged);
                work.push(t);
            }
        }
    }
    at
}

/// The closure global `sym` holds now, as a direct-call target.
fn callee(globals: &Globals, sym: u32) -> Result<Callee, Reject> {
    let keep = globals
        .get_counted(sym)
        .ok_or("a call of an unbound name")?;
    let v = keep.value();
    let (code, caps) = SharedReader
        .closure_parts(v)
        .ok_or("a call of a builtin or a non-function")?;
    if !caps.is_empty() {
        return Err("a call of a closure with captures".into());
    }
    let (proto, is_macro) = valk_lang::code::decode(code).ok_or("a bad code word")?;
    if is_macro {
        return Err("a macro call".into());
    }
    Ok(Callee {
        expected: v.to_bits(),
        proto,
        keep,
    })
}

/// A short name for an op the tier does not take.
pub fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Const { .. } => "a heap literal",
        Op::FrameGlobal { .. } => "run-time code",
        Op::DefGlobal { .. } => "def",
        Op::Closure { .. } => "a lambda",
        Op::CallBuiltin { .. } => "a builtin",
        Op::CallHandler { .. } => "try",
        Op::Deopt { .. } => "a replaced special form",
        Op::ApplyResult { .. } => "a computed call",
        Op::ReceiveStart | Op::Receive { .. } | Op::ReceiveAccept => "receive",
        Op::Uncons { .. } => "pattern matching",
        Op::LocalChecked { .. } => "an `=` local",
        Op::Fail { .. } => "a match failure",
        Op::TailCall { .. } => "a computed tail call",
        _ => "an op the tier does not take",
    }
}
