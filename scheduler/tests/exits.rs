//! Links, monitors, trap-exit and exit signals (Erlang's rules).
#![cfg(not(valk_loom))]

mod common;

use std::time::Duration;

use common::*;
use valk_scheduler::{ActorStatus, MonitorRef, SpawnOpts};

const MONITOR: SpawnOpts = SpawnOpts {
    link: false,
    monitor: true,
};
const LINK: SpawnOpts = SpawnOpts {
    link: true,
    monitor: false,
};

fn down_of(cx: &mut C<'_>, mref: Option<MonitorRef>) -> Option<Reason> {
    match recv_where(
        cx,
        PATIENCE,
        |m| matches!(m, Msg::Down(r, ..) if Some(*r) == mref),
    ) {
        Some(Msg::Down(_, _, reason)) => Some(reason),
        _ => None,
    }
}

/// An actor that waits for one message and exits with `Custom(n)` for
/// `Int(n)` (0 means `:normal`).
fn exits_on_command(cx: &mut C<'_>) -> Reason {
    match recv(cx, PATIENCE) {
        Some(Msg::Int(0)) => Reason::Normal,
        Some(Msg::Int(n)) => Reason::Custom(n),
        _ => Reason::Custom(999),
    }
}

/// Spawns (monitored) a middle actor that spawn-links a child and waits; the
/// child exits with `child_code`. Returns how the middle actor ended.
fn middle_after_linked_child_exits(
    cx: &mut C<'_>,
    child_code: u64,
    trap: bool,
) -> (Reason, Option<Msg>) {
    let me = cx.self_pid();
    let (_, mref) = cx.spawn(
        seq(move |cx| {
            cx.trap_exit(trap);
            let (child, _) = cx.spawn(seq(exits_on_command), LINK);
            cx.send(child, Msg::Int(child_code));
            let got = recv_where(cx, Some(Duration::from_millis(200)), |m| {
                matches!(m, Msg::Exit(..))
            });
            if let Some(msg) = got {
                cx.send(me, msg);
            }
            Reason::Custom(500)
        }),
        MONITOR,
    );
    let reason = down_of(cx, mref).unwrap_or(Reason::Custom(998));
    let forwarded = recv_where(cx, Some(Duration::ZERO), |m| matches!(m, Msg::Exit(..)));
    (reason, forwarded)
}

#[test]
fn abnormal_exit_kills_linked_actor_with_same_reason() {
    let (tx, rx) = std::sync::mpsc::channel();
    runtime(2).run_main(seq(move |cx| {
        tx.send(middle_after_linked_child_exits(cx, 7, false)).ok();
        Reason::Normal
    }));
    assert_eq!(rx.recv().ok(), Some((Reason::Custom(7), None)));
}

#[test]
fn normal_exit_does_not_kill_linked_actor() {
    let (tx, rx) = std::sync::mpsc::channel();
    runtime(2).run_main(seq(move |cx| {
        tx.send(middle_after_linked_child_exits(cx, 0, false)).ok();
        Reason::Normal
    }));
    assert_eq!(rx.recv().ok(), Some((Reason::Custom(500), None)));
}

#[test]
fn trap_exit_turns_link_exit_into_message() {
    let (tx, rx) = std::sync::mpsc::channel();
    runtime(2).run_main(seq(move |cx| {
        tx.send(middle_after_linked_child_exits(cx, 7, true)).ok();
        Reason::Normal
    }));
    let (reason, msg) = rx.recv().expect("result");
    assert_eq!(reason, Reason::Custom(500));
    assert!(
        matches!(msg, Some(Msg::Exit(_, Reason::Custom(7)))),
        "{msg:?}"
    );
}

#[test]
fn exit_kill_is_untrappable_and_reports_killed() {
    let reason = runtime(2).run_main(seq(|cx| {
        let (pid, mref) = cx.spawn(
            seq(|cx| {
                cx.trap_exit(true);
                let _ = recv(cx, PATIENCE);
                Reason::Custom(1)
            }),
            MONITOR,
        );
        cx.exit_signal(pid, Reason::Kill);
        down_of(cx, mref).unwrap_or(Reason::Custom(2))
    }));
    assert_eq!(reason, Reason::Killed);
}

