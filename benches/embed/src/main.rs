//! Embedding costs: Valk (the `valk` crate) next to mlua (Lua 5.4) and rhai,
//! measured in one run.
//!
//! ```sh
//! cargo run --release --manifest-path benches/embed/Cargo.toml
//! ```
//!
//! Rows:
//! - Rust -> script: ns per call of a script function `add1` from Rust.
//! - script -> Rust: ns per loop iteration of a script loop that calls a
//!   registered Rust function `hadd1` (and, for reference, the same loop
//!   doing the `+ 1` itself, so the call's own cost is the difference).
//! - host <-> actor: round trips per second between a host thread and a
//!   Valk echo actor answering a host mailbox, one at a time and pipelined
//!   (send 100,000, then receive 100,000); a std::sync::mpsc echo thread is
//!   the reference.
//!
//! Each figure is the median of `REPS` timed repetitions after one
//! warm-up; every repetition's size is calibrated first to take about
//! `TARGET` (so fast and slow engines are timed over similar spans).
//! Arguments: `--reps N` (default 5), `--quick` (shorter repetitions).

use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use valk::{Mailbox, Runtime, Term};

const PIPELINE: i64 = 100_000;
const PATIENCE: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error>;

/// A timed workload: runs `n` operations, returns the elapsed time.
type Work<'a> = Box<dyn FnMut(u64) -> Result<Duration, BoxError> + 'a>;

struct Config {
    reps: usize,
    target: Duration,
}

/// Medians and spread of one measurement, in ns per operation.
#[derive(Clone, Copy)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

impl Stat {
    fn of(mut xs: Vec<f64>) -> Stat {
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        Stat {
            median,
            min: xs[0],
            max: xs[n - 1],
        }
    }

    /// Spread around the median, as `±p%` of it (half the range).
    fn spread(&self) -> String {
        format!("±{:.0}%", 50.0 * (self.max - self.min) / self.median)
    }
}

/// Calibrates `work` to about `cfg.target` per repetition, warms up once,
/// then times `cfg.reps` repetitions.
fn measure(cfg: &Config, mut work: Work<'_>) -> Result<Stat, BoxError> {
    let mut n = 64u64;
    loop {
        let t = work(n)?;
        if t >= cfg.target / 4 || n >= 1 << 30 {
            let per = t.as_secs_f64() / n as f64;
            n = ((cfg.target.as_secs_f64() / per) as u64).max(1);
            break;
        }
        n *= 4;
    }
    work(n)?;
    let xs = (0..cfg.reps)
        .map(|_| work(n).map(|t| t.as_nanos() as f64 / n as f64))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Stat::of(xs))
}

/// Times a fixed-size workload (no calibration).
fn measure_fixed(cfg: &Config, n: u64, mut work: Work<'_>) -> Result<Stat, BoxError> {
    work(n)?;
    let xs = (0..cfg.reps)
        .map(|_| work(n).map(|t| t.as_nanos() as f64 / n as f64))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Stat::of(xs))
}

// ---------------------------------------------------------------------------
// Valk

const VALK_SRC: &str = r#"
(fun {add1 x} {+ x 1})
(fun {call-host n acc} {if (== n 0) {acc} {call-host (- n 1) (hadd1 acc)}})
(fun {count-only n acc} {if (== n 0) {acc} {count-only (- n 1) (+ acc 1)}})
;; The self-call is the last form of a `do` (a tail call); as the last of
;; several forms of a receive clause it is not, and the actor dies of
;; `:stack-overflow` after ~250,000 messages.
(fun {echo} {receive {{from x} (do (send from x) (echo))} {:stop :done}})
"#;

fn valk_setup() -> Result<Runtime, BoxError> {
    let rt = Runtime::new()?;
    rt.register_fn("hadd1", |args: &[Term]| match args {
        [Term::Int(x)] => Ok(Term::Int(x + 1)),
        _ => Err("hadd1: expected one integer".to_owned()),
    });
    rt.eval(VALK_SRC)?;
    Ok(rt)
}

