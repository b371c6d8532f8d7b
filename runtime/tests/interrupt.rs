//! `Session::interrupt` (the REPL's Ctrl-C): the job in progress ends with
//! the error `interrupted`, whether it spins or waits in a `receive`, and
//! the session goes on with the next job.

use std::sync::Arc;
use std::time::Duration;

use valk_runtime::{Handle, Options};

fn interrupted_after(session: &Arc<valk_runtime::Session>, code: &str) -> String {
    let s = session.clone();
    let interrupter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        s.interrupt();
    });
    let out = session.run_to_text(code, "interrupt.valk");
    interrupter.join().unwrap();
    out
}

#[test]
fn an_interrupt_stops_the_running_job_and_the_session_goes_on() {
    let handle = Handle::start(Options {
        schedulers: 1,
        ..Options::default()
    })
    .expect("runtime starts");
    let session = Arc::new(handle.main_session());
    assert_eq!(
        interrupted_after(&session, "(do (fun {spin n} {spin (+ n 1)}) (spin 0))"),
        "error: error: interrupted"
    );
    assert_eq!(
        interrupted_after(&session, "(receive {:never-sent 1})"),
        "error: error: interrupted"
    );
    // The session and its globals are intact; a stale interrupt (none is
    // pending now) does not touch the next job.
    assert_eq!(session.run_to_text("(+ 1 2)", "interrupt.valk"), "3");
    session.interrupt();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(session.run_to_text("(+ 2 2)", "interrupt.valk"), "4");
}
