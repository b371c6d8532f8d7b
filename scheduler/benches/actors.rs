//! Rust-level actor workloads (shared/BENCHMARKS.md): the runtime's upper
//! bound before any interpreter cost. Plain harness: each workload runs once
//! as warm-up and then 5 times; the median is printed.
//!
//! `cargo bench -p valk-scheduler --bench actors [-- FILTER]`
//! (`VALK_SCHEDULERS=1` to pin to one worker).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use valk_scheduler::{Config, Cx, ExitReason, MonitorRef, Pid, Runtime, SpawnOpts, Step, System};

#[derive(Clone, Debug, PartialEq)]
enum Reason {
    Normal,
    Kill,
    Killed,
    Other,
}

impl ExitReason for Reason {
    fn normal() -> Self {
        Reason::Normal
    }
    fn kill() -> Self {
        Reason::Kill
    }
    fn killed() -> Self {
        Reason::Killed
    }
    fn noproc() -> Self {
        Reason::Other
    }
    fn panicked(_: String) -> Self {
        Reason::Other
    }
    fn is_normal(&self) -> bool {
        *self == Reason::Normal
    }
    fn is_kill(&self) -> bool {
        *self == Reason::Kill
    }
}

struct Sys;

impl System for Sys {
    type Msg = u64;
    type Reason = Reason;
    fn exit_message(&self, _: Pid, _: &Reason) -> u64 {
        u64::MAX
    }
    fn down_message(&self, _: MonitorRef, _: Pid, _: &Reason) -> u64 {
        u64::MAX
    }
}

type C<'a> = Cx<'a, Sys>;
const PARK: Step<Reason> = Step::Park { timeout: None };

/// Runs `main` as the main actor; it reports its own elapsed time.
fn timed(main: impl FnOnce(&mut C<'_>, mpsc::Sender<Duration>) + Send + 'static) -> Duration {
    let (tx, rx) = mpsc::channel();
    let mut main = Some(main);
    let rt = Runtime::new(Sys, Config::default());
    rt.run_main(move |cx: &mut C<'_>| {
        if let Some(f) = main.take() {
            f(cx, tx.clone());
        }
        Step::Exit(Reason::Normal)
    });
    rx.recv().unwrap_or(Duration::MAX)
}

/// Pinned receive: the main actors below keep their loop on their stack.
fn recv(cx: &mut C<'_>) -> u64 {
    loop {
        if let Some(m) = cx.receive() {
            return m;
        }
        cx.wait(None);
    }
}

fn spawn(n: u64) -> Duration {
    timed(move |cx, tx| {
        let start = Instant::now();
        let me = cx.self_pid();
        for _ in 0..n {
            cx.spawn(
                move |cx: &mut C<'_>| {
                    cx.send(me, 1);
                    Step::Exit(Reason::Normal)
                },
                SpawnOpts::default(),
            );
        }
        let mut got = 0;
        while got < n {
            got += recv(cx);
        }
        tx.send(start.elapsed()).ok();
    })
}

struct Skynet {
    parent: Pid,
    num: u64,
    size: u64,
    pending: u64,
    sum: u64,
}

impl valk_scheduler::Actor<Sys> for Skynet {
    fn run(&mut self, cx: &mut C<'_>) -> Step<Reason> {
        if self.size == 1 {
            cx.send(self.parent, self.num);
            return Step::Exit(Reason::Normal);
        }
        if self.pending == 0 {
            let me = cx.self_pid();
            let child = self.size / 10;
            for i in 0..10 {
                let actor = Skynet {
                    parent: me,
                    num: self.num + i * child,
                    size: child,
                    pending: 0,
                    sum: 0,
                };
                cx.spawn(actor, SpawnOpts::default());
            }
            self.pending = 10;
        }
        while let Some(n) = cx.receive() {
            self.sum += n;
            self.pending -= 1;
            if self.pending == 0 {
                cx.send(self.parent, self.sum);
                return Step::Exit(Reason::Normal);
            }
        }
        PARK
    }
}

fn skynet(leaves: u64) -> Duration {
    timed(move |cx, tx| {
        let start = Instant::now();
        let me = cx.self_pid();
        let root = Skynet {
            parent: me,
            num: 0,
            size: leaves,
            pending: 0,
            sum: 0,
        };
        cx.spawn(root, SpawnOpts::default());
        let sum = recv(cx);
        assert_eq!(sum, leaves * (leaves - 1) / 2);
        tx.send(start.elapsed()).ok();
    })
}

