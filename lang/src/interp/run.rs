//! The run loop: executes the current frame's instructions until a frame
//! change, then picks up the new current frame. Stops at safepoints when the
//! reduction budget is spent (resumable), and collects garbage there when the
//! heap asks for it.

use valk_heap::{ListKind, Value};

use super::call::{Called, Stop};
use super::{Interp, RunOutcome};
use crate::builtins;
use crate::code;
use crate::compiler::known;
use crate::equal;
use crate::globals::UNSET;
use crate::ir::{ArithOp, CmpOp, Op, Proto, Reg};
use crate::syntax::Span;

/// Why the run loop stopped.
enum Step {
    Stop(RunOutcome),
}

impl Interp {
    /// Run the started computation for at most `budget` reductions (one per
    /// call, tail call and loop back-edge); what it spent is charged to the
    /// host ([`Interp::with_host`]), whose budget is normally the one given.
    pub fn run(&mut self, budget: u32) -> RunOutcome {
        let mut fuel = budget;
        let Step::Stop(o) = self.exec(&mut fuel);
        self.host.get().charge(budget - fuel);
        o
    }

    /// Charge one reduction and collect if asked. `pc` is the instruction to
    /// resume at if the budget is spent.
    #[inline]
    fn safepoint(&mut self, fuel: &mut u32, pc: usize) -> Result<(), Stop> {
        if *fuel == 0 {
            if let Some(fr) = self.frames.last_mut() {
                fr.pc = pc as u32;
            }
            return Err(RunOutcome::OutOfBudget);
        }
        *fuel -= 1;
        self.reductions += 1;
        if self.heap.gc_wanted() {
            self.collect_garbage();
        }
        Ok(())
    }

    fn set_pc(&mut self, pc: usize) {
        if let Some(fr) = self.frames.last_mut() {
            fr.pc = pc as u32;
        }
    }

