//! How an uncaught error looks on the command line (LANGUAGE.md §12): the
//! message, `file:line:col`, the source line with a caret under the span,
//! and the Valk call chain, innermost first.
//!
//! Rendering is codespan-reporting's: rustc's layout, small (termcolor and
//! unicode-width), and it takes any `Files` (here: one file, read when the
//! error comes). ariadne draws more but pulls in more; miette is a whole
//! error-handling framework we do not need. Colour only when stderr is a
//! terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;
use std::sync::Arc;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::Buffer, Config};
use valk_lang::lint::{self, Lint, Severity};
use valk_lang::{TraceEntry, ValkError};

/// Lines of call chain shown (the rest are counted).
const MAX_CHAIN: usize = 12;

/// A source line longer than this is not quoted (a generated or minified
/// line would bury the message): the one-line form is shown instead.
const MAX_QUOTED_LINE: usize = 240;

/// Should stderr get colour?
fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// The error as the command line shows it. `source` is the text the error's
/// file holds when the caller has it (`valk eval`'s expression); otherwise
/// the file is read from disk. Without a readable source line: the one-line
/// `file:line:col: error: message`.
pub fn render(error: &ValkError, source: Option<&str>, lints: &[Lint]) -> String {
    render_hinted(error, source, lints, colour())
}

/// The warnings among `lints` of `source` (the file `file`), rendered like
/// errors, one after another ("" when there are none).
pub fn render_warnings(lints: &[Lint], file: &str, source: &str) -> String {
    render_warnings_with(lints, file, source, colour())
}

fn render_warnings_with(lints: &[Lint], file: &str, source: &str, colour: bool) -> String {
    let files = SimpleFile::new(file, source);
    let mut out = Vec::new();
    for lint in lints.iter().filter(|l| l.severity == Severity::Warning) {
        let Some(span) = quotable_span(source, lint.span.line, lint.span.col) else {
            out.push(format!(
                "{file}:{}:{}: warning: {}\n  = hint: {}",
                lint.span.line, lint.span.col, lint.message, lint.hint
            ));
            continue;
        };
        let diagnostic = Diagnostic::warning()
            .with_message(&lint.message)
            .with_labels(vec![Label::primary((), span)])
            .with_notes(vec![format!("hint: {}", lint.hint)]);
        out.push(emit(&files, &diagnostic, colour).unwrap_or_else(|| lint.message.clone()));
    }
    out.join("\n")
}

