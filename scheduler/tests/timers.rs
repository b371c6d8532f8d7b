//! Timeouts, sleep, send-after, cancel-timer.
#![cfg(not(valk_loom))]

mod common;

use std::time::{Duration, Instant};

use common::*;
use valk_scheduler::{SpawnOpts, Step};

#[test]
fn receive_after_fires_when_nothing_matches() {
    let rt = runtime(2);
    let started = Instant::now();
    // State-machine receive (the interpreter's way): park with a timeout,
    // check `timed_out` on the next run.
    let reason = rt.run_main(|cx: &mut C<'_>| {
        if cx.receive().is_some() {
            return Step::Exit(Reason::Custom(1));
        }
        if cx.timed_out() {
            cx.receive_done();
            return Step::Exit(Reason::Normal);
        }
        Step::Park {
            timeout: Some(Duration::from_millis(50)),
        }
    });
    assert_eq!(reason, Reason::Normal);
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[test]
fn receive_after_zero_polls() {
    let rt = runtime(1);
    let mut runs = 0;
    let reason = rt.run_main(move |cx: &mut C<'_>| {
        runs += 1;
        if cx.timed_out() {
            cx.receive_done();
            return Step::Exit(Reason::Custom(runs));
        }
        Step::Park {
            timeout: Some(Duration::ZERO),
        }
    });
    assert_eq!(reason, Reason::Custom(2), "times out on the very next run");
}

#[test]
fn receive_deadline_is_not_restarted_by_non_matching_messages() {
    let rt = runtime(2);
    let started = Instant::now();
    let reason = rt.run_main(seq(|cx| {
        let me = cx.self_pid();
        let (noise, _) = cx.spawn(
            seq(move |cx| loop {
                cx.send(me, Msg::Int(0));
                if recv(cx, Some(Duration::from_millis(10))).is_some() {
                    return Reason::Normal;
                }
            }),
            SpawnOpts::default(),
        );
        let got = recv_where(cx, Some(Duration::from_millis(150)), |m| *m == Msg::Int(1));
        cx.send(noise, Msg::Int(9));
        if got.is_some() {
            Reason::Custom(1)
        } else {
            Reason::Normal
        }
    }));
    assert_eq!(reason, Reason::Normal);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(
        waited < Duration::from_secs(3),
        "deadline kept moving: {waited:?}"
    );
}

#[test]
fn sleep_parks_for_the_duration() {
    let rt = runtime(1);
    let started = Instant::now();
    // sleep = a receive with no clause and an :after.
    let reason = rt.run_main(seq(|cx| {
        let _ = recv_where(cx, Some(Duration::from_millis(40)), |_| false);
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
    assert!(started.elapsed() >= Duration::from_millis(40));
}

#[test]
fn send_after_delivers_and_cancel_timer_prevents_delivery() {
    let rt = runtime(2);
    let reason = rt.run_main(seq(|cx| {
        let me = cx.self_pid();
        let cancelled = cx.send_after(Duration::from_millis(20), me, Msg::Int(1));
        let _kept = cx.send_after(Duration::from_millis(40), me, Msg::Int(2));
        if !cx.cancel_timer(cancelled) || cx.cancel_timer(cancelled) {
            return Reason::Custom(1);
        }
        if recv(cx, PATIENCE) != Some(Msg::Int(2)) {
            return Reason::Custom(2);
        }
        if recv(cx, Some(Duration::from_millis(60))).is_some() {
            return Reason::Custom(3);
        }
        let fired = cx.send_after(Duration::from_millis(1), me, Msg::Int(3));
        if recv(cx, PATIENCE) != Some(Msg::Int(3)) || cx.cancel_timer(fired) {
            return Reason::Custom(4);
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}
