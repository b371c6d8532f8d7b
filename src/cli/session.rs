//! The one place the command line talks to the interpreter: a [`Session`]
//! runs sources and lines and turns the interpreter's results into what the
//! commands show (re-readable text, located error lines, exit statuses).

use valk_heap::{ListKind, Value};
use valk_lang::syntax::{Node, Span, Syn};
use valk_lang::Interp;
use valk_lang::{prelude, reader};
use valk_lang::{ErrorKind, ValkError};

/// An error to show: `located` is `FILE:LINE:COL: error: MESSAGE` (or
/// `error: MESSAGE` when it has no location), `message` the bare message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub located: String,
    pub message: String,
    /// The input did not read (as opposed to an error while running).
    pub is_read_error: bool,
}

/// How running a whole source ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Finished,
    Failed(Failure),
    /// The program called `exit`/`shutdown` with this status.
    Exit(i32),
}

/// The result of one REPL-style line.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The value, re-readable.
    Value(String),
    /// The value was `()`: nothing to show.
    Unit,
    Error(Failure),
    Exit(i32),
}

/// The scheduler context of the main actor.
pub type ActorCx<'a> = valk_lang::actor::SchedCx<'a, valk_lang::actor::ValkSystem>;

/// One interpreter with the prelude and test module loaded.
pub struct Session {
    interp: Interp,
    /// The actor prelude ([`valk_lang::actor::PRELUDE`]) is loaded. It is
    /// loaded once: the REPL evaluates every line in the actor, and loading
    /// it again would undo a user's redefinition of `sleep`.
    actor_prelude_loaded: bool,
}

/// What an interpreter error means for the command line.
enum Ending {
    Failed(Failure),
    Exit(i32),
}

fn ending_of(error: &ValkError) -> Ending {
    match error.kind {
        ErrorKind::Exit(status) => Ending::Exit(status),
        ErrorKind::Read { .. } => Ending::Failed(Failure {
            located: error.to_string(),
            message: error.message.clone(),
            is_read_error: true,
        }),
        ErrorKind::Error | ErrorKind::Fatal => Ending::Failed(Failure {
            located: error.to_string(),
            message: error.message.clone(),
            is_read_error: false,
        }),
    }
}

fn step_of(error: &ValkError) -> Step {
    match ending_of(error) {
        Ending::Failed(failure) => Step::Failed(failure),
        Ending::Exit(status) => Step::Exit(status),
    }
}

fn read_error(e: reader::ReadError, name: &str) -> ValkError {
    ValkError {
        kind: ErrorKind::Read {
            incomplete: e.incomplete,
        },
        message: e.message,
        file: Some(name.to_owned()),
        line: e.span.line,
        col: e.span.col,
    }
}

/// An error made inside the prelude (or nowhere) is reported at the user's
/// top-level form that led to it: `prelude.valk:120:5` tells a user nothing.
fn locate_in_user_code(mut error: ValkError, name: &str, form: Span) -> ValkError {
    let in_prelude = match &error.file {
        None => true,
        Some(file) => {
            file != name
                && prelude::FILES
                    .iter()
                    .any(|(prelude_file, _)| prelude_file == file)
        }
    };
    if error.kind == ErrorKind::Error && in_prelude && form.line != 0 {
        error.file = Some(name.to_owned());
        error.line = form.line;
        error.col = form.col;
    }
    error
}

impl Session {
    pub fn new() -> Result<Session, String> {
        Ok(Session {
            interp: Interp::new(),
            actor_prelude_loaded: false,
        })
    }

    /// Bind `*args*` to the program's arguments.
    pub fn bind_args(&mut self, args: &[String]) -> Result<(), String> {
        self.interp.set_args(args).map_err(|e| e.to_string())
    }

    /// [`Session::run_source`] in an actor: the actor builtins reach `cx`.
    pub fn run_source_in_actor(&mut self, cx: &mut ActorCx<'_>, source: &str, name: &str) -> Step {
        match self.in_actor(cx, |s| s.run_source(source, name)) {
            Ok(step) => step,
            Err(step) => step,
        }
    }

