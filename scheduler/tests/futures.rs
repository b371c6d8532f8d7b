//! `Cx::await_future`: an actor waits on a Rust future without blocking its
//! worker thread; wake-ups from other threads, early or late, many or one,
//! are never lost.
#![cfg(not(valk_loom))]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::*;
use valk_scheduler::SpawnOpts;

/// A future completed from outside: `complete` sets the value and wakes
/// the waker stored by the last poll.
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<(Option<u64>, Option<Waker>)>>);

impl Slot {
    fn complete(&self, v: u64) {
        let waker = {
            let mut s = self.0.lock().unwrap();
            s.0 = Some(v);
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Future for Slot {
    type Output = u64;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let mut s = self.0.lock().unwrap();
        match s.0 {
            Some(v) => Poll::Ready(v),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[test]
fn an_awaiting_actor_does_not_stop_a_ping_pong_pair_on_one_scheduler() {
    let rt = runtime(1);
    let slot = Slot::default();
    let pingpong_done = Arc::new(AtomicBool::new(false));
    // Completes the future only after the ping-pong pair, which shares the
    // one worker with the waiter, has finished: if the waiter held the
    // thread, the pair could never finish and main would time out.
    let completer = {
        let (slot, done) = (slot.clone(), pingpong_done.clone());
        std::thread::spawn(move || {
            while !done.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            slot.complete(42);
        })
    };
    let (s, p) = (slot.clone(), pingpong_done.clone());
    let reason = rt.run_main(seq(move |cx| {
        let (waiter, _) = cx.spawn(
            seq(move |cx| Reason::Custom(cx.await_future(s))),
            SpawnOpts {
                monitor: true,
                ..SpawnOpts::default()
            },
        );
        let me = cx.self_pid();
        let (ponger, _) = cx.spawn(
            seq(move |cx| {
                for _ in 0..1_000 {
                    match recv(cx, PATIENCE) {
                        Some(Msg::From(from, n)) => cx.send(from, Msg::Int(n + 1)),
                        _ => return Reason::Custom(1),
                    }
                }
                Reason::Normal
            }),
            SpawnOpts::default(),
        );
        for i in 0..1_000 {
            cx.send(ponger, Msg::From(me, i));
            if recv(cx, PATIENCE) != Some(Msg::Int(i + 1)) {
                return Reason::Custom(2);
            }
        }
        p.store(true, SeqCst);
        match recv(cx, Some(Duration::from_secs(10))) {
            Some(Msg::Down(_, from, Reason::Custom(42))) if from == waiter => Reason::Normal,
            _ => Reason::Custom(3),
        }
    }));
    completer.join().unwrap();
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn wake_ups_from_many_threads_before_and_after_the_park_are_never_lost() {
    // Each round: a future that needs `WAKERS` completions, each from its
    // own thread, each waking (some before the first poll, some after the
    // park, some twice). The actor must see every round through.
    const ROUNDS: u64 = 200;
    const WAKERS: usize = 4;
    let rt = runtime(2);
    let reason = rt.run_main(seq(move |cx| {
        for round in 0..ROUNDS {
            let count = Arc::new(AtomicUsize::new(0));
            let waker_slot: Arc<Mutex<Option<Waker>>> = Arc::default();
            let threads: Vec<_> = (0..WAKERS)
                .map(|i| {
                    let (count, waker_slot) = (count.clone(), waker_slot.clone());
                    std::thread::spawn(move || {
                        if (round as usize + i) % 3 == 0 {
                            std::thread::yield_now();
                        }
                        count.fetch_add(1, SeqCst);
                        for _ in 0..=(i % 2) {
                            if let Some(w) = waker_slot.lock().unwrap().clone() {
                                w.wake();
                            }
                        }
                    })
                })
                .collect();
            let got = cx.await_future(std::future::poll_fn(|task| {
                *waker_slot.lock().unwrap() = Some(task.waker().clone());
                let n = count.load(SeqCst);
                if n == WAKERS {
                    Poll::Ready(n)
                } else {
                    Poll::Pending
                }
            }));
            for t in threads {
                t.join().unwrap();
            }
            if got != WAKERS {
                return Reason::Custom(round);
            }
        }
        Reason::Normal
    }));
    assert_eq!(reason, Reason::Normal);
}

#[test]
fn an_actor_killed_while_it_awaits_drops_its_future() {
    let rt = runtime(1);
    let drops = DropCounter::default();
    let token = drops.token();
    let reason = rt.run_main(seq(move |cx| {
        let (pid, _) = cx.spawn(
            seq(move |cx| {
                let _token = token;
                cx.await_future(std::future::pending::<()>());
                Reason::Custom(1)
            }),
            SpawnOpts {
                monitor: true,
                ..SpawnOpts::default()
            },
        );
        cx.yield_now();
        cx.exit_signal(pid, Reason::Kill);
        match recv(cx, PATIENCE) {
            Some(Msg::Down(_, from, Reason::Killed)) if from == pid => Reason::Normal,
            other => panic!("{other:?}"),
        }
    }));
    assert_eq!(reason, Reason::Normal);
    assert_eq!(drops.count(), 1, "the future's stack was not unwound");
}

#[test]
fn a_waker_outliving_its_runtime_does_nothing() {
    let rt = runtime(1);
    let kept: Arc<Mutex<Option<Waker>>> = Arc::default();
    let k = kept.clone();
    rt.run_main(seq(move |cx| {
        *k.lock().unwrap() = Some(cx.waker());
        Reason::Normal
    }));
    // `run_main` consumed the runtime: it is gone.
    let w = kept.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    w.wake();
}