    #[allow(clippy::too_many_lines)]
    fn exec(&mut self, fuel: &mut u32) -> Step {
        // The current frame, reloaded at `continue 'frames` (a call or return).
        let mut proto: &'static Proto;
        let mut base: usize;
        let mut pc: usize;
        let mut code: &'static [Op];
        macro_rules! reg {
            ($r:expr) => {
                self.regs[base + $r as usize]
            };
        }
        let mut at;
        macro_rules! span {
            () => {
                proto.spans.get(at).copied().unwrap_or_default()
            };
        }
        macro_rules! tri {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(stop) => return Step::Stop(stop),
                }
            };
        }
        // The tail shared by the fused arithmetic/comparison ops: the fast
        // result while the global builtin `idx` is intact, else the slow
        // path (a call of whatever the global holds).
        macro_rules! binary {
            ($l:lifetime, $idx:expr, $fast:expr, $x:expr, $y:expr, $dst:expr) => {{
                let (idx, x, y) = ($idx, $x, $y);
                let fast = if self.globals.builtin_intact(idx) {
                    $fast(x, y)
                } else {
                    None
                };
                match fast {
                    Some(v) => reg!($dst) = v,
                    None => match tri!(self.binary_slow(idx, x, y, $dst, pc, span!())) {
                        Some(v) => reg!($dst) = v,
                        None => continue $l,
                    },
                }
            }};
        }
        macro_rules! ret {
            ($l:lifetime, $v:expr) => {{
                let v = $v;
                match self.do_return(v) {
                    None => continue $l,
                    Some(o) => return Step::Stop(o),
                }
            }};
        }
        'frames: loop {
            let Some(fr) = self.frames.last() else {
                return Step::Stop(if self.is_error(self.result) {
                    RunOutcome::Error(self.result)
                } else {
                    RunOutcome::Done(self.result)
                });
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
                        let v = match self.globals.get(*sym) {
                            Some(v) => v,
                            None => tri!(self.lookup(*sym, span!())),
                        };
                        reg!(*dst) = v;
                    }
                    Op::LocalChecked { dst, src, sym } => {
                        let v = reg!(*src);
                        reg!(*dst) = if v == UNSET {
                            tri!(self.lookup(*sym, span!()))
                        } else {
                            v
                        };
                    }
                    Op::DefGlobal { sym, src } => {
                        let v = reg!(*src);
                        let sv = self.heap.to_shared(v);
                        self.globals.define(*sym, sv);
                    }
                    Op::Closure {
                        dst,
                        proto: p,
                        caps,
                    } => {
                        let is_macro = self.proto(*p).is_some_and(|p| p.meta.is_macro);
                        let vals: Vec<Value> = caps.iter().map(|r| reg!(*r)).collect();
                        let c = tri!(self
                            .heap
                            .closure(code::code_word(*p, is_macro), &vals)
                            .map_err(|e| self.heap_fatal(e)));
                        reg!(*dst) = c;
                    }
                    Op::Arith { op, dst, a, b } => {
                        binary!(
                            'frames,
                            arith_index(*op),
                            |x, y| arith_fast(*op, x, y),
                            reg!(*a),
                            reg!(*b),
                            *dst
                        );
                    }
                    Op::ArithImm { op, dst, a, imm } => {
                        let y = Value::small_int(i64::from(*imm)).unwrap_or(Value::FALSE);
                        binary!(
                            'frames,
                            arith_index(*op),
                            |x, y| arith_fast(*op, x, y),
                            reg!(*a),
                            y,
                            *dst
                        );
                    }
                    Op::Compare { op, dst, a, b } => {
                        binary!(
                            'frames,
                            compare_index(*op),
                            |x, y| compare_fast(*op, x, y),
                            reg!(*a),
                            reg!(*b),
                            *dst
                        );
                    }
                    Op::CompareImm { op, dst, a, imm } => {
                        let y = Value::small_int(i64::from(*imm)).unwrap_or(Value::FALSE);
                        binary!(
                            'frames,
                            compare_index(*op),
                            |x, y| compare_fast(*op, x, y),
                            reg!(*a),
                            y,
                            *dst
                        );
                    }
                    Op::CompareBranch {
                        op,
                        dst,
                        a,
                        b,
                        then,
                        else_,
                    } => {
                        // Slow path: fall through to the `Compare`/`Branch` pair.
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
                    } => {
                        let f = reg!(*func);
                        if !f.is_ptr() && f.as_builtin().is_none() {
                            // Not a function: the sequence rule, no call made.
                            let a = base + *args as usize;
                            let n = *argc as usize;
                            let err = self.regs[a..a + n]
                                .iter()
                                .copied()
                                .find(|v| v.is_ptr() && self.is_error(*v));
                            reg!(*dst) =
                                err.unwrap_or(if n == 0 { f } else { self.regs[a + n - 1] });
                            continue;
                        }
                        tri!(self.safepoint(fuel, pc - 1));
                        let f = reg!(*func);
                        let a = base + *args as usize;
                        if self.fast_call(f, a, *argc as usize, *dst, pc) {
                            continue 'frames;
                        }
                        self.argbuf.clear();
                        self.argbuf
                            .extend_from_slice(&self.regs[a..a + *argc as usize]);
                        self.set_pc(pc);
                        match tri!(self.apply(f, *dst, false, span!())) {
                            Called::Value(v) => reg!(*dst) = v,
                            Called::Pushed => continue 'frames,
                        }
                    }
                    Op::Deopt { dst, form, tail } => {
                        tri!(self.safepoint(fuel, pc - 1));
                        let Some(node) = proto
                            .meta
                            .macro_forms
                            .get(*form as usize)
                            .and_then(|f| f.first())
                        else {
                            continue;
                        };
                        if !*tail {
                            self.set_pc(pc);
                        }
                        match tri!(self.deopt(node, *dst, *tail, span!())) {
                            Called::Value(v) if *tail => ret!('frames, v),
                            Called::Value(v) => reg!(*dst) = v,
                            Called::Pushed => continue 'frames,
                        }
                    }
                    Op::CallHandler {
                        dst,
                        func,
                        arg,
                        tail,
                    } => {
                        tri!(self.safepoint(fuel, pc - 1));
                        let f = reg!(*func);
                        self.argbuf.clear();
                        self.argbuf.push(reg!(*arg));
                        if !*tail {
                            self.set_pc(pc);
                        }
                        match tri!(self.apply_checked(f, *dst, *tail, span!(), false)) {
                            Called::Value(v) if *tail => ret!('frames, v),
                            Called::Value(v) => reg!(*dst) = v,
                            Called::Pushed => continue 'frames,
                        }
                    }
                    Op::CallBuiltin {
                        dst,
                        index,
                        args,
                        argc,
                    } => {
                        tri!(self.safepoint(fuel, pc - 1));
                        let a = base + *args as usize;
                        self.argbuf.clear();
                        self.argbuf
                            .extend_from_slice(&self.regs[a..a + *argc as usize]);
                        self.set_pc(pc);
                        match tri!(self.apply(Value::builtin(*index), *dst, false, span!())) {
                            Called::Value(v) => reg!(*dst) = v,
                            Called::Pushed => continue 'frames,
                        }
                    }
                    Op::MacroCheck {
                        func,
                        forms,
                        dst,
                        done,
                    } => {
                        let f = reg!(*func);
                        if !f.is_ptr() || !self.is_macro(f) {
                            continue;
                        }
                        tri!(self.safepoint(fuel, pc - 1));
                        let f = reg!(*func);
                        pc = *done as usize;
                        match tri!(self.macro_call(proto, f, *forms, *dst, pc, span!())) {
                            Some(v) => reg!(*dst) = v,
                            None => continue 'frames,
                        }
                    }
                    Op::GlobalHead {
                        dst,
                        sym,
                        forms,
                        res,
                        done,
                    } => {
                        let f = match self.globals.get(*sym) {
                            Some(v) => v,
                            None => tri!(self.lookup(*sym, span!())),
                        };
                        reg!(*dst) = f;
                        if !f.is_ptr() || !self.is_macro(f) {
                            continue;
                        }
                        tri!(self.safepoint(fuel, pc - 1));
                        pc = *done as usize;
                        match tri!(self.macro_call(proto, f, *forms, *res, pc, span!())) {
                            Some(v) => reg!(*res) = v,
                            None => continue 'frames,
                        }
                    }
                    Op::Safepoint => tri!(self.safepoint(fuel, pc)),
                    Op::ApplyResult { n } => {
                        if let Some(fr) = self.frames.last_mut() {
                            fr.apply_result = fr.apply_result.saturating_add(*n);
                        }
                    }
                    Op::ReceiveStart => self.receive_start(),
                    Op::Receive {
                        dst,
                        timeout,
                        timed_out,
                    } => {
                        tri!(self.safepoint(fuel, at));
                        match tri!(self.receive_next(reg!(*timeout), at, span!())) {
                            Some(v) => reg!(*dst) = v,
                            None => pc = *timed_out as usize,
                        }
                    }
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
                        let truth = if let Some(i) = c.as_small_int() {
                            Some(i != 0)
                        } else if let Some(f) = c.as_float() {
                            Some(f != 0.0)
                        } else {
                            self.heap.as_int(c).map(|i| i != 0)
                        };
                        match truth {
                            Some(true) => pc = *then as usize,
                            Some(false) => pc = *else_ as usize,
                            None => {
                                let e = if self.is_error(c) {
                                    c
                                } else {
                                    let name = builtins::def(*what).map(|d| d.name).unwrap_or("if");
                                    let msg = format!(
                                        "`{name}`: condition: expected number, got {}",
                                        crate::printer::type_name(&self.heap, c)
                                    );
                                    tri!(self.error_value(&msg, span!()))
                                };
                                match handler {
                                    Some((t, r)) => {
                                        reg!(*r) = e;
                                        pc = *t as usize;
                                    }
                                    None => ret!('frames, e),
                                }
                            }
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
                    } => {
                        let f = reg!(*func);
                        if *then_apply == 0 && !f.is_ptr() && f.as_builtin().is_none() {
                            // Not a function (`{n}` as a body): the sequence rule.
                            let a = base + *args as usize;
                            let n = *argc as usize;
                            let err = self.regs[a..a + n]
                                .iter()
                                .copied()
                                .find(|v| v.is_ptr() && self.is_error(*v));
                            ret!('frames, err.unwrap_or(if n == 0 { f } else { self.regs[a + n - 1] }))
                        }
                        tri!(self.safepoint(fuel, pc - 1));
                        if *then_apply > 0 {
                            if let Some(fr) = self.frames.last_mut() {
                                fr.apply_result = fr.apply_result.saturating_add(*then_apply);
                            }
                        }
                        let f = reg!(*func);
                        let a = base + *args as usize;
                        if self.fast_tail_call(f, a, *argc as usize) {
                            continue 'frames;
                        }
                        self.argbuf.clear();
                        self.argbuf
                            .extend_from_slice(&self.regs[a..a + *argc as usize]);
                        match tri!(self.apply(f, 0, true, span!())) {
                            Called::Value(v) => ret!('frames, v),
                            Called::Pushed => continue 'frames,
                        }
                    }
                    Op::Fail {
                        msg,
                        value,
                        handler,
                    } => {
                        let mut text = proto
                            .meta
                            .consts
                            .get(*msg as usize)
                            .and_then(|c| self.heap.str(c.value()).map(str::to_owned))
                            .unwrap_or_default();
                        if let Some(r) = value {
                            text.push(' ');
                            text.push_str(&self.repr(reg!(*r)));
                        }
                        let e = tri!(self.error_value(&text, span!()));
                        match handler {
                            Some((t, r)) => {
                                reg!(*r) = e;
                                pc = *t as usize;
                            }
                            None => ret!('frames, e),
                        }
                    }
                }
            }
        }
    }

    /// The common call, without `argbuf`: a non-macro closure called with
    /// exactly its fixed parameters, no Error among them, within the stack
    /// limit. Pushes the frame and returns true; false: take the general path.
    #[inline]
    fn fast_call(&mut self, f: Value, a: usize, argc: usize, ret: Reg, resume: usize) -> bool {
        let Some((code, caps)) = self.heap.closure_parts(f) else {
            return false;
        };
        let Some(n) = code.as_small_int() else {
            return false;
        };
        // Macros have negative code words.
        let Some(p) = u32::try_from(n).ok().and_then(crate::code::get) else {
            return false;
        };
        let m = &p.meta;
        if argc != m.nparams as usize || m.rest || argc == 0 {
            return false;
        }
        let depth = self.frames.len();
        let Some(cur) = self.frames.last_mut() else {
            return false;
        };
        let new_base = cur.base as usize + cur.proto.meta.nregs as usize;
        let nregs = m.nregs as usize;
        if depth >= self.max_frames || new_base + nregs > self.max_regs {
            return false;
        }
        let heap = &self.heap;
        if self.regs[a..a + argc]
            .iter()
            .any(|v| v.is_ptr() && heap.kind(*v) == Some(valk_heap::ObjKind::Error))
        {
            return false;
        }
        cur.pc = resume as u32;
        if self.regs.len() < new_base + nregs {
            let want = (new_base + nregs)
                .max(self.regs.len() * 2)
                .min(self.max_regs.max(new_base + nregs));
            self.regs.resize(want, UNSET);
        }
        // Arguments sit below the new frame (a < new_base): copy upwards.
        for i in 0..argc {
            self.regs[new_base + i] = self.regs[a + i];
        }
        for r in &mut self.regs[new_base + argc..new_base + nregs] {
            *r = UNSET;
        }
        let ncaps = m.ncaps as usize;
        if ncaps > 0 {
            let at = new_base + nregs - ncaps;
            let k = caps.len().min(ncaps);
            self.regs[at..at + k].copy_from_slice(&caps[..k]);
        }
        self.push_call_frame(p, new_base as u32, ret);
        true
    }

    /// Push a plain call frame. Kept out of the run loop on purpose: there
    /// `Vec::push` is not inlined and copies a `Frame` built on the stack
    /// (a store-forwarding stall on every call); here it is built in place.
    #[inline(never)]
    fn push_call_frame(&mut self, proto: &'static Proto, base: u32, ret: Reg) {
        self.frames.push(super::Frame {
            proto,
            pc: 0,
            base,
            ret,
            kind: super::FrameKind::Call,
            extras: super::Extras::default(),
            apply_result: 0,
        });
    }

    /// [`Interp::fast_call`] for a tail call: the frame is reused in place
    /// (when no dynamic bindings need carrying over).
    #[inline]
    fn fast_tail_call(&mut self, f: Value, a: usize, argc: usize) -> bool {
        const MAX: usize = 8;
        let Some((code, caps)) = self.heap.closure_parts(f) else {
            return false;
        };
        let Some(n) = code.as_small_int() else {
            return false;
        };
        let Some(p) = u32::try_from(n).ok().and_then(crate::code::get) else {
            return false;
        };
        let m = &p.meta;
        if argc != m.nparams as usize || m.rest || argc == 0 || argc > MAX || self.needs_carry(p) {
            return false;
        }
        let Some(cur) = self.frames.last_mut() else {
            return false;
        };
        let new_base = cur.base as usize;
        let nregs = m.nregs as usize;
        if new_base + nregs > self.max_regs {
            return false;
        }
        let mut tmp = [UNSET; MAX];
        tmp[..argc].copy_from_slice(&self.regs[a..a + argc]);
        let heap = &self.heap;
        if tmp[..argc]
            .iter()
            .any(|v| v.is_ptr() && heap.kind(*v) == Some(valk_heap::ObjKind::Error))
        {
            return false;
        }
        if self.regs.len() < new_base + nregs {
            let want = (new_base + nregs)
                .max(self.regs.len() * 2)
                .min(self.max_regs.max(new_base + nregs));
            self.regs.resize(want, UNSET);
        }
        self.regs[new_base..new_base + argc].copy_from_slice(&tmp[..argc]);
        for r in &mut self.regs[new_base + argc..new_base + nregs] {
            *r = UNSET;
        }
        let ncaps = m.ncaps as usize;
        if ncaps > 0 {
            let at = new_base + nregs - ncaps;
            let k = caps.len().min(ncaps);
            self.regs[at..at + k].copy_from_slice(&caps[..k]);
        }
        cur.proto = p;
        cur.pc = 0;
        cur.kind = super::FrameKind::Call;
        // Same function or no names: the extras stay (see `needs_carry`).
        true
    }

    fn is_macro(&self, f: Value) -> bool {
        self.heap
            .closure_parts(f)
            .and_then(|(c, _)| code::decode(c))
            .is_some_and(|(_, m)| m)
    }

    /// Call macro `f` with the unevaluated argument forms `forms` of
    /// `proto` (each wrapped as `{arg}`); the frame resumes at `resume`.
    /// `None`: a frame was pushed.
    fn macro_call(
        &mut self,
        proto: &Proto,
        f: Value,
        forms: u32,
        dst: Reg,
        resume: usize,
        span: Span,
    ) -> Result<Option<Value>, Stop> {
        let nodes = proto
            .meta
            .macro_forms
            .get(forms as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        self.argbuf.clear();
        for n in nodes {
            let v = crate::compiler::node_to_value(&mut self.heap, n)
                .map_err(|e| self.heap_fatal(e))?;
            let q = self
                .heap
                .list(&[v], ListKind::Q)
                .map_err(|e| self.heap_fatal(e))?;
            self.argbuf.push(q);
        }
        self.set_pc(resume);
        match self.apply(f, dst, false, span)? {
            Called::Value(v) => Ok(Some(v)),
            Called::Pushed => Ok(None),
        }
    }

    /// The general route of a fused arithmetic/comparison: the builtin on
    /// non-fast operands (type errors, big integers), or a call of whatever
    /// the global of that name now holds. `None`: a frame was pushed (the
    /// frame resumes at `resume` and the result lands in `dst`).
    fn binary_slow(
        &mut self,
        idx: u32,
        x: Value,
        y: Value,
        dst: Reg,
        resume: usize,
        span: Span,
    ) -> Result<Option<Value>, Stop> {
        if self.globals.builtin_intact(idx) {
            return self.builtin_now(idx, &[x, y], span).map(Some);
        }
        let name = builtins::def(idx).map(|d| d.name).unwrap_or("+");
        let f = self.lookup(valk_heap::intern(name), span)?;
        self.argbuf.clear();
        self.argbuf.push(x);
        self.argbuf.push(y);
        self.set_pc(resume);
        match self.apply(f, dst, false, span)? {
            Called::Value(v) => Ok(Some(v)),
            Called::Pushed => Ok(None),
        }
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

fn arith_index(op: ArithOp) -> u32 {
    let k = known();
    match op {
        ArithOp::Add => k.plus,
        ArithOp::Sub => k.minus,
        ArithOp::Mul => k.times,
    }
}

fn compare_index(op: CmpOp) -> u32 {
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
fn arith_fast(op: ArithOp, x: Value, y: Value) -> Option<Value> {
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

#[inline(always)]
fn compare_fast(op: CmpOp, x: Value, y: Value) -> Option<Value> {
    let (i, j) = (x.as_small_int()?, y.as_small_int()?);
    Some(Value::bool(compare_ints(op, i, j)))
}

#[inline(always)]
fn compare_ints(op: CmpOp, i: i64, j: i64) -> bool {
    match op {
        CmpOp::Lt => i < j,
        CmpOp::Gt => i > j,
        CmpOp::Le => i <= j,
        CmpOp::Ge => i >= j,
        CmpOp::Eq => i == j,
        CmpOp::Ne => i != j,
    }
}