    /// [`Session::eval_line`] in an actor: the actor builtins reach `cx`.
    pub fn eval_line_in_actor(&mut self, cx: &mut ActorCx<'_>, line: &str, name: &str) -> Reply {
        match self.in_actor(cx, |s| s.eval_line(line, name)) {
            Ok(reply) => reply,
            Err(Step::Exit(status)) => Reply::Exit(status),
            Err(Step::Failed(failure)) => Reply::Error(failure),
            Err(Step::Finished) => Reply::Unit,
        }
    }

    /// Run `f` as the main actor's code: the actor prelude loaded (by the
    /// first call), the actor builtins reaching `cx`. `Err` when the prelude
    /// fails or the code ended the actor with `(exit reason)` (reported on
    /// stderr).
    fn in_actor<R>(
        &mut self,
        cx: &mut ActorCx<'_>,
        f: impl FnOnce(&mut Session) -> R,
    ) -> Result<R, Step> {
        valk_lang::actor::hosted_with(
            cx,
            self,
            |s| &mut s.interp,
            |s| {
                if !s.actor_prelude_loaded {
                    if let Err(e) = valk_lang::actor::load_prelude(&mut s.interp) {
                        return Err(step_of(&e));
                    }
                    s.actor_prelude_loaded = true;
                }
                let r = f(s);
                match valk_lang::actor::take_exit_reason(&mut s.interp) {
                    Some(r) if !matches!(r, valk_lang::actor::Reason::Normal) => {
                        eprintln!("valk: main actor exited: {}", r.describe());
                        Err(Step::Exit(1))
                    }
                    _ => Ok(r),
                }
            },
        )
    }

    /// Run a file's text form by form; `name` is the file in locations.
    pub fn run_source(&mut self, source: &str, name: &str) -> Step {
        let forms = match reader::read_all(source, name) {
            Ok(forms) => forms,
            Err(e) => return step_of(&read_error(e, name)),
        };
        for form in &forms {
            if let Err(error) = self.interp.eval_form(form) {
                return step_of(&locate_in_user_code(error, name, form.span));
            }
        }
        Step::Finished
    }

    /// Evaluate a REPL-style line: several forms make one S-expression.
    /// `name` is the source in locations.
    pub fn eval_line(&mut self, line: &str, name: &str) -> Reply {
        let result = self.eval_line_named(line, name);
        match result {
            Ok(v) if v.is_empty_s() => Reply::Unit,
            Ok(v) => Reply::Value(self.interp.repr(v)),
            Err(error) => match ending_of(&error) {
                Ending::Failed(failure) => Reply::Error(failure),
                Ending::Exit(status) => Reply::Exit(status),
            },
        }
    }

    /// `Interp::eval_repl_line` with `name` as the source in locations.
    fn eval_line_named(&mut self, line: &str, name: &str) -> Result<Value, ValkError> {
        let mut forms = reader::read_all(line, name).map_err(|e| read_error(e, name))?;
        let form = match forms.len() {
            0 => return Ok(Value::EMPTY_S),
            1 => forms.remove(0),
            _ => {
                let span = forms[0].span;
                Node::new(Syn::List(ListKind::S, forms), span)
            }
        };
        let span = form.span;
        self.interp
            .eval_form(&form)
            .map_err(|error| locate_in_user_code(error, name, span))
    }

    /// Put the test module in command-line mode: `test/run` prints no
    /// summary (the command prints one for all files).
    pub fn enter_test_mode(&mut self) -> Result<(), String> {
        self.interp
            .eval_source("(def {test/-cli} true)", "<valk test>")
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The test module's totals so far: (passed, failed, skipped).
    pub fn test_counts(&self) -> Option<(u64, u64, u64)> {
        let read = |name: &str| -> Option<u64> {
            let v = self.interp.global(name)?;
            let n = self.interp.heap().as_int(v)?;
            u64::try_from(n).ok()
        };
        Some((
            read("test/-total-passed")?,
            read("test/-total-failed")?,
            read("test/-total-skipped")?,
        ))
    }
}
