//! The reader: source text to [`Node`]s with spans. Never panics: every
//! malformed input is a [`ReadError`] naming file:line:col and what was
//! expected.

use core::fmt;

use valk_heap::symbol::{intern, symbol_name, try_intern};
use valk_heap::ListKind;

use crate::syntax::{Node, Span, Syn};

/// Nesting deeper than this is a read error. The reader itself is
/// iterative; the limit keeps a hostile input from building a huge tree
/// that the compiler (which recurses, under the stack guard) would refuse
/// anyway. Every walk over forms or values still checks the native stack
/// (`valk_sync::stack`), since lists built at run time have no such bound.
pub const MAX_NESTING: usize = 1000;

/// A read error: where, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub span: Span,
    /// "expected ..." text.
    pub message: String,
    /// True when more input could complete the form (the REPL keeps reading).
    pub incomplete: bool,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            symbol_name(self.span.file),
            self.span.line,
            self.span.col,
            self.message
        )
    }
}

impl std::error::Error for ReadError {}

/// Read every form of `src`; `file` names it in spans and errors.
pub fn read_all(src: &str, file: &str) -> Result<Vec<Node>, ReadError> {
    let mut r = Reader::new(src, intern(file));
    r.skip_preamble();
    let mut out = Vec::new();
    loop {
        r.skip_ws();
        if r.peek().is_none() {
            return Ok(out);
        }
        out.push(r.form()?);
    }
}

/// Is `c` allowed in a symbol or keyword?
pub fn is_symbol_char(c: char) -> bool {
    c.is_alphanumeric() || "_+-*/\\=<>!&?%.^".contains(c)
}

/// A list whose closing bracket the reader has not reached yet.
struct OpenList {
    span: Span,
    open: char,
    close: char,
    kind: ListKind,
    items: Vec<Node>,
}

impl OpenList {
    fn into_node(self) -> Node {
        Node::new(Syn::List(self.kind, self.items), self.span)
    }
}

struct Reader<'s> {
    src: &'s str,
    pos: usize,
    line: u32,
    col: u32,
    file: u32,
}

impl<'s> Reader<'s> {
    fn new(src: &'s str, file: u32) -> Self {
        Reader {
            src,
            pos: 0,
            line: 1,
            col: 1,
            file,
        }
    }

    fn span(&self) -> Span {
        Span {
            file: self.file,
            line: self.line,
            col: self.col,
        }
    }