fn emit(
    files: &SimpleFile<&str, &str>,
    diagnostic: &Diagnostic<()>,
    colour: bool,
) -> Option<String> {
    let mut buffer = if colour {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    term::emit_to_write_style(&mut buffer, &Config::default(), files, diagnostic).ok()?;
    Some(
        String::from_utf8_lossy(buffer.as_slice())
            .trim_end()
            .to_owned(),
    )
}

#[cfg(test)]
fn render_with(error: &ValkError, source: Option<&str>, colour: bool) -> String {
    render_hinted(error, source, &[], colour)
}

/// [`render`]: an [`Severity::OnError`] lint at the error's place adds its
/// hint.
fn render_hinted(error: &ValkError, source: Option<&str>, lints: &[Lint], colour: bool) -> String {
    let Some(file) = error.file.as_deref() else {
        return error.to_string();
    };
    let text: Arc<str> = match source {
        Some(s) => Arc::from(s),
        None => match read_regular(file) {
            Some(t) => t,
            None => return with_chain(error.to_string(), &error.trace),
        },
    };
    let Some(span) = quotable_span(&text, error.line, error.col) else {
        return with_chain(error.to_string(), &error.trace);
    };
    let mut notes = chain(&error.trace, file, error.line, error.col);
    if let Some(lint) = lint::hint_at(lints, file, error.line, error.col) {
        notes.push(format!("hint: {}: {}", lint.message, lint.hint));
    }
    let diagnostic = Diagnostic::error()
        .with_message(&error.message)
        .with_labels(vec![Label::primary((), span)])
        .with_notes(notes);
    let files = SimpleFile::new(file, &*text);
    emit(&files, &diagnostic, colour).unwrap_or_else(|| error.to_string())
}

/// The text of `file` if it is still a regular file of a sane size: the
/// file an error names may have been replaced since it was read (a FIFO
/// would block the report forever).
/// The last file read is kept (by name, length and modification time): a
/// storm of crashing actors reports from the same file without rereading it.
fn read_regular(file: &str) -> Option<Arc<str>> {
    type Cached = Option<(String, u64, Option<std::time::SystemTime>, Arc<str>)>;
    static LAST: std::sync::Mutex<Cached> = std::sync::Mutex::new(None);
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() || meta.len() > 256 << 20 {
        return None;
    }
    let modified = meta.modified().ok();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((name, len, when, text)) = last.as_ref() {
        if name == file && *len == meta.len() && *when == modified && modified.is_some() {
            return Some(text.clone());
        }
    }
    let text: Arc<str> = Arc::from(std::fs::read_to_string(file).ok()?);
    *last = Some((file.to_owned(), meta.len(), modified, text.clone()));
    Some(text)
}

/// The one-line form and the call chain under it.
fn with_chain(first: String, trace: &[TraceEntry]) -> String {
    let mut out = first;
    for line in chain(trace, "", 0, 0) {
        out.push_str("\n  = ");
        out.push_str(&line);
    }
    out
}

/// `in f at file:line:col` per function the error passed, innermost first.
/// Prelude functions the error left before reaching the user's code are
/// left out (the error is already placed at the user's call); later ones
/// are named without their prelude location. The first line is left out
/// when it is the error's own place in top-level code.
fn chain(trace: &[TraceEntry], file: &str, line: u32, col: u32) -> Vec<String> {
    let mut lines = Vec::new();
    let in_prelude = |t: &TraceEntry| {
        t.file
            .as_deref()
            .is_some_and(valk_lang::prelude::is_prelude_file)
    };
    let start = trace
        .iter()
        .position(|t| !in_prelude(t))
        .unwrap_or(trace.len());
    let shown = &trace[start..];
    // An error in top-level code and nowhere else: nothing to add.
    if let [only] = shown {
        if only.function.is_none() && start == 0 {
            return lines;
        }
    }
    for (i, t) in shown.iter().enumerate() {
        let same_place =
            i == 0 && t.file.as_deref() == Some(file) && t.line == line && t.col == col;
        let name = t.function.as_deref().unwrap_or("top-level code");
        // Top-level code of the error's own file: its place is the error's.
        if i == 0 && t.function.is_none() && t.file.as_deref() == Some(file) {
            continue;
        }
        let place = match &t.file {
            Some(_) if in_prelude(t) => " (prelude)".to_owned(),
            Some(f) => format!(" at {f}:{}:{}", t.line, t.col),
            None => String::new(),
        };
        let verb = if i == 0 { "in" } else { "called from" };
        if same_place {
            lines.push(format!("in `{name}`"));
        } else {
            lines.push(format!("{verb} `{name}`{place}"));
        }
        if lines.len() == MAX_CHAIN && shown.len() > MAX_CHAIN {
            lines.push(format!("... and {} more", shown.len() - MAX_CHAIN));
            break;
        }
    }
    lines
}

/// The span to underline at `line`:`col`, unless that line is too long to
/// quote (a generated or minified line would bury the message).
fn quotable_span(text: &str, line: u32, col: u32) -> Option<std::ops::Range<usize>> {
    let quotable = text
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .is_some_and(|l| l.len() <= MAX_QUOTED_LINE);
    span_at(text, line, col).filter(|_| quotable)
}

/// The byte range to underline at `line`:`col` (1-based, columns in
/// characters): a whole symbol, string or bracketed form when it starts
/// there and ends on the same line, else one character.
fn span_at(text: &str, line: u32, col: u32) -> Option<std::ops::Range<usize>> {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)? as usize)
        .map(str::len)
        .sum();
    let line_text = text[line_start..].split('\n').next()?;
    let (offset, first) = line_text.char_indices().nth(col.checked_sub(1)? as usize)?;
    let rest = &line_text[offset..];
    let len = match first {
        '(' | '{' => matching_close(rest).unwrap_or(1),
        '"' => rest[1..].find('"').map_or(1, |i| i + 2),
        c if valk_lang::reader::is_symbol_char(c) || c == ':' => rest
            .char_indices()
            .find(|&(i, c)| i > 0 && !valk_lang::reader::is_symbol_char(c))
            .map_or(rest.len(), |(i, _)| i),
        c => c.len_utf8(),
    };
    let start = line_start + offset;
    Some(start..start + len)
}

