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
        "(exit [status]): end the program with an integer status (default 0); `:normal` is 0. In an actor, (exit reason) ends it with any reason and (exit pid reason) sends an exit signal.",
        exit,
    ),
    BuiltinDef::new(
        "shutdown",
        0,
        1,
        "(shutdown [status]): stop the whole runtime with an integer status (default 0).",
        shutdown,
    ),
];

/// The instant `time-us` counts from: the first time anything asks for it.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn time_us(cx: &mut BuiltinCx<'_>, _args: &[Value]) -> Result<Value, Failure> {
    let micros = i64::try_from(epoch().elapsed().as_micros()).unwrap_or(i64::MAX);
    cx.int(micros)
}

/// The status a program ends with for an exit value: an integer is itself,
/// `:normal` is 0; anything else is not a status.
fn exit_status(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<i32, Failure> {
    let Some(&v) = args.first() else { return Ok(0) };
    if v.as_keyword() == Some(valk_heap::symbol::intern("normal")) {
        return Ok(0);
    }
    let n = cx.int_arg(args, 0)?;
    // Statuses outside i32 wrap like a C exit status would be truncated.
    Ok(n as i32)
}

/// The core `exit` (the actor layer registers one that also takes exit
/// reasons and pids, and falls back to this).
pub fn exit(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    cx.exit_request = Some(exit_status(cx, args)?);
    Ok(Value::EMPTY_S)
}

fn shutdown(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let status = match args.first() {
        Some(_) => cx.int_arg(args, 0)? as i32,
        None => 0,
    };
    cx.exit_request = Some(status);
    Ok(Value::EMPTY_S)
}
