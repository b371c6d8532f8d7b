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
    let mut session = match Session::new() {
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
    // The program runs in the main actor; it ends when the main actor ends.
    let reason = valk_lang::actor::run_main(schedulers, move |cx| {
        let status = match session.run_source_in_actor(cx, &source, &name) {
            Step::Finished => 0,
            Step::Failed(error) => {
                eprintln!("{}", error.located);
                1
            }
            Step::Exit(status) => status,
        };
        valk_lang::actor::Reason::Status(status)
    });
    status_of(reason)
}

/// Source name used for `valk eval` input in error locations.
pub const EVAL_SOURCE: &str = "<eval>";

/// Evaluate one expression like a REPL line, in the main actor of a
/// runtime (so actor builtins work), and print its result.
pub fn eval_expression(expr: &str, schedulers: usize) -> i32 {
    let mut session = match Session::new() {
        Ok(session) => session,
        Err(message) => {
            eprintln!("valk: {message}");
            return 1;
        }
    };
    let expr = expr.to_owned();
    let reason = valk_lang::actor::run_main(schedulers, move |cx| {
        let status = match session.eval_line_in_actor(cx, &expr, EVAL_SOURCE) {
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
        valk_lang::actor::Reason::Status(status)
    });
    status_of(reason)
}

/// The process status for the main actor's exit reason.
pub(super) fn status_of(reason: valk_lang::actor::Reason) -> i32 {
    match reason {
        valk_lang::actor::Reason::Status(status) => status,
        valk_lang::actor::Reason::Normal => 0,
        other => {
            eprintln!("valk: main actor exited: {}", other.describe());
            1
        }
    }
}
