//! The REPL's line-editor helper (rustyline): Tab completes the names bound
//! in the runtime, Enter on unbalanced brackets opens a new line in the same
//! input (earlier lines stay editable), and the bracket matching the one at
//! the cursor is highlighted.

use std::borrow::Cow;
use std::cell::RefCell;

use rustyline::completion::Completer;
use rustyline::highlight::{CmdKind, Highlighter, MatchingBracketHighlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::super::repl::Balance;

/// Completion, validation and highlighting for the prompt.
pub struct ValkHelper {
    /// Names bound in the runtime, sorted (refreshed after each input).
    pub names: RefCell<Vec<String>>,
    brackets: MatchingBracketHighlighter,
    /// `NO_COLOR` unset: highlight the matching bracket.
    colour: bool,
}

impl ValkHelper {
    pub fn new(names: Vec<String>) -> Self {
        ValkHelper {
            names: RefCell::new(names),
            brackets: MatchingBracketHighlighter::new(),
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// The start of the name that ends at `pos`.
fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .find(|&(_, c)| !(valk_lang::reader::is_symbol_char(c) || c == ':'))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// The bound names that start with `prefix`.
pub fn completions(names: &[String], prefix: &str) -> Vec<String> {
    if prefix.is_empty() {
        return Vec::new();
    }
    names
        .iter()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect()
}

impl Completer for ValkHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let start = word_start(line, pos);
        Ok((start, completions(&self.names.borrow(), &line[start..pos])))
    }
}

impl Hinter for ValkHelper {
    type Hint = String;
}

impl Highlighter for ValkHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        if self.colour {
            self.brackets.highlight(line, pos)
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        self.colour && self.brackets.highlight_char(line, pos, kind)
    }
}

impl Validator for ValkHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        // The reader's idea of complete: brackets balanced, no open string
        // (comments and string contents skipped).
        if Balance::of(ctx.input()).is_open() {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for ValkHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_before_the_cursor_is_completed() {
        let names: Vec<String> = ["map", "max", "min", "string/join", "string/split"]
            .map(String::from)
            .to_vec();
        let line = "(print (ma";
        let start = word_start(line, line.len());
        assert_eq!(&line[start..], "ma");
        assert_eq!(completions(&names, "ma"), ["map", "max"]);
        assert_eq!(completions(&names, "string/s"), ["string/split"]);
        assert!(completions(&names, "").is_empty());
        assert_eq!(word_start("(foo :ke", 8), 5);
    }
}
