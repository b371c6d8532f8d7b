//! The `valk` command line (`valk run`, `valk eval`, `valk repl`, `valk
//! test`). Programs that embed Valk depend on the `valk` library crate
//! (`embed/`) instead, which pulls in none of the CLI's dependencies.
#![forbid(unsafe_code)]

pub mod cli;
