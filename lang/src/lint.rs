//! Hints for the classic mistakes (LANGUAGE.md §12), found in the source
//! before it runs: a body or branch written in `( )` where `{ }` was meant
//! (it runs at once, when the form is evaluated, not later), a number or
//! string in the head of a call, and `(def x 5)` without braces.
//!
//! These are legal programs (the sequence rule gives `(5 1 2)` a value), so
//! a lint never stops one: the command line shows a [`Severity::Warning`]
//! before the program runs, and a [`Severity::OnError`] lint only as a hint
//! under an error raised at its place. Only the user's own source is
//! linted (files, `valk eval`, REPL lines), never code built at run time.

use crate::reader;
use crate::syntax::{Node, Span, Syn};
use valk_heap::{intern, ListKind};

/// When a lint is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Always, before the program runs.
    Warning,
    /// Only as a hint to an error raised at exactly this place.
    OnError,
}

/// One finding: where, what went wrong, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lint {
    pub span: Span,
    pub severity: Severity,
    pub message: String,
    pub hint: String,
}

/// The lints of a source text (none when it does not read: the read error
/// is reported instead).
pub fn lint_source(text: &str, file: &str) -> Vec<Lint> {
    match reader::read_all(text, file) {
        Ok(forms) => lint_forms(&forms),
        Err(_) => Vec::new(),
    }
}

/// The lints of read forms, in source order. Only code is checked: an
/// S-expression is code where it is evaluated (top level, arguments of
/// calls), and a Q-expression only where a form runs it (the body of `fun`
/// and `\\`, the branches of `if`, ...). `{(1 2)}` given as data is left
/// alone.
pub fn lint_forms(forms: &[Node]) -> Vec<Lint> {
    let names = Names::new();
    let mut found = Vec::new();
    // Iterative: forms nest as deep as the reader allows. Each entry: a
    // form in a place where it runs as code.
    let mut pending: Vec<&Node> = forms.iter().rev().collect();
    while let Some(node) = pending.pop() {
        let Syn::List(_, items) = &node.syn else {
            continue;
        };
        // `(f a b)` runs as a call; so does a body `{f a b}` that a form runs.
        names.check_call(items, &mut found);
        let Some(head) = items.first() else {
            continue;
        };
        let runs = names.runs_arguments(head);
        for (i, item) in items.iter().enumerate().rev() {
            match &item.syn {
                Syn::List(ListKind::S, _) => pending.push(item),
                Syn::List(ListKind::Q, _) if i > 0 && runs.contains(&(i - 1)) => pending.push(item),
                _ => {}
            }
        }
    }
    found.sort_by_key(|l| (l.span.line, l.span.col));
    found
}

/// The hint for an error raised at `line`:`col` of `file`, if a lint of
/// `lints` sits exactly there.
pub fn hint_at<'a>(lints: &'a [Lint], file: &str, line: u32, col: u32) -> Option<&'a Lint> {
    lints.iter().find(|l| {
        l.span.line == line && l.span.col == col && valk_heap::symbol_name(l.span.file) == file
    })
}

/// Interned names the rules look for.
struct Names {
    /// Forms and the positions of their arguments they run as code.
    code_forms: Vec<(u32, &'static [usize])>,
    if_: u32,
    fun: u32,
    lambda: u32,
    def: u32,
    local: u32,
}

impl Names {
    fn new() -> Names {
        let code_forms: &[(&str, &'static [usize])] = &[
            ("fun", &[1]),
            ("\\", &[1]),
            ("macro", &[1]),
            ("if", &[1, 2]),
            ("let", &[0]),
            ("try", &[0]),
            ("repeat", &[1]),
            ("async", &[0]),
            ("reset", &[0]),
            ("shift", &[1]),
            ("test/define", &[1]),
            ("test/assert-error", &[0]),
        ];
        Names {
            code_forms: code_forms.iter().map(|(n, at)| (intern(n), *at)).collect(),
            if_: intern("if"),
            fun: intern("fun"),
            lambda: intern("\\"),
            def: intern("def"),
            local: intern("="),
        }
    }

    /// The argument positions (0 = first argument) that `head` runs as code.
    fn runs_arguments(&self, head: &Node) -> &'static [usize] {
        match head.syn {
            Syn::Sym(s) => self
                .code_forms
                .iter()
                .find(|(n, _)| *n == s)
                .map_or(&[], |(_, at)| at),
            _ => &[],
        }
    }

