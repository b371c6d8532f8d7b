//! The `valk` command line: `run`, `repl` (the default), `eval`, `test`.
//!
//! `args` is the grammar, `session` the one place that talks to the
//! interpreter, and one module per command.

mod args;
mod build;
mod config;
mod diagnostic;
mod jit;
mod output;
mod repl;
mod run;
pub mod session;
mod test_runner;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};
pub use repl::Balance;

/// What a command ends with when Ctrl-C (SIGINT) stops it: 128 + 2, what
/// a shell reports for a process the signal killed.
pub const INTERRUPTED_STATUS: i32 = 130;

/// `valk run`, `eval` and `test` stop at once on Ctrl-C, with
/// [`INTERRUPTED_STATUS`] (the REPL installs its own handler).
fn exit_on_interrupt() {
    let _ = ctrlc::set_handler(|| jit::exit(INTERRUPTED_STATUS));
}

/// Parse the command line and run the command.
pub fn main() -> ExitCode {
    // Two C malloc arenas, not one per thread: under `ulimit -v` the
    // address space goes to actor stacks (`address_space.rs` says why).
    valk_scheduler::address_space::cap_c_malloc_arenas(2);
    let code = run_command();
    jit::quiesce();
    code
}

fn run_command() -> ExitCode {
    if let Some(program) = build::embedded() {
        return run_embedded(program);
    }
    let cli = Cli::parse();
    // Crashed actors are reported like any other error (LANGUAGE.md §12).
    valk_runtime::log::set_error_renderer(|e| Some(diagnostic::render(e, None, &[])));
    let flag = match &cli.command {
        None | Some(Command::Test { .. }) | Some(Command::Build { .. }) => None,
        Some(Command::Repl { schedulers })
        | Some(Command::Run { schedulers, .. })
        | Some(Command::Eval { schedulers, .. }) => *schedulers,
    };
    if let Err(message) = jit::choose(cli.jit.as_deref()) {
        output::err_line(&format!("valk: {message}"));
        return ExitCode::FAILURE;
    }
    let schedulers = match config::schedulers(flag) {
        Ok(n) => n,
        Err(message) => {
            output::err_line(&format!("valk: {message}"));
            return ExitCode::FAILURE;
        }
    };
    if matches!(
        cli.command,
        Some(Command::Run { .. } | Command::Eval { .. } | Command::Test { .. })
    ) {
        exit_on_interrupt();
    }
    match cli.command {
        None => repl::run(schedulers),
        Some(Command::Run {
            dump_ir: true,
            file,
            ..
        }) => status_code(run::dump_ir(&file)),
        Some(Command::Run {
            max_heap,
            max_memory,
            file,
            args,
            ..
        }) => status_code(run::run_file(
            &file,
            &args,
            schedulers,
            session::Limits {
                max_heap,
                max_memory,
            },
        )),
        Some(Command::Eval { expr, .. }) => status_code(run::eval_expression(&expr, schedulers)),
        Some(Command::Test {
            paths,
            filter,
            timeout,
        }) => status_code(test_runner::run(
            &paths,
            schedulers,
            test_runner::Options {
                filter: filter.as_deref(),
                timeout_s: timeout,
            },
        )),
        Some(Command::Repl { .. }) => repl::run(schedulers),
        Some(Command::Build {
            file,
            out,
            emit,
            opt_level,
        }) => status_code(match emit {
            None => build::build(&file, &out, opt_level),
            Some(kind) => build::emit(&file, &out, &kind, opt_level),
        }),
    }
}

/// An executable `valk build` made: run its program like `valk run`, every
/// argument bound to `*args*`.
fn run_embedded(program: build::Embedded) -> ExitCode {
    let build::Embedded {
        source,
        name,
        native,
    } = program;
    valk_runtime::log::set_error_renderer(|e| Some(diagnostic::render(e, None, &[])));
    let fail = |message: String| {
        output::err_line(&format!("{name}: {message}"));
        ExitCode::FAILURE
    };
    if let Err(message) = jit::choose(None) {
        return fail(message);
    }
    let schedulers = match config::schedulers(None) {
        Ok(n) => n,
        Err(message) => return fail(message),
    };
    if let Some((image, manifest)) = native {
        jit::load_native(&image, &manifest);
    }
    exit_on_interrupt();
    let args: Vec<String> = std::env::args().skip(1).collect();
    status_code(run::run_program(
        &source,
        &name,
        &args,
        schedulers,
        session::Limits::default(),
    ))
}

/// A program's status as the process's. `exit` and `shutdown` keep to
/// 0..255; anything else (never expected) is reported as a failure rather
/// than truncated into a success.
fn status_code(status: i32) -> ExitCode {
    match u8::try_from(status) {
        Ok(status) => ExitCode::from(status),
        Err(_) => ExitCode::FAILURE,
    }
}

/// A source file's text, or a one-line reason it cannot be had.
fn read_source(path: &Path) -> Result<String, String> {
    config::read_source(path)
}

/// An I/O error as a short lower-case phrase ("no such file or directory").
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_outside_a_byte_are_failures_not_truncated() {
        assert_eq!(status_code(3), ExitCode::from(3));
        assert_eq!(status_code(141), ExitCode::from(141));
        assert_eq!(status_code(256), ExitCode::FAILURE);
        assert_eq!(status_code(-1), ExitCode::FAILURE);
    }
}
