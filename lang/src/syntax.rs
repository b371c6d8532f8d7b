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

/// A form.
#[derive(Clone, Debug)]
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
