//! The actor builtins (LANGUAGE.md §7), a layer over the core's. Each
//! reaches the scheduler through the interpreter's host, an
//! [`ActorHost`]; outside an actor they fail with an error value.

use std::time::Duration;

use valk_heap::{ObjKind, Value};
use valk_lang::builtins::VARIADIC;
use valk_lang::{BuiltinCx, BuiltinDef, Failure};
use valk_scheduler::{ActorStatus, Cx as Sched, MonitorRef, Pid, SpawnOpts, TimerRef};

use crate::body::Body;
use crate::host::ActorHost;
use crate::system::{Reason, ValkSystem};

/// The actor layer's builtins (`exit` replaces the core's: in an actor it
/// also takes exit reasons and pids).
pub static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "exit",
        0,
        2,
        "(exit [status]): end the program with an integer status 0..255 (default 0; another integer is an error); `:normal` is 0. In an actor, (exit reason) ends it at once with any reason and (exit pid reason) sends an exit signal (to (self): the actor ends at once unless it traps the signal).",
        exit,
    ),
    BuiltinDef::new(
        "shutdown",
        0,
        1,
        "(shutdown [status]): end the whole program, from any actor, with an integer status 0..255 (default 0).",
        shutdown,
    ),
    BuiltinDef::new(
        "spawn",
        1,
        VARIADIC,
        "Start an actor running (f arg...); its pid.",
        spawn,
    ),
    BuiltinDef::new(
        "spawn-link",
        1,
        VARIADIC,
        "spawn and link atomically.",
        spawn_link,
    ),
    BuiltinDef::new(
        "spawn-monitor",
        1,
        VARIADIC,
        "spawn and monitor atomically; {pid ref}.",
        spawn_monitor,
    ),
    BuiltinDef::new("self", 0, 0, "The current actor's pid.", self_pid),
    BuiltinDef::new(
        "send",
        2,
        2,
        "Copy msg into the mailbox of pid (or registered name); returns msg.",
        send,
    ),
    BuiltinDef::new("link", 1, 1, "Link this actor and pid.", link),
    BuiltinDef::new("unlink", 1, 1, "Remove the link with pid.", unlink),
    BuiltinDef::new(
        "monitor",
        1,
        1,
        "Monitor pid; a {:DOWN ref pid reason} message follows its exit.",
        monitor,
    ),
    BuiltinDef::new("demonitor", 1, 1, "Remove a monitor.", demonitor),
    BuiltinDef::new(
        "trap-exit",
        1,
        1,
        "Receive exit signals as {:EXIT pid reason} messages; the previous setting.",
        trap_exit,
    ),
    BuiltinDef::new(
        "register",
        2,
        2,
        "(register :name pid): name an actor.",
        register,
    ),
    BuiltinDef::new(
        "whereis",
        1,
        1,
        "The pid registered under a name, or ().",
        whereis,
    ),
    BuiltinDef::new(
        "unregister",
        1,
        1,
        "Free a registered name; 1 if it was registered.",
        unregister,
    ),
    BuiltinDef::new(
        "send-after",
        3,
        3,
        "(send-after ms pid msg): send msg later; a timer ref.",
        send_after,
    ),
    BuiltinDef::new(
        "cancel-timer",
        1,
        1,
        "Cancel a send-after timer; 1 if it had not fired.",
        cancel_timer,
    ),
    BuiltinDef::new("make-ref", 0, 0, "A unique reference.", make_ref),
    BuiltinDef::new("alive?", 1, 1, "1 if pid is alive.", alive),
    BuiltinDef::new(
        "actor/info",
        1,
        1,
        "{{:mailbox n} {:heap bytes} {:reductions n} {:status s}} or () if dead.",
        info,
    ),
];

fn actor_host<'c>(cx: &'c mut BuiltinCx<'_>) -> Result<&'c mut ActorHost, Failure> {
    let name = cx.builtin_name();
    ActorHost::of(cx.host())
        .ok_or_else(|| Failure::Message(format!("`{name}`: not running in an actor")))
}

fn sched<'c>(cx: &'c mut BuiltinCx<'_>) -> Result<&'c mut Sched<'static, ValkSystem>, Failure> {
    Ok(actor_host(cx)?.sched())
}

fn kw(name: &str) -> Value {
    Value::keyword(valk_heap::intern(name))
}

fn pid_arg(cx: &BuiltinCx<'_>, args: &[Value], i: usize) -> Result<Pid, Failure> {
    match cx.heap.kind(args[i]) {
        Some(ObjKind::Pid) if args[i].is_ptr() => {
            Ok(Pid::from_u64(cx.heap.pid_id(args[i]).unwrap_or(0)))
        }
        _ => Err(cx.arg_error(i, "pid", args[i])),
    }
}

