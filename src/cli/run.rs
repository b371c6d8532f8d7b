//! `valk run FILE [ARGS...]` and `valk eval EXPR`.

use std::path::Path;

use super::session::{Reply, Session, Step};

/// Run a program file on `schedulers` worker threads (0: the runtime's
/// default, `$VALK_SCHEDULERS` or one per core); returns the exit status.
pub fn run_file(file: &Path, args: &[String], schedulers: usize) -> i32 {
    let name = file.display().to_string();
    let source = match super::read_source(file) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("valk: {message}");
            return 1;
        }
    };
    let session = match Session::new(schedulers) {
        Ok(session) => session,
        Err(message) => {
            eprintln!("valk: {message}");
            return 1;
        }
    };
    if let Err(message) = session.bind_args(args) {
        eprintln!("valk: {message}");
        return 1;
    }
    // The program runs in the main actor; the runtime ends when it is done.
    let status = match session.run_source(&source, &name) {
        Step::Finished => 0,
        Step::Failed(error) => {
            eprintln!("{}", error.located);
            1
        }
        Step::Exit(status) => status,
    };
    session.finish();
    status
}

/// Source name used for `valk eval` input in error locations.
pub const EVAL_SOURCE: &str = "<eval>";

/// Evaluate one expression like a REPL line, in the main actor of a
/// runtime (so actor builtins work), and print its result.
pub fn eval_expression(expr: &str, schedulers: usize) -> i32 {
    let session = match Session::new(schedulers) {
        Ok(session) => session,
        Err(message) => {
            eprintln!("valk: {message}");
            return 1;
        }
    };
    let status = match session.eval_line(expr, EVAL_SOURCE) {
        Reply::Value(text) => {
            println!("{text}");
            0
        }
        Reply::Unit => 0,
        Reply::Error(error) => {
            eprintln!("{}", error.located);
            1
        }
        Reply::Exit(status) => status,
    };
    session.finish();
    status
}
