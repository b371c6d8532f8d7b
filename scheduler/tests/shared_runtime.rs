//! One runtime shared by many threads (`&self` methods, `Send + Sync`):
//! start/wait for the main actor, shutdown racing with spawns and sends,
//! shutdown from inside an actor, two runtimes at once, no main actor.
#![cfg(not(valk_loom))]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::{DropCounter, DropToken, Reason};
use valk_scheduler::{Config, Cx, MonitorRef, Pid, Runtime, SpawnOpts, Step, System, EXTERNAL_PID};

/// Messages that count their drops, so a lost or doubly dropped one shows.
enum M {
    Token(#[allow(dead_code)] DropToken),
    Ping(u64, mpsc::Sender<u64>),
    Forward(Pid, u64, mpsc::Sender<u64>),
    Stop,
}

struct DropSys;

impl System for DropSys {
    type Msg = M;
    type Reason = Reason;
    fn exit_message(&self, _: Pid, _: &Reason) -> M {
        M::Stop
    }
    fn down_message(&self, _: MonitorRef, _: Pid, _: &Reason) -> M {
        M::Stop
    }
}

type Rt = Runtime<DropSys>;

fn rt(schedulers: usize) -> Rt {
    Runtime::new(
        DropSys,
        Config {
            schedulers,
            ..Config::default()
        },
    )
}

/// Runs `f` on a thread and fails the test if it has not finished in time.
fn within(limit: Duration, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        f();
        tx.send(()).ok();
    });
    match rx.recv_timeout(limit) {
        Ok(()) => worker.join().expect("test body panicked"),
        Err(_) => {
            if worker.is_finished() {
                worker.join().expect("test body panicked");
            }
            panic!("hung for {limit:?}");
        }
    }
}

/// An actor holding `token` that answers pings, drops tokens sent to it and
/// exits on `Stop`.
fn echo(token: DropToken) -> impl FnMut(&mut Cx<'_, DropSys>) -> Step<Reason> + Send {
    move |cx| {
        let _held = &token;
        loop {
            match cx.receive() {
                Some(M::Ping(n, reply)) => {
                    reply.send(n).ok();
                }
                Some(M::Forward(..)) | Some(M::Token(_)) => {}
                Some(M::Stop) => return Step::Exit(Reason::Normal),
                None => return Step::Park { timeout: None },
            }
        }
    }
}

#[test]
fn runtime_is_send_and_sync() {
    // A static assertion: this only compiles if the bound holds.
    const _: fn() = || {
        fn shareable<T: Send + Sync>() {}
        shareable::<Rt>();
        shareable::<Runtime<common::TestSys>>();
    };
}

#[test]
fn start_main_and_wait_main_from_other_threads() {
    within(Duration::from_secs(30), || {
        let rt = Arc::new(rt(2));
        assert!(!rt.is_shut_down());
        assert_eq!(rt.config().schedulers, 2);
        let main = rt.start_main(|cx: &mut Cx<'_, DropSys>| match cx.receive() {
            Some(M::Ping(n, reply)) => {
                reply.send(n + 1).ok();
                Step::Exit(Reason::Custom(n))
            }
            _ => Step::Park { timeout: None },
        });
        assert!(rt.alive(main));
        assert_eq!(rt.wait_main_timeout(Duration::from_millis(20)), None);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let rt = rt.clone();
                std::thread::spawn(move || rt.wait_main())
            })
            .collect();
        let (tx, rx) = mpsc::channel();
        let sender = {
            let rt = rt.clone();
            std::thread::spawn(move || rt.send(main, M::Ping(41, tx)))
        };
        sender.join().unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).ok(), Some(42));
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), Reason::Custom(41));
        }
        // Again, without blocking; the runtime keeps running.
        assert_eq!(
            rt.wait_main_timeout(Duration::ZERO),
            Some(Reason::Custom(41))
        );
        assert!(!rt.is_shut_down());
        let (tx, rx) = mpsc::channel();
        let drops = DropCounter::default();
        let pid = rt.spawn(echo(drops.token()));
        rt.send(pid, M::Ping(7, tx.clone()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).ok(), Some(7));

        rt.shutdown();
        assert!(rt.is_shut_down());
        assert_eq!(drops.count(), 1, "the parked actor was dropped");
        rt.shutdown(); // idempotent
                       // After shutdown: nothing runs, nothing panics or hangs.
        let late = DropCounter::default();
        let dead = rt.spawn(echo(late.token()));
        assert_eq!(dead, EXTERNAL_PID);
        assert!(!rt.alive(dead));
        assert_eq!(late.count(), 1, "a refused actor is dropped at once");
        rt.send(pid, M::Token(late.token()));
        rt.send(dead, M::Token(late.token()));
        assert_eq!(late.count(), 3, "messages after shutdown are dropped");
        assert_eq!(rt.start_main(echo(late.token())), EXTERNAL_PID);
        assert_eq!(rt.wait_main(), Reason::Custom(41), "the real reason stays");
    });
}

