//! `valk repl`: the interactive loop.
//!
//! On a terminal it uses rustyline (line editing, history file, Ctrl-C drops
//! the pending input, Ctrl-D exits). When standard input is not a terminal
//! (a pipe, a file, a test) it reads plain lines and prints no prompts, so a
//! session's output is exactly the results.
//!
//! Input is collected until its brackets balance ([`Balance`]); the complete
//! text is then evaluated as one REPL line (several forms make one
//! S-expression, as in the original). Lines run in the main actor of an actor
//! runtime ([`ReplRuntime`]), so `spawn`, `send` and `receive` work and the
//! REPL's mailbox lasts across lines.

mod helper;
mod runtime;

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::Editor;

use self::runtime::ReplRuntime;
use super::output::{err_line, OutputError};
use super::session::Reply;
use super::status_code;

const PROMPT: &str = "valk> ";
const CONTINUATION_PROMPT: &str = "  ... ";
/// Source name used for REPL input in error locations.
pub const REPL_SOURCE: &str = "<repl>";

/// Run the REPL on standard input until end of input or `(exit N)`.
pub fn run(schedulers: usize) -> ExitCode {
    let runtime = match ReplRuntime::start(REPL_SOURCE, schedulers) {
        Ok(runtime) => runtime,
        Err(message) => {
            err_line(&format!("valk: {message}"));
            return ExitCode::FAILURE;
        }
    };
    let input = if io::stdin().is_terminal() {
        interactive(&runtime)
    } else {
        interrupt_on_ctrl_c(&runtime);
        piped(&runtime, io::stdin().lock(), &mut io::stdout())
    };
    // The runtime ends first either way: its status is the session's unless
    // reading the input failed.
    let status = runtime.finish();
    status_code(match input {
        InputEnd::Failed => 1,
        InputEnd::Output(e) => e.report(),
        InputEnd::Done => status,
    })
}

/// Ctrl-C while an input is evaluated interrupts it (the REPL shows
/// `Error: interrupted` and goes on); at the prompt the line editor takes it
/// (the pending input is dropped); with piped input and nothing running, it
/// ends the REPL with 130, as the signal would. Installed after the line
/// editor, which replaces the SIGINT handler while it exists.
fn interrupt_on_ctrl_c(runtime: &ReplRuntime) {
    let interrupter = runtime.interrupter();
    let busy = runtime.busy.clone();
    let _ = ctrlc::set_handler(move || {
        if busy.load(std::sync::atomic::Ordering::SeqCst) {
            interrupter.interrupt();
        } else {
            super::jit::exit(super::INTERRUPTED_STATUS);
        }
    });
}

/// How reading input ended.
#[derive(Debug)]
pub enum InputEnd {
    /// End of input, or the session ended (`(exit N)`, the main actor killed).
    Done,
    /// The input could not be read (reported on stderr).
    Failed,
    /// A result could not be written (a closed pipe ends the REPL quietly).
    Output(OutputError),
}

/// Where the history lives: $VALK_HISTORY, else ~/.valk_history.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VALK_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".valk_history"))
}

