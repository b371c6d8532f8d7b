//! Reduction budgets: a fresh budget every slice (pinned coroutines resumed
//! after `yield_now` / `wait` included) and the total in `info`.
#![cfg(not(valk_loom))]

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use valk_scheduler::{ActorStatus, Config, Runtime, Step};

const BUDGET: u32 = 100;

fn small_budget_runtime(schedulers: usize) -> Runtime<TestSys> {
    Runtime::new(
        TestSys,
        Config {
            schedulers,
            reductions: BUDGET,
            ..Config::default()
        },
    )
}

#[test]
fn every_slice_starts_with_a_full_budget_pinned_or_not() {
    let rt = small_budget_runtime(2);
    let reason = rt.run_main(seq(|cx| {
        let me = cx.self_pid();
        let mut seen = Vec::new();
        seen.push(cx.reductions_left());
        assert!(cx.charge(60));
        assert_eq!(cx.reductions_left(), 40);
        // Resumed pinned coroutine after a yield: a fresh slice.
        cx.yield_now();
        seen.push(cx.reductions_left());
        assert!(!cx.charge(BUDGET), "the whole budget spent");
        assert_eq!(cx.reductions_left(), 0);
        // ... and after a wait.
        cx.spawn(
            seq(move |cx| {
                cx.send(me, Msg::Int(1));
                Reason::Normal
            }),
            Default::default(),
        );
        let got = recv(cx, PATIENCE);
        assert_eq!(got, Some(Msg::Int(1)));
        seen.push(cx.reductions_left());
        let total = cx.info(me).map_or(0, |i| i.reductions);
        assert_eq!(total, 60 + u64::from(BUDGET), "info counts every charge");
        Reason::Custom(seen.iter().map(|&b| u64::from(b)).sum())
    }));
    assert_eq!(reason, Reason::Custom(3 * u64::from(BUDGET)));
}

#[test]
fn state_machine_actor_gets_a_fresh_budget_each_run() {
    let rt = small_budget_runtime(1);
    let mut runs = 0;
    let reason = rt.run_main(move |cx: &mut C<'_>| {
        runs += 1;
        if cx.reductions_left() != BUDGET {
            return Step::Exit(Reason::Custom(1000 + runs));
        }
        while cx.charge(30) {}
        if runs == 5 {
            return Step::Exit(Reason::Custom(runs));
        }
        Step::Yield
    });
    assert_eq!(reason, Reason::Custom(5));
}

#[test]
fn info_reports_growing_total_reductions() {
    const RUNS: u64 = 400;
    let rt = small_budget_runtime(2);
    let (tx, rx) = mpsc::channel();
    let mut runs = 0;
    // Spends its whole budget in four charges per slice, RUNS slices, then parks.
    let spinner = rt.spawn(move |cx: &mut C<'_>| {
        if runs == RUNS {
            tx.send(()).ok();
            return match cx.receive() {
                Some(_) => Step::Exit(Reason::Normal),
                None => Step::Park { timeout: None },
            };
        }
        runs += 1;
        while cx.charge(25) {}
        std::thread::sleep(Duration::from_micros(50));
        Step::Yield
    });
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = rt.info(spinner).expect("spinner alive");
        samples.push(info.reductions);
        if rx.try_recv().is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "spinner never finished");
        std::thread::sleep(Duration::from_micros(500));
    }
    assert!(
        samples.windows(2).all(|w| w[0] <= w[1]),
        "reductions never go down"
    );
    let distinct = samples.windows(2).filter(|w| w[0] < w[1]).count();
    assert!(distinct >= 2, "seen growing while it ran: {samples:?}");
    // Once parked, the figure is the exact total charged.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = rt.info(spinner).expect("spinner alive");
        if info.status == ActorStatus::Waiting {
            assert_eq!(info.reductions, RUNS * u64::from(BUDGET));
            break;
        }
        assert!(Instant::now() < deadline, "spinner never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    rt.shutdown();
}
