//! Golden tests: every `tests/valk/NAME.valk` is run through the built `valk`
//! binary and its stdout, stderr and exit status are compared with
//! `NAME.stdout`, `NAME.stderr` and `NAME.status` (missing files mean empty
//! output and status 0).
//!
//! By default a file runs as `valk run NAME.valk` from inside `tests/valk`, so
//! error locations read `NAME.valk:LINE:COL`. Two optional files change that:
//! `NAME.args` gives the arguments, one per line (`$FILE` stands for
//! `NAME.valk`), `NAME.stdin` is fed to standard input, and `NAME.env`
//! sets environment variables, one `KEY=VALUE` per line.
//!
//! `VALK_BLESS=1 cargo test --test golden` rewrites the expected files from
//! what the binary does now; review the diff before committing it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A golden program that runs longer than this is killed and reported.
const TIME_LIMIT: Duration = Duration::from_secs(60);

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("valk")
}

fn golden_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(golden_dir())
        .expect("tests/valk exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "valk"))
        .collect();
    files.sort();
    files
}

/// What one run of the binary produced.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    status: i32,
}

fn read_optional(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn expected_outcome(file: &Path) -> Outcome {
    Outcome {
        stdout: read_optional(&file.with_extension("stdout")).unwrap_or_default(),
        stderr: read_optional(&file.with_extension("stderr")).unwrap_or_default(),
        status: read_optional(&file.with_extension("status"))
            .map(|s| s.trim().parse().expect("NAME.status holds an integer"))
            .unwrap_or(0),
    }
}

fn arguments_for(file: &Path) -> Vec<String> {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    match read_optional(&file.with_extension("args")) {
        Some(text) => text
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| line.replace("$FILE", &name))
            .collect(),
        None => vec!["run".to_string(), name],
    }
}

fn run_golden(file: &Path, scratch: &Path, jit: &str) -> Outcome {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let out_path = scratch.join(format!("{stem}.out"));
    let err_path = scratch.join(format!("{stem}.err"));
    // Opened as bytes: a `.stdin` may hold input that is not UTF-8.
    let stdin = match fs::File::open(file.with_extension("stdin")) {
        Ok(f) => Stdio::from(f),
        Err(_) => Stdio::null(),
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_valk"));
    command.env("VALK_JIT", jit);
    for line in read_optional(&file.with_extension("env"))
        .unwrap_or_default()
        .lines()
    {
        if let Some((key, value)) = line.split_once('=') {
            command.env(key.trim(), value.trim());
        }
    }
    let mut child = command
        .args(arguments_for(file))
        .current_dir(golden_dir())
        .env("VALK_HISTORY", scratch.join(format!("{stem}.history")))
        .env("NO_COLOR", "1")
        .stdin(stdin)
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("the valk binary starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} ran longer than {:?}", file.display(), TIME_LIMIT);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        stdout: without_durations(
            &fs::read_to_string(&out_path).unwrap_or_else(|e| format!("<unreadable: {e}>")),
        ),
        stderr: without_times(
            &fs::read_to_string(&err_path).unwrap_or_else(|e| format!("<unreadable: {e}>")),
        ),
        // A signal death has no code; -1 never equals an expected status.
        status: status.code().unwrap_or(-1),
    }
}

