//! The step-by-step receive (`Cx::receive_next` / `receive_accept`) that the
//! language runtime uses: save position across wake-ups, accepting the last
//! offered message, in-place transformation, timeouts.
#![cfg(not(valk_loom))]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use valk_scheduler::{ActorStatus, Pid, Runtime, Step};

fn int(msg: &Msg) -> u64 {
    match msg {
        Msg::Int(n) => *n,
        other => panic!("unexpected message {other:?}"),
    }
}

/// Waits until `pid` is parked with `queued` messages, all of them scanned.
fn wait_parked_with(rt: &Runtime<TestSys>, pid: Pid, queued: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = rt.info(pid).expect("actor alive");
        if info.status == ActorStatus::Waiting && info.mailbox_len == queued {
            return;
        }
        assert!(Instant::now() < deadline, "actor never parked: {info:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn receive_next_offers_each_message_once_across_wake_ups() {
    let rt = runtime(2);
    let offered = Arc::new(Mutex::new(Vec::new()));
    let seen = offered.clone();
    let mut accepted = None;
    // Wants `Int(3)`; parks without pinned frames between wake-ups.
    let pid = rt.start_main(move |cx: &mut C<'_>| {
        if accepted.is_none() {
            while let Some(msg) = cx.receive_next() {
                let n = int(msg);
                seen.lock().unwrap().push(n);
                if n == 3 {
                    accepted = cx.receive_accept().map(|m| int(&m));
                    break;
                }
            }
            if accepted.is_none() {
                return Step::Park { timeout: None };
            }
        }
        // A new receive starts from the oldest message, in arrival order.
        let mut rest = Vec::new();
        while let Some(msg) = cx.receive_next() {
            rest.push(int(msg));
        }
        cx.receive_done();
        assert_eq!(
            rest,
            [1, 2, 4],
            "the accepted message is gone, the rest kept"
        );
        Step::Exit(Reason::Custom(
            accepted.unwrap_or(0) * 100 + cx.mailbox_len() as u64,
        ))
    });
    rt.send(pid, Msg::Int(1));
    rt.send(pid, Msg::Int(2));
    wait_parked_with(&rt, pid, 2);
    rt.send(pid, Msg::Int(4));
    wait_parked_with(&rt, pid, 3);
    rt.send(pid, Msg::Int(3));
    assert_eq!(rt.wait_main(), Reason::Custom(303));
    assert_eq!(*offered.lock().unwrap(), [1, 2, 4, 3], "each offered once");
}

#[test]
fn receive_next_transforms_in_place_and_for_each_message_sees_it() {
    let reason = runtime(1).run_main(seq(|cx| {
        let me = cx.self_pid();
        cx.send(me, Msg::Int(1));
        cx.send(me, Msg::Int(2));
        let mut offered = Vec::new();
        while let Some(msg) = cx.receive_next() {
            offered.push(int(msg));
            *msg = Msg::Int(int(msg) * 10);
        }
        cx.send(me, Msg::Int(3));
        // Only the newcomer: the receive has not ended.
        let msg = cx.receive_next().expect("new message offered");
        offered.push(int(msg));
        *msg = Msg::Int(30);
        assert!(cx.receive_next().is_none());
        assert_eq!(offered, [1, 2, 3]);
        let mut all = Vec::new();
        cx.for_each_message(&mut |m| all.push(int(m)));
        assert_eq!(all, [10, 20, 30]);
        // Abandon the receive; the transformed messages stay queued.
        cx.receive_done();
        assert_eq!(cx.receive_next().map(|m| int(m)), Some(10));
        assert_eq!(cx.receive_next().map(|m| int(m)), Some(20));
        assert_eq!(cx.receive_accept(), Some(Msg::Int(20)));
        let mut left = Vec::new();
        cx.for_each_message(&mut |m| left.push(int(m)));
        assert_eq!(left, [10, 30]);
        Reason::Custom(cx.mailbox_len() as u64)
    }));
    assert_eq!(reason, Reason::Custom(2));
}

#[test]
fn receive_next_deadline_is_fixed_by_the_first_park() {
    const AFTER: Duration = Duration::from_millis(300);
    let rt = runtime(2);
    let offered = Arc::new(Mutex::new(Vec::new()));
    let seen = offered.clone();
    let mut started = None;
    let mut runs = 0;
    let pid = rt.start_main(move |cx: &mut C<'_>| {
        runs += 1;
        let started = *started.get_or_insert_with(Instant::now);
        while let Some(msg) = cx.receive_next() {
            let n = int(msg);
            seen.lock().unwrap().push(n);
            if n == 99 {
                return Step::Exit(Reason::Custom(1));
            }
        }
        if cx.timed_out() {
            let waited = started.elapsed();
            cx.receive_done();
            assert!(!cx.timed_out(), "receive_done clears the timeout");
            // The next receive starts over from the oldest message.
            let first = cx.receive_next().map(|m| int(m));
            assert_eq!(first, Some(1));
            assert!(runs >= 4, "woken by each message: {runs} runs");
            return Step::Exit(Reason::Custom(waited.as_millis() as u64));
        }
        Step::Park {
            timeout: Some(AFTER),
        }
    });
    for n in 1..=3 {
        std::thread::sleep(Duration::from_millis(40));
        rt.send(pid, Msg::Int(n));
    }
    let Reason::Custom(waited) = rt.wait_main() else {
        panic!("main did not time out");
    };
    assert!(waited >= 300, "timed out early: {waited} ms");
    // Restarted by the last message it would be at least 420 ms.
    assert!(waited < 420, "deadline restarted by a wake-up: {waited} ms");
    assert_eq!(*offered.lock().unwrap(), [1, 2, 3]);
}

#[test]
fn receive_accept_cancels_the_after_timer() {
    let rt = runtime(2);
    let mut runs = 0;
    let mut got = 0;
    let pid = rt.start_main(move |cx: &mut C<'_>| {
        runs += 1;
        if cx.timed_out() {
            return Step::Exit(Reason::Custom(1000 + runs));
        }
        while cx.receive_next().is_some() {
            got += 1;
            assert!(cx.receive_accept().is_some());
            if got == 2 {
                return Step::Exit(Reason::Custom(runs));
            }
        }
        // The first receive has an `:after`, the second none.
        let timeout = (got == 0).then_some(Duration::from_millis(100));
        Step::Park { timeout }
    });
    wait_parked_with(&rt, pid, 0);
    rt.send(pid, Msg::Int(1));
    // Well past the first receive's deadline.
    std::thread::sleep(Duration::from_millis(300));
    rt.send(pid, Msg::Int(2));
    // Three runs: start, first message, second message; no timeout wake-up.
    assert_eq!(rt.wait_main(), Reason::Custom(3));
}

#[test]
fn receive_next_offers_nothing_to_an_exiting_actor() {
    let reason = runtime(1).run_main(seq(|cx| {
        let me = cx.self_pid();
        cx.send(me, Msg::Int(1));
        cx.exit_signal(me, Reason::Custom(7));
        assert!(cx.exiting());
        if cx.receive_next().is_some() {
            return Reason::Custom(1);
        }
        // Whatever it returns, it ends with the signal's reason.
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Custom(7));
}