    /// A UTF-8 byte order mark, then a first line starting with `#!`
    /// (`#!/usr/bin/env valk run`), are not part of the program
    /// (LANGUAGE.md §1); line numbers stay those of the file.
    fn skip_preamble(&mut self) {
        if self.peek() == Some('\u{feff}') {
            self.pos += '\u{feff}'.len_utf8();
        }
        if self.src[self.pos..].starts_with("#!") {
            while self.peek().is_some_and(|c| c != '\n') {
                self.bump();
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn err(&self, span: Span, message: impl Into<String>) -> ReadError {
        ReadError {
            span,
            message: message.into(),
            incomplete: false,
        }
    }

    fn eof_err(&self, message: impl Into<String>) -> ReadError {
        ReadError {
            span: self.span(),
            message: message.into(),
            incomplete: true,
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | '\x0c' => {
                    self.bump();
                }
                ';' => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
    }

    /// One form. Iterative: the lists still open are an explicit stack, so
    /// nesting costs heap, not native stack, up to [`MAX_NESTING`].
    fn form(&mut self) -> Result<Node, ReadError> {
        let mut open: Vec<OpenList> = Vec::new();
        loop {
            let done = match open.last_mut() {
                None => None,
                Some(list) => {
                    self.skip_ws();
                    match self.peek() {
                        None => {
                            return Err(self.eof_err(format!(
                                "expected `{}` to close the `{}` at {}:{}",
                                list.close, list.open, list.span.line, list.span.col
                            )))
                        }
                        Some(x) if x == list.close => {
                            self.bump();
                            open.pop().map(OpenList::into_node)
                        }
                        Some(x @ (')' | '}')) => {
                            return Err(self.err(
                                self.span(),
                                format!("expected `{}`, found `{x}`", list.close),
                            ))
                        }
                        Some(_) => None,
                    }
                }
            };
            let node = match done {
                Some(node) => node,
                None => match self.atom_or_open(open.len())? {
                    Ok(node) => node,
                    Err(list) => {
                        open.push(list);
                        continue;
                    }
                },
            };
            match open.last_mut() {
                Some(parent) => parent.items.push(node),
                None => return Ok(node),
            }
        }
    }

    /// The form at the cursor if it is an atom, or the list it opens.
    fn atom_or_open(&mut self, depth: usize) -> Result<Result<Node, OpenList>, ReadError> {
        let span = self.span();
        let Some(c) = self.peek() else {
            return Err(self.eof_err("expected an expression before end of input"));
        };
        match c {
            '(' | '{' => {
                if depth >= MAX_NESTING {
                    return Err(self.err(
                        span,
                        format!(
                            "nesting too deep: expected at most {MAX_NESTING} levels of nesting"
                        ),
                    ));
                }
                self.bump();
                let (close, kind) = if c == '(' {
                    (')', ListKind::S)
                } else {
                    ('}', ListKind::Q)
                };
                Ok(Err(OpenList {
                    span,
                    open: c,
                    close,
                    kind,
                    items: Vec::new(),
                }))
            }
            ')' | '}' => Err(self.err(span, format!("expected an expression, found `{c}`"))),
            '"' => self.string(span).map(Ok),
            ':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return Err(self.err(self.span(), "expected a keyword name after `:`"));
                }
                self.check_delimited()?;
                let id = try_intern(name).map_err(|e| self.err(span, e.to_string()))?;
                Ok(Ok(Node::new(Syn::Kw(id), span)))
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return Err(self.err(
                        span,
                        format!("expected an expression, found `{}`", c.escape_debug()),
                    ));
                }
                self.check_delimited()?;
                atom(tok, span).map(Ok).map_err(|m| self.err(span, m))
            }
        }
    }

    /// The longest run of symbol characters at the cursor.
    fn token(&mut self) -> &'s str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !is_symbol_char(c) {
                break;
            }
            self.bump();
        }
        &self.src[start..self.pos]
    }

    /// A token must end at whitespace, a bracket, a string or a comment.
    fn check_delimited(&self) -> Result<(), ReadError> {
        match self.peek() {
            None | Some(' ' | '\t' | '\r' | '\n' | '\x0c' | '(' | ')' | '{' | '}' | '"' | ';') => {
                Ok(())
            }
            Some(c) => Err(self.err(
                self.span(),
                format!(
                    "expected whitespace or a bracket, found `{}`",
                    c.escape_debug()
                ),
            )),
        }
    }

    fn string(&mut self, span: Span) -> Result<Node, ReadError> {
        self.bump();
        let mut s = String::new();
        loop {
            let at = self.span();
            match self.bump() {
                None => return Err(self.eof_err(unclosed_string(span))),
                Some('"') => break,
                Some('\\') => {
                    let Some(e) = self.bump() else {
                        return Err(self.eof_err(unclosed_string(span)));
                    };
                    let ch = match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' => '\\',
                        '"' => '"',
                        '\'' => '\'',
                        'a' => '\x07',
                        'b' => '\x08',
                        'f' => '\x0c',
                        'v' => '\x0b',
                        '0' => '\0',
                        'x' => {
                            let mut n = 0u32;
                            for _ in 0..2 {
                                match self.peek().and_then(|c| c.to_digit(16)) {
                                    Some(d) => {
                                        n = n * 16 + d;
                                        self.bump();
                                    }
                                    None => return Err(self.err(self.span(), "expected two hex digits after `\\x`")),
                                }
                            }
                            // \xHH names a code point (only ASCII stays one byte).
                            char::from_u32(n).unwrap_or('\u{fffd}')
                        }
                        'u' => self.unicode_escape()?,
                        other => {
                            return Err(self.err(
                                at,
                                format!("expected a valid escape (n t r \\ \" ' a b f v 0 xHH u{{HHHH}}), found `\\{}`", other.escape_debug()),
                            ))
                        }
                    };
                    s.push(ch);
                }
                Some(c) => s.push(c),
            }
        }
        Ok(Node::new(Syn::Str(s), span))
    }

    fn unicode_escape(&mut self) -> Result<char, ReadError> {
        if self.peek() != Some('{') {
            return Err(self.err(self.span(), "expected `{` after `\\u`"));
        }
        self.bump();
        let mut n: u32 = 0;
        let mut digits = 0;
        loop {
            match self.peek() {
                Some('}') if digits > 0 => {
                    self.bump();
                    break;
                }
                Some(c) if c.is_ascii_hexdigit() && digits < 6 => {
                    n = n * 16 + c.to_digit(16).unwrap_or(0);
                    digits += 1;
                    self.bump();
                }
                _ => {
                    return Err(self.err(
                        self.span(),
                        "expected 1 to 6 hex digits and `}` in `\\u{...}`",
                    ))
                }
            }
        }
        char::from_u32(n)
            .ok_or_else(|| self.err(self.span(), "expected a Unicode scalar value in `\\u{...}`"))
    }
}

