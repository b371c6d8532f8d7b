//! The call instructions of the run loop ([`Interp::exec`](super::run)):
//! `Call`, `TailCall`, `CallBuiltin`, `CallHandler`, `Deopt`, the macro
//! heads `GlobalHead` and `MacroCheck`, and `Closure`; with the frame pushes
//! that avoid `argbuf` on the common call.
//!
//! `Call`, `TailCall` and `GlobalHead` are on every call of a Valk function
//! and are `#[inline(always)]` into the loop; the others are left to the
//! compiler.

use valk_heap::{ListKind, ObjKind, Value};

use super::call::{Called, Stop};
use super::run::{Flow, OpResult, Site};
use super::{Extras, Frame, FrameKind, Interp};
use crate::code;
use crate::globals::UNSET;
use crate::ir::{Proto, Reg};
use crate::syntax::Span;

/// What a fast call did.
pub(super) enum Fast {
    /// Nothing: take the general route.
    No,
    /// Pushed the callee's frame (or replaced this one).
    Pushed,
    /// Ran it as native code: its value.
    Value(Value),
}

impl Interp {
    /// `Call`: call `func` on `argc` registers from `args`; the result
    /// lands in `dst`.
    #[inline(always)]
    pub(super) fn op_call(
        &mut self,
        fuel: &mut u32,
        s: Site,
        dst: &Reg,
        func: &Reg,
        args: &Reg,
        argc: &u16,
    ) -> OpResult {
        let f = self.regs[s.reg(*func)];
        if !f.is_ptr() && f.as_builtin().is_none() {
            // Not a function: the sequence rule, no call made.
            self.regs[s.reg(*dst)] = self.sequence_rule(f, s.reg(*args), *argc as usize);
            return Ok(Flow::Next);
        }
        self.safepoint(fuel, s.at)?;
        // Reloaded: the safepoint may have collected.
        let f = self.regs[s.reg(*func)];
        let (a, n) = (s.reg(*args), *argc as usize);
        match self.fast_call(f, a, n, *dst, s.next(), fuel) {
            Fast::Pushed => return Ok(Flow::Reload),
            Fast::Value(v) => {
                self.regs[s.reg(*dst)] = v;
                return Ok(Flow::Next);
            }
            Fast::No => {}
        }
        self.argbuf.clear();
        self.argbuf.extend_from_slice(&self.regs[a..a + n]);
        self.set_pc(s.next());
        let called = self.apply(f, *dst, false, s.span())?;
        Ok(self.called(s, *dst, called))
    }

    /// `TailCall`: replace the frame by a call of `func` on `argc`
    /// registers from `args` (after `then_apply` more wrappers to apply).
    #[inline(always)]
    pub(super) fn op_tail_call(
        &mut self,
        fuel: &mut u32,
        s: Site,
        func: &Reg,
        args: &Reg,
        argc: &u16,
        then_apply: &u32,
    ) -> OpResult {
        let f = self.regs[s.reg(*func)];
        if *then_apply == 0 && !f.is_ptr() && f.as_builtin().is_none() {
            // Not a function (`{n}` as a body): the sequence rule.
            let v = self.sequence_rule(f, s.reg(*args), *argc as usize);
            return Ok(Flow::Return(v));
        }
        self.safepoint(fuel, s.at)?;
        if *then_apply > 0 {
            if let Some(fr) = self.frames.last_mut() {
                fr.apply_result = fr.apply_result.saturating_add(*then_apply);
            }
        }
        let f = self.regs[s.reg(*func)];
        let (a, n) = (s.reg(*args), *argc as usize);
        match self.fast_tail_call(f, a, n, fuel) {
            Fast::Pushed => return Ok(Flow::Reload),
            Fast::Value(v) => return Ok(Flow::Return(v)),
            Fast::No => {}
        }
        self.argbuf.clear();
        self.argbuf.extend_from_slice(&self.regs[a..a + n]);
        Ok(match self.apply(f, 0, true, s.span())? {
            Called::Value(v) => Flow::Return(v),
            Called::Pushed => Flow::Reload,
        })
    }

