//! Messages: ordering, selective receive, save position, dead pids, names.
#![cfg(not(valk_loom))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use common::*;
use valk_scheduler::{RegisterError, SpawnOpts, Step};

#[test]
fn send_preserves_order_per_sender_receiver_pair() {
    let rt = runtime(2);
    let reason = rt.run_main(seq(|cx| {
        let me = cx.self_pid();
        // Two senders interleave; each one's messages must arrive in order.
        for tag in 0..2u64 {
            cx.spawn(
                seq(move |cx| {
                    for i in 0..2_000 {
                        cx.send(me, Msg::Int(tag * 1_000_000 + i));
                    }
                    Reason::Normal
                }),
                SpawnOpts::default(),
            );
        }
        let mut next = [0u64; 2];
        for _ in 0..4_000 {
            let Some(Msg::Int(n)) = recv(cx, PATIENCE) else {
                return Reason::Custom(1);
            };
            let (tag, i) = ((n / 1_000_000) as usize, n % 1_000_000);
            if next[tag] != i {
                return Reason::Custom(2);
            }
            next[tag] += 1;
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn selective_receive_takes_oldest_match_and_keeps_the_rest_in_order() {
    let rt = runtime(2);
    let (tx, rx) = mpsc::channel();
    rt.run_main(seq(move |cx| {
        let me = cx.self_pid();
        for i in [1, 2, 3, 4, 5, 6] {
            cx.send(me, Msg::Int(i));
        }
        // Take the even ones first, oldest first.
        let mut got = Vec::new();
        for _ in 0..3 {
            if let Some(Msg::Int(n)) =
                recv_where(cx, PATIENCE, |m| matches!(m, Msg::Int(n) if n % 2 == 0))
            {
                got.push(n);
            }
        }
        // The odd ones stayed queued, in order.
        while let Some(Msg::Int(n)) = cx.receive() {
            got.push(n);
        }
        tx.send(got).ok();
        Reason::Normal
    }));
    assert_eq!(rx.recv().ok(), Some(vec![2, 4, 6, 1, 3, 5]));
}

#[test]
fn save_position_skips_already_rejected_messages_on_wake_up() {
    let rt = runtime(2);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let reason = rt.run_main(seq(move |cx| {
        let me = cx.self_pid();
        cx.spawn(
            seq(move |cx| {
                for i in 0..100 {
                    cx.send(me, Msg::Int(i));
                }
                // Let the receiver park between batches.
                let _ = recv(cx, Some(std::time::Duration::from_millis(20)));
                cx.send(me, Msg::Int(1_000));
                Reason::Normal
            }),
            SpawnOpts::default(),
        );
        let got = recv_where(cx, PATIENCE, |m| {
            seen.fetch_add(1, Ordering::SeqCst);
            *m == Msg::Int(1_000)
        });
        if got != Some(Msg::Int(1_000)) {
            return Reason::Custom(1);
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
    // Each of the 101 messages was offered exactly once, however many times
    // the receiver woke up.
    assert_eq!(calls.load(Ordering::SeqCst), 101);
}

#[test]
fn message_to_dead_pid_is_dropped_not_delivered_to_slot_reuser() {
    let rt = runtime(1);
    let (tx, rx) = mpsc::channel();
    let reason = rt.run_main(seq(move |cx| {
        let (old, mref) = cx.spawn(
            seq(|_| Reason::Normal),
            SpawnOpts {
                link: false,
                monitor: true,
            },
        );
        let Some(Msg::Down(..)) = recv_where(
            cx,
            PATIENCE,
            |m| matches!(m, Msg::Down(r, ..) if Some(*r) == mref),
        ) else {
            return Reason::Custom(1);
        };
        // The next spawn reuses the freed slot with a new generation.
        let me = cx.self_pid();
        let (new, _) = cx.spawn(
            seq(move |cx| {
                let got = recv(cx, Some(std::time::Duration::from_millis(100)));
                cx.send(me, Msg::Int(u64::from(got.is_some())));
                Reason::Normal
            }),
            SpawnOpts::default(),
        );
        tx.send((old, new)).ok();
        cx.send(old, Msg::Int(7));
        match recv(cx, PATIENCE) {
            Some(Msg::Int(0)) => Reason::Normal,
            _ => Reason::Custom(2),
        }
    }));
    assert_eq!(reason, Reason::Normal);
    let (old, new) = rx.recv().expect("pids");
    assert_eq!(old.index(), new.index(), "slot reused");
    assert_ne!(old.generation(), new.generation());
}

#[test]
fn registered_names_route_messages_and_are_freed_on_death() {
    const NAME: u64 = 77;
    let rt = runtime(2);
    let reason = rt.run_main(seq(|cx| {
        let me = cx.self_pid();
        let (server, mref) = cx.spawn(
            seq(move |cx| match recv(cx, PATIENCE) {
                Some(Msg::Int(n)) => {
                    cx.send(me, Msg::Int(n + 1));
                    Reason::Normal
                }
                _ => Reason::Custom(1),
            }),
            SpawnOpts {
                link: false,
                monitor: true,
            },
        );
        if cx.register(NAME, server).is_err() || cx.whereis(NAME) != Some(server) {
            return Reason::Custom(2);
        }
        if cx.register(NAME, me) != Err(RegisterError::NameTaken) {
            return Reason::Custom(3);
        }
        if cx.register(NAME + 1, server) != Err(RegisterError::AlreadyNamed) {
            return Reason::Custom(4);
        }
        if !cx.send_named(NAME, Msg::Int(41)) || recv(cx, PATIENCE) != Some(Msg::Int(42)) {
            return Reason::Custom(5);
        }
        let down = recv_where(
            cx,
            PATIENCE,
            |m| matches!(m, Msg::Down(r, ..) if Some(*r) == mref),
        );
        if down.is_none() || cx.whereis(NAME).is_some() || cx.send_named(NAME, Msg::Int(0)) {
            return Reason::Custom(6);
        }
        if cx.register(NAME, server) != Err(RegisterError::NotAlive) {
            return Reason::Custom(7);
        }
        if cx.register(NAME, me).is_err() || !cx.unregister(NAME) || cx.unregister(NAME) {
            return Reason::Custom(8);
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn send_from_outside_reaches_a_parked_actor() {
    let rt = runtime(2);
    let (tx, rx) = mpsc::channel();
    // A state-machine actor parked without pinned frames.
    let pid = rt.spawn(move |cx: &mut C<'_>| match cx.receive() {
        Some(Msg::Int(n)) => {
            tx.send(n).ok();
            Step::Exit(Reason::Normal)
        }
        _ => Step::Park { timeout: None },
    });
    rt.send(pid, Msg::Int(5));
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(5)).ok(),
        Some(5)
    );
    rt.shutdown();
}