/// The error for a string the input ends inside: where it opened, since
/// the end of the file is rarely where the mistake is.
fn unclosed_string(open: Span) -> String {
    format!(
        "expected `\"` to close the string opened at {}:{}",
        open.line, open.col
    )
}

/// A token that is a number or a symbol.
fn atom(tok: &str, span: Span) -> Result<Node, String> {
    // The printer's infinities and NaN read back (LANGUAGE.md §1).
    match tok {
        "+inf.0" => return Ok(Node::new(Syn::Float(f64::INFINITY), span)),
        "-inf.0" => return Ok(Node::new(Syn::Float(f64::NEG_INFINITY), span)),
        "+nan.0" | "-nan.0" => return Ok(Node::new(Syn::Float(f64::NAN), span)),
        _ => {}
    }
    match classify_number(tok) {
        NumKind::Int => match tok.parse::<i64>() {
            Ok(n) => Ok(Node::new(Syn::Int(n), span)),
            Err(_) => Err(format!(
                "expected an integer that fits in 64 bits, found `{tok}`"
            )),
        },
        NumKind::Float => match tok.parse::<f64>() {
            Ok(f) => Ok(Node::new(Syn::Float(f), span)),
            Err(_) => Err(format!("expected a number, found `{tok}`")),
        },
        NumKind::NotNumber => match try_intern(tok) {
            Ok(id) => Ok(Node::new(Syn::Sym(id), span)),
            Err(e) => Err(e.to_string()),
        },
    }
}

enum NumKind {
    Int,
    Float,
    NotNumber,
}

