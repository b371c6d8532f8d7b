//! Errors that reach the host: `file:line:col: error: message`.

use core::fmt;

use valk_heap::symbol_name;

use crate::compiler::CompileError;
use crate::reader::ReadError;
use crate::syntax::Span;

/// What kind of failure a [`ValkError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The source did not read; `incomplete` means more input could fix it.
    Read { incomplete: bool },
    /// A Valk Error value reached the top level.
    Error,
    /// `exit` ended the program with this status.
    Exit(i32),
    /// The actor could not go on (heap limit, internal error).
    Fatal,
}

/// An error with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValkError {
    pub kind: ErrorKind,
    pub message: String,
    pub file: Option<String>,
    pub line: u32,
    pub col: u32,
    /// The Valk functions the error passed on its way out, innermost first
    /// (empty when not traced): what a renderer shows as the call chain.
    pub trace: Vec<TraceEntry>,
}

/// One function an error passed: its name (`None`: anonymous or top-level
/// code) and where it was when the error left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: u32,
    pub col: u32,
}

impl ValkError {
    /// An error at `span` (or nowhere).
    pub fn at(span: Option<Span>, message: String) -> ValkError {
        let (file, line, col) = match span {
            Some(s) if s.line != 0 => (Some(symbol_name(s.file).to_owned()), s.line, s.col),
            _ => (None, 0, 0),
        };
        ValkError {
            kind: ErrorKind::Error,
            message,
            file,
            line,
            col,
            trace: Vec::new(),
        }
    }

    /// A read error (located; `incomplete` kept for the REPL).
    pub fn from_read(e: ReadError) -> ValkError {
        let mut v = ValkError::at(Some(e.span), e.message);
        v.kind = ErrorKind::Read {
            incomplete: e.incomplete,
        };
        v
    }

    pub(crate) fn from_compile(e: CompileError) -> ValkError {
        ValkError::at(Some(e.span), e.message)
    }

    /// An error that is not a Valk Error value (the runtime could not go on).
    pub fn fatal(message: String) -> ValkError {
        ValkError {
            kind: ErrorKind::Fatal,
            message,
            file: None,
            line: 0,
            col: 0,
            trace: Vec::new(),
        }
    }

    pub(crate) fn exit(code: i32) -> ValkError {
        ValkError {
            kind: ErrorKind::Exit(code),
            message: format!("exit {code}"),
            file: None,
            line: 0,
            col: 0,
            trace: Vec::new(),
        }
    }

    /// True for a read error that more input could complete (REPL).
    pub fn is_incomplete(&self) -> bool {
        matches!(self.kind, ErrorKind::Read { incomplete: true })
    }
}

impl fmt::Display for ValkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(
                f,
                "{file}:{}:{}: error: {}",
                self.line, self.col, self.message
            ),
            None => write!(f, "error: {}", self.message),
        }
    }
}

impl std::error::Error for ValkError {}
