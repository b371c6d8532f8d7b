//! A builtin awaits a Rust future through `BuiltinCx::await_future`: its
//! actor parks (the one scheduler keeps running a ping-pong pair) and the
//! future's waker, called from another thread, wakes it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use valk_heap::Value;
use valk_runtime::{Handle, Options};

/// Completed from outside with a number.
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<(Option<i64>, Option<Waker>)>>);

impl Future for Slot {
    type Output = i64;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<i64> {
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
fn a_builtin_awaiting_a_rust_future_parks_only_its_actor() {
    let handle = Handle::start(Options {
        schedulers: 1,
        ..Options::default()
    })
    .expect("runtime starts");
    let slot = Slot::default();
    let s = slot.clone();
    handle.register_fn(
        "test/wait-slot",
        0,
        0,
        "Waits for the test's slot.",
        Box::new(move |cx, _| {
            let n = cx.await_future(s.clone());
            Ok(Value::small_int(n).unwrap_or(Value::NIL))
        }),
    );
    let session = handle.main_session();
    // The waiter parks in the builtin; the ping-pong pair then shares the
    // only scheduler thread with it.
    let out = session.run_to_text(
        "(do
           (def {me} (self))
           (spawn (\\ {} {send me (list :slot (test/wait-slot))}))
           (fun {ponger} {receive {{from k} (do (send from (+ k 1)) (ponger))} {:stop 0}})
           (def {p} (spawn ponger))
           (fun {ping k} {if (== k 1000) {k} {do (send p (list (self) k)) (receive {n (ping n)})}})
           (= {got} (ping 0))
           (send p :stop)
           got)",
        "await.valk",
    );
    assert_eq!(out, "1000");
    // Complete the future from this (non-runtime) thread, once the
    // builtin has polled it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let waker = loop {
        let mut st = slot.0.lock().unwrap();
        if let Some(w) = st.1.take() {
            st.0 = Some(42);
            break w;
        }
        drop(st);
        assert!(
            std::time::Instant::now() < deadline,
            "the builtin never polled"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    waker.wake();
    let got = session.run_to_text(
        "(receive {{:slot n} n} {:after 5000 :timeout})",
        "await.valk",
    );
    assert_eq!(got, "42");
}
