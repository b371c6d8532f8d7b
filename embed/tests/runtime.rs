//! The Rust embedding API as a host program uses it.

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use valk::{Error, Runtime, Term};

fn rt() -> Runtime {
    Runtime::builder()
        .schedulers(2)
        .build()
        .expect("runtime starts")
}

#[test]
fn eval_returns_terms_and_errors_carry_locations() {
    let rt = rt();
    assert_eq!(rt.eval("+ 1 2").unwrap(), Term::Int(3));
    assert_eq!(
        rt.eval("{1 \"two\" :three}").unwrap(),
        Term::list(vec![
            Term::Int(1),
            Term::from("two"),
            Term::keyword("three")
        ])
    );
    let e = rt.eval("(+ 1 \"a\")").unwrap_err();
    assert!(matches!(e, Error::Valk { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "<eval>:1:1: error: `+`: argument 2: expected number, got string"
    );
    let e = rt.eval("(+ 1").unwrap_err();
    assert!(e.to_string().starts_with("<eval>:1:"), "{e}");
    assert_eq!(rt.eval("(exit 3)").unwrap_err(), Error::Exit(3));
    // The runtime goes on after errors and exits.
    assert_eq!(rt.eval("* 6 7").unwrap(), Term::Int(42));
}

#[test]
fn definitions_persist_and_call_runs_them() {
    let rt = rt();
    rt.eval("(fun {add3 a b c} {+ a b c})").unwrap();
    assert_eq!(
        rt.call("add3", &[Term::from(1), Term::from(2), Term::from(3)])
            .unwrap(),
        Term::Int(6)
    );
    let e = rt.call("no-such-fn", &[]).unwrap_err();
    assert!(e.to_string().contains("unbound symbol"), "{e}");
    // Big integers and floats cross both ways.
    rt.eval("(fun {twice x} {* x 2})").unwrap();
    assert_eq!(
        rt.call("twice", &[Term::from(1_i64 << 50)]).unwrap(),
        Term::Int(1_i64 << 51)
    );
    assert_eq!(
        rt.call("twice", &[Term::from(1.25)]).unwrap(),
        Term::Float(2.5)
    );
}

#[test]
fn rust_functions_are_builtins_with_errors_and_panics_contained() {
    let rt = rt();
    rt.register_fn("host/sum", |args: &[Term]| {
        let mut total = 0;
        for a in args {
            total += i64::try_from(a.clone()).map_err(|e| e.to_string())?;
        }
        Ok(Term::from(total))
    });
    rt.register_fn("host/boom", |_: &[Term]| -> Result<Term, String> {
        panic!("kaboom")
    });
    assert_eq!(rt.eval("(host/sum 1 2 3)").unwrap(), Term::Int(6));
    let e = rt.eval("(host/sum 1 \"x\")").unwrap_err();
    assert!(
        e.to_string().contains("expected integer, got string"),
        "{e}"
    );
    let e = rt.eval("(host/boom)").unwrap_err();
    assert!(e.to_string().contains("panicked: kaboom"), "{e}");
    // Inside a spawned actor too: the panic is that actor's error, and its
    // exit reason is plain data, {:error message where}.
    let got = rt
        .eval(
            "(do (spawn-monitor (\\ {} {host/boom})) \
                 (receive {{:DOWN r p {:error msg where}} msg}))",
        )
        .unwrap();
    assert!(
        matches!(&got, Term::Str(s) if s.contains("kaboom")),
        "{got}"
    );
    // Errors are values Valk code can catch.
    assert_eq!(
        rt.eval("(try {host/sum \"a\"} {\\ {e} {:caught}})")
            .unwrap(),
        Term::keyword("caught")
    );
}

#[test]
fn host_mailboxes_receive_from_actors() {
    let rt = rt();
    let mb = rt.mailbox();
    rt.eval("(fun {echo} {receive {{from x} (do (send from x) (echo))}})")
        .unwrap();
    let echo = rt.spawn("echo", &[]).unwrap();
    assert!(matches!(echo, Term::Pid(_)));
    for i in 0..100 {
        rt.send(&echo, Term::list(vec![mb.pid(), Term::from(i)]))
            .unwrap();
    }
    for i in 0..100 {
        assert_eq!(mb.recv_timeout(Duration::from_secs(5)), Some(Term::Int(i)));
    }
    assert_eq!(mb.recv_timeout(Duration::from_millis(20)), None);
    assert!(matches!(
        rt.send(&Term::from(1), Term::nil()),
        Err(Error::BadArgument(_))
    ));
    // A pid term passed into Valk code works there.
    rt.call("send", &[mb.pid(), Term::from("direct")]).unwrap();
    assert_eq!(
        mb.recv_timeout(Duration::from_secs(5)),
        Some(Term::from("direct"))
    );
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The smallest executor: poll, park until woken.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn mailbox_recv_is_a_future_woken_from_any_thread() {
    let rt = rt();
    let mb = rt.mailbox();
    let pid = mb.pid();
    let sender = {
        let rt = rt.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            rt.eval(&format!("(send {} :late)", "(whereis :nobody)"))
                .ok();
            rt.send(&pid, Term::keyword("late")).unwrap();
        })
    };
    assert_eq!(block_on(mb.recv()), Some(Term::keyword("late")));
    sender.join().unwrap();
    rt.shutdown();
    assert_eq!(block_on(mb.recv()), None, "a shut-down runtime ends recv");
}

#[test]
fn runtimes_are_send_sync_and_isolated() {
    let a = rt();
    let b = rt();
    a.eval("(def {who} :a)").unwrap();
    b.eval("(def {who} :b)").unwrap();
    assert_eq!(a.eval("who").unwrap(), Term::keyword("a"));
    assert_eq!(b.eval("who").unwrap(), Term::keyword("b"));
    a.register_fn("only-a", |_: &[Term]| Ok(Term::from(1)));
    assert!(
        b.eval("(only-a)").is_err(),
        "a host fn binds in its runtime only"
    );
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let a = a.clone();
            std::thread::spawn(move || a.eval(&format!("* {i} 10")).unwrap())
        })
        .collect();
    let mut got: Vec<Term> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    got.sort_by_key(|t| i64::try_from(t.clone()).unwrap());
    assert_eq!(got, (0..8).map(|i| Term::Int(i * 10)).collect::<Vec<_>>());
}