fn ref_arg(cx: &BuiltinCx<'_>, args: &[Value], i: usize) -> Result<u64, Failure> {
    match cx.heap.kind(args[i]) {
        Some(ObjKind::Ref) if args[i].is_ptr() => Ok(cx.heap.ref_id(args[i]).unwrap_or(0)),
        _ => Err(cx.arg_error(i, "ref", args[i])),
    }
}

fn name_arg(cx: &BuiltinCx<'_>, args: &[Value], i: usize) -> Result<u64, Failure> {
    args[i]
        .as_keyword()
        .map(u64::from)
        .ok_or_else(|| cx.arg_error(i, "keyword", args[i]))
}

fn truth(b: bool) -> Value {
    Value::small_int(i64::from(b)).unwrap_or(Value::NIL)
}

fn do_spawn(
    cx: &mut BuiltinCx<'_>,
    args: &[Value],
    opts: SpawnOpts,
) -> Result<(Pid, Option<MonitorRef>), Failure> {
    sched(cx)?;
    let f = cx.heap.try_copy_to_fragment(args[0])?;
    let rest = args[1..]
        .iter()
        .map(|&a| cx.heap.try_copy_to_fragment(a))
        .collect::<Result<_, _>>()?;
    let body = Body::new(cx.globals.clone(), f, rest);
    Ok(sched(cx)?.spawn(body, opts))
}

fn spawn(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let (pid, _) = do_spawn(cx, args, SpawnOpts::default())?;
    Ok(cx.heap.pid(pid.to_u64())?)
}

fn spawn_link(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let opts = SpawnOpts {
        link: true,
        monitor: false,
    };
    let (pid, _) = do_spawn(cx, args, opts)?;
    Ok(cx.heap.pid(pid.to_u64())?)
}

fn spawn_monitor(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let opts = SpawnOpts {
        link: false,
        monitor: true,
    };
    let (pid, mref) = do_spawn(cx, args, opts)?;
    let p = cx.heap.pid(pid.to_u64())?;
    let r = cx.heap.make_ref(mref.map_or(0, MonitorRef::to_u64))?;
    cx.qlist(&[p, r])
}

fn self_pid(cx: &mut BuiltinCx<'_>, _: &[Value]) -> Result<Value, Failure> {
    let pid = sched(cx)?.self_pid();
    Ok(cx.heap.pid(pid.to_u64())?)
}

fn send(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let to = if args[0].as_keyword().is_some() {
        None
    } else {
        Some(pid_arg(cx, args, 0)?)
    };
    sched(cx)?;
    let frag = cx.heap.try_copy_to_fragment(args[1])?;
    let copied = frag.byte_size();
    let frag = frag.into();
    let s = sched(cx)?;
    match to {
        Some(pid) => s.send(pid, frag),
        None => {
            s.send_named(u64::from(args[0].as_keyword().unwrap_or(0)), frag);
        }
    }
    // A big message costs in proportion to the bytes copied (charged once
    // it is sent: the charge may yield).
    cx.meter.bytes(copied);
    Ok(args[1])
}

fn link(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    sched(cx)?.link(pid);
    Ok(kw("ok"))
}

fn unlink(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    sched(cx)?.unlink(pid);
    Ok(kw("ok"))
}

fn monitor(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    let mref = sched(cx)?.monitor(pid);
    Ok(cx.heap.make_ref(mref.to_u64())?)
}

fn demonitor(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let r = ref_arg(cx, args, 0)?;
    Ok(truth(sched(cx)?.demonitor(MonitorRef::from_u64(r))))
}

fn trap_exit(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let on = match args[0].as_small_int() {
        Some(n) => n != 0,
        None => return Err(cx.arg_error(0, "integer", args[0])),
    };
    Ok(truth(sched(cx)?.trap_exit(on)))
}

/// `(exit pid reason)`: an exit signal (Erlang's rules). One this actor
/// sends itself and does not trap ends it at once: the rest of its code
/// does not run.
fn exit_signal(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    sched(cx)?;
    let reason = Reason::from_value(cx.heap, args[1]);
    let ends_with = if matches!(reason, Reason::Kill) {
        Reason::Killed
    } else {
        reason.clone()
    };
    let s = sched(cx)?;
    let to_self = s.self_pid() == pid;
    s.exit_signal(pid, reason);
    if to_self && s.exiting() {
        // The scheduler has decided this actor's fate (it ends with the
        // signal's reason whatever it returns); stop running its code now.
        let normal = matches!(ends_with, Reason::Normal);
        if let Some(host) = ActorHost::of(cx.host()) {
            host.exit_reason = Some(ends_with);
        }
        cx.exit_request = Some(if normal { 0 } else { 1 });
    }
    Ok(kw("ok"))
}

