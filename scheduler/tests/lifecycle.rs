//! Runtime lifecycle, scale, fairness, coroutine stacks and migration.
#![cfg(not(valk_loom))]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::*;
use valk_scheduler::{Config, Runtime, SpawnOpts, Step};

#[test]
fn run_main_returns_when_main_ends_while_others_are_blocked() {
    let drops = DropCounter::default();
    let rt = runtime(2);
    let counter = drops.clone();
    let reason = rt.run_main(seq(move |cx| {
        for i in 0..200 {
            let token = counter.token();
            if i % 2 == 0 {
                // Pinned: blocked inside `wait` with frames on its stack.
                cx.spawn(
                    seq(move |cx| {
                        let _held = token;
                        let _ = recv(cx, None);
                        Reason::Normal
                    }),
                    SpawnOpts::default(),
                );
            } else {
                // Parked state machine: no stack while waiting.
                cx.spawn(
                    move |cx: &mut C<'_>| {
                        let _ = &token;
                        match cx.receive() {
                            Some(_) => Step::Exit(Reason::Normal),
                            None => Step::Park { timeout: None },
                        }
                    },
                    SpawnOpts::default(),
                );
            }
        }
        Reason::Custom(42)
    }));
    assert_eq!(reason, Reason::Custom(42));
    // Every blocked actor was dropped (pinned ones unwound) at shutdown.
    assert_eq!(drops.count(), 200);
}

#[test]
fn hundred_thousand_actors_spawn_and_finish() {
    const N: u64 = 100_000;
    let rt = runtime(2);
    let reason = rt.run_main(seq(|cx| {
        let me = cx.self_pid();
        for i in 0..N {
            cx.spawn(
                move |cx: &mut C<'_>| {
                    cx.send(me, Msg::Int(i));
                    Step::Exit(Reason::Normal)
                },
                SpawnOpts::default(),
            );
        }
        let mut sum = 0;
        for _ in 0..N {
            match recv(cx, PATIENCE) {
                Some(Msg::Int(i)) => sum += i,
                _ => return Reason::Custom(1),
            }
        }
        Reason::Custom(sum)
    }));
    assert_eq!(reason, Reason::Custom(N * (N - 1) / 2));
}