fn valk_int(t: Term) -> Result<i64, BoxError> {
    Ok(i64::try_from(t)?)
}

fn valk_rust_to_script(rt: &Runtime) -> Work<'_> {
    Box::new(move |n| {
        let start = Instant::now();
        let mut acc = 0i64;
        for i in 0..n as i64 {
            acc = acc.wrapping_add(valk_int(rt.call("add1", &[Term::Int(i)])?)?);
        }
        let t = start.elapsed();
        black_box(acc);
        Ok(t)
    })
}

fn valk_loop<'a>(rt: &'a Runtime, name: &'static str) -> Work<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        let got = valk_int(rt.call(name, &[Term::Int(n as i64), Term::Int(0)])?)?;
        let t = start.elapsed();
        if got != n as i64 {
            return Err(format!("{name} returned {got}, expected {n}").into());
        }
        Ok(t)
    })
}

fn recv(mb: &Mailbox) -> Result<Term, BoxError> {
    mb.recv_timeout(PATIENCE)
        .ok_or_else(|| "no reply from the echo actor".into())
}

fn valk_round_trip<'a>(rt: &'a Runtime, mb: &'a Mailbox, echo: &'a Term) -> Work<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        for i in 0..n as i64 {
            rt.send(echo, Term::list(vec![mb.pid(), Term::Int(i)]))?;
            let back = recv(mb)?;
            if back != Term::Int(i) {
                return Err(format!("echo sent back {back}, expected {i}").into());
            }
        }
        Ok(start.elapsed())
    })
}

fn valk_pipelined<'a>(rt: &'a Runtime, mb: &'a Mailbox, echo: &'a Term) -> Work<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        for i in 0..n as i64 {
            rt.send(echo, Term::list(vec![mb.pid(), Term::Int(i)]))?;
        }
        for i in 0..n as i64 {
            let back = recv(mb)?;
            if back != Term::Int(i) {
                return Err(format!("echo sent back {back}, expected {i}").into());
            }
        }
        Ok(start.elapsed())
    })
}

// ---------------------------------------------------------------------------
// mlua (Lua 5.4)

const LUA_SRC: &str = r#"
function add1(x) return x + 1 end
function call_host(n) local acc = 0 for i = 1, n do acc = hadd1(acc) end return acc end
function count_only(n) local acc = 0 for i = 1, n do acc = acc + 1 end return acc end
"#;

fn lua_setup() -> Result<mlua::Lua, BoxError> {
    let lua = mlua::Lua::new();
    let hadd1 = lua.create_function(|_, x: i64| Ok(x + 1))?;
    lua.globals().set("hadd1", hadd1)?;
    lua.load(LUA_SRC).exec()?;
    Ok(lua)
}

fn lua_rust_to_script(lua: &mlua::Lua) -> Result<Work<'_>, BoxError> {
    let f: mlua::Function = lua.globals().get("add1")?;
    Ok(Box::new(move |n| {
        let start = Instant::now();
        let mut acc = 0i64;
        for i in 0..n as i64 {
            acc = acc.wrapping_add(f.call::<i64>(i)?);
        }
        let t = start.elapsed();
        black_box(acc);
        Ok(t)
    }))
}

fn lua_loop<'a>(lua: &'a mlua::Lua, name: &'static str) -> Result<Work<'a>, BoxError> {
    let f: mlua::Function = lua.globals().get(name)?;
    Ok(Box::new(move |n| {
        let start = Instant::now();
        let got = f.call::<i64>(n as i64)?;
        let t = start.elapsed();
        if got != n as i64 {
            return Err(format!("{name} returned {got}, expected {n}").into());
        }
        Ok(t)
    }))
}

// ---------------------------------------------------------------------------
// rhai

const RHAI_SRC: &str = r#"
fn add1(x) { x + 1 }
fn call_host(n) { let acc = 0; for i in 0..n { acc = hadd1(acc); } acc }
fn count_only(n) { let acc = 0; for i in 0..n { acc = acc + 1; } acc }
"#;