/// `(shutdown N)`: ends the whole program with status N from any actor.
/// The status is recorded for the host, and the main actor (if this is not
/// it) is killed so that the host waiting on it wakes; this actor stops at
/// once either way.
fn shutdown(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let status = valk_lang::builtins::system::shutdown_status(cx, args)?;
    if let Some(host) = ActorHost::of(cx.host()) {
        let s = host.sched();
        let me = s.self_pid();
        let program = &s.system().program;
        program.request_shutdown(status);
        let main = program.main();
        if let Some(main) = main.filter(|&main| main != me) {
            s.exit_signal(main, Reason::Kill);
        }
    }
    cx.exit_request = Some(status);
    Ok(Value::EMPTY_S)
}

fn register(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = name_arg(cx, args, 0)?;
    let pid = pid_arg(cx, args, 1)?;
    match sched(cx)?.register(name, pid) {
        Ok(()) => Ok(kw("ok")),
        Err(e) => Err(cx.error(format!("`register`: {e}"))),
    }
}

fn whereis(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = name_arg(cx, args, 0)?;
    match sched(cx)?.whereis(name) {
        Some(pid) => Ok(cx.heap.pid(pid.to_u64())?),
        None => Ok(Value::EMPTY_S),
    }
}

fn unregister(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = name_arg(cx, args, 0)?;
    Ok(truth(sched(cx)?.unregister(name)))
}

fn millis(cx: &BuiltinCx<'_>, args: &[Value], i: usize) -> Result<Duration, Failure> {
    let ms = cx.int_arg(args, i)?;
    Ok(Duration::from_millis(ms.max(0) as u64))
}

fn send_after(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let delay = millis(cx, args, 0)?;
    let pid = pid_arg(cx, args, 1)?;
    sched(cx)?;
    let frag = cx.heap.try_copy_to_fragment(args[2])?.into();
    let t = sched(cx)?.send_after(delay, pid, frag);
    Ok(cx.heap.make_ref(t.to_u64())?)
}

fn cancel_timer(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let r = ref_arg(cx, args, 0)?;
    Ok(truth(sched(cx)?.cancel_timer(TimerRef::from_u64(r))))
}

fn make_ref(cx: &mut BuiltinCx<'_>, _: &[Value]) -> Result<Value, Failure> {
    let r = sched(cx)?.make_ref();
    Ok(cx.heap.make_ref(r)?)
}

fn alive(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    Ok(truth(sched(cx)?.alive(pid)))
}

fn info(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    let me = sched(cx)?.self_pid() == pid;
    let Some(i) = sched(cx)?.info(pid) else {
        return Ok(Value::EMPTY_S);
    };
    let status = match i.status {
        ActorStatus::Waiting => "waiting",
        ActorStatus::Runnable => "runnable",
        ActorStatus::Running => "running",
        ActorStatus::Exiting => "exiting",
    };
    let heap = if me {
        cx.heap.bytes_in_use()
    } else {
        i.heap_bytes
    };
    let mut pairs = Vec::new();
    for (k, n) in [
        ("mailbox", i.mailbox_len),
        ("heap", heap),
        ("reductions", i.reductions as usize),
    ] {
        let n = cx.int(n as i64)?;
        pairs.push(cx.qlist(&[kw(k), n])?);
    }
    pairs.push(cx.qlist(&[kw("status"), kw(status)])?);
    cx.qlist(&pairs)
}

/// `exit` in an actor: `(exit pid reason)` sends an exit signal; `(exit
/// reason)` with a reason that is not an integer ends this actor with it
/// (`:normal` included); otherwise the core's program-status `exit`.
fn exit(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    if args.len() == 2 {
        exit_signal(cx, args)?;
        return Ok(kw("ok"));
    }
    if let Some(&v) = args.first() {
        if cx.heap.as_int(v).is_none() {
            let reason = Reason::from_value(cx.heap, v);
            if let Some(host) = ActorHost::of(cx.host()) {
                host.exit_reason = Some(reason);
                cx.exit_request = Some(if v == kw("normal") { 0 } else { 1 });
                return Ok(Value::EMPTY_S);
            }
        }
    }
    valk_lang::builtins::system::exit(cx, args)
}
