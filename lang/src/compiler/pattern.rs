//! `(match value {pattern body...} ...)` compiled to tests and jumps.
//!
//! Patterns: a number, string or keyword matches an equal value; `_` matches
//! anything; a symbol binds; `^name` matches the current value of `name`
//! (an unbound `name` is the unbound-symbol error, not a mismatch); a
//! Q-expression matches a list of the same length element-wise, with
//! `& rest` binding the remaining tail. The body (the clause's remaining
//! items, run as one S-expression) sees the bindings in a new scope.

use valk_heap::{intern, ListKind};

use super::{CResult, Compiler};
use crate::ir::{Op, Reg, Target};
use crate::syntax::{Node, Span, Syn};

impl Compiler<'_> {
    pub(super) fn match_form(
        &mut self,
        args: &[Node],
        span: Span,
        dst: Reg,
        tail: bool,
    ) -> CResult<()> {
        let join = self.new_block();
        let v = self.alloc_pinned(span)?;
        self.expr(&args[0], v, false)?;
        self.check_error(v, args[0].span);
        for clause in &args[1..] {
            let q = clause.as_q().unwrap_or(&[]);
            let next = self.new_block();
            let depth = self.f().scope.len();
            self.f().let_depth += 1;
            self.pattern(&q[0], v, next)?;
            self.body(&q[1..], clause.span, dst, tail)?;
            self.f().let_depth -= 1;
            self.f().scope.truncate(depth);
            self.jump(join, span);
            self.switch_to(next);
        }
        self.fail("no match for", Some(v), span)?;
        self.switch_to(join);
        Ok(())
    }

    /// Test `src` against pattern `p`; on mismatch jump to `fail`; on match
    /// fall through with the pattern's names bound.
    pub(super) fn pattern(&mut self, p: &Node, src: Reg, fail: Target) -> CResult<()> {
        match &p.syn {
            Syn::Sym(s) => {
                if Self::is_wildcard(p) {
                    return Ok(());
                }
                if let Some(name) = Self::pinned_name(*s) {
                    let r = self.alloc_pinned(p.span)?;
                    self.symbol(name, r, p.span);
                    // An unbound name reads as the unbound-symbol error:
                    // raise it (as `match` does for its subject) rather
                    // than compare it, which would silently never match.
                    self.check_error(r, p.span);
                    return self.test_equal(src, r, fail, p.span);
                }
                let r = self.alloc_pinned(p.span)?;
                self.emit(Op::Move { dst: r, src }, p.span);
                self.bind(*s, r, false);
                Ok(())
            }
            Syn::List(ListKind::Q, items) => {
                let amp = intern("&");
                let mut cur = src;
                let mut i = 0;
                while i < items.len() {
                    if items[i].as_sym() == Some(amp) && i + 2 == items.len() {
                        return self.pattern(&items[i + 1], cur, fail);
                    }
                    let head = self.alloc_pinned(p.span)?;
                    let tail = self.alloc_pinned(p.span)?;
                    let ok = self.new_block();
                    self.emit(
                        Op::Uncons {
                            src: cur,
                            head,
                            tail,
                            ok,
                            fail,
                        },
                        items[i].span,
                    );
                    self.switch_to(ok);
                    self.pattern(&items[i], head, fail)?;
                    cur = tail;
                    i += 1;
                }
                if i == 0 && items.is_empty() {
                    // `{}` matches only the empty Q-expression.
                    let r = self.alloc_pinned(p.span)?;
                    self.emit(
                        Op::Imm {
                            dst: r,
                            val: valk_heap::Value::NIL,
                        },
                        p.span,
                    );
                    return self.test_equal(src, r, fail, p.span);
                }
                // The list must end here: a non-empty rest fails.
                let ok = self.new_block();
                let h = self.alloc_pinned(p.span)?;
                let t = self.alloc_pinned(p.span)?;
                let nonempty = fail;
                self.emit(
                    Op::Uncons {
                        src: cur,
                        head: h,
                        tail: t,
                        ok: nonempty,
                        fail: ok,
                    },
                    p.span,
                );
                self.switch_to(ok);
                Ok(())
            }
            _ => {
                // Literals (and S-expressions, as values) match equal values.
                let r = self.alloc_pinned(p.span)?;
                let val = self.literal_value(p)?;
                self.load_value(val, r, p.span);
                self.test_equal(src, r, fail, p.span)
            }
        }
    }

    fn test_equal(&mut self, a: Reg, b: Reg, fail: Target, span: Span) -> CResult<()> {
        let t = self.alloc_pinned(span)?;
        self.emit(Op::TestEqual { dst: t, a, b }, span);
        let ok = self.new_block();
        self.emit(
            Op::Branch {
                cond: t,
                then: ok,
                else_: fail,
                what: 0,
                handler: None,
            },
            span,
        );
        self.switch_to(ok);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Interp;

    fn ev(it: &mut Interp, src: &str) -> String {
        match it.eval_source(src, "t.valk") {
            Ok(v) => it.repr(v),
            Err(e) => format!("ERR {}", e.message),
        }
    }

    #[test]
    fn pinning_an_unbound_name_is_the_unbound_symbol_error() {
        let mut it = Interp::new();
        assert_eq!(
            ev(&mut it, "(match 1 {^undefined :m} {x x})"),
            "ERR unbound symbol `undefined`"
        );
        assert_eq!(
            ev(&mut it, "(match {1 2} {{1 ^nope} :m} {_ :other})"),
            "ERR unbound symbol `nope`"
        );
        assert_eq!(
            ev(&mut it, "(do (def {one} 1) (match 1 {^one :pinned} {x x}))"),
            ":pinned"
        );
        assert_eq!(ev(&mut it, "(match 2 {^one :pinned} {x x})"), "2");
        assert_eq!(
            ev(
                &mut it,
                "(try {match 1 {^undefined :m}} {\\ {e} {error-message e}})"
            ),
            "\"unbound symbol `undefined`\""
        );
    }
}
