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
use crate::log::Level;
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
    BuiltinDef::new("actor/list", 0, 0, "The pids of every live actor.", actor_list),
    BuiltinDef::new(
        "registered",
        0,
        0,
        "The registered names, as keywords.",
        registered,
    ),
    BuiltinDef::new(
        "actor/set-max-heap",
        1,
        1,
        "(actor/set-max-heap bytes): this actor's heap limit, unreceived messages included (0: none, else at least 65536); past it the actor ends with {:heap-limit bytes}.",
        set_max_heap,
    ),
    BuiltinDef::new(
        "actor/supervised",
        0,
        1,
        "(actor/supervised [pid]): mark pid (default: this actor) as a supervised child: every crash of it gets a crash report on stderr, though its supervisor takes the exit (supervisors call it for each child they start).",
        supervised,
    ),
    BuiltinDef::new(
        "log/error",
        0,
        VARIADIC,
        "(log/error x...): one line on stderr with the time, the level and this actor's pid (shown unless VALK_LOG=off).",
        log_error,
    ),
    BuiltinDef::new(
        "log/warn",
        0,
        VARIADIC,
        "(log/warn x...): one line on stderr (shown when VALK_LOG is warn, the default, or more).",
        log_warn,
    ),
    BuiltinDef::new(
        "log/info",
        0,
        VARIADIC,
        "(log/info x...): one line on stderr (shown when VALK_LOG is info or debug).",
        log_info,
    ),
    BuiltinDef::new(
        "log/debug",
        0,
        VARIADIC,
        "(log/debug x...): one line on stderr (shown when VALK_LOG=debug).",
        log_debug,
    ),
    BuiltinDef::new(
        "future/-async",
        1,
        1,
        "(future/-async thunk): what (async {body}) compiles to: call thunk in a new actor; a future of its value, error or exit reason.",
        future_async,
    ),
    BuiltinDef::new(
        "promise",
        0,
        0,
        "(promise): {future resolver}; (resolve resolver v) sets the future's value once, (await future) waits for it.",
        promise,
    ),
    BuiltinDef::new(
        "resolve",
        2,
        2,
        "(resolve resolver v): set the future's value (an Error value makes await return that error); a second resolve is an error.",
        resolve,
    )
    .taking_errors(),
    BuiltinDef::new(
        "future/-wait",
        1,
        1,
        "(future/-wait f): 1 if future f has its value; else 0, and this actor gets {:future/-ready} when it does (await uses it).",
        future_wait,
    ),
    BuiltinDef::new(
        "future/-poll",
        1,
        1,
        "(future/-poll f): the value of future f (its error, if it failed); else :future/-pending, and this actor gets {:future/-ready} when it comes (await uses it).",
        future_poll,
    ),
    BuiltinDef::new(
        "future/-first-value",
        1,
        1,
        "(future/-first-value fs): the value of the first of futures fs (list order) that has one; else :future/-pending while any is pending (this actor is told when one resolves); else, all failed, the first one's error.",
        future_first_value,
    ),
    BuiltinDef::new(
        "future/-deadline",
        1,
        1,
        "(future/-deadline ms): the time-us at which (await f ms) gives up, or :never for a wait longer than a year; ms must be a whole number of milliseconds, 0 or more.",
        future_deadline,
    ),
    BuiltinDef::new(
        "future/-list",
        2,
        2,
        "(future/-list fs name): fs if it is a list of futures (not empty, for future/any); else the error, in the name of the builtin the user called.",
        future_list,
    ),
    BuiltinDef::new(
        "future/-unwait",
        1,
        1,
        "(future/-unwait f): this actor no longer waits on future f (a timed-out await).",
        future_unwait,
    ),
    BuiltinDef::new(
        "future/-value",
        1,
        1,
        "(future/-value f): the value of a resolved future (its error, if it failed).",
        future_value,
    ),
    BuiltinDef::new(
        "call/enter",
        1,
        1,
        "(call/enter pid): this actor now waits on a call to pid (server/call uses it); an error starting `deadlock:` if pid waits, through calls in progress, on this actor.",
        call_enter,
    ),
    BuiltinDef::new(
        "call/leave",
        0,
        0,
        "The call this actor waited on is over (server/call uses it).",
        call_leave,
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
    check_function(cx, args)?;
    let f = cx.heap.try_copy_to_fragment(args[0])?;
    let rest = args[1..]
        .iter()
        .map(|&a| cx.heap.try_copy_to_fragment(a))
        .collect::<Result<_, _>>()?;
    let body = Body::new(cx.globals.clone(), f, rest);
    Ok(sched(cx)?.spawn(body, opts))
}