#[test]
fn wait_main_returns_killed_when_the_runtime_shuts_down_first() {
    within(Duration::from_secs(30), || {
        let rt = Arc::new(rt(2));
        let drops = DropCounter::default();
        rt.start_main(echo(drops.token()));
        let waiter = {
            let rt = rt.clone();
            std::thread::spawn(move || rt.wait_main())
        };
        std::thread::sleep(Duration::from_millis(20));
        rt.shutdown();
        assert_eq!(waiter.join().unwrap(), Reason::Killed);
        assert_eq!(drops.count(), 1);
    });
}

#[test]
fn concurrent_spawns_and_sends_race_with_shutdown() {
    within(Duration::from_secs(60), || {
        for round in 0..4 {
            let drops = DropCounter::default();
            let made = Arc::new(AtomicUsize::new(0));
            let rt = Arc::new(rt(2));
            let stop = Arc::new(AtomicBool::new(false));
            let shut_down_seen = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let (rt, drops, made, stop, seen) = (
                        rt.clone(),
                        drops.clone(),
                        made.clone(),
                        stop.clone(),
                        shut_down_seen.clone(),
                    );
                    std::thread::spawn(move || {
                        let mut pids = Vec::new();
                        let mut i = 0u64;
                        let mut after = 0;
                        // Keeps going for a while after shutdown, too.
                        while !stop.load(Ordering::SeqCst) || after < 200 {
                            if rt.is_shut_down() {
                                after += 1;
                                seen.fetch_add(1, Ordering::Relaxed);
                            }
                            i += 1;
                            made.fetch_add(1, Ordering::SeqCst);
                            let pid = rt.spawn(echo(drops.token()));
                            pids.push(pid);
                            for &to in pids.iter().rev().take(3) {
                                made.fetch_add(1, Ordering::SeqCst);
                                rt.send(to, M::Token(drops.token()));
                            }
                            if i % 3 == t % 3 {
                                // Exits free slots for later spawns to reuse.
                                rt.send(pid, M::Stop);
                            }
                            if pids.len() > 64 {
                                pids.drain(..32);
                            }
                        }
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(30 + 10 * round));
            let stopper = {
                let rt = rt.clone();
                std::thread::spawn(move || rt.shutdown())
            };
            rt.shutdown(); // racing with the other shutdown, too
            stopper.join().unwrap();
            stop.store(true, Ordering::SeqCst);
            for thread in threads {
                thread.join().expect("a spawning thread panicked");
            }
            assert!(shut_down_seen.load(Ordering::Relaxed) > 0);
            drop(rt);
            // Every actor and every message was dropped exactly once.
            assert_eq!(drops.count(), made.load(Ordering::SeqCst));
        }
    });
}

#[test]
fn shutdown_from_inside_an_actor_does_not_deadlock() {
    within(Duration::from_secs(30), || {
        let rt = Arc::new(rt(2));
        let handle: Arc<Mutex<Option<Arc<Rt>>>> = Arc::new(Mutex::new(Some(rt.clone())));
        let drops = DropCounter::default();
        let token = drops.token();
        let own = handle.clone();
        rt.start_main(move |_: &mut Cx<'_, DropSys>| {
            let _held = &token;
            let rt = own.lock().unwrap().take().expect("runs once");
            rt.shutdown(); // on a worker: begins the shutdown, returns
            assert!(rt.is_shut_down());
            Step::Park { timeout: None }
        });
        // Finishes the shutdown the actor began; the main actor never ended.
        assert_eq!(rt.wait_main(), Reason::Killed);
        assert_eq!(drops.count(), 1);
    });
}

