//! One-shot delimited continuations (`reset`/`shift`, LANGUAGE.md §9) and
//! the `async` form's entry.
//!
//! Every Valk call frame is a [`Frame`] in the interpreter's `frames` with
//! its registers a window of `regs` (see `interp/mod.rs`), so a
//! continuation is a slice of them:
//!
//! - `(reset {body})` calls body as a closure and marks its frame
//!   `reset` (a tail call from that frame keeps the mark).
//! - `(shift {k} {body})` finds the nearest marked frame, moves it and
//!   every frame above it (with their register window, bases made
//!   relative) into a [`Captured`], and calls body with `k` in place of
//!   the `reset`: its value goes where the reset's would have, and its
//!   frame is marked too (shift's body runs inside the reset).
//! - `k` is the builtin `reset/-resume` partially applied to a token (an
//!   opaque shared value). Calling it moves the frames back on top of the
//!   caller's (or in place of it, from tail position), with the bottom
//!   frame returning to the caller, and the value arrives where `shift`'s
//!   would have. The captured frames are moved, not copied, so a second
//!   call finds nothing: the one-shot rule is an error, not a convention.
//!
//! A continuation nobody resumes is dropped when its token is: the
//! interpreter keeps a `Weak` to it and drops dead ones at each capture.
//! The captured registers are GC roots, and the protos their frames run
//! count as running for the transient-code sweep.

use std::sync::{Arc, Weak};

use valk_heap::{ObjKind, SharedValue, Value};

use super::call::{Called, Stop};
use super::{Frame, Interp};
use crate::builtins::{self, Special};
use crate::globals::UNSET;
use crate::ir::Reg;
use crate::syntax::Span;

/// What a continuation's token holds (nothing: its identity is the point).
pub(crate) struct ContToken;

/// A captured, not yet resumed continuation.
pub(crate) struct Captured {
    token: Weak<ContToken>,
    /// From the `reset` frame up, bases relative to the first's.
    pub(crate) frames: Vec<Frame>,
    regs: Vec<Value>,
    /// Where the resumed value goes in the top frame; `None`: `shift` was
    /// in tail position, so the top frame returns it.
    ret_into: Option<Reg>,
}

impl Captured {
    pub(crate) fn visit_roots(&mut self, visit: &mut dyn FnMut(&mut Value)) {
        self.regs.iter_mut().for_each(&mut *visit);
        for f in &mut self.frames {
            for (_, v) in f.extras.iter_mut() {
                visit(v);
            }
        }
    }
}

impl Interp {
    /// `f` if it is a function, else a lambda of `formals` and the body
    /// list `body` (the forms given as run-time values).
    fn function_or_lambda(
        &mut self,
        v: Value,
        formals: Value,
        span: Span,
        form: &str,
    ) -> Result<Result<Value, Value>, Stop> {
        if v.as_builtin().is_some() || self.is_function(v) {
            return Ok(Ok(v));
        }
        if self.heap.list_kind(v).is_none() && !v.is_nil() {
            return Ok(Err(self.form_error(form, v, span)?));
        }
        self.lambda_from_values(formals, v, None, false, span)
    }

    /// "`reset`: expected a Q-expression body, like (reset {...}), got 5".
    fn form_error(&mut self, form: &str, got: Value, span: Span) -> Result<Value, Stop> {
        let like = match form {
            "shift" => "{k} and a Q-expression body, like (shift {k} {k 1})",
            "async" => "a Q-expression body, like (async {+ 1 2})",
            _ => "a Q-expression body, like (reset {...})",
        };
        let msg = format!(
            "`{form}`: expected {like}, got {}",
            crate::printer::type_name(&self.heap, got)
        );
        self.error_value(&msg, span)
    }

    /// `(async {body})`: `(future/-async thunk)`, looked up globally (the
    /// actor layer binds it; the core's says there is no actor runtime).
    pub(super) fn async_call(
        &mut self,
        args: &[Value],
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        let thunk = match self.function_or_lambda(args[0], Value::NIL, span, "async")? {
            Ok(f) => f,
            Err(e) => return Ok(Called::Value(e)),
        };
        let f = self.lookup(valk_heap::intern("future/-async"), span)?;
        self.argbuf.clear();
        self.argbuf.push(thunk);
        self.apply(f, ret, tail, span)
    }

    /// `(reset thunk)`: call it in a frame marked as the delimiter.
    pub(super) fn reset_form(
        &mut self,
        args: &[Value],
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        let thunk = match self.function_or_lambda(args[0], Value::NIL, span, "reset")? {
            Ok(f) => f,
            Err(e) => return Ok(Called::Value(e)),
        };
        self.argbuf.clear();
        let called = self.apply(thunk, ret, tail, span)?;
        if let Called::Pushed = called {
            if let Some(f) = self.frames.last_mut() {
                f.reset = true;
            }
        }
        Ok(called)
    }

