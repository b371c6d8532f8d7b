//! Special builtins with literal Q-expression arguments, compiled to control
//! flow. Each keeps the builtin's rules: arguments that are Errors are
//! returned at once, conditions must be numbers, and the chosen branch / last
//! form is in tail position.

use valk_heap::{intern, Value};

use super::{CResult, CompileError, Compiler};
use crate::builtins::{self, Special};
use crate::ir::{ArithOp, CmpOp, Op, Reg};
use crate::syntax::{Node, Span, Syn};

fn all_syms(items: &[Node]) -> bool {
    items.iter().all(|n| n.as_sym().is_some())
}

fn q_len(n: &Node, pred: impl Fn(usize) -> bool) -> bool {
    n.as_q().is_some_and(|q| pred(q.len()))
}

/// Can special `s` with these argument forms be compiled inline?
/// `eval_top`: at the outer scope of run-time (`eval`) code.
pub(super) fn fits(s: Special, args: &[Node], eval_top: bool) -> bool {
    match s {
        Special::Eval | Special::Let => args.len() == 1 && args[0].as_q().is_some(),
        Special::If => args.len() == 3 && args[1].as_q().is_some() && args[2].as_q().is_some(),
        Special::Lambda | Special::Macro => {
            args.len() == 2
                && args[1].as_q().is_some()
                && args[0]
                    .as_q()
                    .is_some_and(|f| super::parse_formals(f).is_ok())
        }
        Special::Fun => {
            args.len() == 2
                && args[1].as_q().is_some()
                && args[0].as_q().is_some_and(|f| {
                    !f.is_empty()
                        && super::parse_formals(&f[1..]).is_ok()
                        && f[0].as_sym().is_some()
                })
        }
        Special::Local => {
            !eval_top
                && !args.is_empty()
                && args[0]
                    .as_q()
                    .is_some_and(|q| all_syms(q) && q.len() == args.len() - 1)
        }
        Special::Do => true,
        Special::Select => args.iter().all(|a| q_len(a, |n| n == 2)),
        // `{{key} value}` clauses (LANGUAGE.md §5): the key is run as code.
        Special::Case => {
            !args.is_empty()
                && args[1..].iter().all(|a| {
                    a.as_q()
                        .is_some_and(|q| q.len() == 2 && q[0].as_q().is_some())
                })
        }
        Special::Match => !args.is_empty() && args[1..].iter().all(|a| q_len(a, |n| n >= 1)),
        Special::Try => args.len() == 2 && args[0].as_q().is_some(),
        Special::Repeat => args.len() == 2 && args[1].as_q().is_some(),
        Special::Penv | Special::ErrorAtCaller => false,
        Special::Receive => super::receive::fits(args),
        Special::Async | Special::Reset => args.len() == 1 && args[0].as_q().is_some(),
        Special::Shift => {
            args.len() == 2
                && args[0].as_q().is_some_and(|k| k.len() == 1 && all_syms(k))
                && args[1].as_q().is_some()
        }
        Special::Resume | Special::LoadSource => false,
        Special::Await => (1..=2).contains(&args.len()),
    }
}

/// A builtin as a literal call head.
fn builtin_head(idx: u32, span: Span) -> Node {
    let v = valk_heap::SharedValue::from_immediate(Value::builtin(idx))
        .or_else(|| valk_heap::SharedValue::from_immediate(Value::NIL));
    match v {
        Some(v) => Node::new(Syn::Value(v), span),
        None => Node::new(Syn::Sym(intern("nil")), span),
    }
}