#[test]
fn shutdown_stops_everything_and_later_calls_fail_cleanly() {
    let rt = rt();
    rt.eval("(fun {forever} {receive {x (forever)}})").unwrap();
    for _ in 0..100 {
        rt.spawn("forever", &[]).unwrap();
    }
    rt.shutdown();
    assert_eq!(rt.eval("+ 1 1"), Err(Error::Stopped));
    assert_eq!(rt.call("forever", &[]), Err(Error::Stopped));
    assert_eq!(rt.spawn("forever", &[]), Err(Error::Stopped));
    // Dropping every handle after a shutdown is fine too.
    drop(rt);
}

#[test]
fn max_heap_ends_only_the_actor_that_goes_over() {
    let rt = Runtime::builder()
        .schedulers(1)
        .max_heap(4 << 20)
        .build()
        .unwrap();
    rt.eval("(fun {grow l} {grow (join l l)})").unwrap();
    let got = rt
        .eval(
            "(do (spawn-monitor (\\ {} {grow {1 2 3 4 5 6 7 8}})) \
                 (receive {{:DOWN r p reason} (fst reason)}))",
        )
        .unwrap();
    assert_eq!(got, Term::keyword("heap-limit"));
    assert_eq!(rt.eval("+ 1 1").unwrap(), Term::Int(2));
}

#[test]
fn deep_terms_cross_without_overflowing_the_stack() {
    let rt = rt();
    let mut t = Term::nil();
    for i in 0..100_000 {
        t = Term::list(vec![Term::from(i), t]);
    }
    rt.eval("(fun {ident x} {x})").unwrap();
    let back = rt.call("ident", &[t.clone()]).unwrap();
    assert_eq!(back, t);
}

#[test]
fn dropping_the_last_handle_stops_the_runtime() {
    let rt = rt();
    let mb = rt.mailbox();
    rt.eval("(fun {tick p} {do (send p :tick) (receive {:never 0} {:after 5 (tick p)})})")
        .unwrap();
    rt.spawn("tick", &[mb.pid()]).unwrap();
    assert_eq!(
        mb.recv_timeout(Duration::from_secs(5)),
        Some(Term::keyword("tick"))
    );
    let clone = rt.clone();
    drop(rt);
    assert!(
        mb.recv_timeout(Duration::from_secs(5)).is_some(),
        "a clone keeps it running"
    );
    drop(clone);
    // Stopped: the ticker is gone, the mailbox is closed (after what was
    // already queued).
    let start = std::time::Instant::now();
    while mb.recv_timeout(Duration::from_secs(5)).is_some() {
        assert!(start.elapsed() < Duration::from_secs(5), "still ticking");
    }
}

#[test]
fn a_killed_eval_actor_is_an_error_and_the_next_eval_works() {
    let rt = rt();
    // A crash of a linked actor kills the actor evaluating the code.
    let e = rt
        .eval("(do (spawn-link (\\ {} {error \"boom\"})) (receive {x x}))")
        .unwrap_err();
    assert_eq!(e, Error::Killed);
    assert_eq!(rt.eval("+ 1 1").unwrap(), Term::Int(2));
    // Bogus pids are dropped messages, not crashes.
    rt.send(&Term::Pid(u64::MAX), Term::from(1)).unwrap();
    rt.send(&Term::Pid(12345), Term::from(1)).unwrap();
    assert_eq!(rt.eval("+ 2 2").unwrap(), Term::Int(4));
}
