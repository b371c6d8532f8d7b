//! The actor builtins (LANGUAGE.md §7). Each reaches the scheduler through
//! the interpreter's [`HostPtr`](super::host::HostPtr); outside an actor they
//! fail with an error value.

use std::time::{Duration, Instant};

use valk_heap::{ObjKind, Value};
use valk_scheduler::{ActorStatus, Cx as Sched, MonitorRef, Pid, SpawnOpts, TimerRef, WaitResult};

use super::body::Body;
use super::system::{Reason, ValkSystem};
use crate::builtins::{BuiltinDef, Cx, Failure, Special, VARIADIC};

pub(crate) const BUILTINS: &[BuiltinDef] = &[
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
    BuiltinDef::special(
        "receive",
        1,
        VARIADIC,
        "`(receive {pattern body...} ... {:after ms body...})`: take the oldest message a clause matches.",
        Special::Receive,
    ),
];

fn sched<'c>(cx: &'c mut Cx<'_>) -> Result<&'c mut Sched<'static, ValkSystem>, Failure> {
    let name = cx.name;
    cx.actor
        .host
        .get()
        .ok_or_else(|| Failure::Message(format!("`{name}`: not running in an actor")))
}

fn kw(name: &str) -> Value {
    Value::keyword(valk_heap::intern(name))
}

fn pid_arg(cx: &Cx<'_>, args: &[Value], i: usize) -> Result<Pid, Failure> {
    match cx.heap.kind(args[i]) {
        Some(ObjKind::Pid) if args[i].is_ptr() => {
            Ok(Pid::from_u64(cx.heap.pid_id(args[i]).unwrap_or(0)))
        }
        _ => Err(cx.arg_error(i, "pid", args[i])),
    }
}

fn ref_arg(cx: &Cx<'_>, args: &[Value], i: usize) -> Result<u64, Failure> {
    match cx.heap.kind(args[i]) {
        Some(ObjKind::Ref) if args[i].is_ptr() => Ok(cx.heap.ref_id(args[i]).unwrap_or(0)),
        _ => Err(cx.arg_error(i, "ref", args[i])),
    }
}

fn name_arg(cx: &Cx<'_>, args: &[Value], i: usize) -> Result<u64, Failure> {
    args[i]
        .as_keyword()
        .map(u64::from)
        .ok_or_else(|| cx.arg_error(i, "keyword", args[i]))
}

fn truth(b: bool) -> Value {
    Value::small_int(i64::from(b)).unwrap_or(Value::NIL)
}

fn do_spawn(
    cx: &mut Cx<'_>,
    args: &[Value],
    opts: SpawnOpts,
) -> Result<(Pid, Option<MonitorRef>), Failure> {
    sched(cx)?;
    let f = cx.heap.copy_to_fragment(args[0]);
    let rest = args[1..]
        .iter()
        .map(|&a| cx.heap.copy_to_fragment(a))
        .collect();
    let body = Body::new(cx.globals.clone(), f, rest);
    Ok(sched(cx)?.spawn(body, opts))
}

fn spawn(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let (pid, _) = do_spawn(cx, args, SpawnOpts::default())?;
    Ok(cx.heap.pid(pid.to_u64())?)
}

fn spawn_link(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let opts = SpawnOpts {
        link: true,
        monitor: false,
    };
    let (pid, _) = do_spawn(cx, args, opts)?;
    Ok(cx.heap.pid(pid.to_u64())?)
}

fn spawn_monitor(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let opts = SpawnOpts {
        link: false,
        monitor: true,
    };
    let (pid, mref) = do_spawn(cx, args, opts)?;
    let p = cx.heap.pid(pid.to_u64())?;
    let r = cx.heap.make_ref(mref.map_or(0, MonitorRef::to_u64))?;
    cx.qlist(&[p, r])
}

fn self_pid(cx: &mut Cx<'_>, _: &[Value]) -> Result<Value, Failure> {
    let pid = sched(cx)?.self_pid();
    Ok(cx.heap.pid(pid.to_u64())?)
}

fn send(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let to = if args[0].as_keyword().is_some() {
        None
    } else {
        Some(pid_arg(cx, args, 0)?)
    };
    sched(cx)?;
    let frag = cx.heap.copy_to_fragment(args[1]);
    let s = sched(cx)?;
    match to {
        Some(pid) => s.send(pid, frag),
        None => {
            s.send_named(u64::from(args[0].as_keyword().unwrap_or(0)), frag);
        }
    }
    Ok(args[1])
}

fn link(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    sched(cx)?.link(pid);
    Ok(kw("ok"))
}

fn unlink(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    sched(cx)?.unlink(pid);
    Ok(kw("ok"))
}

fn monitor(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    let mref = sched(cx)?.monitor(pid);
    Ok(cx.heap.make_ref(mref.to_u64())?)
}

fn demonitor(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let r = ref_arg(cx, args, 0)?;
    Ok(truth(sched(cx)?.demonitor(MonitorRef::from_u64(r))))
}

fn trap_exit(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let on = match args[0].as_small_int() {
        Some(n) => n != 0,
        None => return Err(cx.arg_error(0, "integer", args[0])),
    };
    Ok(truth(sched(cx)?.trap_exit(on)))
}

