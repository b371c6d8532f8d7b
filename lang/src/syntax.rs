//! The syntax tree the reader produces and the compiler consumes: forms with
//! source spans. Lists built at run time and handed to `eval` are turned into
//! the same tree (with the span of the `eval` call) so there is one compiler.

use valk_heap::{ListKind, SharedValue};

/// Where a form starts: interned file name, 1-based line and column.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct Span {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

impl Span {
    /// The location as the heap stores it in Error values.
    pub fn loc(self) -> valk_heap::SourceLoc {
        valk_heap::SourceLoc {
            file: self.file,
            line: self.line,
            col: self.col,
        }
    }

    /// A span from a stored location.
    pub fn from_loc(l: valk_heap::SourceLoc) -> Span {
        Span {
            file: l.file,
            line: l.line,
            col: l.col,
        }
    }
}

/// A form. `Clone` and `Drop` are iterative (see below); `Debug` is derived
/// and recursive, for tests and debugging only.
#[derive(Debug)]
pub struct Node {
    pub syn: Syn,
    pub span: Span,
}

/// The kinds of form.
#[derive(Clone, Debug)]
pub enum Syn {
    Int(i64),
    Float(f64),
    Str(String),
    /// Interned symbol id.
    Sym(u32),
    /// Interned keyword id (without the colon).
    Kw(u32),
    List(ListKind, Vec<Node>),
    /// A value that has no source form (a function or an error inside a list
    /// given to `eval`): it evaluates to itself.
    Value(SharedValue),
}

/// Iterative, like `Drop`: the compiler keeps copies of argument forms
/// (for macros and deoptimisation) at every level of a nested call.
impl Clone for Node {
    fn clone(&self) -> Node {
        // Each open list: the items still to copy, the copy so far, the
        // list's kind and span.
        type Open<'a> = (core::slice::Iter<'a, Node>, Vec<Node>, ListKind, Span);
        let mut open: Vec<Open<'_>> = Vec::new();
        let mut next = self;
        loop {
            let mut copy = match &next.syn {
                Syn::List(kind, items) if !items.is_empty() => {
                    let mut rest = items.iter();
                    if let Some(first) = rest.next() {
                        open.push((rest, Vec::with_capacity(items.len()), *kind, next.span));
                        next = first;
                    }
                    continue;
                }
                Syn::List(kind, _) => Syn::List(*kind, Vec::new()),
                Syn::Int(i) => Syn::Int(*i),
                Syn::Float(f) => Syn::Float(*f),
                Syn::Str(s) => Syn::Str(s.clone()),
                Syn::Sym(s) => Syn::Sym(*s),
                Syn::Kw(k) => Syn::Kw(*k),
                Syn::Value(v) => Syn::Value(v.clone()),
            };
            let mut span = next.span;
            loop {
                let Some((rest, copies, _, _)) = open.last_mut() else {
                    return Node::new(copy, span);
                };
                copies.push(Node::new(copy, span));
                if let Some(item) = rest.next() {
                    next = item;
                    break;
                }
                // `last_mut` just saw it: this `else` is never taken.
                let Some((_, copies, kind, list_span)) = open.pop() else {
                    break;
                };
                copy = Syn::List(kind, copies);
                span = list_span;
            }
        }
    }
}

/// Iterative: a tree as deep as the reader or `eval` allows must not
/// recurse once per level in drop glue (a 1,000-deep tree would need more
/// than an actor's 128 KiB stack).
impl Drop for Node {
    fn drop(&mut self) {
        let Syn::List(_, items) = &mut self.syn else {
            return;
        };
        let shallow = |n: &Node| !matches!(&n.syn, Syn::List(_, v) if !v.is_empty());
        if items.iter().all(shallow) {
            return;
        }
        let mut pending = std::mem::take(items);
        while let Some(mut node) = pending.pop() {
            if let Syn::List(_, inner) = &mut node.syn {
                pending.append(inner);
            }
        }
    }
}

impl Node {
    pub fn new(syn: Syn, span: Span) -> Node {
        Node { syn, span }
    }

    /// The symbol id, if this form is a symbol.
    pub fn as_sym(&self) -> Option<u32> {
        match self.syn {
            Syn::Sym(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this form is a Q-expression.
    pub fn as_q(&self) -> Option<&[Node]> {
        match &self.syn {
            Syn::List(ListKind::Q, items) => Some(items),
            _ => None,
        }
    }
}
