//! Valk as a rules engine and actor pool inside a Rust program.
//!
//! ```sh
//! cargo run -p valk --example rules
//! ```
//!
//! The pricing rules are Valk source (`rules.valk`, beside this file). The
//! host loads them, registers a Rust function the rules call (`tax-rate`),
//! has Valk code spawn a pool of pricing workers that answer a host
//! mailbox, sends them orders as [`Term`]s, collects the replies, shows an
//! error coming back from Valk as a located [`valk::Error`], and prints a
//! deterministic summary (its exact text is `rules.expected`, checked by
//! `embed/tests/example_rules.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use valk::{Error, Mailbox, Runtime, Term};

/// The rules, compiled into the example.
const RULES: &str = include_str!("rules.valk");
const WORKERS: i64 = 4;
const ORDERS: i64 = 40;
/// No reply within this long is a failure (replies take microseconds).
const PATIENCE: Duration = Duration::from_secs(10);

const TIERS: [&str; 3] = ["gold", "silver", "basic"];
const REGIONS: [&str; 4] = ["eu", "us", "ch", "jp"];
const CATALOG: [(&str, i64); 4] = [
    ("widget", 250),
    ("gadget", 1299),
    ("gizmo", 4999),
    ("sprocket", 75),
];

fn main() {
    match run() {
        Ok(summary) => print!("{summary}"),
        Err(e) => {
            eprintln!("rules: {e}");
            std::process::exit(1);
        }
    }
}

/// The tax rate of a region in basis points: the Rust function the rules
/// call as `(tax-rate region)`. An `Err` becomes a Valk error.
fn tax_rate(args: &[Term]) -> Result<Term, String> {
    match args {
        [Term::Keyword(region)] => match region.as_str() {
            "eu" => Ok(Term::Int(2000)),
            "us" => Ok(Term::Int(725)),
            "ch" => Ok(Term::Int(810)),
            "jp" => Ok(Term::Int(1000)),
            other => Err(format!("no tax rate for region :{other}")),
        },
        _ => Err("tax-rate: expected one region keyword".to_owned()),
    }
}

/// Order `n` as the rules see it: `{id tier region {{sku qty unit} ...}}`.
/// Made up deterministically; order 17 ships to a region with no tax rate
/// and order 29 is malformed (no lines), so the rules reject both.
fn order(n: i64) -> Term {
    let mut seed = (n as u64).wrapping_mul(6_364_136_223_846_793_005) ^ 0x9e37_79b9;
    let mut next = |m: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    let id = Term::Int(1000 + n);
    let tier = Term::keyword(TIERS[next(3) as usize]);
    let region = match n {
        17 => Term::keyword("mars"),
        _ => Term::keyword(REGIONS[next(4) as usize]),
    };
    if n == 29 {
        return Term::list(vec![id, tier, region]);
    }
    let lines = (0..1 + next(3))
        .map(|_| {
            let (sku, unit) = CATALOG[next(4) as usize];
            let qty = 1 + next(14) as i64;
            Term::list(vec![sku.into(), qty.into(), unit.into()])
        })
        .collect();
    Term::list(vec![id, tier, region, Term::List(lines)])
}

