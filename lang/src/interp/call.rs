//! Calls: applying builtins, closures and partial applications, pushing
//! and replacing frames, returning. The arguments of the call being made are
//! in `argbuf` (copied out of the register file, so a tail call may
//! overwrite the registers they came from).

use valk_heap::{HeapError, ListKind, ObjKind, Value};

use super::{Frame, FrameKind, Interp, RunOutcome};
use crate::builtins::{self, Failure, Imp};
use crate::code;
use crate::globals::UNSET;
use crate::ir::{Proto, Reg};
use crate::syntax::Span;

/// How a call started.
pub(crate) enum Called {
    /// It finished at once with this value (builtins, partial application,
    /// the sequence rule, errors).
    Value(Value),
    /// A frame was pushed (or the current one replaced): run it.
    Pushed,
}

/// A stop of the run loop (budget, exit, fatal error).
pub(crate) type Stop = RunOutcome;

impl Interp {
    pub(crate) fn heap_fatal(&mut self, e: HeapError) -> Stop {
        self.cold().fatal = Some(e.to_string());
        RunOutcome::Fatal
    }

    /// An Error value, or the fatal stop when even that cannot be allocated.
    pub(crate) fn error_value(&mut self, msg: &str, span: Span) -> Result<Value, Stop> {
        self.make_error(msg, span).map_err(|e| self.heap_fatal(e))
    }

    /// Apply `f` to the arguments in `argbuf`. The result goes to register
    /// `ret` of the current frame (or, for `tail`, the current frame is
    /// replaced and returns it itself).
    pub(crate) fn apply(
        &mut self,
        f: Value,
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        self.apply_checked(f, ret, tail, span, true)
    }

    /// [`Interp::apply`]; `check_errors: false` passes Error arguments on
    /// (the `try` handler call).
    pub(crate) fn apply_checked(
        &mut self,
        mut f: Value,
        ret: Reg,
        tail: bool,
        span: Span,
        check_errors: bool,
    ) -> Result<Called, Stop> {
        let takes_errors = !check_errors
            || f.as_builtin()
                .and_then(builtins::def)
                .is_some_and(|d| d.takes_errors);
        if !takes_errors {
            if self.is_error(f) {
                return Ok(Called::Value(f));
            }
            if let Some(e) = self
                .argbuf
                .iter()
                .copied()
                .find(|v| v.is_ptr() && self.is_error(*v))
            {
                return Ok(Called::Value(e));
            }
        }
        loop {
            if let Some(idx) = f.as_builtin() {
                return self.apply_builtin(idx, f, ret, tail, span);
            }
            if !f.is_ptr() {
                return Ok(Called::Value(self.sequence(f)));
            }
            match self.heap.kind(f) {
                Some(ObjKind::Closure) => return self.apply_closure(f, ret, tail, span),
                Some(ObjKind::Partial) => {
                    if self.argbuf.is_empty() && !self.partial_is_complete(f) {
                        return Ok(Called::Value(f));
                    }
                    let Some((g, bound)) = self.heap.partial_parts(f) else {
                        return Ok(Called::Value(f));
                    };
                    // The bound arguments go in front, in place (no new
                    // buffer per call of a partial application).
                    self.argbuf.splice(0..0, bound.iter().copied());
                    f = g;
                }
                _ => return Ok(Called::Value(self.sequence(f))),
            }
        }
    }

    /// A partial application of a plain builtin that already has all the
    /// arguments it needs (a C function of no arguments from `dlsym`):
    /// `(f)` calls it rather than evaluating to itself.
    fn partial_is_complete(&self, f: Value) -> bool {
        let Some((g, bound)) = self.heap.partial_parts(f) else {
            return false;
        };
        g.as_builtin()
            .and_then(builtins::def)
            .is_some_and(|d| matches!(d.imp, Imp::Fn(_)) && bound.len() >= d.min_args)
    }

    /// The head is not a function: `(f)` is f, else the last argument.
    fn sequence(&self, f: Value) -> Value {
        self.argbuf.last().copied().unwrap_or(f)
    }

