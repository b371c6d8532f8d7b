//! Ctrl-C (SIGINT): `valk run` stops with status 130; the REPL interrupts
//! the evaluation in progress, shows `Error: interrupted` and goes on.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn sigint(pid: u32) {
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -INT failed");
}

#[test]
fn valk_run_stops_with_130_on_sigint() {
    let dir = std::env::temp_dir().join(format!("valk-sigint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("spin.valk");
    std::fs::write(
        &file,
        "(print :go)\n(fun {spin n} {spin (+ n 1)})\n(spin 0)\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_valk"))
        .arg("run")
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // `:go` is printed after the handler is in place (it is set up first).
    let mut go = [0u8; 4];
    child.stdout.take().unwrap().read_exact(&mut go).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    sigint(child.id());
    let status = child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.code(), Some(130));
}

#[test]
fn the_repl_interrupts_the_running_evaluation_and_goes_on() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_valk"))
        .arg("repl")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin
        .write_all(b"(print :go)\n(fun {spin n} {spin (+ n 1)})\n(spin 0)\n")
        .unwrap();
    stdin.flush().unwrap();
    // Once `:go` is out, the REPL is past its start and on to the spin.
    let mut go = [0u8; 4];
    stdout.read_exact(&mut go).unwrap();
    assert_eq!(&go, b":go\n");
    std::thread::sleep(Duration::from_millis(300));
    sigint(child.id());
    std::thread::sleep(Duration::from_millis(200));
    stdin.write_all(b"(+ 40 2)\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(out, "Error: interrupted\n42\n");
    assert_eq!(status.code(), Some(0));
}