/// The whole example: returns the summary it prints.
fn run() -> Result<String, Error> {
    let mut out = String::new();
    let rt = Runtime::builder().schedulers(2).build()?;

    // A Rust function the rules call; it counts its calls (any worker
    // thread may run it, hence the atomic).
    let tax_calls = Arc::new(AtomicUsize::new(0));
    let calls = tax_calls.clone();
    rt.register_fn("tax-rate", move |args: &[Term]| {
        calls.fetch_add(1, Ordering::Relaxed);
        tax_rate(args)
    });

    // Load the rules, then try them once directly from Rust.
    rt.eval(RULES)?;
    let sample = order(1);
    writeln!(out, "order:  {sample}").unwrap();
    writeln!(out, "priced: {}", rt.call("price", &[sample])?).unwrap();

    // Valk code spawns the pool; each worker answers the host mailbox.
    let mb = rt.mailbox();
    // (`Term` has a `Drop`, so a match cannot move a list out of it:
    // `TryFrom` can.)
    let pids = rt.call("start-pool", &[mb.pid(), Term::Int(WORKERS)])?;
    let pool =
        Vec::<Term>::try_from(pids).map_err(|e| Error::BadArgument(format!("start-pool: {e}")))?;

    // Orders go round-robin to the workers; replies come back in any order.
    for n in 0..ORDERS {
        let worker = &pool[n as usize % pool.len()];
        rt.send(worker, Term::list(vec![Term::keyword("price"), order(n)]))?;
    }
    let mut priced = BTreeMap::new();
    let mut rejected = BTreeMap::new();
    for _ in 0..ORDERS {
        let reply = next(&mb)?;
        match reply_parts(&reply) {
            Some(("priced", [Term::List(p)])) => match p.as_slice() {
                [Term::Int(id), Term::Int(sub), Term::Int(disc), Term::Int(tax), Term::Int(total)] =>
                {
                    priced.insert(*id, [*sub, *disc, *tax, *total]);
                }
                _ => return Err(unexpected("{id subtotal discount tax total}", &reply)),
            },
            Some(("rejected", [Term::Int(id), Term::Str(why)])) => {
                rejected.insert(*id, why.clone());
            }
            _ => return Err(unexpected("{:priced ...} or {:rejected ...}", &reply)),
        }
    }

    // Stop the pool; each worker reports how many orders it priced. The
    // first report is read with `mb.recv().await` on a hand-made executor.
    for worker in &pool {
        rt.send(worker, Term::list(vec![Term::keyword("stop")]))?;
    }
    let mut stopped = BTreeMap::new();
    for i in 0..pool.len() {
        let reply = if i == 0 {
            block_on(mb.recv()).ok_or(Error::Stopped)?
        } else {
            next(&mb)?
        };
        match reply_parts(&reply) {
            Some(("stopped", [Term::Int(index), Term::Int(n)])) => {
                stopped.insert(*index, *n);
            }
            _ => return Err(unexpected("{:stopped index n}", &reply)),
        }
    }

    writeln!(out).unwrap();
    writeln!(
        out,
        "{:>5} {:>9} {:>8} {:>8} {:>9}",
        "order", "subtotal", "discount", "tax", "total"
    )
    .unwrap();
    for (id, [sub, disc, tax, total]) in &priced {
        writeln!(
            out,
            "{id:>5} {:>9} {:>8} {:>8} {:>9}",
            cents(*sub),
            cents(*disc),
            cents(*tax),
            cents(*total)
        )
        .unwrap();
    }
    let sum = |i: usize| priced.values().map(|p| p[i]).sum::<i64>();
    writeln!(
        out,
        "{:>5} {:>9} {:>8} {:>8} {:>9}",
        "all",
        cents(sum(0)),
        cents(sum(1)),
        cents(sum(2)),
        cents(sum(3))
    )
    .unwrap();
    writeln!(out).unwrap();
    for (id, why) in &rejected {
        writeln!(out, "rejected {id}: {why}").unwrap();
    }
    for (index, n) in &stopped {
        writeln!(out, "worker {index} handled {n} orders").unwrap();
    }
    writeln!(
        out,
        "{} priced, {} rejected, tax-rate called {} times",
        priced.len(),
        rejected.len(),
        tax_calls.load(Ordering::Relaxed)
    )
    .unwrap();

    // An error raised in Valk comes back to Rust as `Error::Valk`, with the
    // bare message and the message with its location. The location names
    // `<eval>` (`Runtime::eval` takes no source name); its line and column
    // are those in rules.valk, which was evaluated as one piece.
    writeln!(out).unwrap();
    match rt.eval("(price (list 1 :gold :eu {{\"widget\" 2}}))") {
        Err(Error::Valk { message, located }) => {
            writeln!(out, "error message: {message}").unwrap();
            writeln!(out, "error located: {located}").unwrap();
        }
        other => {
            return Err(Error::BadArgument(format!(
                "expected an error, got {other:?}"
            )))
        }
    }
    match rt.call("price", &[order(17)]) {
        Err(e) => writeln!(out, "call error:    {e}").unwrap(),
        Ok(t) => return Err(unexpected("an error", &t)),
    }

    rt.shutdown();
    Ok(out)
}

/// The next reply in the mailbox (an error if none comes in time).
fn next(mb: &Mailbox) -> Result<Term, Error> {
    mb.recv_timeout(PATIENCE)
        .ok_or_else(|| Error::BadArgument(format!("no reply within {PATIENCE:?}")))
}

/// A reply `{:tag rest...}` as its tag and the rest.
fn reply_parts(t: &Term) -> Option<(&str, &[Term])> {
    match t {
        Term::List(items) => match items.split_first() {
            Some((Term::Keyword(tag), rest)) => Some((tag.as_str(), rest)),
            _ => None,
        },
        _ => None,
    }
}

fn unexpected(wanted: &str, got: &Term) -> Error {
    Error::BadArgument(format!("expected {wanted}, got {got}"))
}

/// Integer cents as `12.34`.
fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// Wakes the thread that is blocked in `block_on`.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread: no executor crate needed,
/// since `Mailbox::recv` only uses the context's waker.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            // A wake before the park leaves a token: park returns at once.
            Poll::Pending => std::thread::park(),
        }
    }
}