fn ring(nodes: u64, rounds: u64) -> Duration {
    timed(move |cx, tx| {
        let me = cx.self_pid();
        // Each node first learns its successor, then forwards a countdown.
        let mut pids = Vec::with_capacity(nodes as usize);
        for _ in 0..nodes {
            let mut next: Option<Pid> = None;
            let (pid, _) = cx.spawn(
                move |cx: &mut C<'_>| {
                    while let Some(m) = cx.receive() {
                        match next {
                            None => next = Some(Pid::from_u64(m)),
                            Some(to) if m == 0 => {
                                cx.send(me, 0);
                                let _ = to;
                                return Step::Exit(Reason::Normal);
                            }
                            Some(to) => cx.send(to, m - 1),
                        }
                    }
                    PARK
                },
                SpawnOpts::default(),
            );
            pids.push(pid);
        }
        for (i, pid) in pids.iter().enumerate() {
            cx.send(*pid, pids[(i + 1) % pids.len()].to_u64());
        }
        let start = Instant::now();
        cx.send(pids[0], nodes * rounds);
        recv(cx);
        tx.send(start.elapsed()).ok();
    })
}

fn pingpong(round_trips: u64) -> Duration {
    timed(move |cx, tx| {
        let me = cx.self_pid();
        let (pong, _) = cx.spawn(
            move |cx: &mut C<'_>| {
                while let Some(m) = cx.receive() {
                    cx.send(me, m);
                    if m == 0 {
                        return Step::Exit(Reason::Normal);
                    }
                }
                PARK
            },
            SpawnOpts::default(),
        );
        let start = Instant::now();
        for i in (0..round_trips).rev() {
            cx.send(pong, i);
            recv(cx);
        }
        tx.send(start.elapsed()).ok();
    })
}

fn fan_in(senders: u64, each: u64) -> Duration {
    timed(move |cx, tx| {
        let start = Instant::now();
        let me = cx.self_pid();
        for _ in 0..senders {
            let mut sent = 0;
            cx.spawn(
                move |cx: &mut C<'_>| {
                    while sent < each {
                        cx.send(me, 1);
                        sent += 1;
                        if !cx.charge(1) {
                            return Step::Yield;
                        }
                    }
                    Step::Exit(Reason::Normal)
                },
                SpawnOpts::default(),
            );
        }
        let mut got = 0;
        while got < senders * each {
            got += recv(cx);
        }
        tx.send(start.elapsed()).ok();
    })
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Bytes of resident memory per actor parked in receive.
fn idle_memory(n: u64) -> usize {
    let (tx, rx) = mpsc::channel();
    let rt = Runtime::new(Sys, Config::default());
    rt.run_main(move |cx: &mut C<'_>| {
        // Warm up allocator, table and stack pool first.
        let before = rss_bytes();
        let mut pids = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (pid, _) = cx.spawn(
                |cx: &mut C<'_>| match cx.receive() {
                    Some(_) => Step::Exit(Reason::Normal),
                    None => PARK,
                },
                SpawnOpts::default(),
            );
            pids.push(pid);
        }
        // Let every child run once and park (a timed pinned wait).
        while cx.wait(Some(Duration::from_millis(300))) != valk_scheduler::WaitResult::TimedOut {}
        cx.receive_done();
        let after = rss_bytes();
        tx.send((after.saturating_sub(before)) / n as usize).ok();
        Step::Exit(Reason::Normal)
    });
    rx.recv().unwrap_or(0)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn bench(name: &str, filter: &Option<String>, per: u64, unit: &str, f: impl Fn() -> Duration) {
    if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
        return;
    }
    f();
    let runs: Vec<Duration> = (0..5).map(|_| f()).collect();
    let m = median(runs.clone());
    let per_op = m.as_nanos() as f64 / per as f64;
    let all: Vec<String> = runs
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
        .collect();
    println!(
        "{name:<28} median {:>9.2} ms  {per_op:>8.1} ns/{unit}  runs(ms) [{}]",
        m.as_secs_f64() * 1e3,
        all.join(", ")
    );
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    println!("schedulers: {}", Config::default().schedulers);
    // First, while the allocator holds no freed memory from other workloads.
    if filter.as_ref().is_none_or(|f| "idle".contains(f.as_str())) {
        let mut xs: Vec<usize> = (0..3).map(|_| idle_memory(100_000)).collect();
        xs.sort();
        println!(
            "idle 100,000 parked          {} B/actor (RSS delta / 100,000; runs {xs:?})",
            xs[1]
        );
    }
    bench("spawn 1M", &filter, 1_000_000, "actor", || spawn(1_000_000));
    bench("skynet 1M", &filter, 1, "run", || skynet(1_000_000));
    bench("ring 10,000 x 100", &filter, 1_000_000, "hop", || {
        ring(10_000, 100)
    });
    bench("pingpong 1M", &filter, 1_000_000, "round trip", || {
        pingpong(1_000_000)
    });
    bench("fan-in 1,000 x 1,000", &filter, 1_000_000, "msg", || {
        fan_in(1_000, 1_000)
    });
}