fn interactive(runtime: &ReplRuntime) -> InputEnd {
    let mut editor = match Editor::<helper::ValkHelper, FileHistory>::new() {
        Ok(editor) => editor,
        Err(e) => {
            err_line(&format!(
                "valk: cannot start line editing ({e}); reading plain lines"
            ));
            interrupt_on_ctrl_c(runtime);
            return piped(runtime, io::stdin().lock(), &mut io::stdout());
        }
    };
    editor.set_helper(Some(helper::ValkHelper::new(runtime.bound_names())));
    interrupt_on_ctrl_c(runtime);
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is the normal first run.
        let _ = editor.load_history(path);
    }
    let banner = format!("Valk {} (Ctrl-D to exit)", env!("CARGO_PKG_VERSION"));
    if let Err(e) = super::output::out_line(&banner) {
        return InputEnd::Output(e);
    }
    let mut input = PendingInput::default();
    let end = loop {
        let prompt = if input.is_empty() {
            PROMPT
        } else {
            CONTINUATION_PROMPT
        };
        match editor.readline(prompt) {
            Ok(line) => {
                let Some(complete) = input.push_line(&line) else {
                    continue;
                };
                let _ = editor.add_history_entry(complete.as_str());
                match evaluate(runtime, complete, &mut io::stdout()) {
                    Next::GoOn => {
                        // New `def`s and `fun`s complete from now on.
                        if let Some(h) = editor.helper() {
                            *h.names.borrow_mut() = runtime.bound_names();
                        }
                    }
                    Next::Stop => break InputEnd::Done,
                    Next::OutputFailed(e) => break InputEnd::Output(e),
                }
            }
            Err(ReadlineError::Interrupted) => input.clear(),
            Err(ReadlineError::Eof) => break InputEnd::Done,
            Err(e) => {
                err_line(&format!("valk: cannot read input: {e}"));
                break InputEnd::Failed;
            }
        }
    };
    if let Some(path) = &history {
        if let Err(e) = editor.save_history(path) {
            err_line(&format!(
                "valk: cannot save history to {}: {e}",
                path.display()
            ));
        }
    }
    end
}

/// The REPL over any line source without prompts.
pub fn piped(runtime: &ReplRuntime, lines: impl BufRead, out: &mut dyn Write) -> InputEnd {
    let mut input = PendingInput::default();
    for (n, line) in lines.split(b'\n').enumerate() {
        let mut line = match line {
            Ok(line) => line,
            Err(e) => {
                err_line(&format!("valk: cannot read input: {e}"));
                return InputEnd::Failed;
            }
        };
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let line = match String::from_utf8(line) {
            Ok(line) => line,
            Err(e) => {
                // A read error at its place; the session goes on with the
                // next line (the form it was part of is dropped).
                let bytes = e.as_bytes();
                let at = e.utf8_error().valid_up_to();
                let col = String::from_utf8_lossy(&bytes[..at]).chars().count() + 1;
                let shown = format!(
                    "<stdin>:{}:{col}: error: byte 0x{:02x} is not UTF-8 (the input is dropped up to the end of this line)",
                    n + 1,
                    bytes[at]
                );
                input = PendingInput::default();
                if let Err(e) = writeln!(out, "{shown}").and_then(|()| out.flush()) {
                    return InputEnd::Output(OutputError::from(e));
                }
                continue;
            }
        };
        let Some(complete) = input.push_line(&line) else {
            continue;
        };
        match evaluate(runtime, complete, out) {
            Next::GoOn => {}
            Next::Stop => return InputEnd::Done,
            Next::OutputFailed(e) => return InputEnd::Output(e),
        }
    }
    // Input that ended inside an unbalanced form is still evaluated, so its
    // read error is shown rather than silently dropped.
    if let Some(rest) = input.take() {
        if let Next::OutputFailed(e) = evaluate(runtime, rest, out) {
            return InputEnd::Output(e);
        }
    }
    InputEnd::Done
}

/// Whether to read more input after an evaluation.
#[derive(Debug)]
enum Next {
    GoOn,
    /// The session is over: `(exit N)`, or the main actor has ended.
    Stop,
    /// The result could not be written: the session is over.
    OutputFailed(OutputError),
}

/// Evaluate one complete input in the main actor and show the reply.
/// Warnings about the input (LANGUAGE.md §12) go to stderr first; a hint
/// for an error at a lint's place follows the error.
fn evaluate(runtime: &ReplRuntime, input: String, out: &mut dyn Write) -> Next {
    let lints = super::run::warn_about(&input, REPL_SOURCE);
    let shown = match runtime.eval(input) {
        Some(Reply::Value(text)) => text,
        Some(Reply::Unit) => return Next::GoOn,
        Some(Reply::Error(error)) if error.is_read_error => error.located,
        Some(Reply::Error(error)) => {
            let e = &error.error;
            let file = e.file.as_deref().unwrap_or_default();
            match valk_lang::lint::hint_at(&lints, file, e.line, e.col) {
                Some(l) => format!(
                    "Error: {}\n  hint: {}: {}",
                    error.message, l.message, l.hint
                ),
                None => format!("Error: {}", error.message),
            }
        }
        Some(Reply::Exit(_)) | None => return Next::Stop,
    };
    match writeln!(out, "{shown}").and_then(|()| out.flush()) {
        Ok(()) => Next::GoOn,
        Err(e) => Next::OutputFailed(OutputError::from(e)),
    }
}