/// Log lines and crash reports start with the time of day: compared as
/// `HH:MM:SS.mmm`.
fn without_times(text: &str) -> String {
    let stamped = |l: &str| {
        let b = l.as_bytes();
        b.len() > 13
            && b[2] == b':'
            && b[5] == b':'
            && b[8] == b'.'
            && b[12] == b' '
            && [0, 1, 3, 4, 6, 7, 9, 10, 11]
                .iter()
                .all(|&i| b[i].is_ascii_digit())
    };
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if stamped(line) {
            out.push_str("HH:MM:SS.mmm");
            out.push_str(&line[12..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `valk test` reports durations as `(0.12 s)` and `in 0.12 s`: compared
/// as `(T s)` and `in T s`.
fn without_durations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" s") {
        // Digits, a dot and two digits right before " s".
        let head = &rest[..i];
        let digits = head.len()
            - head
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')
                .len();
        let num = &head[head.len() - digits..];
        let is_duration = num.len() >= 4
            && num.as_bytes()[num.len() - 3] == b'.'
            && num.bytes().filter(|&b| b == b'.').count() == 1;
        if is_duration {
            out.push_str(&head[..head.len() - digits]);
            out.push_str("T s");
        } else {
            out.push_str(head);
            out.push_str(" s");
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

fn bless(file: &Path, actual: &Outcome) {
    fs::write(file.with_extension("stdout"), &actual.stdout).unwrap();
    let write_or_remove = |path: PathBuf, text: String, empty: bool| {
        if empty {
            let _ = fs::remove_file(path);
        } else {
            fs::write(path, text).unwrap();
        }
    };
    write_or_remove(
        file.with_extension("stderr"),
        actual.stderr.clone(),
        actual.stderr.is_empty(),
    );
    write_or_remove(
        file.with_extension("status"),
        format!("{}\n", actual.status),
        actual.status == 0,
    );
}

/// A short report of where two texts first differ, then both in full.
fn describe_difference(what: &str, expected: &str, actual: &str) -> String {
    let mut report = String::new();
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    let _ = writeln!(
        report,
        "  {what} differs at line {}:\n    expected: {:?}\n    actual:   {:?}",
        line + 1,
        expected.lines().nth(line).unwrap_or("<end>"),
        actual.lines().nth(line).unwrap_or("<end>"),
    );
    let _ = writeln!(
        report,
        "  --- expected {what}\n{expected}  --- actual {what}\n{actual}"
    );
    report
}

#[test]
fn golden_programs_produce_their_expected_output() {
    check_golden_files("on");
}

/// The native tier changes nothing a program can see: every golden file
/// gives the same output and status with every function compiled before
/// its first call (what cannot be compiled, or bails, is interpreted).
#[cfg(feature = "jit")]
#[test]
fn golden_programs_give_the_same_output_under_jit_always() {
    check_golden_files("always");
}

fn check_golden_files(jit: &str) {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("golden-jit-{jit}"));
    fs::create_dir_all(&scratch).unwrap();
    let blessing = jit == "on" && std::env::var_os("VALK_BLESS").is_some_and(|v| v == "1");
    let files = golden_files();
    assert!(files.len() >= 12, "expected the golden files in tests/valk");
    let mut failures = Vec::new();
    for file in &files {
        let actual = run_golden(file, &scratch, jit);
        if blessing {
            bless(file, &actual);
            continue;
        }
        let expected = expected_outcome(file);
        if actual == expected {
            continue;
        }
        let mut report = format!("{}:\n", file.display());
        if actual.stdout != expected.stdout {
            report += &describe_difference("stdout", &expected.stdout, &actual.stdout);
        }
        if actual.stderr != expected.stderr {
            report += &describe_difference("stderr", &expected.stderr, &actual.stderr);
        }
        if actual.status != expected.status {
            report += &format!(
                "  exit status: expected {}, got {}\n",
                expected.status, actual.status
            );
        }
        failures.push(report);
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden files differ under --jit={jit} (VALK_BLESS=1 rewrites them):\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Every name the prelude defines appears in some golden program, so a
/// change to any of them shows up in a golden diff.
#[test]
fn every_prelude_name_is_exercised_by_a_golden_file() {
    let corpus: String = golden_files()
        .iter()
        .chain(data_files().iter())
        .map(|f| String::from_utf8_lossy(&fs::read(f).unwrap()).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let mut missing = Vec::new();
    for prelude in ["prelude.valk", "test.valk", "supervision.valk"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("lang/prelude")
            .join(prelude);
        let text = fs::read_to_string(&path).unwrap();
        for name in defined_names(&text) {
            // Helpers named NAME/-part are private.
            if name.contains("/-") {
                continue;
            }
            if !mentions(&corpus, &name) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "prelude names no golden file uses: {missing:?}"
    );
}

/// Every builtin of an actor runtime (core and actor layer) appears in some golden
/// program.
#[test]
fn every_builtin_is_exercised_by_a_golden_file() {
    let corpus: String = golden_files()
        .iter()
        .chain(data_files().iter())
        .map(|f| String::from_utf8_lossy(&fs::read(f).unwrap()).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let missing: Vec<&str> = valk_cli::cli::session::builtins()
        .defs()
        .map(|builtin| builtin.name)
        .filter(|name| !mentions(&corpus, name))
        .collect();
    assert!(
        missing.is_empty(),
        "builtins no golden file uses: {missing:?}"
    );
}

fn data_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![golden_dir().join("data")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "valk" || e == "stdin")
            {
                files.push(path);
            }
        }
    }
    for file in golden_files() {
        if file.with_extension("stdin").exists() {
            files.push(file.with_extension("stdin"));
        }
        if file.with_extension("args").exists() {
            files.push(file.with_extension("args"));
        }
    }
    files
}

/// The names bound by `(fun {NAME ...` and `(def {NAME} ...` in prelude text.
fn defined_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        for opener in ["(fun {", "(def {"] {
            if let Some(rest) = line.strip_prefix(opener) {
                let name: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '}')
                    .collect();
                names.push(name);
            }
        }
    }
    names
}

/// Whether `name` occurs in `corpus` as a whole token.
fn mentions(corpus: &str, name: &str) -> bool {
    let is_symbol_char = |c: char| c.is_alphanumeric() || "_+-*/\\=<>!&?%.^:".contains(c);
    corpus.match_indices(name).any(|(at, _)| {
        let before = corpus[..at].chars().next_back();
        let after = corpus[at + name.len()..].chars().next();
        !before.is_some_and(is_symbol_char) && !after.is_some_and(is_symbol_char)
    })
}