    fn apply_builtin(
        &mut self,
        idx: u32,
        f: Value,
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        let Some(def) = builtins::def(idx) else {
            return Ok(Called::Value(self.sequence(f)));
        };
        let argc = self.argbuf.len();
        if argc == 0 && def.min_args > 0 {
            return Ok(Called::Value(f));
        }
        if argc < def.min_args || argc > def.max_args {
            let msg = arity_message(def.name, def.min_args, def.max_args, argc);
            return Ok(Called::Value(self.error_value(&msg, span)?));
        }
        match def.imp {
            Imp::Fn(g) => {
                let v = self.call_fn(&g, def.name, span)?;
                Ok(Called::Value(v))
            }
            Imp::Host(g) => {
                let v = self.call_fn(g, def.name, span)?;
                Ok(Called::Value(v))
            }
            Imp::Special(s) => self.apply_special(s, ret, tail, span),
        }
    }

    /// Run a Rust builtin on `argbuf`.
    pub(crate) fn call_fn(
        &mut self,
        g: &builtins::HostFn,
        name: &'static str,
        span: Span,
    ) -> Result<Value, Stop> {
        let args = std::mem::take(&mut self.argbuf);
        let (r, exit, (charged, owed)) = self.with_cx(name, |cx| {
            if args.len() >= builtins::fair::BATCH {
                // `(unpack + big)`: every builtin reads its arguments.
                cx.meter.elements(args.len());
            }
            let r = g(cx, &args);
            (r, cx.exit_request, cx.meter.finish())
        });
        self.argbuf = args;
        // Work charged at the builtin's yields is the host's already; the
        // rest is paid from the fuel at the next safepoint.
        self.reductions += charged;
        self.debt = self
            .debt
            .saturating_add(u32::try_from(owed).unwrap_or(u32::MAX));
        if let Some(code) = exit {
            return Err(RunOutcome::Exit(code));
        }
        match r {
            Ok(v) => Ok(v),
            Err(Failure::Value(v)) => Ok(v),
            Err(Failure::Message(m)) => self.error_value(&m, span),
            Err(Failure::Heap(e)) => Err(self.heap_fatal(e)),
        }
    }

    fn apply_closure(
        &mut self,
        f: Value,
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        let code = self
            .heap
            .closure_parts(f)
            .map(|(c, _)| c)
            .unwrap_or(Value::NIL);
        let Some(proto) = code::decode(code).and_then(|(i, _)| self.proto(i)) else {
            return Ok(Called::Value(self.sequence(f)));
        };
        let m = &proto.meta;
        let np = m.nparams as usize;
        let argc = self.argbuf.len();
        if argc < np {
            if argc == 0 {
                return Ok(Called::Value(f));
            }
            let p = self
                .heap
                .partial(f, &self.argbuf)
                .map_err(|e| self.heap_fatal(e))?;
            return Ok(Called::Value(p));
        }
        if argc > np && !m.rest {
            let name = m.name.map(valk_heap::symbol_name).unwrap_or("lambda");
            let msg = format!("`{name}`: too many arguments: expected {np}, got {argc}");
            return Ok(Called::Value(self.error_value(&msg, span)?));
        }
        let base = self.enter(proto, ret, tail, span)?;
        let Some(base) = base else {
            return Ok(Called::Value(self.error_value("stack overflow", span)?));
        };
        if m.rest {
            let rest = self
                .heap
                .list(&self.argbuf[np..], ListKind::Q)
                .map_err(|e| self.heap_fatal(e))?;
            self.regs[base + np] = rest;
        }
        self.regs[base..base + np].copy_from_slice(&self.argbuf[..np]);
        let ncaps = m.ncaps as usize;
        if ncaps > 0 {
            let at = base + m.nregs as usize - ncaps;
            if let Some((_, caps)) = self.heap.closure_parts(f) {
                let n = caps.len().min(ncaps);
                self.regs[at..at + n].copy_from_slice(&caps[..n]);
            }
        }
        Ok(Called::Pushed)
    }

