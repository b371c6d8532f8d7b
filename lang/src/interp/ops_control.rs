//! The rare paths of the control instructions of the run loop: a `Branch`
//! on a condition that is not a small integer or a float, `Fail` (a match
//! with no clause, a pattern error), and `Receive`.

use valk_heap::Value;

use super::run::{Flow, OpResult, Site};
use super::Interp;
use crate::builtins;
use crate::ir::{Handler, Reg};

impl Interp {
    /// `Branch` on `c`, a condition that is neither a small integer nor a
    /// float: a big integer chooses; anything else is an Error (builtin
    /// `what` names it), which goes to `handler`.
    pub(super) fn op_branch_other(
        &mut self,
        s: Site,
        c: Value,
        then: &u32,
        else_: &u32,
        what: &u32,
        handler: &Handler,
    ) -> OpResult {
        if let Some(i) = self.heap.as_int(c) {
            return Ok(Flow::Jump(if i != 0 { *then } else { *else_ } as usize));
        }
        let e = if self.is_error(c) {
            c
        } else {
            let name = builtins::def(*what).map(|d| d.name).unwrap_or("if");
            let msg = format!(
                "`{name}`: condition: expected number, got {}",
                crate::printer::type_name(&self.heap, c)
            );
            self.error_value(&msg, s.span())?
        };
        Ok(self.raise(s, e, *handler))
    }

    /// `Fail`: the Error whose message is the string constant `msg`, with
    /// the repr of register `value` appended, goes to `handler`.
    pub(super) fn op_fail(
        &mut self,
        s: Site,
        msg: &u32,
        value: &Option<Reg>,
        handler: &Handler,
    ) -> OpResult {
        let mut text = s
            .proto
            .meta
            .consts
            .get(*msg as usize)
            .and_then(|c| self.heap.str(c.value()).map(str::to_owned))
            .unwrap_or_default();
        if let Some(r) = value {
            text.push(' ');
            text.push_str(&self.repr(self.regs[s.reg(*r)]));
        }
        let e = self.error_value(&text, s.span())?;
        Ok(self.raise(s, e, *handler))
    }

    /// `Receive`: the next unscanned message into `dst`, or on to
    /// `timed_out` once the deadline in `timeout` has passed. With none
    /// queued the run loop stops and the instruction runs again on wake-up.
    pub(super) fn op_receive(
        &mut self,
        fuel: &mut u32,
        s: Site,
        dst: &Reg,
        timeout: &Reg,
        timed_out: &u32,
    ) -> OpResult {
        self.safepoint(fuel, s.at)?;
        let t = self.regs[s.reg(*timeout)];
        Ok(match self.receive_next(t, s.at, s.span())? {
            Some(v) => {
                self.regs[s.reg(*dst)] = v;
                Flow::Next
            }
            None => Flow::Jump(*timed_out as usize),
        })
    }

    /// Error `e` raised at `s`: into the handler's register and on at its
    /// block, or (no handler) returned from the function.
    fn raise(&mut self, s: Site, e: Value, handler: Handler) -> Flow {
        match handler {
            Some((to, r)) => {
                self.regs[s.reg(r)] = e;
                Flow::Jump(to as usize)
            }
            None => Flow::Return(e),
        }
    }

    /// Error `e` leaves the function of `s` unhandled: one more line of its
    /// Valk backtrace (innermost first; see [`Interp::error_trace_entries`]).
    #[cold]
    pub(super) fn note_trace(&mut self, s: Site, e: Value) {
        let name = s.proto.meta.name;
        let span = s.span();
        let c = self.cold();
        if c.trace_of != Some(e) {
            c.trace.clear();
            c.trace_of = Some(e);
        }
        if c.trace.len() < super::MAX_TRACE {
            c.trace.push((name, span));
        }
    }
}
