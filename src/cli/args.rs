//! The command line's grammar (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Valk: an Erlang-style actor runtime hosting the Valkyria Lisp.
///
/// With no command, starts the REPL.
#[derive(Parser, Debug)]
#[command(name = "valk", version = super::jit::VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Native code: `on` compiles hot functions in the background (the
    /// default, else $VALK_JIT), `always` compiles each before its first
    /// call, `off` interprets everything
    #[arg(long, global = true, value_name = "MODE", value_parser = ["off", "on", "always"], hide_possible_values = true)]
    pub jit: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a Valk program; ARGS are bound as the list of strings `*args*`.
    ///
    /// A top-level error prints `FILE:LINE:COL: error: MESSAGE` to stderr and
    /// ends the program with status 1; `(exit N)` ends it with status N
    /// (0..255; another N is an error), as does `(shutdown N)` in any actor.
    /// FILE must be a regular file of at most 256 MB. Output into a closed
    /// pipe ends the program quietly with status 141. $VALK_SCHEDULERS, when
    /// set, must be a number in 1..1024.
    Run {
        /// Scheduler threads (default: $VALK_SCHEDULERS, else one per core).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        schedulers: Option<u16>,
        /// Most memory one actor may hold, unreceived messages included
        /// (like 64M); past it the actor ends with {:heap-limit bytes}.
        #[arg(long, value_name = "BYTES", value_parser = valk_runtime::memory::parse_size)]
        max_heap: Option<usize>,
        /// Memory ceiling of the whole program (like 512M or 2G; default:
        /// 80% of physical memory). Past it the actor holding the most
        /// memory is killed with {:heap-limit bytes}, logged on stderr.
        #[arg(long, value_name = "BYTES", value_parser = valk_runtime::memory::parse_size)]
        max_memory: Option<usize>,
        /// Print the Valk IR of every function of FILE (each top-level
        /// form and each lambda, compiled but not run) instead of running it.
        #[arg(long)]
        dump_ir: bool,
        /// The program to run.
        file: PathBuf,
        /// Arguments for the program (everything after FILE, flags included).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build a standalone executable that runs FILE like `valk run FILE`.
    ///
    /// OUT is this runtime with the program inside: it takes the same
    /// flags' environment ($VALK_SCHEDULERS, $VALK_JIT), binds every
    /// argument to `*args*`, prints the same output and ends with the same
    /// status. FILE is read and compiled now, so a syntax error stops the
    /// build. Its `fun` definitions the native tier takes are compiled
    /// now and linked by the C compiler ($CC, else cc) into OUT; they run
    /// natively from their first call. With --emit, OUT gets the native
    /// tier's code for FILE's functions instead (LLVM IR, assembly or an
    /// object file).
    Build {
        /// The program.
        file: PathBuf,
        /// Where to write the executable (or the --emit output).
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        out: PathBuf,
        /// Write the native code of FILE's `fun` definitions that the tier
        /// compiles: `llvm` (IR text), `asm` or `obj`.
        #[arg(long, value_name = "KIND", value_parser = ["llvm", "asm", "obj"])]
        emit: Option<String>,
        /// LLVM optimisation level of the native code: -O0 to -O3.
        #[arg(short = 'O', value_name = "LEVEL", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=3))]
        opt_level: u8,
    },
    /// Start the interactive REPL (the default with no command).
    ///
    /// Input continues on the next line until brackets balance; a line with
    /// several forms is one S-expression (`+ 1 2` gives 3). Results are shown
    /// in re-readable form; errors are shown and the session goes on. History
    /// is kept in $VALK_HISTORY or ~/.valk_history. Ctrl-D exits.
    ///
    /// Lines run as the main actor of a runtime: `spawn`, `send` and
    /// `receive` work, and `(self)`'s mailbox lasts across lines.
    Repl {
        /// Scheduler threads (default: $VALK_SCHEDULERS, else one per core).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        schedulers: Option<u16>,
    },
    /// Evaluate EXPR like a REPL line and print the result.
    ///
    /// It runs as the main actor of a runtime, like a program: `spawn`,
    /// `send` and `receive` work. Exit statuses as for `valk run`.
    Eval {
        /// Scheduler threads (default: $VALK_SCHEDULERS, else one per core).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        schedulers: Option<u16>,
        /// The expression (several forms make one S-expression). It may start
        /// with `-`: `valk eval '- 5'`.
        #[arg(allow_hyphen_values = true)]
        expr: String,
    },
    /// Run Valk test files (tests written with test/define) and report.
    ///
    /// Each file runs in a fresh interpreter; the tests it defines with
    /// `test/define` run whether or not it calls `test/run`. A directory is
    /// searched recursively for `test_*.valk` and `*_test.valk` files. Prints
    /// one line per test (`PASS`, `FAIL` for a failed assertion, `ERROR` for
    /// any other error, `SKIP`), the time each file took, and `N passed, N
    /// failed in T s`; exits 1 on any failure.
    /// A test file that is not a regular file (a FIFO, a device) fails to
    /// load; symbolic links to directories are not followed.
    Test {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Run only the tests whose names contain TEXT (the others are not
        /// counted).
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// Fail a test that runs longer than SECONDS (each test runs in an
        /// actor of its own; default 60).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=86_400))]
        timeout: Option<u32>,
    },
}