    /// `GlobalHead`: load global `sym` into `dst` as a call's head; if it
    /// holds a macro, call it on the forms `forms` instead (result in `res`,
    /// going on at `done`).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn op_global_head(
        &mut self,
        fuel: &mut u32,
        s: Site,
        dst: &Reg,
        sym: &u32,
        forms: &u32,
        res: &Reg,
        done: &u32,
    ) -> OpResult {
        let f = match self.read_global(*sym) {
            Some(v) => v,
            None => self.lookup(*sym, s.span())?,
        };
        self.regs[s.reg(*dst)] = f;
        if !f.is_ptr() || !self.is_macro(f) {
            return Ok(Flow::Next);
        }
        self.safepoint(fuel, s.at)?;
        self.macro_head(s, f, *forms, *res, *done)
    }

    /// `MacroCheck`: if `func` holds a macro, call it on the forms `forms`
    /// (result in `dst`, going on at `done`).
    pub(super) fn op_macro_check(
        &mut self,
        fuel: &mut u32,
        s: Site,
        func: &Reg,
        forms: &u32,
        dst: &Reg,
        done: &u32,
    ) -> OpResult {
        let f = self.regs[s.reg(*func)];
        if !f.is_ptr() || !self.is_macro(f) {
            return Ok(Flow::Next);
        }
        self.safepoint(fuel, s.at)?;
        let f = self.regs[s.reg(*func)];
        self.macro_head(s, f, *forms, *dst, *done)
    }

    /// `CallBuiltin`: call builtin `index` on `argc` registers from `args`.
    pub(super) fn op_call_builtin(
        &mut self,
        fuel: &mut u32,
        s: Site,
        dst: &Reg,
        index: &u32,
        args: &Reg,
        argc: &u16,
    ) -> OpResult {
        self.safepoint(fuel, s.at)?;
        let a = s.reg(*args);
        self.argbuf.clear();
        self.argbuf
            .extend_from_slice(&self.regs[a..a + *argc as usize]);
        self.set_pc(s.next());
        let called = self.apply(Value::builtin(*index), *dst, false, s.span())?;
        Ok(self.called(s, *dst, called))
    }

    /// `CallHandler`: call an inline `try`'s handler `func` on the error in
    /// `arg` (Error arguments pass).
    pub(super) fn op_call_handler(
        &mut self,
        fuel: &mut u32,
        s: Site,
        dst: &Reg,
        func: &Reg,
        arg: &Reg,
        tail: &bool,
    ) -> OpResult {
        self.safepoint(fuel, s.at)?;
        let f = self.regs[s.reg(*func)];
        self.argbuf.clear();
        self.argbuf.push(self.regs[s.reg(*arg)]);
        if !*tail {
            self.set_pc(s.next());
        }
        let called = self.apply_checked(f, *dst, *tail, s.span(), false)?;
        Ok(self.called_maybe_tail(s, *dst, *tail, called))
    }

    /// `Deopt`: evaluate the form `macro_forms[form]` the general way (an
    /// inline form whose builtin was replaced).
    pub(super) fn op_deopt(
        &mut self,
        fuel: &mut u32,
        s: Site,
        dst: &Reg,
        form: &u32,
        tail: &bool,
    ) -> OpResult {
        self.safepoint(fuel, s.at)?;
        let Some(node) = s
            .proto
            .meta
            .macro_forms
            .get(*form as usize)
            .and_then(|f| f.first())
        else {
            return Ok(Flow::Next);
        };
        if !*tail {
            self.set_pc(s.next());
        }
        let called = self.deopt(node, *dst, *tail, s.span())?;
        Ok(self.called_maybe_tail(s, *dst, *tail, called))
    }

    /// `Closure`: a closure of proto `p` capturing the registers `caps`.
    pub(super) fn op_closure(
        &mut self,
        s: Site,
        dst: &Reg,
        p: &u32,
        caps: &[Reg],
    ) -> Result<(), Stop> {
        let is_macro = self.proto(*p).is_some_and(|p| p.meta.is_macro);
        let vals: Vec<Value> = caps.iter().map(|r| self.regs[s.reg(*r)]).collect();
        let c = self
            .heap
            .closure(code::code_word(*p, is_macro), &vals)
            .map_err(|e| self.heap_fatal(e))?;
        self.regs[s.reg(*dst)] = c;
        Ok(())
    }

    /// A call whose head is not a function: the first Error among the
    /// `n` arguments at `a`, else the last argument (`f` with none).
    #[inline]
    fn sequence_rule(&self, f: Value, a: usize, n: usize) -> Value {
        let err = self.regs[a..a + n]
            .iter()
            .copied()
            .find(|v| v.is_ptr() && self.is_error(*v));
        err.unwrap_or(if n == 0 { f } else { self.regs[a + n - 1] })
    }

    /// A non-tail call made at `s` started: its value lands in `dst`, or
    /// the pushed frame runs.
    #[inline(always)]
    fn called(&mut self, s: Site, dst: Reg, called: Called) -> Flow {
        match called {
            Called::Value(v) => {
                self.regs[s.reg(dst)] = v;
                Flow::Next
            }
            Called::Pushed => Flow::Reload,
        }
    }

    /// [`Interp::called`] for a call that may be in tail position (then
    /// its value is the frame's).
    fn called_maybe_tail(&mut self, s: Site, dst: Reg, tail: bool, called: Called) -> Flow {
        match called {
            Called::Value(v) if tail => Flow::Return(v),
            called => self.called(s, dst, called),
        }
    }

    /// Call macro `f` (a call head) on the forms `forms`; its value lands
    /// in `dst` and the frame goes on at `done`. Inlined: a `Site` passed
    /// out of line is stored on the stack, and on the hot path of the
    /// callers.
    #[inline(always)]
    fn macro_head(&mut self, s: Site, f: Value, forms: u32, dst: Reg, done: u32) -> OpResult {
        let done = done as usize;
        let r = self.macro_call(s.proto, f, forms, dst, done, s.span())?;
        Ok(match r {
            Some(v) => {
                self.regs[s.reg(dst)] = v;
                Flow::Jump(done)
            }
            None => Flow::Reload,
        })
    }

    /// The common call, without `argbuf`: a non-macro closure called with
    /// exactly its fixed parameters, no Error among them, within the stack
    /// limit. Pushes the frame and returns true; false: take the general path.
    #[inline]
    fn fast_call(
        &mut self,
        f: Value,
        a: usize,
        argc: usize,
        ret: Reg,
        resume: usize,
        fuel: &mut u32,
    ) -> Fast {
        let Some((index, p)) = self.lambda_proto(f) else {
            return Fast::No;
        };
        let m = &p.meta;
        if argc != m.nparams as usize || m.rest || argc == 0 {
            return Fast::No;
        }
        if let Some(v) = self.try_native(p, index, a, argc, fuel) {
            return Fast::Value(v);
        }
        let depth = self.frames.len();
        let Some(cur) = self.frames.last_mut() else {
            return Fast::No;
        };
        let new_base = cur.base as usize + cur.proto.meta.nregs as usize;
        let nregs = m.nregs as usize;
        if depth >= self.max_frames || new_base + nregs > self.max_regs {
            return Fast::No;
        }
        let heap = &self.heap;
        if self.regs[a..a + argc]
            .iter()
            .any(|v| v.is_ptr() && heap.kind(*v) == Some(ObjKind::Error))
        {
            return Fast::No;
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
            let caps = self.heap.closure_parts(f).map_or(&[][..], |(_, c)| c);
            let k = caps.len().min(ncaps);
            self.regs[at..at + k].copy_from_slice(&caps[..k]);
        }
        self.push_call_frame(p, new_base as u32, ret);
        Fast::Pushed
    }

    /// The code index and proto of closure `f`, if it is a lambda (a
    /// macro's code word is negative).
    #[inline(always)]
    fn lambda_proto(&self, f: Value) -> Option<(u32, &'static Proto)> {
        let code = self.heap.closure_parts(f)?.0;
        let index = u32::try_from(code.as_small_int()?).ok()?;
        Some((index, crate::code::get(index)?))
    }

    /// Push a plain call frame. Kept out of the run loop on purpose: there
    /// `Vec::push` is not inlined and copies a `Frame` built on the stack
    /// (a store-forwarding stall on every call); here it is built in place.
    #[inline(never)]
    fn push_call_frame(&mut self, proto: &'static Proto, base: u32, ret: Reg) {
        self.frames.push(Frame {
            proto,
            pc: 0,
            base,
            ret,
            kind: FrameKind::Call,
            extras: Extras::default(),
            apply_result: 0,
            reset: false,
        });
    }

    /// [`Interp::fast_call`] for a tail call: the frame is reused in place
    /// (when no dynamic bindings need carrying over).
    #[inline]
    fn fast_tail_call(&mut self, f: Value, a: usize, argc: usize, fuel: &mut u32) -> Fast {
        const MAX: usize = 8;
        let Some((index, p)) = self.lambda_proto(f) else {
            return Fast::No;
        };
        let m = &p.meta;
        if argc != m.nparams as usize || m.rest || argc == 0 || argc > MAX || self.needs_carry(p) {
            return Fast::No;
        }
        if let Some(v) = self.try_native(p, index, a, argc, fuel) {
            return Fast::Value(v);
        }
        let Some(cur) = self.frames.last_mut() else {
            return Fast::No;
        };
        let new_base = cur.base as usize;
        let nregs = m.nregs as usize;
        if new_base + nregs > self.max_regs {
            return Fast::No;
        }
        let mut tmp = [UNSET; MAX];
        tmp[..argc].copy_from_slice(&self.regs[a..a + argc]);
        let heap = &self.heap;
        if tmp[..argc]
            .iter()
            .any(|v| v.is_ptr() && heap.kind(*v) == Some(ObjKind::Error))
        {
            return Fast::No;
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
            let caps = self.heap.closure_parts(f).map_or(&[][..], |(_, c)| c);
            let k = caps.len().min(ncaps);
            self.regs[at..at + k].copy_from_slice(&caps[..k]);
        }
        cur.proto = p;
        cur.pc = 0;
        cur.kind = FrameKind::Call;
        // Same function or no names: the extras stay (see `needs_carry`).
        Fast::Pushed
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
}