    /// Make room for a frame of `proto` (pushed, or replacing the current
    /// one for a tail call) with its registers unset; its base, or `None`
    /// past the stack limit.
    pub(crate) fn enter(
        &mut self,
        proto: &'static Proto,
        ret: Reg,
        tail: bool,
        _span: Span,
    ) -> Result<Option<usize>, Stop> {
        let nregs = proto.meta.nregs as usize;
        let base = match (tail, self.frames.last()) {
            (true, Some(cur)) => cur.base as usize,
            (false, Some(cur)) => cur.base as usize + cur.proto.meta.nregs as usize,
            (_, None) => 0,
        };
        let depth = self.frames.len() + usize::from(!tail || self.frames.is_empty());
        if depth > self.max_frames || base + nregs > self.max_regs {
            return Ok(None);
        }
        let carry = (tail && !self.frames.is_empty() && self.needs_carry(proto))
            .then(|| self.frame_bindings(self.frames.len() - 1));
        if self.regs.len() < base + nregs {
            let want = (base + nregs)
                .max(self.regs.len() * 2)
                .min(self.max_regs.max(base + nregs));
            self.regs.resize(want, UNSET);
        }
        self.regs[base..base + nregs].fill(UNSET);
        if tail && !self.frames.is_empty() {
            if let Some(cur) = self.frames.last_mut() {
                cur.proto = proto;
                cur.pc = 0;
                // A new function's frame (`eval` code restores the kind).
                cur.kind = FrameKind::Call;
                if let Some(extras) = carry {
                    cur.extras = super::Extras::from_vec(extras);
                }
            }
        } else {
            if self.frames.capacity() == 0 {
                // Most actors park with one frame: room for four would be
                // a fifth of an idle actor's memory.
                self.frames.reserve_exact(1);
            }
            self.frames.push(Frame {
                proto,
                pc: 0,
                base: base as u32,
                ret,
                kind: FrameKind::Call,
                extras: super::Extras::default(),
                apply_result: 0,
                reset: false,
            });
        }
        Ok(Some(base))
    }

    /// Must a tail call into `callee` carry the replaced frame's bindings
    /// over? The dynamic fallback must still see them after the frame is
    /// gone: code the callee `eval`s, or a function it tail-calls in turn,
    /// may name them (`(fun {k v} {h {+ v 1}})` with `h` running `eval`).
    /// Not needed when the callee is the frame's own function (its new
    /// bindings shadow the old ones) or the frame binds no names; the
    /// frame's extras are kept as they are then.
    #[inline]
    pub(crate) fn needs_carry(&self, callee: &Proto) -> bool {
        self.frames
            .last()
            .is_some_and(|cur| !std::ptr::eq(cur.proto, callee) && !cur.proto.meta.names.is_empty())
    }

    /// The current frame's bindings (names with values, then its extras),
    /// newest first, without duplicates.
    pub(crate) fn frame_bindings(&self, idx: usize) -> Vec<(u32, Value)> {
        let Some(fr) = self.frames.get(idx) else {
            return Vec::new();
        };
        let mut out: Vec<(u32, Value)> = Vec::new();
        for (sym, r) in fr.proto.meta.names.iter().rev() {
            let v = self
                .regs
                .get(fr.base as usize + *r as usize)
                .copied()
                .unwrap_or(UNSET);
            if v != UNSET && !out.iter().any(|(s, _)| s == sym) {
                out.push((*sym, v));
            }
        }
        for (sym, v) in fr.extras.iter() {
            if !out.iter().any(|(s, _)| s == sym) {
                out.push((*sym, *v));
            }
        }
        out
    }

    /// Look `sym` up along the frames, newest first (the dynamic fallback).
    pub(crate) fn dynamic_lookup(&self, sym: u32) -> Option<Value> {
        for fr in self.frames.iter().rev() {
            for (s, r) in fr.proto.meta.names.iter().rev() {
                if *s == sym {
                    let v = self
                        .regs
                        .get(fr.base as usize + *r as usize)
                        .copied()
                        .unwrap_or(UNSET);
                    if v != UNSET {
                        return Some(v);
                    }
                }
            }
            if let Some((_, v)) = fr.extras.iter().find(|(s, _)| *s == sym) {
                return Some(*v);
            }
        }
        None
    }