/// Bytes up to and including the bracket that closes the one `s` starts
/// with, on this line (strings skipped).
fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '{' => depth += 1,
            ')' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            ';' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(file: &str, line: u32, col: u32, msg: &str, trace: Vec<TraceEntry>) -> ValkError {
        let mut e = ValkError::fatal(msg.into());
        e.kind = valk_lang::ErrorKind::Error;
        e.file = Some(file.into());
        e.line = line;
        e.col = col;
        e.trace = trace;
        e
    }

    fn at(f: Option<&str>, line: u32, col: u32) -> TraceEntry {
        TraceEntry {
            function: f.map(str::to_owned),
            file: Some("app.valk".into()),
            line,
            col,
        }
    }

    #[test]
    fn the_source_line_is_quoted_with_a_caret_under_the_token() {
        let src = "(fun {square x} {* x x})\n(print (sqaure 4))\n";
        let e = error("app.valk", 2, 9, "unbound symbol `sqaure`", vec![]);
        let out = render_with(&e, Some(src), false);
        assert!(out.starts_with("error: unbound symbol `sqaure`"), "{out}");
        assert!(out.contains("app.valk:2:9"), "{out}");
        assert!(out.contains("2 │ (print (sqaure 4))"), "{out}");
        assert!(out.contains("│         ^^^^^^"), "{out}");
    }

    #[test]
    fn a_bracketed_form_is_underlined_whole_and_the_chain_follows() {
        let src = "(fun {f x} {+ x \"a\"})\n(fun {g y} {f y})\n(g 1)\n";
        let e = error(
            "app.valk",
            1,
            12,
            "`+`: argument 2: expected number, got string",
            vec![at(Some("f"), 1, 12), at(Some("g"), 2, 13), at(None, 3, 1)],
        );
        let out = render_with(&e, Some(src), false);
        assert!(out.contains("^^^^^^^^^"), "{out}");
        assert!(out.contains("= in `f`"), "{out}");
        assert!(out.contains("= called from `g` at app.valk:2:13"), "{out}");
        assert!(
            out.contains("= called from `top-level code` at app.valk:3:1"),
            "{out}"
        );
    }

    #[test]
    fn no_source_gives_the_one_line_form() {
        let e = error("/no/such/file.valk", 3, 1, "boom", vec![]);
        assert_eq!(
            render_with(&e, None, false),
            "/no/such/file.valk:3:1: error: boom"
        );
        let e = error("x.valk", 9, 1, "boom", vec![]);
        assert_eq!(
            render_with(&e, Some("(one line)\n"), false),
            "x.valk:9:1: error: boom"
        );
    }

    #[test]
    fn a_file_that_is_no_longer_regular_is_not_read() {
        // A directory (a FIFO would block a plain read forever).
        let e = error("/tmp", 1, 1, "boom", vec![]);
        assert_eq!(render_with(&e, None, false), "/tmp:1:1: error: boom");
    }

    #[test]
    fn a_very_long_line_is_not_quoted() {
        let src = format!("(print {})\n", "x".repeat(10_000));
        let e = error("long.valk", 1, 8, "unbound symbol `xxx…`", vec![]);
        assert_eq!(
            render_with(&e, Some(&src), false),
            "long.valk:1:8: error: unbound symbol `xxx…`"
        );
    }

    #[test]
    fn colour_is_ansi_escapes_only_when_asked() {
        let e = error("a.valk", 1, 1, "boom", vec![]);
        assert!(render_with(&e, Some("(x)\n"), true).contains('\u{1b}'));
        assert!(!render_with(&e, Some("(x)\n"), false).contains('\u{1b}'));
    }
}