#[test]
fn last_handle_dropped_on_a_worker_still_drops_every_actor() {
    within(Duration::from_secs(30), || {
        let drops = DropCounter::default();
        let rt = Arc::new(rt(2));
        let parked = rt.spawn(echo(drops.token()));
        assert!(rt.alive(parked));
        let slot: Arc<Mutex<Option<Arc<Rt>>>> = Arc::new(Mutex::new(None));
        let own = slot.clone();
        let token = drops.token();
        let (tx, rx) = mpsc::channel::<()>();
        let pid = rt.spawn(move |cx: &mut Cx<'_, DropSys>| {
            let _held = &token;
            match cx.receive() {
                Some(M::Stop) => {
                    // The last handle goes here, on a worker thread.
                    drop(own.lock().unwrap().take());
                    tx.send(()).ok();
                    Step::Park { timeout: None }
                }
                _ => Step::Park { timeout: None },
            }
        });
        *slot.lock().unwrap() = Some(rt.clone());
        rt.send(pid, M::Stop);
        drop(rt);
        rx.recv_timeout(Duration::from_secs(10)).expect("actor ran");
        // The last worker to stop drops the actors (both parked ones).
        let deadline = Instant::now() + Duration::from_secs(10);
        while drops.count() < 2 {
            assert!(Instant::now() < deadline, "actors never dropped");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}

#[test]
fn two_runtimes_alive_in_one_process() {
    within(Duration::from_secs(30), || {
        let drops = DropCounter::default();
        let a = Arc::new(rt(1));
        let b = Arc::new(rt(2));
        let in_b = b.spawn(echo(drops.token()));
        // An actor of `a` forwards pings to `b` through a handle on `b`.
        let to_b = b.clone();
        let forwarder = a.spawn(move |cx: &mut Cx<'_, DropSys>| loop {
            match cx.receive() {
                Some(M::Forward(to, n, reply)) => to_b.send(to, M::Ping(n * 2, reply)),
                Some(_) => {}
                None => return Step::Park { timeout: None },
            }
        });
        let in_a = a.spawn(echo(drops.token()));
        let (tx, rx) = mpsc::channel();
        for n in 0..100 {
            a.send(forwarder, M::Forward(in_b, n, tx.clone()));
            a.send(in_a, M::Ping(n, tx.clone()));
            b.send(in_b, M::Ping(n, tx.clone()));
        }
        let mut sum = 0;
        for _ in 0..300 {
            sum += rx.recv_timeout(Duration::from_secs(10)).expect("reply");
        }
        assert_eq!(sum, 4 * (99 * 100 / 2));
        // Shutting one down leaves the other running.
        a.shutdown();
        b.send(in_b, M::Ping(5, tx.clone()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).ok(), Some(5));
        assert!(b.alive(in_b) && !a.alive(in_a));
        drop(b);
    });
}

#[test]
fn a_runtime_without_main_idles_until_spawned_from_outside() {
    within(Duration::from_secs(30), || {
        let rt = rt(2);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(rt.actor_count(), 0);
        let (tx, rx) = mpsc::channel();
        let _ = rt.spawn(move |_: &mut Cx<'_, DropSys>| {
            tx.send(()).ok();
            Step::Exit(Reason::Normal)
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("a parked worker woke for the spawn");
        let spawn_linked = SpawnOpts {
            link: true,
            ..SpawnOpts::default()
        };
        // And from an actor spawned from outside, as usual.
        let (tx, rx) = mpsc::channel();
        let _ = rt.spawn(move |cx: &mut Cx<'_, DropSys>| {
            let tx = tx.clone();
            cx.spawn(
                move |_: &mut Cx<'_, DropSys>| {
                    tx.send(()).ok();
                    Step::Exit(Reason::Normal)
                },
                spawn_linked,
            );
            Step::Exit(Reason::Normal)
        });
        rx.recv_timeout(Duration::from_secs(10)).expect("child ran");
    });
}