fn rhai_setup() -> Result<(rhai::Engine, rhai::AST), BoxError> {
    let mut engine = rhai::Engine::new();
    engine.register_fn("hadd1", |x: i64| x + 1);
    let ast = engine.compile(RHAI_SRC)?;
    Ok((engine, ast))
}

fn rhai_rust_to_script<'a>(engine: &'a rhai::Engine, ast: &'a rhai::AST) -> Work<'a> {
    Box::new(move |n| {
        let mut scope = rhai::Scope::new();
        let start = Instant::now();
        let mut acc = 0i64;
        for i in 0..n as i64 {
            acc = acc.wrapping_add(engine.call_fn::<i64>(&mut scope, ast, "add1", (i,))?);
        }
        let t = start.elapsed();
        black_box(acc);
        Ok(t)
    })
}

fn rhai_loop<'a>(engine: &'a rhai::Engine, ast: &'a rhai::AST, name: &'static str) -> Work<'a> {
    Box::new(move |n| {
        let mut scope = rhai::Scope::new();
        let start = Instant::now();
        let got = engine.call_fn::<i64>(&mut scope, ast, name, (n as i64,))?;
        let t = start.elapsed();
        if got != n as i64 {
            return Err(format!("{name} returned {got}, expected {n}").into());
        }
        Ok(t)
    })
}

// ---------------------------------------------------------------------------
// Reference for the message rows: a Rust thread echoing over std channels.

struct MpscEcho {
    to: Option<mpsc::Sender<i64>>,
    from: mpsc::Receiver<i64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MpscEcho {
    fn start() -> MpscEcho {
        let (to, rx) = mpsc::channel::<i64>();
        let (tx, from) = mpsc::channel::<i64>();
        let thread = std::thread::spawn(move || {
            for x in rx {
                if tx.send(x).is_err() {
                    break;
                }
            }
        });
        MpscEcho {
            to: Some(to),
            from,
            thread: Some(thread),
        }
    }

    fn send(&self, x: i64) -> Result<(), BoxError> {
        self.to.as_ref().ok_or("closed")?.send(x)?;
        Ok(())
    }

    fn recv(&self) -> Result<i64, BoxError> {
        Ok(self.from.recv_timeout(PATIENCE)?)
    }

    fn round_trip(&self) -> Work<'_> {
        Box::new(move |n| {
            let start = Instant::now();
            for i in 0..n as i64 {
                self.send(i)?;
                if self.recv()? != i {
                    return Err("mpsc echo out of order".into());
                }
            }
            Ok(start.elapsed())
        })
    }

    fn pipelined(&self) -> Work<'_> {
        Box::new(move |n| {
            let start = Instant::now();
            for i in 0..n as i64 {
                self.send(i)?;
            }
            for i in 0..n as i64 {
                if self.recv()? != i {
                    return Err("mpsc echo out of order".into());
                }
            }
            Ok(start.elapsed())
        })
    }
}