    /// The rules for one call `(head args...)`.
    fn check_call(&self, items: &[Node], found: &mut Vec<Lint>) {
        let Some((head, args)) = items.split_first() else {
            return;
        };
        match &head.syn {
            Syn::Int(_) | Syn::Float(_) if !args.is_empty() => found.push(Lint {
                span: head.span,
                severity: Severity::Warning,
                message: "a number in the head of `( )` is not a function: every element is evaluated and the last is the value".into(),
                hint: "to make a list of these values write `{ }` or `(list ...)`".into(),
            }),
            Syn::Str(_) if !args.is_empty() => found.push(Lint {
                span: head.span,
                severity: Severity::Warning,
                message: "a string in the head of `( )` is not a function: every element is evaluated and the last is the value".into(),
                hint: "to join strings write `(str ...)`; to make a list write `{ }` or `(list ...)`".into(),
            }),
            Syn::Sym(s) if *s == self.if_ => {
                for branch in args.iter().skip(1).take(2) {
                    if is_call(branch) {
                        found.push(Lint {
                            span: branch.span,
                            severity: Severity::Warning,
                            message: "this branch of `if` is in `( )`, so it runs before `if` chooses (both branches run)".into(),
                            hint: "write the branch in braces, `{ }`, so that it runs only when chosen".into(),
                        });
                    }
                }
            }
            Syn::Sym(s) if *s == self.fun || *s == self.lambda => {
                let form = if *s == self.fun { "fun" } else { "\\" };
                if let Some(body) = args.get(1).filter(|b| is_call(b)) {
                    found.push(Lint {
                        span: body.span,
                        severity: Severity::Warning,
                        message: format!(
                            "the body of `{form}` is in `( )`, so it runs now, where the function is made, not when it is called"
                        ),
                        hint: if *s == self.fun {
                            "write the body in braces: `(fun {name args...} {body})`".into()
                        } else {
                            "write the body in braces: `(\\ {args...} {body})`".into()
                        },
                    });
                }
            }
            Syn::Sym(s) if *s == self.def || *s == self.local => {
                let form = if *s == self.def { "def" } else { "=" };
                if let Some(name @ Node {
                    syn: Syn::Sym(sym), ..
                }) = args.first()
                {
                    let n = valk_heap::symbol_name(*sym);
                    found.push(Lint {
                        span: name.span,
                        severity: Severity::OnError,
                        message: format!("`{form}` takes the names to bind in braces"),
                        hint: format!("write `({form} {{{n}}} ...)`"),
                    });
                }
            }
            _ => {}
        }
    }
}

/// A non-empty S-expression (a call): `()` is a harmless value.
fn is_call(n: &Node) -> bool {
    matches!(&n.syn, Syn::List(ListKind::S, items) if !items.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lints(src: &str) -> Vec<(Severity, u32, u32)> {
        lint_source(src, "t.valk")
            .into_iter()
            .map(|l| (l.severity, l.span.line, l.span.col))
            .collect()
    }

    #[test]
    fn s_expression_bodies_and_branches_are_warned_about() {
        assert_eq!(
            lints("(fun {f x} (+ x 1))"),
            vec![(Severity::Warning, 1, 12)]
        );
        assert_eq!(lints("(\\ {x} (+ x 1))"), vec![(Severity::Warning, 1, 8)]);
        assert_eq!(
            lints("(if c (print 1) (print 2))"),
            vec![(Severity::Warning, 1, 7), (Severity::Warning, 1, 17)]
        );
    }

    #[test]
    fn the_right_forms_are_not_warned_about() {
        for ok in [
            "(fun {f x} {+ x 1})",
            "(if c {print 1} {print 2})",
            "(if c () {x})",
            "((print 1) (print 2) 7)",
            "(def {x} 5)",
            "(list 1 2)",
            "(5)",
        ] {
            assert_eq!(lints(ok), vec![], "{ok}");
        }
    }

    #[test]
    fn literal_heads_with_arguments_are_warned_about_inside_bodies_too() {
        assert_eq!(
            lints("(fun {f} {do (1 2 3) (\"a\" \"b\")})"),
            vec![(Severity::Warning, 1, 15), (Severity::Warning, 1, 23)]
        );
    }

    #[test]
    fn data_is_not_code() {
        assert_eq!(lints("(print {(1 2)} {if c (a) (b)})"), vec![]);
        assert_eq!(lints("(def {code} {5 1 2})"), vec![]);
        // ... but a body that a form runs is.
        assert_eq!(lints("(fun {f} {5 1 2})"), vec![(Severity::Warning, 1, 11)]);
        assert_eq!(
            lints("(test/define \"t\" {if c (a) {b}})"),
            vec![(Severity::Warning, 1, 24)]
        );
    }

    #[test]
    fn def_without_braces_is_a_hint_for_an_error_there() {
        let found = lint_source("(def x 5)", "t.valk");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::OnError);
        assert!(hint_at(&found, "t.valk", 1, 6).is_some());
        assert!(hint_at(&found, "t.valk", 1, 1).is_none());
        assert!(found[0].hint.contains("(def {x} ...)"));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let src = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        let _ = lint_source(&src, "t.valk");
    }
}
