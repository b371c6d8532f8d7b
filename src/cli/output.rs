//! Writing to the process's standard output and error without panics.
//!
//! `print!`/`println!` panic when the write fails (`valk eval ... | head -c5`
//! closes the pipe; `>/dev/full` fills). The command line writes through
//! these instead: a closed standard output ends the command quietly with
//! status 141 (what a shell reports for a process killed by SIGPIPE, as
//! `cat` or `seq` would end), any other failure is one line on stderr and
//! status 1. Failing to write to stderr is ignored: there is nowhere left to
//! report it.

use std::io::{self, Write};

/// The status for a closed output: 128 + SIGPIPE.
pub const CLOSED_PIPE_STATUS: i32 = 141;

/// Why a line could not be written to standard output.
#[derive(Debug)]
pub struct OutputError(io::Error);

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> OutputError {
        OutputError(e)
    }
}

impl OutputError {
    /// The status the command ends with, after reporting the error (a
    /// closed pipe is not reported: the reader chose to stop reading).
    pub fn report(&self) -> i32 {
        if self.0.kind() == io::ErrorKind::BrokenPipe {
            return CLOSED_PIPE_STATUS;
        }
        err_line(&format!(
            "valk: cannot write the output: {}",
            super::io_reason(&self.0)
        ));
        1
    }
}

/// Writes `text` and a newline to standard output, flushed.
pub fn out_line(text: &str) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(OutputError)
}

/// Writes `text` and a newline to standard error; a failure is ignored.
pub fn err_line(text: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// The program's own output (`print` in any actor) found standard output
/// closed: the command should end quietly with [`CLOSED_PIPE_STATUS`].
pub fn program_output_closed() -> bool {
    valk_lang::builtins::system::output_closed()
}
