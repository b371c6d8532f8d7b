//! `valk run FILE [ARGS...]` and `valk eval EXPR`.

use std::path::Path;

use valk_lang::lint::Lint;

use super::output::{err_line, out_line, program_output_closed, CLOSED_PIPE_STATUS};
use super::session::{Failure, Limits, Reply, Session, Step};

/// Run a program file on `schedulers` worker threads (0: one per core)
/// under memory `limits`; returns the exit status.
pub fn run_file(file: &Path, args: &[String], schedulers: usize, limits: Limits) -> i32 {
    match read_program(file) {
        Ok((name, source)) => run_program(&source, &name, args, schedulers, limits),
        Err(status) => status,
    }
}

/// A program file's name (as messages show it) and text; a file that
/// cannot be read is reported (the status, 1, is the error).
pub fn read_program(file: &Path) -> Result<(String, String), i32> {
    match super::read_source(file) {
        Ok(source) => Ok((file.display().to_string(), source)),
        Err(message) => {
            err_line(&format!("valk: {message}"));
            Err(1)
        }
    }
}

/// [`read_program`], then reading and compiling it (not running it); an
/// error is reported as `valk run` reports it.
pub fn compile_program(file: &Path) -> Result<(String, String), i32> {
    let (name, source) = read_program(file)?;
    if let Err(error) = valk_lang::ir_dump::dump_source(&source, &name) {
        return Err(report_failure(&error, &name, &source));
    }
    Ok((name, source))
}

/// Run program text (named `name` in messages) as `valk run` does: the
/// body of [`run_file`], and what an executable `valk build` made runs.
pub fn run_program(
    source: &str,
    name: &str,
    args: &[String],
    schedulers: usize,
    limits: Limits,
) -> i32 {
    let (source, name) = (source.to_owned(), name.to_owned());
    let session = match Session::with_limits(schedulers, limits) {
        Ok(session) => session,
        Err(message) => {
            err_line(&format!("valk: {message}"));
            return 1;
        }
    };
    if let Err(message) = session.bind_args(args) {
        err_line(&format!("valk: {message}"));
        return 1;
    }
    let lints = warn_about(&source, &name);
    // The program runs in the main actor; the runtime ends when it is done.
    let status = match session.watching_for_deadlock(|s| s.run_source(&source, &name)) {
        Step::Finished => 0,
        Step::Failed(error) => failed(&error, Some((&name, &source)), &lints),
        Step::Exit(status) => status,
    };
    session.finish();
    status
}

/// `valk run --dump-ir FILE`: print the Valk IR of every function of
/// FILE (compiled, not run). A read or compile error is reported as
/// `valk run` reports it (status 1).
pub fn dump_ir(file: &Path) -> i32 {
    let (name, source) = match read_program(file) {
        Ok(p) => p,
        Err(status) => return status,
    };
    match valk_lang::ir_dump::dump_source(&source, &name) {
        Ok(text) => match super::output::out_line(text.trim_end()) {
            Ok(()) => 0,
            Err(e) => e.report(),
        },
        Err(error) => failed(
            &super::session::failure(&error),
            Some((&name, &source)),
            &[],
        ),
    }
}

/// Reports an error of reading or compiling `source` (named `name`) as
/// `valk run` does; returns the status (1).
pub fn report_failure(error: &valk_lang::ValkError, name: &str, source: &str) -> i32 {
    failed(&super::session::failure(error), Some((name, source)), &[])
}

/// Source name used for `valk eval` input in error locations.
pub const EVAL_SOURCE: &str = "<eval>";

/// Evaluate one expression like a REPL line, in the main actor of a
/// runtime (so actor builtins work), and print its result.
pub fn eval_expression(expr: &str, schedulers: usize) -> i32 {
    let session = match Session::new(schedulers) {
        Ok(session) => session,
        Err(message) => {
            err_line(&format!("valk: {message}"));
            return 1;
        }
    };
    let lints = warn_about(expr, EVAL_SOURCE);
    // Like `valk run`: an expression that can never finish is a deadlock.
    let status = match session.watching_for_deadlock(|s| s.eval_line(expr, EVAL_SOURCE)) {
        Reply::Value(text) => match out_line(&text) {
            Ok(()) => 0,
            Err(e) => e.report(),
        },
        Reply::Unit => 0,
        Reply::Error(error) => failed(&error, Some((EVAL_SOURCE, expr)), &lints),
        Reply::Exit(status) => status,
    };
    session.finish();
    status
}

/// The status of a program that ended with an uncaught error, reported on
/// stderr; an error from writing to a closed output ends it quietly, like
/// any Unix tool whose reader went away.
fn failed(error: &Failure, source: Option<(&str, &str)>, lints: &[Lint]) -> i32 {
    if program_output_closed() {
        return CLOSED_PIPE_STATUS;
    }
    // The text in hand is used when the error is in it; an error inside a
    // loaded file is shown from that file (read by the renderer).
    let own = source
        .filter(|(name, _)| error.error.file.as_deref() == Some(*name))
        .map(|(_, text)| text);
    err_line(&super::diagnostic::render(&error.error, own, lints));
    1
}

/// Shows the warnings about `source` (LANGUAGE.md §12: the classic
/// mistakes) on stderr before it runs; returns every lint, for hints under
/// an error.
pub fn warn_about(source: &str, name: &str) -> Vec<Lint> {
    let lints = valk_lang::lint::lint_source(source, name);
    let warnings = super::diagnostic::render_warnings(&lints, name, source);
    if !warnings.is_empty() {
        err_line(&warnings);
    }
    lints
}