/// `(spawn 42)` is an error at the call, not an actor that ends at once.
fn check_function(cx: &BuiltinCx<'_>, args: &[Value]) -> Result<(), Failure> {
    if cx.type_name(args[0]) == "function" {
        Ok(())
    } else {
        Err(cx.arg_error(0, "function", args[0]))
    }
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
            let name = args[0].as_keyword().unwrap_or(0);
            if !s.send_named(u64::from(name), frag) {
                return Err(cx.error(format!(
                    "`send`: no actor registered as `:{}`",
                    valk_heap::symbol_name(name)
                )));
            }
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

fn actor_list(cx: &mut BuiltinCx<'_>, _: &[Value]) -> Result<Value, Failure> {
    let mut pids = sched(cx)?.actor_pids();
    pids.sort_by_key(|p| p.to_u64());
    let mut items = Vec::with_capacity(pids.len());
    for p in pids {
        items.push(cx.heap.pid(p.to_u64())?);
    }
    cx.qlist(&items)
}

fn registered(cx: &mut BuiltinCx<'_>, _: &[Value]) -> Result<Value, Failure> {
    let mut names: Vec<u32> = sched(cx)?
        .registered()
        .into_iter()
        .filter_map(|(n, _)| u32::try_from(n).ok())
        .collect();
    names.sort_by(|a, b| valk_heap::symbol_name(*a).cmp(valk_heap::symbol_name(*b)));
    let items: Vec<Value> = names.into_iter().map(Value::keyword).collect();
    cx.qlist(&items)
}

/// The smallest heap limit `actor/set-max-heap` takes: below it an actor
/// could not even hold its first chunks (a typo, not a limit).
const MIN_MAX_HEAP: i64 = 64 * 1024;

fn set_max_heap(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let bytes = cx.int_arg(args, 0)?;
    if bytes != 0 && bytes < MIN_MAX_HEAP {
        return Err(cx.error(format!(
            "`actor/set-max-heap`: the limit must be 0 (none) or at least {MIN_MAX_HEAP} bytes, got {bytes}"
        )));
    }
    sched(cx)?;
    cx.heap.set_limit((bytes > 0).then_some(bytes as usize));
    Ok(args[0])
}

fn supervised(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let who = match args.first() {
        Some(_) => Some(pid_arg(cx, args, 0)?),
        None => None,
    };
    let s = sched(cx)?;
    let pid = who.unwrap_or_else(|| s.self_pid());
    // Inserted, then checked: an actor dead by now is not kept (its exit
    // hook has run or will find it and remove it).
    s.system().supervised.insert(pid);
    if !s.alive(pid) {
        s.system().supervised.remove(pid);
    }
    Ok(kw("ok"))
}

fn log_at(cx: &mut BuiltinCx<'_>, args: &[Value], level: Level) -> Result<Value, Failure> {
    let s = sched(cx)?;
    if !s.system().log.allows(level) {
        return Ok(Value::EMPTY_S);
    }
    let me = s.self_pid();
    let mut text = String::new();
    for (i, &a) in args.iter().enumerate() {
        if i > 0 {
            cx.append_text(&mut text, " ")?;
        }
        cx.append_value(&mut text, a, false)?;
    }
    crate::log::line(level, me, &text);
    Ok(Value::EMPTY_S)
}

fn log_error(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    log_at(cx, args, Level::Error)
}

fn log_warn(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    log_at(cx, args, Level::Warn)
}

fn log_info(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    log_at(cx, args, Level::Info)
}

fn log_debug(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    log_at(cx, args, Level::Debug)
}

fn call_enter(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let to = pid_arg(cx, args, 0)?;
    let s = sched(cx)?;
    let me = s.self_pid();
    match s.system().calls.enter(me, to) {
        Ok(()) => Ok(kw("ok")),
        Err(cycle) => {
            let names: Vec<String> = cycle.iter().map(|&p| crate::log::pid_text(p)).collect();
            Err(cx.error(format!(
                "deadlock: {} (each waits on a call to the next)",
                names.join(" -> ")
            )))
        }
    }
}

fn call_leave(cx: &mut BuiltinCx<'_>, _: &[Value]) -> Result<Value, Failure> {
    let s = sched(cx)?;
    let me = s.self_pid();
    s.system().calls.leave(me);
    Ok(kw("ok"))
}

fn promise(cx: &mut BuiltinCx<'_>, _: &[Value]) -> Result<Value, Failure> {
    sched(cx)?;
    let (cell, f) = crate::futures::new_future(cx.heap);
    let resolver = valk_heap::SharedValue::opaque_alt(cell);
    let r = resolver.value();
    cx.heap.keep_shared(r);
    cx.qlist(&[f, r])
}

/// `(future/-async thunk)`: what `(async {body})` compiles to.
fn future_async(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    sched(cx)?;
    check_function(cx, args)?;
    let thunk = cx.heap.try_copy_to_fragment(args[0])?;
    let (cell, f) = crate::futures::new_future(cx.heap);
    let s = sched(cx)?;
    let task = crate::futures::Task {
        cell,
        mailer: s.mailer(),
    };
    let body = Body::task(cx.globals.clone(), thunk, task);
    sched(cx)?.spawn(body, SpawnOpts::default());
    Ok(f)
}

fn resolve(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let cell = crate::futures::resolver_of(cx, args, 0)?;
    let v = cx.heap.try_to_shared(args[1])?;
    let waiters = match cell.resolve(v) {
        Ok(w) => w,
        Err(_) => return Err(cx.error("`resolve`: the future already has its value")),
    };
    if !waiters.is_empty() {
        let s = sched(cx)?;
        for w in waiters {
            s.send(w, crate::futures::ready_message());
        }
    }
    Ok(kw("ok"))
}

fn future_wait(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let cell = crate::futures::future_of(cx, args, 0)?;
    let me = sched(cx)?.self_pid();
    Ok(truth(cell.wait(me).is_some()))
}

fn future_poll(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let cell = crate::futures::future_of(cx, args, 0)?;
    let me = sched(cx)?.self_pid();
    match cell.wait(me) {
        Some(v) => {
            // This heap takes its own count (the cell keeps the value too).
            cx.heap.keep_shared(v);
            if cx.heap.kind(v) == Some(ObjKind::Error) {
                return Err(Failure::Value(v));
            }
            Ok(v)
        }
        None => Ok(kw("future/-pending")),
    }
}

fn future_first_value(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let me = sched(cx)?.self_pid();
    let items = cx.heap.list_to_vec(args[0]).unwrap_or_default();
    let mut pending = false;
    let mut first_error = None;
    for &f in &items {
        let cell = crate::futures::future_of(cx, &[f], 0)?;
        match cell.wait(me) {
            Some(v) if cx.heap.kind(v) == Some(ObjKind::Error) => {
                first_error.get_or_insert(v);
            }
            Some(v) => {
                cx.heap.keep_shared(v);
                return Ok(v);
            }
            None => pending = true,
        }
    }
    match first_error {
        _ if pending => Ok(kw("future/-pending")),
        Some(e) => {
            cx.heap.keep_shared(e);
            Err(Failure::Value(e))
        }
        None => Ok(kw("future/-pending")),
    }
}

/// Waits past a year are waits without a deadline (and `(* 1000 ms)` can
/// no longer overflow).
const AWAIT_FOREVER_MS: i64 = 365 * 24 * 3600 * 1000;

fn future_deadline(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let ms = match cx.heap.as_int(args[0]) {
        Some(ms) if ms >= 0 => ms,
        _ => {
            return Err(cx.error(format!(
                "`await`: argument 2: expected a whole number of milliseconds (0 or more), got {}",
                cx.repr(args[0])
            )))
        }
    };
    if ms > AWAIT_FOREVER_MS {
        return Ok(kw("never"));
    }
    // On `time-us`'s clock: the prelude compares the two.
    let now = valk_lang::builtins::system::now_us();
    cx.int(now.saturating_add(ms * 1000))
}

fn future_list(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let name = cx.str_arg(args, 1)?.to_owned();
    let items = match cx.heap.list_to_vec(args[0]) {
        Some(items) if cx.heap.list_kind(args[0]).is_some() || args[0].is_nil() => items,
        _ => {
            return Err(cx.error(format!(
                "`{name}`: expected a list of futures, got {}",
                cx.type_name(args[0])
            )))
        }
    };
    if items.is_empty() && name == "future/any" {
        return Err(cx.error("`future/any`: the list is empty (no future could ever win)"));
    }
    for (i, &v) in items.iter().enumerate() {
        if crate::futures::future_of(cx, &[v], 0).is_err() {
            return Err(cx.error(format!(
                "`{name}`: element {} of the list: expected future, got {}",
                i + 1,
                cx.type_name(v)
            )));
        }
    }
    Ok(args[0])
}

fn future_unwait(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let cell = crate::futures::future_of(cx, args, 0)?;
    let me = sched(cx)?.self_pid();
    cell.unwait(me);
    Ok(kw("ok"))
}

fn future_value(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let cell = crate::futures::future_of(cx, args, 0)?;
    match cell.value() {
        Some(v) => {
            // This heap takes its own count (the cell keeps the value too).
            cx.heap.keep_shared(v);
            if cx.heap.kind(v) == Some(ObjKind::Error) {
                return Err(Failure::Value(v));
            }
            Ok(v)
        }
        None => Err(cx.error("`future/-value`: the future has no value yet")),
    }
}