#[test]
fn exit_normal_is_ignored_unless_target_traps_or_is_self() {
    let reason = runtime(2).run_main(seq(|cx| {
        let me = cx.self_pid();
        // Not trapping: :normal from another actor is ignored.
        let (plain, mref) = cx.spawn(seq(exits_on_command), MONITOR);
        cx.exit_signal(plain, Reason::Normal);
        cx.send(plain, Msg::Int(3));
        if down_of(cx, mref) != Some(Reason::Custom(3)) {
            return Reason::Custom(1);
        }
        // Trapping: it arrives as {:EXIT from :normal}.
        let (trapper, mref) = cx.spawn(
            seq(|cx| {
                cx.trap_exit(true);
                match recv(cx, PATIENCE) {
                    Some(Msg::Exit(_, Reason::Normal)) => Reason::Custom(4),
                    _ => Reason::Custom(5),
                }
            }),
            MONITOR,
        );
        // Give it time to set trap-exit first.
        let _ = recv_where(cx, Some(Duration::from_millis(20)), |_| false);
        cx.exit_signal(trapper, Reason::Normal);
        if down_of(cx, mref) != Some(Reason::Custom(4)) {
            return Reason::Custom(2);
        }
        // To itself: :normal ends the actor.
        let (selfish, mref) = cx.spawn(
            seq(move |cx| {
                let me2 = cx.self_pid();
                cx.exit_signal(me2, Reason::Normal);
                if cx.charge(1) || !cx.exiting() {
                    cx.send(me, Msg::Int(66));
                }
                Reason::Custom(6)
            }),
            MONITOR,
        );
        let _ = selfish;
        if down_of(cx, mref) != Some(Reason::Normal) {
            return Reason::Custom(3);
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn monitor_delivers_one_down_and_noproc_for_dead_pid() {
    let reason = runtime(2).run_main(seq(|cx| {
        let (pid, _) = cx.spawn(seq(exits_on_command), SpawnOpts::default());
        let m1 = cx.monitor(pid);
        let m2 = cx.monitor(pid);
        cx.send(pid, Msg::Int(9));
        if down_of(cx, Some(m1)) != Some(Reason::Custom(9))
            || down_of(cx, Some(m2)) != Some(Reason::Custom(9))
        {
            return Reason::Custom(1);
        }
        let m3 = cx.monitor(pid);
        if down_of(cx, Some(m3)) != Some(Reason::NoProc) {
            return Reason::Custom(2);
        }
        if recv(cx, Some(Duration::from_millis(30))).is_some() {
            return Reason::Custom(3);
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn demonitor_means_no_down_message() {
    let reason = runtime(2).run_main(seq(|cx| {
        let (pid, _) = cx.spawn(seq(exits_on_command), SpawnOpts::default());
        let mref = cx.monitor(pid);
        if !cx.demonitor(mref) || cx.demonitor(mref) {
            return Reason::Custom(1);
        }
        cx.send(pid, Msg::Int(4));
        if recv(cx, Some(Duration::from_millis(50))).is_some() {
            return Reason::Custom(2);
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn unlink_stops_exit_propagation() {
    let reason = runtime(2).run_main(seq(|cx| {
        let (child, _) = cx.spawn(seq(exits_on_command), LINK);
        cx.unlink(child);
        cx.send(child, Msg::Int(8));
        // Still alive after the child died abnormally.
        let _ = recv(cx, Some(Duration::from_millis(50)));
        if cx.alive(child) {
            return Reason::Custom(1);
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn link_to_dead_pid_delivers_noproc_exit() {
    let reason = runtime(2).run_main(seq(|cx| {
        let (pid, mref) = cx.spawn(seq(|_| Reason::Normal), MONITOR);
        let _ = down_of(cx, mref);
        cx.trap_exit(true);
        cx.link(pid);
        match recv(cx, PATIENCE) {
            Some(Msg::Exit(from, Reason::NoProc)) if from == pid => Reason::Normal,
            other => Reason::Custom(other.is_some() as u64),
        }
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn spawn_monitor_is_atomic_with_instant_exit() {
    let reason = runtime(2).run_main(seq(|cx| {
        for _ in 0..100 {
            let (_, mref) = cx.spawn(seq(|_| Reason::Custom(3)), MONITOR);
            if down_of(cx, mref) != Some(Reason::Custom(3)) {
                return Reason::Custom(1);
            }
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn kill_takes_effect_before_queued_messages_are_delivered() {
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let reason = runtime(1).run_main(seq(move |cx| {
        let (busy, mref) = cx.spawn(
            seq(move |cx| {
                // Spin, yielding, and report any message it ever sees.
                loop {
                    while cx.charge(1) {}
                    if let Some(Msg::Int(n)) = cx.receive() {
                        tx.send(n).ok();
                    }
                    if cx.exiting() {
                        return Reason::Custom(1);
                    }
                    cx.yield_now();
                }
            }),
            MONITOR,
        );
        // One worker: both land in the busy actor's inbox before it runs again.
        cx.send(busy, Msg::Int(1));
        cx.exit_signal(busy, Reason::Kill);
        down_of(cx, mref).unwrap_or(Reason::Custom(2))
    }));
    assert_eq!(reason, Reason::Killed);
    assert!(
        rx.try_recv().is_err(),
        "a message queued before the kill was delivered"
    );
}

#[test]
fn trapped_exit_keeps_order_with_messages_from_same_sender() {
    let reason = runtime(2).run_main(seq(|cx| {
        cx.trap_exit(true);
        let me = cx.self_pid();
        let (child, _) = cx.spawn(
            seq(move |cx| {
                for i in 0..50 {
                    cx.send(me, Msg::Int(i));
                }
                Reason::Custom(5)
            }),
            LINK,
        );
        for i in 0..50 {
            if recv(cx, PATIENCE) != Some(Msg::Int(i)) {
                return Reason::Custom(1);
            }
        }
        match recv(cx, PATIENCE) {
            Some(Msg::Exit(from, Reason::Custom(5))) if from == child => Reason::Normal,
            _ => Reason::Custom(2),
        }
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn panic_in_actor_becomes_its_exit_reason() {
    let reason = runtime(2).run_main(seq(|cx| {
        let (_, mref) = cx.spawn(seq(|_| panic!("boom")), MONITOR);
        down_of(cx, mref).unwrap_or(Reason::Custom(1))
    }));
    assert_eq!(reason, Reason::Panic("boom".into()));
}

#[test]
fn alive_info_and_make_ref() {
    let reason = runtime(2).run_main(seq(|cx| {
        let (pid, mref) = cx.spawn(seq(exits_on_command), MONITOR);
        let me = cx.self_pid();
        let mine = cx.info(me).map(|i| i.status);
        if !cx.alive(pid)
            || cx.info(pid).is_none()
            || !cx.alive(me)
            || mine != Some(ActorStatus::Running)
        {
            return Reason::Custom(1);
        }
        cx.send(pid, Msg::Int(2));
        if down_of(cx, mref) != Some(Reason::Custom(2)) || cx.alive(pid) || cx.info(pid).is_some() {
            return Reason::Custom(2);
        }
        let (a, b) = (cx.make_ref(), cx.make_ref());
        if a == b {
            return Reason::Custom(3);
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn info_reports_mailbox_and_waiting_status() {
    let reason = runtime(2).run_main(seq(|cx| {
        let (pid, _) = cx.spawn(
            seq(|cx| {
                let _ = recv_where(cx, PATIENCE, |m| *m == Msg::Int(0));
                Reason::Normal
            }),
            SpawnOpts::default(),
        );
        for i in 1..=3 {
            cx.send(pid, Msg::Int(i));
        }
        let _ = recv_where(cx, Some(Duration::from_millis(30)), |_| false);
        let info = cx.info(pid);
        cx.send(pid, Msg::Int(0));
        match info {
            Some(i) if i.mailbox_len == 3 && i.status == ActorStatus::Waiting => Reason::Normal,
            other => {
                eprintln!("{other:?}");
                Reason::Custom(1)
            }
        }
    }));
    assert_eq!(reason, Reason::Normal);
}
