//! `(receive {pattern body...} ... {:after ms body...})` compiled to a scan
//! loop over the actor's queued messages:
//!
//! ```text
//!         t = ms (or UNSET: no deadline)      ; evaluated once
//!         ReceiveStart                         ; scan from the oldest message
//! next:   m = Receive t, else -> after         ; parks while there is none
//!         <pattern 1 on m, else -> c2>  ReceiveAccept  <body 1>  -> join
//! c2:     <pattern 2 on m, else -> c3>  ReceiveAccept  <body 2>  -> join
//! c3:     -> next                              ; no clause: leave it queued
//! after:  <:after body>                        -> join
//! ```
//!
//! Patterns are [`match`](super::pattern) patterns, tested in the actor's
//! own frame (no closure, no `eval`); clause bodies are in tail position
//! when the `receive` is. `Receive` is the only instruction that waits: a
//! parked actor keeps no native stack and re-runs it on wake-up.

use valk_heap::intern;

use super::{CResult, Compiler};
use crate::globals::UNSET;
use crate::ir::{Op, Reg};
use crate::syntax::{Node, Span, Syn};

/// Is `n` the `{:after ms body...}` clause?
fn is_after(n: &Node) -> bool {
    n.as_q()
        .and_then(<[Node]>::first)
        .is_some_and(|p| matches!(p.syn, Syn::Kw(k) if k == intern("after")))
}

/// Literal clauses the inline form handles: at least one, each a
/// non-empty Q-expression, and at most one `:after` clause (last), with a
/// time.
pub(super) fn fits(args: &[Node]) -> bool {
    let Some((last, rest)) = args.split_last() else {
        return false;
    };
    let clause = |n: &Node| n.as_q().is_some_and(|q| !q.is_empty());
    args.iter().all(clause)
        && !rest.iter().any(is_after)
        && (!is_after(last) || last.as_q().is_some_and(|q| q.len() >= 2))
}

impl Compiler<'_> {
    pub(super) fn receive_form(
        &mut self,
        args: &[Node],
        span: Span,
        dst: Reg,
        tail: bool,
    ) -> CResult<()> {
        let (after, clauses) = match args.split_last() {
            Some((last, rest)) if is_after(last) => (last.as_q(), rest),
            _ => (None, args),
        };
        let timeout = self.alloc_pinned(span)?;
        match after {
            Some(a) => {
                self.expr(&a[1], timeout, false)?;
                self.check_error(timeout, a[1].span);
            }
            None => self.emit(
                Op::Imm {
                    dst: timeout,
                    val: UNSET,
                },
                span,
            ),
        }
        self.emit(Op::ReceiveStart, span);
        let scan = self.new_block();
        let timed_out = self.new_block();
        let join = self.new_block();
        self.jump(scan, span);
        self.switch_to(scan);
        let msg = self.alloc_pinned(span)?;
        self.emit(
            Op::Receive {
                dst: msg,
                timeout,
                timed_out,
            },
            span,
        );
        self.check_error(msg, span);
        for clause in clauses {
            let q = clause.as_q().unwrap_or(&[]);
            let next = self.new_block();
            let depth = self.f().scope.len();
            self.f().let_depth += 1;
            self.pattern(&q[0], msg, next)?;
            self.emit(Op::ReceiveAccept, clause.span);
            self.body(&q[1..], clause.span, dst, tail)?;
            self.f().let_depth -= 1;
            self.f().scope.truncate(depth);
            self.jump(join, span);
            self.switch_to(next);
        }
        // No clause matched: the message stays queued; scan the next one.
        self.jump(scan, span);
        self.switch_to(timed_out);
        let body = after.map_or(&[][..], |a| &a[2..]);
        self.body(body, span, dst, tail)?;
        self.jump(join, span);
        self.switch_to(join);
        Ok(())
    }
}
