//! The `valk` command line: `run`, `repl` (the default), `eval`, `test`.
//!
//! `args` is the grammar, `session` the one place that talks to the
//! interpreter, and one module per command.

mod args;
mod repl;
mod run;
mod session;
mod test_runner;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};
pub use repl::Balance;

/// Parse the command line and run the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => repl::run(0),
        Some(Command::Repl { schedulers }) => repl::run(schedulers.map_or(0, usize::from)),
        Some(Command::Run {
            schedulers,
            file,
            args,
        }) => status_code(run::run_file(
            &file,
            &args,
            schedulers.map_or(0, usize::from),
        )),
        Some(Command::Eval { schedulers, expr }) => status_code(run::eval_expression(
            &expr,
            schedulers.map_or(0, usize::from),
        )),
        Some(Command::Test { paths }) => status_code(test_runner::run(&paths)),
    }
}

/// A program's status as the process's: the low 8 bits, as POSIX keeps.
fn status_code(status: i32) -> ExitCode {
    ExitCode::from((status & 0xFF) as u8)
}

/// A source file's text, or a one-line reason it cannot be had.
fn read_source(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))
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
    fn statuses_keep_their_low_byte() {
        assert_eq!(status_code(3), ExitCode::from(3));
        assert_eq!(status_code(256 + 7), ExitCode::from(7));
        assert_eq!(status_code(-1), ExitCode::from(255));
    }

    #[test]
    fn unreadable_files_give_a_short_reason() {
        let err = read_source(Path::new("/no/such/dir/file.valk")).unwrap_err();
        assert_eq!(
            err,
            "cannot read /no/such/dir/file.valk: no such file or directory"
        );
    }
}