    /// `(shift (\ {k} body))` (or the two lists): capture up to the
    /// nearest `reset` and run body in its place.
    pub(super) fn shift_form(
        &mut self,
        args: &[Value],
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        // Two lists (computed forms), or the closure the compiler made.
        let one_symbol = |it: &Interp, v: Value| {
            it.heap
                .list_to_vec(v)
                .is_some_and(|k| k.len() == 1 && k[0].as_symbol().is_some())
        };
        let body = match args {
            [k, body] if one_symbol(self, *k) && self.heap.list_kind(*body).is_some() => {
                self.lambda_from_values(*k, *body, None, false, span)?
            }
            [f] if self.heap.kind(*f) == Some(ObjKind::Closure) => Ok(*f),
            _ => Err(self.form_error("shift", args[args.len() - 1], span)?),
        };
        let body = match body {
            Ok(f) => f,
            Err(e) => return Ok(Called::Value(e)),
        };
        let Some(r) = self.frames.iter().rposition(|f| f.reset) else {
            let msg = "`shift`: no enclosing `reset` (shift captures up to the nearest reset)";
            return Ok(Called::Value(self.error_value(msg, span)?));
        };

        // The token and `k` first: allocation may fail, and nothing has
        // moved yet.
        let token = Arc::new(ContToken);
        let shared = SharedValue::opaque(token.clone());
        let tv = shared.value();
        self.heap.keep_shared(tv);
        let resume = builtins::special_index(Special::Resume).unwrap_or(0);
        let k = self
            .heap
            .partial(Value::builtin(resume), &[tv])
            .map_err(|e| self.heap_fatal(e))?;

        // Capture: frames r.. and their registers.
        let base = self.frames[r].base as usize;
        let top = self
            .frames
            .last()
            .map_or(base, |f| f.base as usize + f.proto.meta.nregs as usize);
        let regs = self.regs[base..top.min(self.regs.len())].to_vec();
        let mut frames: Vec<Frame> = self.frames.drain(r..).collect();
        for f in &mut frames {
            f.base -= base as u32;
        }
        let reset_ret = frames[0].ret;
        let cold = self.cold();
        cold.conts.retain(|c| c.token.strong_count() > 0);
        cold.conts.push(Captured {
            token: Arc::downgrade(&token),
            frames,
            regs,
            ret_into: (!tail).then_some(ret),
        });
        drop(token);

        // Run body in the reset's place.
        self.argbuf.clear();
        self.argbuf.push(k);
        match self.apply(body, reset_ret, false, span)? {
            Called::Pushed => {
                if let Some(f) = self.frames.last_mut() {
                    f.reset = true;
                }
                Ok(Called::Pushed)
            }
            Called::Value(v) => self.return_to_top(v, reset_ret),
        }
    }

    /// `(reset/-resume token v)`: `k` called with v.
    pub(super) fn resume(
        &mut self,
        args: &[Value],
        ret: Reg,
        tail: bool,
        span: Span,
    ) -> Result<Called, Stop> {
        let token = self
            .heap
            .opaque(args[0])
            .and_then(|o| o.clone().downcast::<ContToken>().ok());
        let Some(token) = token else {
            let msg = "`reset/-resume`: expected a continuation token";
            return Ok(Called::Value(self.error_value(msg, span)?));
        };
        if args.len() != 2 {
            let msg = format!(
                "continuation: expected 1 argument, got {}",
                args.len().saturating_sub(1)
            );
            return Ok(Called::Value(self.error_value(&msg, span)?));
        }
        let at = self.cold.as_ref().and_then(|c| {
            c.conts
                .iter()
                .position(|c| std::ptr::eq(c.token.as_ptr(), Arc::as_ptr(&token)))
        });
        let Some(at) = at else {
            let msg = "continuation: already resumed (a continuation resumes once), or captured by another actor";
            return Ok(Called::Value(self.error_value(msg, span)?));
        };
        let v = args[1];
        let c = self.cold().conts.swap_remove(at);

        // In place of the caller's frame (tail position), or on top of it.
        let replace = tail && self.frames.last().is_some_and(|f| f.apply_result == 0);
        let (new_base, first_ret) = if replace {
            let cur = self.frames.last().map(|f| (f.base as usize, f.ret));
            cur.unwrap_or((0, ret))
        } else {
            let top = self.frames.last();
            (
                top.map_or(0, |f| f.base as usize + f.proto.meta.nregs as usize),
                ret,
            )
        };
        let depth = self.frames.len() - usize::from(replace) + c.frames.len();
        if depth > self.max_frames || new_base + c.regs.len() > self.max_regs {
            self.cold().conts.push(c);
            return Ok(Called::Value(self.error_value("stack overflow", span)?));
        }
        if replace {
            self.frames.pop();
        }
        let end = new_base + c.regs.len();
        if self.regs.len() < end {
            let want = end.max(self.regs.len() * 2).min(self.max_regs.max(end));
            self.regs.resize(want, UNSET);
        }
        self.regs[new_base..end].copy_from_slice(&c.regs);
        let first = self.frames.len();
        for mut f in c.frames {
            f.base += new_base as u32;
            self.frames.push(f);
        }
        self.frames[first].ret = first_ret;
        match c.ret_into {
            Some(reg) => {
                if let Some(top) = self.frames.last() {
                    self.regs[top.base as usize + reg as usize] = v;
                }
                Ok(Called::Pushed)
            }
            None => match self.do_return(v) {
                None => Ok(Called::Pushed),
                Some(outcome) => Err(outcome),
            },
        }
    }

    /// `v` is the value of the call the top frame made into register
    /// `reg`: store it and let that frame go on.
    fn return_to_top(&mut self, v: Value, reg: Reg) -> Result<Called, Stop> {
        match self.frames.last() {
            Some(top) => {
                self.regs[top.base as usize + reg as usize] = v;
                Ok(Called::Pushed)
            }
            // The reset was the bottom frame: its value ends the run.
            None => Err(self.finish_with(v)),
        }
    }
}
