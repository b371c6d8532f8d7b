//! Nesting a million deep through the CLI's entry points (`valk run` of a
//! file, the REPL on piped stdin, `valk eval`, `print` to stdout): a clear
//! error with file:line:col or the right output, never a signal, and the
//! next form still runs. The inputs are generated here (a million-deep file
//! is 2 MB). The run-time entry points in spawned actors are the golden test
//! `tests/valk/deep_actors.valk`.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

const MILLION: usize = 1_000_000;

fn valk(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_valk"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run valk");
    let mut input = child.stdin.take().expect("stdin is piped");
    let text = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        // The REPL may stop reading early; a closed pipe is not our error.
        let _ = input.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().expect("valk ends");
    let _ = writer.join();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Ended by exit, not by a signal (a native overflow is SIGSEGV or SIGABRT).
fn assert_no_signal(out: &Output) {
    assert!(
        out.status.code().is_some(),
        "valk was killed: {:?}\nstderr: {}",
        out.status,
        text(&out.stderr)
    );
}

fn nested(open: &str, close: &str, n: usize) -> String {
    format!("{}{}", open.repeat(n), close.repeat(n))
}

#[test]
fn a_million_deep_file_is_a_read_error_with_its_position() {
    let dir = std::env::temp_dir().join(format!("valk-deep-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    for (name, open, close) in [("parens", "(", ")"), ("braces", "{", "}")] {
        let file = dir.join(format!("{name}.valk"));
        std::fs::write(&file, nested(open, close, MILLION)).expect("write the input");
        let path = file.to_string_lossy().into_owned();
        let out = valk(&["run", &path], "");
        assert_no_signal(&out);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!(
                "{path}:1:1001: error: nesting too deep: expected at most 1000 levels of nesting\n"
            )
        );
    }
    // Within the reader's limit, code deeper than the main actor's stack
    // allows is a compile error where it happens.
    let file = dir.join("plus.valk");
    let plus = format!("{}0{}", "(+ 1 ".repeat(999), ")".repeat(999));
    std::fs::write(&file, plus).expect("write the input");
    let path = file.to_string_lossy().into_owned();
    let out = valk(&["run", &path], "");
    assert_no_signal(&out);
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("{path}:1:")) && err.ends_with(": error: nesting too deep\n"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_repl_reports_a_million_deep_line_and_reads_the_next() {
    let input = format!(
        "{}\n{}\n{}0{}\n(print :next)\n",
        nested("(", ")", MILLION),
        nested("{", "}", MILLION),
        "(+ 1 ".repeat(999),
        ")".repeat(999)
    );
    let out = valk(&["repl"], &input);
    assert_no_signal(&out);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(
        all.matches("<repl>:1:1001: error: nesting too deep")
            .count(),
        2,
        "{all}"
    );
    assert!(all.contains("Error: nesting too deep"), "{all}");
    assert!(all.contains(":next"), "{all}");
}

#[test]
fn eval_of_deep_text_is_an_error_and_print_of_a_million_deep_list_works() {
    // An argument is at most 128 KiB: 30,000 levels.
    let deep = nested("(", ")", 30_000);
    let out = valk(&["eval", &deep], "");
    assert_no_signal(&out);
    assert!(
        text(&out.stderr).contains(":1:1001: error: nesting too deep"),
        "{}",
        text(&out.stderr)
    );
    let program = "(= {x} {}) (repeat 1000000 {= {x} (list x)}) (print x) (print :next)";
    let out = valk(&["eval", program], "");
    assert_no_signal(&out);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // `{}` wrapped a million times.
    let want = format!("{}\n:next\n", nested("{", "}", MILLION + 1));
    assert!(stdout == want, "{}", &stdout[..100.min(stdout.len())]);
}