/// Lines typed so far for one input.
#[derive(Default)]
struct PendingInput {
    text: String,
}

impl PendingInput {
    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn clear(&mut self) {
        self.text.clear();
    }

    /// Add a line; returns the whole input once it is complete. Input with
    /// no forms (blank or comment-only) is dropped.
    fn push_line(&mut self, line: &str) -> Option<String> {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(line);
        let balance = Balance::of(&self.text);
        if !balance.has_forms {
            self.text.clear();
            return None;
        }
        if balance.is_open() {
            return None;
        }
        Some(std::mem::take(&mut self.text))
    }

    /// Whatever is pending, if it holds any form.
    fn take(&mut self) -> Option<String> {
        let text = std::mem::take(&mut self.text);
        Balance::of(&text).has_forms.then_some(text)
    }
}

/// How far a piece of source is from complete: open brackets and whether it
/// ends inside a string. Comments and string contents are skipped, as the
/// reader does. Too many closing brackets count as complete: the reader then
/// reports the stray bracket.
#[derive(Debug, PartialEq, Eq)]
pub struct Balance {
    pub open_brackets: usize,
    pub in_string: bool,
    /// Whether there is anything but whitespace and comments.
    pub has_forms: bool,
}

impl Balance {
    pub fn of(src: &str) -> Balance {
        let mut balance = Balance {
            open_brackets: 0,
            in_string: false,
            has_forms: false,
        };
        let mut chars = src.chars();
        while let Some(c) = chars.next() {
            if balance.in_string {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => balance.in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                ';' => {
                    // Skip to the end of the line.
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '"' => {
                    balance.in_string = true;
                    balance.has_forms = true;
                }
                '(' | '{' => {
                    balance.open_brackets += 1;
                    balance.has_forms = true;
                }
                ')' | '}' => {
                    balance.open_brackets = balance.open_brackets.saturating_sub(1);
                    balance.has_forms = true;
                }
                c if c.is_whitespace() => {}
                _ => balance.has_forms = true,
            }
        }
        balance
    }

    /// More input is needed.
    pub fn is_open(&self) -> bool {
        self.open_brackets > 0 || self.in_string
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_strings_and_comments_decide_completeness() {
        assert!(!Balance::of("+ 1 2").is_open());
        assert!(Balance::of("(+ 1").is_open());
        assert!(Balance::of("{1 {2}").is_open());
        assert!(!Balance::of("(print \")(\")").is_open());
        assert!(Balance::of("\"open string").is_open());
        assert!(!Balance::of("\"escaped \\\" quote\"").is_open());
        assert!(Balance::of("(f ; ) in a comment\n").is_open());
        assert!(
            !Balance::of(")").is_open(),
            "stray closers are left to the reader"
        );
        assert!(!Balance::of("  ; only a comment").has_forms);
        assert!(!Balance::of("   \t").has_forms);
        assert!(Balance::of("x").has_forms);
    }

    #[test]
    fn pending_input_joins_lines_until_complete() {
        let mut input = PendingInput::default();
        assert_eq!(input.push_line("(+ 1"), None);
        assert!(!input.is_empty());
        assert_eq!(input.push_line("   2)"), Some("(+ 1\n   2)".to_string()));
        assert!(input.is_empty());
        assert_eq!(input.push_line("; nothing"), None);
        assert!(input.is_empty());
        assert_eq!(input.push_line("(unfinished"), None);
        assert_eq!(input.take(), Some("(unfinished".to_string()));
        assert_eq!(input.take(), None);
    }
}
