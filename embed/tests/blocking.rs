//! The blocking pool: a file builtin that blocks (here `write-file` to a
//! FIFO nobody reads yet, which blocks in `open`) parks its actor and runs
//! on the pool, so a one-scheduler runtime keeps running a ping-pong pair.

use std::io::Read;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn a_blocked_write_file_does_not_stop_a_ping_pong_pair_on_one_scheduler() {
    let dir = std::env::temp_dir().join(format!("valk-blocking-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let fifo_text = fifo.to_str().unwrap().to_owned();

    let rt = valk::Runtime::builder().schedulers(1).build().unwrap();
    rt.eval(&format!(
        r#"(def {{writer}} (spawn (\ {{}} {{write-file "{fifo_text}" "hello from a parked actor"}})))"#
    ))
    .unwrap();
    // The writer now sits in `open` until a reader comes. If it held the
    // only scheduler thread, this ping-pong could never finish.
    let pingpong = r#"
      (fun {ponger} {receive {{from k} (do (send from (+ k 1)) (ponger))} {:stop 0}})
      (def {p} (spawn ponger))
      (fun {ping k} {if (== k 1000) {k} {do (send p (list (self) k)) (receive {n (ping n)})}})
      (def {got} (ping 0))
      (send p :stop)
      got
    "#;
    let (tx, rx) = mpsc::channel();
    let rt2 = rt.clone();
    let runner = std::thread::spawn(move || {
        let _ = tx.send(rt2.eval(pingpong).map(|t| t.to_string()));
    });
    let result = rx.recv_timeout(Duration::from_secs(30));
    // Read the FIFO either way, so the writer (and a failing test) ends.
    let mut text = String::new();
    std::fs::File::open(&fifo)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    runner.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        result.expect("the ping-pong pair stalled behind a blocked write-file"),
        Ok("1000".to_owned())
    );
    assert_eq!(text, "hello from a parked actor");
}
