//! [`Error`]: what can go wrong for a host.

use std::fmt;

/// An error from the runtime, for a host program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Valk code failed (read, compile or run time). `Display` is the
    /// message with its location: `FILE:LINE:COL: error: MESSAGE`.
    Valk {
        /// The bare message.
        message: String,
        /// The message with its location.
        located: String,
    },
    /// The code called `(exit N)` or `(shutdown N)`.
    Exit(i32),
    /// A value does not fit where it was given (a `send` to something
    /// that is not a pid, a term the heap limit does not allow).
    BadArgument(String),
    /// The runtime could not start.
    Start(String),
    /// The actor running the code ended under it (an exit signal, or a
    /// crash of an actor linked to it); the runtime goes on.
    Killed,
    /// The runtime has shut down.
    Stopped,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Valk { located, .. } => f.write_str(located),
            Error::Exit(status) => write!(f, "exit {status}"),
            Error::BadArgument(m) => write!(f, "bad argument: {m}"),
            Error::Start(m) => write!(f, "the runtime could not start: {m}"),
            Error::Killed => {
                f.write_str("the actor running the code was killed (exit signal or linked crash)")
            }
            Error::Stopped => f.write_str("the runtime has shut down"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    pub(crate) fn from_valk(e: &valk_lang::ValkError) -> Error {
        match e.kind {
            valk_lang::ErrorKind::Exit(status) => Error::Exit(status),
            _ => Error::Valk {
                message: e.message.clone(),
                located: e.to_string(),
            },
        }
    }
}