fn parked_actors(n: u64) {
    let rt = runtime(2);
    let reason = rt.run_main(seq(move |cx| {
        let me = cx.self_pid();
        let mut pids = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (pid, _) = cx.spawn(
                move |cx: &mut C<'_>| match cx.receive() {
                    Some(Msg::Int(k)) => {
                        cx.send(me, Msg::Int(k));
                        Step::Exit(Reason::Normal)
                    }
                    _ => Step::Park { timeout: None },
                },
                SpawnOpts::default(),
            );
            pids.push(pid);
        }
        // All alive at once, parked without stacks; then wake every one.
        for pid in &pids {
            if !cx.alive(*pid) {
                return Reason::Custom(1);
            }
        }
        for pid in pids {
            cx.send(pid, Msg::Int(1));
        }
        let mut total = 0;
        while total < n {
            match recv(cx, PATIENCE) {
                Some(Msg::Int(k)) => total += k,
                _ => return Reason::Custom(2),
            }
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn hundred_thousand_parked_actors_alive_at_once() {
    parked_actors(100_000);
}

#[test]
#[ignore = "slow in debug: run with `cargo test -p valk-scheduler --release -- --ignored`"]
fn million_parked_actors_alive_at_once() {
    parked_actors(1_000_000);
}

/// More pinned coroutines than corosensei's default stacks allow under the
/// default `vm.max_map_count` (about 32,700: two mappings each).
fn pinned_actors(n: usize) {
    let rt = Runtime::new(
        TestSys,
        Config {
            schedulers: 2,
            stack_size: 32 * 1024,
            ..Config::default()
        },
    );
    let (tx, rx) = mpsc::channel();
    let reason = rt.run_main(seq(move |cx| {
        let me = cx.self_pid();
        let mut pids = Vec::with_capacity(n);
        for _ in 0..n {
            let (pid, _) = cx.spawn(
                seq(move |cx| {
                    let marker = [7u8; 64];
                    let got = recv(cx, None);
                    cx.send(me, Msg::Int(u64::from(std::hint::black_box(marker)[63])));
                    if got.is_some() {
                        Reason::Normal
                    } else {
                        Reason::Custom(1)
                    }
                }),
                SpawnOpts::default(),
            );
            pids.push(pid);
        }
        // Wait until all of them are suspended in `wait`, holding stacks.
        let _ = recv_where(cx, Some(Duration::from_millis(300)), |_| false);
        let mappings = std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count());
        tx.send(mappings).ok();
        for pid in pids {
            cx.send(pid, Msg::Int(0));
        }
        for _ in 0..n {
            if recv(cx, PATIENCE) != Some(Msg::Int(7)) {
                return Reason::Custom(2);
            }
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
    let mappings = rx.recv().unwrap_or(usize::MAX);
    assert!(
        mappings < 5_000,
        "{n} suspended coroutines took {mappings} mappings"
    );
}

#[test]
fn forty_thousand_pinned_coroutines_fit_in_few_mappings() {
    pinned_actors(40_000);
}

#[test]
#[ignore = "uses ~2 GB: run with `cargo test -p valk-scheduler --release -- --ignored`"]
fn two_hundred_thousand_pinned_coroutines() {
    pinned_actors(200_000);
}

#[test]
fn three_spinners_do_not_starve_a_ping_pong_pair() {
    for schedulers in [1, 2] {
        let stop = Arc::new(AtomicBool::new(false));
        let slices = Arc::new(AtomicU64::new(0));
        let rt = runtime(schedulers);
        let (stop2, slices2) = (stop.clone(), slices.clone());
        let started = Instant::now();
        let reason = rt.run_main(seq(move |cx| {
            for _ in 0..3 {
                let (stop, slices) = (stop2.clone(), slices2.clone());
                cx.spawn(
                    move |cx: &mut C<'_>| {
                        // A tight loop charged one reduction per iteration.
                        while cx.charge(1) {
                            std::hint::spin_loop();
                        }
                        slices.fetch_add(1, Ordering::Relaxed);
                        if stop.load(Ordering::Relaxed) {
                            Step::Exit(Reason::Normal)
                        } else {
                            Step::Yield
                        }
                    },
                    SpawnOpts::default(),
                );
            }
            let me = cx.self_pid();
            let (pong, _) = cx.spawn(
                move |cx: &mut C<'_>| match cx.receive() {
                    Some(Msg::Int(0)) => Step::Exit(Reason::Normal),
                    Some(Msg::Int(n)) => {
                        cx.send(me, Msg::Int(n));
                        Step::Park { timeout: None }
                    }
                    _ => Step::Park { timeout: None },
                },
                SpawnOpts::default(),
            );
            for i in 1..=1_000 {
                cx.send(pong, Msg::Int(i));
                if recv(cx, PATIENCE) != Some(Msg::Int(i)) {
                    return Reason::Custom(i);
                }
            }
            cx.send(pong, Msg::Int(0));
            stop2.store(true, Ordering::Relaxed);
            Reason::Normal
        }));
        assert_eq!(reason, Reason::Normal, "schedulers = {schedulers}");
        // Liveness bound, not a benchmark: starvation would take forever.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert!(slices.load(Ordering::Relaxed) > 0, "spinners ran too");
    }
}

#[test]
fn pinned_coroutines_migrate_between_threads_with_their_frames() {
    let rt = runtime(2);
    let (tx, rx) = mpsc::channel();
    let reason = rt.run_main(seq(move |cx| {
        let me = cx.self_pid();
        for k in 0..8u64 {
            let tx = tx.clone();
            cx.spawn(
                seq(move |cx| {
                    // Locals on the coroutine stack must survive every hop.
                    let mut local = [k; 32];
                    let mut threads = std::collections::HashSet::new();
                    // Until it has run on two threads (bounded: the other
                    // worker may get no CPU time on a loaded machine).
                    let mut rounds = 0u64;
                    while rounds < 200_000 && threads.len() < 2 {
                        threads.insert(std::thread::current().id());
                        local[(rounds % 32) as usize] += 1;
                        rounds += 1;
                        cx.yield_now();
                    }
                    let sum: u64 = local.iter().sum();
                    tx.send((threads.len(), sum == 32 * k + rounds)).ok();
                    cx.send(me, Msg::Int(k));
                    Reason::Normal
                }),
                SpawnOpts::default(),
            );
        }
        for _ in 0..8 {
            if recv(cx, PATIENCE).is_none() {
                return Reason::Custom(1);
            }
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
    let results: Vec<(usize, bool)> = rx.try_iter().collect();
    assert_eq!(results.len(), 8);
    assert!(
        results.iter().all(|&(_, intact)| intact),
        "frames corrupted"
    );
    assert!(
        results.iter().any(|&(threads, _)| threads > 1),
        "no coroutine ever resumed on another thread: {results:?}"
    );
}

#[test]
fn deep_recursion_is_stopped_by_the_stack_check() {
    fn dive(cx: &mut C<'_>, depth: u64) -> u64 {
        let pad = std::hint::black_box([depth; 16]);
        if cx.stack_remaining() < 4096 {
            return pad[0];
        }
        dive(cx, depth + 1) + pad[1] - depth
    }
    let reason = runtime(1).run_main(seq(|cx| {
        let start = cx.stack_remaining();
        let depth = dive(cx, 1);
        // The actor sees the overflow coming and exits with an error reason.
        if start > 64 * 1024 && depth > 100 {
            Reason::Custom(depth.min(1))
        } else {
            Reason::Custom(0)
        }
    }));
    assert_eq!(reason, Reason::Custom(1));
}

#[test]
fn generations_keep_pids_unique_across_slot_reuse() {
    let rt = runtime(1);
    let reason = rt.run_main(seq(|cx| {
        let mut seen = std::collections::HashSet::new();
        let mut reused = false;
        for _ in 0..2_000 {
            let (pid, mref) = cx.spawn(
                seq(|_| Reason::Normal),
                SpawnOpts {
                    link: false,
                    monitor: true,
                },
            );
            let _ = recv_where(
                cx,
                PATIENCE,
                |m| matches!(m, Msg::Down(r, ..) if Some(*r) == mref),
            );
            if !seen.insert(pid) {
                return Reason::Custom(1);
            }
            reused |= seen.iter().any(|p| p.index() == pid.index() && *p != pid);
        }
        if reused {
            Reason::Normal
        } else {
            Reason::Custom(2)
        }
    }));
    assert_eq!(reason, Reason::Normal);
}
