//! `valk run` declares a deadlock only when nothing can wake any actor: an
//! actor parked on a blocking call (here `write-file` to a FIFO nobody
//! reads yet, so `open` blocks on the pool) is pending I/O, not a deadlock.

use std::io::Read as _;
use std::process::Command;
use std::time::Duration;

#[test]
fn a_write_blocked_on_the_pool_is_not_a_deadlock() {
    let dir = std::env::temp_dir().join(format!("valk-pending-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let program = dir.join("writer.valk");
    std::fs::write(
        &program,
        format!(
            "(write-file {:?} \"through the pool\")\n(print \"written\")\n",
            fifo.to_str().unwrap()
        ),
    )
    .unwrap();
    // The reader comes well after the deadlock check's settle time.
    let f = fifo.clone();
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let mut text = String::new();
        std::fs::File::open(&f)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    });
    let out = Command::new(env!("CARGO_BIN_EXE_valk"))
        .arg("run")
        .arg(&program)
        .output()
        .unwrap();
    if out.status.code() != Some(0) && !reader.is_finished() {
        // valk gave up without writing: be the writer the reader waits for,
        // so the test fails instead of hanging.
        std::thread::sleep(Duration::from_millis(1600));
        if !reader.is_finished() {
            drop(std::fs::OpenOptions::new().write(true).open(&fifo));
        }
    }
    let read = reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "written\n");
    assert_eq!(read, "through the pool");
}