    /// A global, else a dynamic binding, else the unbound-symbol error.
    pub(crate) fn lookup(&mut self, sym: u32, span: Span) -> Result<Value, Stop> {
        if let Some(v) = self.read_global(sym) {
            return Ok(v);
        }
        if let Some(v) = self.dynamic_lookup(sym) {
            return Ok(v);
        }
        let name = valk_heap::symbol_name(sym);
        let mut msg = format!("unbound symbol `{}`", crate::printer::short_name(name));
        if let Some(near) = self.closest_name(name) {
            msg.push_str(&format!(" (did you mean `{near}`?)"));
        }
        self.error_value(&msg, span)
    }

    /// The bound name (global, or along the frames) nearest to `name` by
    /// edit distance, if one is near enough to be a typo: one edit for
    /// names of 3 to 5 characters, two for longer ones. Hidden names
    /// (`NAME/-part`) are not offered.
    fn closest_name(&self, name: &str) -> Option<String> {
        let n = name.chars().count();
        let allowed = match n {
            0..=2 => return None,
            3..=5 => 1,
            6..=64 => 2,
            _ => return None,
        };
        let frame_names = self
            .frames
            .iter()
            .flat_map(|f| f.proto.meta.names.iter().map(|(s, _)| *s));
        let globals = self.globals.bound().into_iter().map(|(s, _)| s);
        let mut best: Option<(usize, &'static str)> = None;
        for s in frame_names.chain(globals) {
            let cand = valk_heap::symbol_name(s);
            if cand == name || cand.contains("/-") {
                continue;
            }
            let d = strsim::damerau_levenshtein(name, cand);
            if d <= allowed && best.is_none_or(|(bd, bc)| (d, cand) < (bd, bc)) {
                best = Some((d, cand));
            }
        }
        best.map(|(_, c)| c.to_owned())
    }

    /// Run-time code's free name: a binding along the frames, innermost
    /// first, else a global, else the unbound-symbol error (LANGUAGE.md §3).
    pub(crate) fn lookup_frames_first(&mut self, sym: u32, span: Span) -> Result<Value, Stop> {
        if let Some(v) = self.dynamic_lookup(sym) {
            return Ok(v);
        }
        self.lookup(sym, span)
    }

    /// Return `v` from the current frame. `Ok(None)`: the caller's frame
    /// goes on; `Ok(Some(outcome))`: the computation ended.
    pub(crate) fn do_return(&mut self, v: Value) -> Option<RunOutcome> {
        let pending = self.frames.last().is_some_and(|f| f.apply_result > 0);
        if pending && (v.as_builtin().is_some() || self.is_function(v)) {
            if let Some(fr) = self.frames.last_mut() {
                // `((f x))` in tail position: call the value, in this frame.
                fr.apply_result -= 1;
            }
            {
                self.argbuf.clear();
                return match self.apply(v, 0, true, Span::default()) {
                    Ok(Called::Value(r)) => self.do_return(r),
                    Ok(Called::Pushed) => None,
                    Err(stop) => Some(stop),
                };
            }
        }
        let Some(fr) = self.frames.pop() else {
            return Some(self.finish_with(v));
        };
        match self.frames.last() {
            None => Some(self.finish_with(v)),
            Some(caller) => {
                let at = caller.base as usize + fr.ret as usize;
                if let Some(slot) = self.regs.get_mut(at) {
                    *slot = v;
                }
                None
            }
        }
    }

    pub(super) fn is_function(&self, v: Value) -> bool {
        v.is_ptr() && matches!(self.heap.kind(v), Some(ObjKind::Closure | ObjKind::Partial))
    }

    pub(super) fn finish_with(&mut self, v: Value) -> RunOutcome {
        self.result = v;
        if self.is_error(v) {
            RunOutcome::Error(v)
        } else {
            RunOutcome::Done(v)
        }
    }
}

/// "`f`: expected 2 arguments, got 3" and friends.
pub(crate) fn arity_message(name: &str, min: usize, max: usize, got: usize) -> String {
    if got > max {
        format!(
            "`{name}`: too many arguments: expected {}, got {got}",
            if min == max {
                format!("{max}")
            } else {
                format!("at most {max}")
            }
        )
    } else if min == max {
        format!(
            "`{name}`: expected {min} argument{}, got {got}",
            if min == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "`{name}`: expected at least {min} argument{}, got {got}",
            if min == 1 { "" } else { "s" }
        )
    }
}