/// `(exit pid reason)`: an exit signal (Erlang's rules).
fn exit_signal(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    sched(cx)?;
    let reason = Reason::from_value(cx.heap, args[1]);
    sched(cx)?.exit_signal(pid, reason);
    Ok(kw("ok"))
}

fn register(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = name_arg(cx, args, 0)?;
    let pid = pid_arg(cx, args, 1)?;
    match sched(cx)?.register(name, pid) {
        Ok(()) => Ok(kw("ok")),
        Err(e) => Err(cx.error(format!("`register`: {e}"))),
    }
}

fn whereis(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = name_arg(cx, args, 0)?;
    match sched(cx)?.whereis(name) {
        Some(pid) => Ok(cx.heap.pid(pid.to_u64())?),
        None => Ok(Value::EMPTY_S),
    }
}

fn unregister(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = name_arg(cx, args, 0)?;
    Ok(truth(sched(cx)?.unregister(name)))
}

fn millis(cx: &Cx<'_>, args: &[Value], i: usize) -> Result<Duration, Failure> {
    let ms = cx.int_arg(args, i)?;
    Ok(Duration::from_millis(ms.max(0) as u64))
}

fn send_after(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let delay = millis(cx, args, 0)?;
    let pid = pid_arg(cx, args, 1)?;
    sched(cx)?;
    let frag = cx.heap.copy_to_fragment(args[2]);
    let t = sched(cx)?.send_after(delay, pid, frag);
    Ok(cx.heap.make_ref(t.to_u64())?)
}

fn cancel_timer(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let r = ref_arg(cx, args, 0)?;
    Ok(truth(sched(cx)?.cancel_timer(TimerRef::from_u64(r))))
}

fn make_ref(cx: &mut Cx<'_>, _: &[Value]) -> Result<Value, Failure> {
    let r = sched(cx)?.make_ref();
    Ok(cx.heap.make_ref(r)?)
}

fn alive(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    Ok(truth(sched(cx)?.alive(pid)))
}

fn info(cx: &mut Cx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let pid = pid_arg(cx, args, 0)?;
    let me = sched(cx)?.self_pid() == pid;
    let local = if me {
        cx.actor.mailbox.len() - cx.actor.save.min(cx.actor.mailbox.len())
    } else {
        0
    };
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
        ("mailbox", i.mailbox_len + local),
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
/// (`:normal` included). `None`: the plain program-status `exit`.
pub(crate) fn exit_actor(cx: &mut Cx<'_>, args: &[Value]) -> Result<Option<Value>, Failure> {
    if args.len() == 2 {
        exit_signal(cx, args)?;
        return Ok(Some(kw("ok")));
    }
    let Some(&v) = args.first() else {
        return Ok(None);
    };
    if cx.actor.host.get().is_none() || cx.heap.as_int(v).is_some() {
        return Ok(None);
    }
    cx.actor.exit_reason = Some(Box::new(Reason::from_value(cx.heap, v)));
    cx.exit_request = Some(if v == kw("normal") { 0 } else { 1 });
    Ok(Some(Value::EMPTY_S))
}

/// The next message the current receive has not scanned (`Ok(None)`: the
/// deadline `ms` passed; `None` waits for ever). With none queued it parks
/// the actor (`Failure::Wait`: no native stack kept; the interpreter runs
/// the `Receive` instruction again on wake-up) when `park`, else waits
/// keeping the stack (the main actor).
pub(crate) fn next_message(
    cx: &mut Cx<'_>,
    ms: Option<u64>,
    park: bool,
) -> Result<Option<Value>, Failure> {
    loop {
        if let Some(&v) = cx.actor.mailbox.get(cx.actor.save) {
            cx.actor.save += 1;
            return Ok(Some(v));
        }
        let mut got = false;
        while let Some(frag) = sched(cx)?.receive_matching(&mut |_| true) {
            let v = cx.heap.adopt(frag)?;
            cx.actor.mailbox.push_back(v);
            got = true;
        }
        if got {
            continue;
        }
        let timeout = ms.map(|ms| {
            let now = Instant::now();
            let deadline = *cx
                .actor
                .deadline
                .get_or_insert(now + Duration::from_millis(ms));
            deadline.saturating_duration_since(now)
        });
        let timed_out = timeout == Some(Duration::ZERO)
            || sched(cx)?.timed_out()
            || (!park && sched(cx)?.wait(timeout) == WaitResult::TimedOut);
        if timed_out {
            sched(cx)?.receive_done();
            receive_start(cx.actor);
            return Ok(None);
        }
        if park {
            // Rounded up so the wake-up never comes before `deadline`.
            let timeout =
                timeout.map(|d| u64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u64::MAX));
            return Err(Failure::Wait { timeout });
        }
    }
}

/// A new `receive` scans the queue from the oldest message, with no deadline yet.
pub(crate) fn receive_start(a: &mut super::Local) {
    a.save = 0;
    a.deadline = None;
}

/// Takes the message [`next_message`] returned last: the receive is over.
pub(crate) fn accept(a: &mut super::Local) {
    if a.save > 0 {
        a.mailbox.remove(a.save - 1);
    }
    receive_start(a);
}