impl Compiler<'_> {
    pub(super) fn special_form(
        &mut self,
        s: Special,
        args: &[Node],
        span: Span,
        dst: Reg,
        tail: bool,
    ) -> CResult<()> {
        let may_fail = matches!(
            s,
            Special::If
                | Special::Local
                | Special::Do
                | Special::Select
                | Special::Case
                | Special::Match
                | Special::Receive
                | Special::Repeat
        );
        if tail || !may_fail {
            return self.special_form_inner(s, args, span, dst, tail);
        }
        // Not in tail position, the form is an expression like a call: an
        // error inside it (a non-number condition, no clause matching, an
        // Error value among its parts) becomes the form's value, in `dst`,
        // so it flows to whatever uses it (`error?`, `try`, an enclosing
        // call that propagates it) instead of leaving the whole function.
        let after = self.new_block();
        let saved = self.f().handler;
        self.f().handler = Some((after, dst));
        let r = self.special_form_inner(s, args, span, dst, false);
        self.f().handler = saved;
        r?;
        self.jump(after, span);
        self.switch_to(after);
        Ok(())
    }

    fn special_form_inner(
        &mut self,
        s: Special,
        args: &[Node],
        span: Span,
        dst: Reg,
        tail: bool,
    ) -> CResult<()> {
        match s {
            Special::Eval => {
                // Literal code runs in the current scope (its `=` binds here).
                let items = args[0].as_q().unwrap_or(&[]);
                self.body(items, args[0].span, dst, tail)
            }
            Special::Let => {
                let items = args[0].as_q().unwrap_or(&[]);
                let depth = self.f().scope.len();
                self.f().let_depth += 1;
                self.body(items, args[0].span, dst, tail)?;
                self.f().let_depth -= 1;
                self.f().scope.truncate(depth);
                Ok(())
            }
            Special::If => self.if_form(args, span, dst, tail),
            Special::Lambda | Special::Macro => {
                let formals = args[0].as_q().unwrap_or(&[]);
                let body = args[1].as_q().unwrap_or(&[]);
                let (proto, caps) =
                    self.lambda_proto(formals, body, args[1].span, None, s == Special::Macro)?;
                self.emit(
                    Op::Closure {
                        dst,
                        proto,
                        caps: caps.into(),
                    },
                    span,
                );
                self.done(dst, tail, span);
                Ok(())
            }
            Special::Fun => {
                let head = args[0].as_q().unwrap_or(&[]);
                let body = args[1].as_q().unwrap_or(&[]);
                let name = head[0].as_sym().unwrap_or(0);
                let (proto, caps) =
                    self.lambda_proto(&head[1..], body, args[1].span, Some(name), false)?;
                let mark = self.mark();
                let tmp = self.alloc(span)?;
                self.emit(
                    Op::Closure {
                        dst: tmp,
                        proto,
                        caps: caps.into(),
                    },
                    span,
                );
                self.emit(
                    Op::DefGlobal {
                        sym: name,
                        src: tmp,
                    },
                    span,
                );
                self.release(mark);
                self.emit(
                    Op::Imm {
                        dst,
                        val: Value::EMPTY_S,
                    },
                    span,
                );
                self.done(dst, tail, span);
                Ok(())
            }
            Special::Local => self.local_form(args, span, dst, tail),
            Special::Do => {
                if args.is_empty() {
                    self.emit(
                        Op::Imm {
                            dst,
                            val: Value::NIL,
                        },
                        span,
                    );
                    self.done(dst, tail, span);
                    return Ok(());
                }
                for a in &args[..args.len() - 1] {
                    let mark = self.mark();
                    let r = self.alloc(a.span)?;
                    self.expr(a, r, false)?;
                    self.check_error(r, a.span);
                    self.release(mark);
                }
                self.expr(&args[args.len() - 1], dst, tail)
            }
            Special::Select => self.select_form(args, span, dst, tail),
            Special::Case => self.case_form(args, span, dst, tail),
            Special::Match => self.match_form(args, span, dst, tail),
            Special::Try => self.try_form(args, span, dst, tail),
            Special::Repeat => self.repeat_form(args, span, dst, tail),
            Special::Receive => self.receive_form(args, span, dst, tail),
            Special::Async => {
                // `(future/-async (\ {} {body}))`: the body as a closure over
                // this scope; the actor layer's `future/-async` runs it.
                let head = Node::new(Syn::Sym(intern("future/-async")), span);
                self.thunk_call(head, Vec::new(), &args[0], span, dst, tail)
            }
            Special::Reset | Special::Shift => {
                // `(reset (\ {} {body}))`, `(shift (\ {k} {body}))`: the
                // special again, now with a closure, run by the interpreter
                // (it moves frames; see `interp/continuation.rs`).
                let idx = builtins::special_index(s).unwrap_or(0);
                let (formals, body) = match s {
                    Special::Shift => (args[0].as_q().unwrap_or(&[]).to_vec(), &args[1]),
                    _ => (Vec::new(), &args[0]),
                };
                self.thunk_call(builtin_head(idx, span), formals, body, span, dst, tail)
            }
            Special::Await => {
                // A call of the actor layer's Valk function for this arity.
                let name = if args.len() == 1 {
                    "future/-await"
                } else {
                    "future/-await-ms"
                };
                let mut items = vec![Node::new(Syn::Sym(intern(name)), span)];
                items.extend(args.iter().cloned());
                let call = Node::new(Syn::List(valk_heap::ListKind::S, items), span);
                self.expr(&call, dst, tail)
            }
            Special::Resume | Special::LoadSource => Err(CompileError {
                span,
                message: "this special form cannot be inlined".into(),
            }),
            Special::Penv | Special::ErrorAtCaller => Err(CompileError {
                span,
                message: "`penv` cannot be inlined".into(),
            }),
        }
    }

    /// `(head (\ {formals} body))`, compiled as an ordinary call.
    fn thunk_call(
        &mut self,
        head: Node,
        formals: Vec<Node>,
        body: &Node,
        span: Span,
        dst: Reg,
        tail: bool,
    ) -> CResult<()> {
        let lambda = builtins::special_index(Special::Lambda).unwrap_or(0);
        let closure = Node::new(
            Syn::List(
                valk_heap::ListKind::S,
                vec![
                    builtin_head(lambda, span),
                    Node::new(Syn::List(valk_heap::ListKind::Q, formals), span),
                    body.clone(),
                ],
            ),
            span,
        );
        let call = Node::new(Syn::List(valk_heap::ListKind::S, vec![head, closure]), span);
        self.expr(&call, dst, tail)
    }

    fn if_form(&mut self, args: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        let mark = self.mark();
        // An Error condition is propagated by the branch itself.
        let cond = self.operand(&args[0])?;
        let then = self.new_block();
        let else_ = self.new_block();
        let join = self.new_block();
        let handler = self.handler();
        let what = builtins::index_of("if").unwrap_or(0);
        self.emit(
            Op::Branch {
                cond,
                then,
                else_,
                what,
                handler,
            },
            span,
        );
        self.release(mark);
        for (b, q) in [(then, &args[1]), (else_, &args[2])] {
            self.switch_to(b);
            self.body(q.as_q().unwrap_or(&[]), q.span, dst, tail)?;
            self.jump(join, span);
        }
        self.switch_to(join);
        Ok(())
    }

    fn local_form(&mut self, args: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        let names: Vec<u32> = args[0]
            .as_q()
            .unwrap_or(&[])
            .iter()
            .filter_map(Node::as_sym)
            .collect();
        // Evaluate every value first (errors return before anything binds).
        let mark = self.mark();
        let base = self.alloc_n(names.len(), span)?;
        for (i, v) in args[1..].iter().enumerate() {
            self.expr(v, base + i as Reg, false)?;
            self.check_error(base + i as Reg, v.span);
        }
        let global = {
            let f = self.f();
            f.global_eq_depth == Some(f.let_depth)
        };
        for (i, sym) in names.iter().enumerate() {
            let src = base + i as Reg;
            if global {
                self.emit(Op::DefGlobal { sym: *sym, src }, span);
                continue;
            }
            // Rebinding a name of this function assigns its register.
            let existing = self
                .f()
                .scope
                .iter()
                .rev()
                .find(|b| b.sym == *sym)
                .map(|b| b.reg);
            match existing {
                Some(reg) => self.emit(Op::Move { dst: reg, src }, span),
                None => {
                    self.release(mark);
                    let reg = self.alloc_pinned(span)?;
                    // The value registers may now overlap the new binding:
                    // only ever one name per `=` overlaps, moved last-first.
                    self.emit(Op::Move { dst: reg, src }, span);
                    self.bind(*sym, reg, true);
                }
            }
        }
        self.release(mark);
        self.emit(
            Op::Imm {
                dst,
                val: Value::EMPTY_S,
            },
            span,
        );
        self.done(dst, tail, span);
        Ok(())
    }

    fn select_form(&mut self, args: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        let join = self.new_block();
        let what = builtins::index_of("select").unwrap_or(0);
        for clause in args {
            let q = clause.as_q().unwrap_or(&[]);
            let mark = self.mark();
            let cond = self.operand(&q[0])?;
            let then = self.new_block();
            let next = self.new_block();
            let handler = self.handler();
            self.emit(
                Op::Branch {
                    cond,
                    then,
                    else_: next,
                    what,
                    handler,
                },
                q[0].span,
            );
            self.release(mark);
            self.switch_to(then);
            self.expr(&q[1], dst, tail)?;
            self.jump(join, span);
            self.switch_to(next);
        }
        self.fail("no selection found", None, span)?;
        self.switch_to(join);
        Ok(())
    }

    fn case_form(&mut self, args: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        let join = self.new_block();
        let mark = self.mark();
        let x = self.alloc(span)?;
        self.expr(&args[0], x, false)?;
        self.check_error(x, args[0].span);
        for clause in &args[1..] {
            let q = clause.as_q().unwrap_or(&[]);
            let inner = self.mark();
            let key = q[0].as_q().unwrap_or(&[]);
            let k = match key {
                // A literal key (the usual case) needs no code run.
                [n] if matches!(
                    n.syn,
                    Syn::Int(_) | Syn::Float(_) | Syn::Kw(_) | Syn::Str(_)
                ) =>
                {
                    self.operand(n)?
                }
                _ => {
                    let r = self.alloc(q[0].span)?;
                    self.body(key, q[0].span, r, false)?;
                    r
                }
            };
            self.check_error(k, q[0].span);
            let t = self.alloc(span)?;
            self.emit(Op::TestEqual { dst: t, a: x, b: k }, q[0].span);
            let then = self.new_block();
            let next = self.new_block();
            self.emit(
                Op::Branch {
                    cond: t,
                    then,
                    else_: next,
                    what: 0,
                    handler: None,
                },
                q[0].span,
            );
            self.release(inner);
            self.switch_to(then);
            self.expr(&q[1], dst, tail)?;
            self.jump(join, span);
            self.switch_to(next);
        }
        self.fail("no case found", None, span)?;
        self.release(mark);
        self.switch_to(join);
        Ok(())
    }

    /// Return (or hand to the `try` handler) an error with `msg`, followed
    /// by the repr of `value` when given.
    pub(super) fn fail(&mut self, msg: &str, value: Option<Reg>, span: Span) -> CResult<()> {
        let v = self.heap.string(msg).map_err(Self::heap_err(span))?;
        let sv = self.heap.to_shared(v);
        let idx = self.constant(sv);
        let handler = self.handler();
        self.emit(
            Op::Fail {
                msg: idx,
                value,
                handler,
            },
            span,
        );
        Ok(())
    }

    fn try_form(&mut self, args: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        let err_b = self.new_block();
        let join = self.new_block();
        let errreg = self.alloc_pinned(span)?;
        let saved = self.f().handler;
        self.f().handler = Some((err_b, errreg));
        let body = args[0].as_q().unwrap_or(&[]);
        self.body(body, args[0].span, dst, false)?;
        self.f().handler = saved;
        let errpath = self.new_block();
        self.emit(
            Op::IfError {
                src: dst,
                err: errpath,
                ok: join,
            },
            span,
        );
        self.switch_to(errpath);
        self.emit(
            Op::Move {
                dst: errreg,
                src: dst,
            },
            span,
        );
        self.emit(Op::Jump { to: err_b }, span);
        self.switch_to(err_b);
        let mark = self.mark();
        let h = self.alloc(span)?;
        match args[1].as_q() {
            Some(items) => self.body(items, args[1].span, h, false)?,
            None => self.expr(&args[1], h, false)?,
        }
        self.emit(
            Op::CallHandler {
                dst,
                func: h,
                arg: errreg,
                tail,
            },
            span,
        );
        if !tail {
            self.jump(join, span);
        }
        self.release(mark);
        self.switch_to(join);
        self.done(dst, tail, span);
        Ok(())
    }

    fn repeat_form(&mut self, args: &[Node], span: Span, dst: Reg, tail: bool) -> CResult<()> {
        let cnt = self.alloc_pinned(span)?;
        self.expr(&args[0], cnt, false)?;
        self.check_error(cnt, args[0].span);
        let mark = self.mark();
        let zero = self.alloc(span)?;
        let one = self.alloc(span)?;
        let t = self.alloc(span)?;
        self.emit(
            Op::Imm {
                dst: zero,
                val: Value::FALSE,
            },
            span,
        );
        self.emit(
            Op::Imm {
                dst: one,
                val: Value::TRUE,
            },
            span,
        );
        self.emit(
            Op::Imm {
                dst,
                val: Value::NIL,
            },
            span,
        );
        let head = self.new_block();
        let body_b = self.new_block();
        let exit = self.new_block();
        self.emit(Op::Jump { to: head }, span);
        self.switch_to(head);
        self.emit(
            Op::Compare {
                op: CmpOp::Gt,
                dst: t,
                a: cnt,
                b: zero,
            },
            args[0].span,
        );
        self.check_error(t, args[0].span);
        let handler = self.handler();
        let what = builtins::index_of("repeat").unwrap_or(0);
        self.emit(
            Op::Branch {
                cond: t,
                then: body_b,
                else_: exit,
                what,
                handler,
            },
            span,
        );
        self.switch_to(body_b);
        let items = args[1].as_q().unwrap_or(&[]);
        self.body(items, args[1].span, dst, false)?;
        self.check_error(dst, args[1].span);
        self.emit(
            Op::Arith {
                op: ArithOp::Sub,
                dst: cnt,
                a: cnt,
                b: one,
            },
            span,
        );
        self.emit(Op::Safepoint, span);
        self.emit(Op::Jump { to: head }, span);
        self.switch_to(exit);
        self.release(mark);
        self.done(dst, tail, span);
        Ok(())
    }

    /// The symbol `^name` pins `name` in a pattern.
    pub(super) fn pinned_name(sym: u32) -> Option<u32> {
        let name = valk_heap::symbol_name(sym);
        let rest = name.strip_prefix('^')?;
        (!rest.is_empty()).then(|| intern(rest))
    }

    pub(super) fn is_wildcard(n: &Node) -> bool {
        matches!(n.syn, Syn::Sym(s) if valk_heap::symbol_name(s) == "_")
    }
}