/// `-?D+` is an integer; `-?D+(.D+)?([eE][+-]?D+)?` with a fraction or an
/// exponent is a float; anything else is a symbol.
fn classify_number(tok: &str) -> NumKind {
    let b = tok.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    if digits(&mut i) == 0 {
        return NumKind::NotNumber;
    }
    let mut float = false;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return NumKind::NotNumber;
        }
        float = true;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return NumKind::NotNumber;
        }
        float = true;
    }
    if i != b.len() {
        NumKind::NotNumber
    } else if float {
        NumKind::Float
    } else {
        NumKind::Int
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Syn {
        let mut v = read_all(src, "t").unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0).syn.clone()
    }

    fn err(src: &str) -> String {
        read_all(src, "t.valk").unwrap_err().to_string()
    }

    #[test]
    fn numbers() {
        assert!(matches!(one("42"), Syn::Int(42)));
        assert!(matches!(one("-7"), Syn::Int(-7)));
        assert!(matches!(one("1.5"), Syn::Float(f) if f == 1.5));
        assert!(matches!(one("-0.25"), Syn::Float(f) if f == -0.25));
        assert!(matches!(one("1e9"), Syn::Float(f) if f == 1e9));
        assert!(matches!(one("2.5e-3"), Syn::Float(f) if f == 2.5e-3));
        assert!(matches!(one("9223372036854775807"), Syn::Int(i64::MAX)));
        assert!(matches!(one("-9223372036854775808"), Syn::Int(i64::MIN)));
        assert!(matches!(one("-"), Syn::Sym(_)));
        assert!(matches!(one("1+"), Syn::Sym(_)));
        assert!(matches!(one("1."), Syn::Sym(_)));
        assert_eq!(
            err("9223372036854775808"),
            "t.valk:1:1: error: expected an integer that fits in 64 bits, found `9223372036854775808`"
        );
    }

    #[test]
    fn strings_and_escapes() {
        match one(r#""a\n\t\r\\\"\'\a\b\f\v\0\x41\u{263A}""#) {
            Syn::Str(s) => assert_eq!(s, "a\n\t\r\\\"'\x07\x08\x0c\x0b\0A\u{263A}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err("\"abc"),
            "t.valk:1:5: error: expected `\"` to close the string opened at 1:1"
        );
        assert!(err(r#""\q""#).starts_with("t.valk:1:2: error: expected a valid escape"));
        assert!(err(r#""\xZ1""#).contains("expected two hex digits"));
        assert!(err(r#""\u{110000}""#).contains("Unicode scalar"));
    }

    #[test]
    fn lists_keywords_symbols_comments() {
        let forms = read_all("(+ 1 2) ; c\n{a {b} :ok} ; end", "t").unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!((forms[1].span.line, forms[1].span.col), (2, 1));
        match &forms[1].syn {
            Syn::List(ListKind::Q, items) => {
                assert_eq!(items.len(), 3);
                assert!(matches!(items[2].syn, Syn::Kw(k) if symbol_name(k) == "ok"));
                assert_eq!(items[2].span.col, 8);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(one("(a ; c\n)"), Syn::List(ListKind::S, ref v) if v.len() == 1));
        assert!(matches!(one("a/b"), Syn::Sym(s) if symbol_name(s) == "a/b"));
        assert!(matches!(one("\\"), Syn::Sym(s) if symbol_name(s) == "\\"));
    }

    #[test]
    fn errors_name_position_and_expectation() {
        assert_eq!(
            err("(1 2"),
            "t.valk:1:5: error: expected `)` to close the `(` at 1:1"
        );
        assert_eq!(
            err("\n  )"),
            "t.valk:2:3: error: expected an expression, found `)`"
        );
        assert_eq!(err("(1 }"), "t.valk:1:4: error: expected `)`, found `}`");
        assert_eq!(
            err(":"),
            "t.valk:1:2: error: expected a keyword name after `:`"
        );
        assert!(err("a#b").starts_with("t.valk:1:2: error: expected whitespace"));
        assert!(read_all("(1 2", "t").unwrap_err().incomplete);
        assert!(!read_all("1)", "t").unwrap_err().incomplete);
        let deep = "(".repeat(5000);
        assert!(err(&deep).contains("nesting"));
    }

    #[test]
    fn nesting_is_read_without_recursion_up_to_the_limit() {
        // A 64 KiB stack: far less than a recursive reader (or the drop of
        // the tree it builds) would need for 1,000 levels.
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let n = MAX_NESTING;
                let src = format!("{}x{}", "({".repeat(n / 2), "})".repeat(n / 2));
                let forms = read_all(&src, "t").unwrap();
                let mut depth = 0;
                let mut node = &forms[0];
                while let Syn::List(_, items) = &node.syn {
                    depth += 1;
                    node = &items[0];
                }
                assert_eq!((depth, node.as_sym()), (n, Some(intern("x"))));
                let deeper = format!("{}{}", "(".repeat(1_000_000), ")".repeat(1_000_000));
                assert_eq!(
                    err(&deeper),
                    "t.valk:1:1001: error: nesting too deep: expected at most 1000 levels of nesting"
                );
                let unclosed = format!("{}(1 2", "{".repeat(10));
                assert_eq!(
                    err(&unclosed),
                    "t.valk:1:15: error: expected `)` to close the `(` at 1:11"
                );
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for src in [
            "\u{0}",
            "\"\\u{",
            "\"\\u{}\"",
            "\"\\x",
            "é",
            "((((",
            "}}}",
            "\"\\",
            ":é",
            "1e",
            "--1",
            "-1e+",
        ] {
            let _ = read_all(src, "t");
        }
    }
}
