//! System: `time-us`, `exit`, `shutdown`.
//!
//! Owned by the library helper; see `super` for how to write a builtin.
//!
//! `exit` and `shutdown` do not end the process themselves: they set
//! `BuiltinCx::exit_request` and the interpreter unwinds and reports the status to
//! its embedder (the `valk` binary exits with it), so buffered output is
//! flushed and an embedding program is never killed by a script.

use std::sync::OnceLock;
use std::time::Instant;

use valk_heap::Value;

use super::{BuiltinCx, BuiltinDef, Failure};

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "time-us",
        0,
        1,
        "(time-us): microseconds on a monotonic clock (for measuring intervals); an argument is ignored, as in the original.",
        time_us,
    ),
    BuiltinDef::new(
        "exit",
        0,
        2,
        "(exit [status]): end the program with an integer status 0..255 (default 0; another integer is an error); `:normal` is 0. In an actor, (exit reason) ends it at once with any reason and (exit pid reason) sends an exit signal.",
        exit,
    ),
    BuiltinDef::new(
        "shutdown",
        0,
        1,
        "(shutdown [status]): end the whole program, from any actor, with an integer status 0..255 (default 0).",
        shutdown,
    ),
];

/// The instant `time-us` counts from: the first time anything asks for it.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn time_us(cx: &mut BuiltinCx<'_>, _args: &[Value]) -> Result<Value, Failure> {
    cx.int(now_us())
}

/// What `time-us` answers now.
pub fn now_us() -> i64 {
    i64::try_from(epoch().elapsed().as_micros()).unwrap_or(i64::MAX)
}

/// Exit statuses a program may end with: what a POSIX parent can see (the
/// low 8 bits). Anything else is an error rather than silently truncated
/// (`(exit 256)` would otherwise report success).
pub const STATUS_RANGE: std::ops::RangeInclusive<i64> = 0..=255;

/// The status a program ends with for an exit value: an integer in
/// [`STATUS_RANGE`] is itself, `:normal` is 0; anything else is an error.
pub fn exit_status(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<i32, Failure> {
    let Some(&v) = args.first() else { return Ok(0) };
    if v.as_keyword() == Some(valk_heap::symbol::intern("normal")) {
        return Ok(0);
    }
    status_arg(cx, args)
}

/// The first argument as a status in [`STATUS_RANGE`].
fn status_arg(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<i32, Failure> {
    let n = cx.int_arg(args, 0)?;
    match i32::try_from(n) {
        Ok(status) if STATUS_RANGE.contains(&n) => Ok(status),
        _ => Err(cx.error(format!(
            "`{}`: status {n} is outside 0..255",
            cx.builtin_name()
        ))),
    }
}

/// The core `exit` (the actor layer registers one that also takes exit
/// reasons and pids, and falls back to this).
pub fn exit(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    cx.exit_request = Some(exit_status(cx, args)?);
    Ok(Value::EMPTY_S)
}

/// The core `shutdown`: without actors, the same as `exit` with a status
/// (the actor layer registers one that ends the program from any actor).
pub fn shutdown(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    cx.exit_request = Some(shutdown_status(cx, args)?);
    Ok(Value::EMPTY_S)
}

/// `shutdown`'s status: an integer in [`STATUS_RANGE`].
pub fn shutdown_status(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<i32, Failure> {
    if args.is_empty() {
        return Ok(0);
    }
    status_arg(cx, args)
}

pub use super::io::{read_regular_file, MAX_READ_BYTES};

/// True once a write to the process's output failed because its reader
/// went away (a closed pipe: `valk ... | head -1`). The `valk` binary then
/// ends quietly with status 141, as a process killed by SIGPIPE would.
pub fn output_closed() -> bool {
    super::io::output_closed()
}

#[cfg(test)]
mod tests {
    use crate::{ErrorKind, Interp};

    #[test]
    fn exit_statuses_outside_0_to_255_are_errors() {
        let mut it = Interp::new();
        for n in ["256", "512", "-256", "4294967296", "-1"] {
            for f in ["exit", "shutdown"] {
                let err = it.eval_source(&format!("({f} {n})"), "t.valk").unwrap_err();
                assert_eq!(err.message, format!("`{f}`: status {n} is outside 0..255"));
            }
        }
        for (src, status) in [
            ("(exit 255)", 255),
            ("(exit :normal)", 0),
            ("(shutdown 3)", 3),
        ] {
            let err = it.eval_source(src, "t.valk").unwrap_err();
            assert_eq!(err.kind, ErrorKind::Exit(status), "{src}");
        }
    }
}