impl Drop for MpscEcho {
    fn drop(&mut self) {
        drop(self.to.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Report

fn ns(s: &Stat) -> String {
    format!("{:.1} {}", s.median, s.spread())
}

fn per_sec(s: &Stat) -> String {
    format!("{:.0} k/s {}", 1e6 / s.median, s.spread())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = Config {
        reps: 5,
        target: Duration::from_millis(200),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => cfg.target = Duration::from_millis(40),
            "--reps" => {
                cfg.reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&r: &usize| r > 0)
                    .ok_or("--reps takes a positive number")?
            }
            other => return Err(format!("unknown argument {other} (--reps N, --quick)").into()),
        }
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "embedding benchmark: {} timed repetitions of ~{} ms each, medians; ±: half the min-max range; {cores} cores",
        cfg.reps,
        cfg.target.as_millis()
    );
    println!("(Valk runs with its default schedulers: $VALK_SCHEDULERS, else one per core)\n");

    let rt = valk_setup()?;
    let lua = lua_setup()?;
    let (engine, ast) = rhai_setup()?;

    let call_rows: [(&str, [Stat; 3]); 3] = [
        (
            "Rust -> script call (ns/call)",
            [
                measure(&cfg, valk_rust_to_script(&rt))?,
                measure(&cfg, lua_rust_to_script(&lua)?)?,
                measure(&cfg, rhai_rust_to_script(&engine, &ast))?,
            ],
        ),
        (
            "script -> Rust call, in a loop (ns/iter)",
            [
                measure(&cfg, valk_loop(&rt, "call-host"))?,
                measure(&cfg, lua_loop(&lua, "call_host")?)?,
                measure(&cfg, rhai_loop(&engine, &ast, "call_host"))?,
            ],
        ),
        (
            "  the same loop, `+ 1` in script (ns/iter)",
            [
                measure(&cfg, valk_loop(&rt, "count-only"))?,
                measure(&cfg, lua_loop(&lua, "count_only")?)?,
                measure(&cfg, rhai_loop(&engine, &ast, "count_only"))?,
            ],
        ),
    ];

    println!(
        "| {:<44} | {:>14} | {:>14} | {:>14} | {:>9} | {:>9} |",
        "ns per operation (median ±spread)",
        "Valk",
        "mlua (Lua 5.4)",
        "rhai",
        "Valk/mlua",
        "Valk/rhai"
    );
    println!(
        "|{:-<46}|{:->16}|{:->16}|{:->16}|{:->11}|{:->11}|",
        "", "", "", "", "", ""
    );
    for (name, [v, l, r]) in &call_rows {
        println!(
            "| {:<44} | {:>14} | {:>14} | {:>14} | {:>8.2}x | {:>8.2}x |",
            name,
            ns(v),
            ns(l),
            ns(r),
            v.median / l.median,
            v.median / r.median
        );
    }
    let net = |i: usize| call_rows[1].1[i].median - call_rows[2].1[i].median;
    println!(
        "| {:<44} | {:>14.1} | {:>14.1} | {:>14.1} | {:>8.2}x | {:>8.2}x |",
        "  script -> Rust, loop subtracted (ns/call)",
        net(0),
        net(1),
        net(2),
        net(0) / net(1),
        net(0) / net(2)
    );

    // Host thread <-> Valk echo actor, through a host mailbox.
    let mb = rt.mailbox();
    let echo = rt.eval("(spawn echo)")?;
    let valk_rt = measure(&cfg, valk_round_trip(&rt, &mb, &echo))?;
    let valk_pipe = measure_fixed(&cfg, PIPELINE as u64, valk_pipelined(&rt, &mb, &echo))?;
    rt.send(&echo, Term::keyword("stop"))?;
    let mpsc = MpscEcho::start();
    let mpsc_rt = measure(&cfg, mpsc.round_trip())?;
    let mpsc_pipe = measure_fixed(&cfg, PIPELINE as u64, mpsc.pipelined())?;
    drop(mpsc);

    println!();
    println!(
        "| {:<44} | {:>16} | {:>16} | {:>11} |",
        "host thread <-> echo, round trips per second",
        "Valk actor",
        "std mpsc thread",
        "Valk/mpsc"
    );
    println!("|{:-<46}|{:->18}|{:->18}|{:->13}|", "", "", "", "");
    for (name, v, m) in [
        ("one at a time (send, wait for the reply)", valk_rt, mpsc_rt),
        (
            "pipelined (send 100,000, receive 100,000)",
            valk_pipe,
            mpsc_pipe,
        ),
    ] {
        println!(
            "| {:<44} | {:>16} | {:>16} | {:>10.2}x |",
            name,
            per_sec(&v),
            per_sec(&m),
            v.median / m.median
        );
        println!(
            "| {:<44} | {:>16} | {:>16} | {:>11} |",
            "  ns per round trip",
            format!("{:.0}", v.median),
            format!("{:.0}", m.median),
            ""
        );
    }
    rt.shutdown();
    Ok(())
}
