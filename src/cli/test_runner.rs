//! `valk test [PATHS...]`: run Valk test files (LANGUAGE.md §11).
//!
//! Each file runs in a fresh interpreter with the test module in command-line
//! mode (`test/-cli` set): `test/run` then prints the per-test lines but no
//! summary. After the file, any tests it registered and did not run are
//! run, and the outcomes the test module tallied through the host
//! (`test/-tally`, kept outside the runtime, so an `exit` in the file loses
//! none) are added up. A file that fails to load, or exits before its tests
//! are done, prints `ERROR <why>` and counts as one failure. One summary line ends the
//! run: `N passed, N failed` (`, N skipped` when any).

use std::fs;
use std::path::{Path, PathBuf};

use super::output::{err_line, out_line, program_output_closed, OutputError, CLOSED_PIPE_STATUS};
use super::session::{Reply, Session, Step};

/// Test counts, per file and in total.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }

    /// The closing line.
    pub fn summary(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            line += &format!(", {} skipped", self.skipped);
        }
        line
    }
}

/// Run every test file under `paths` on `schedulers` threads (0: one per
/// core); returns the exit status. A closed output (`valk test | head -1`)
/// stops the run quietly with status 141.
/// `valk test`'s options.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// Only tests whose names contain this.
    pub filter: Option<&'a str>,
    /// A test's time limit (default: the test module's 60 s).
    pub timeout_s: Option<u32>,
}

pub fn run(paths: &[PathBuf], schedulers: usize, options: Options<'_>) -> i32 {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for path in paths {
        if let Err(message) = collect_test_files(path, &mut files) {
            err_line(&format!("valk: {message}"));
            return 1;
        }
    }
    if files.is_empty() {
        err_line("valk: no test files (test_*.valk or *_test.valk) found");
        return 1;
    }
    let mut total = Counts::default();
    let started = std::time::Instant::now();
    for file in &files {
        let t0 = std::time::Instant::now();
        match run_file(file, schedulers, options) {
            Ok(counts) => total.add(counts),
            Err(e) => return e.report(),
        }
        let took = format!("  {} ({})", file.display(), seconds(t0.elapsed()));
        if let Err(e) = out_line(&took) {
            return e.report();
        }
        if program_output_closed() {
            return CLOSED_PIPE_STATUS;
        }
    }
    let summary = format!("{} in {}", total.summary(), seconds(started.elapsed()));
    match out_line(&summary) {
        Ok(()) => i32::from(total.failed > 0),
        Err(e) => e.report(),
    }
}

/// `0.12 s`.
fn seconds(d: std::time::Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Files are taken as given; directories are searched recursively for test
/// files. The result is in path order.
fn collect_test_files(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let metadata = fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), super::io_reason(&e)))?;
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut found = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir)
            .map_err(|e| format!("cannot read {}: {}", dir.display(), super::io_reason(&e)))?;
        for entry in entries.flatten() {
            let entry_path = entry.path();
            // Not through symbolic links: a link to `.` would loop forever.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry_path);
            } else if is_test_file_name(&entry_path) {
                found.push(entry_path);
            }
        }
    }
    found.sort();
    files.extend(found);
    Ok(())
}

/// `test_*.valk` or `*_test.valk`.
fn is_test_file_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some(stem) = name.strip_suffix(".valk") else {
        return false;
    };
    stem.starts_with("test_") || stem.ends_with("_test")
}

/// Runs one test file; `Err` when the output could not be written.
fn run_file(file: &Path, schedulers: usize, options: Options<'_>) -> Result<Counts, OutputError> {
    let name = file.display().to_string();
    let failed_to_load = |message: &str| -> Result<Counts, OutputError> {
        out_line(&format!("ERROR {message}"))?;
        Ok(Counts {
            failed: 1,
            ..Counts::default()
        })
    };
    let source = match super::read_source(file) {
        Ok(source) => source,
        Err(message) => return failed_to_load(&message),
    };
    // One runtime per file: a test file gets fresh globals.
    let session = match Session::new(schedulers) {
        Ok(session) => session,
        Err(message) => return failed_to_load(&message),
    };
    let tally = match session.enter_test_mode(options.filter, options.timeout_s) {
        Ok(tally) => tally,
        Err(message) => return failed_to_load(&message),
    };
    let mut counts = Counts::default();
    // `exit` or `shutdown` in a test file (at its top level or in a test)
    // ends the runtime: the tests counted so far stay counted, and the file
    // fails with the reason.
    let exited =
        |status: i32| format!("{name}: exited with status {status} before its tests were done");
    super::run::warn_about(&source, &name);
    match session.run_source(&source, &name) {
        Step::Finished => {
            // Tests registered after the file's last (test/run), or in a file
            // that never calls it.
            match session.eval_line("(test/run)", &name) {
                Reply::Error(error) => counts.add(failed_to_load(&error.located)?),
                Reply::Exit(status) => counts.add(failed_to_load(&exited(status))?),
                _ => {}
            }
        }
        Step::Failed(error) => counts.add(failed_to_load(&error.located)?),
        Step::Exit(status) => counts.add(failed_to_load(&exited(status))?),
    }
    use std::sync::atomic::Ordering::Relaxed;
    counts.add(Counts {
        passed: tally.passed.load(Relaxed),
        failed: tally.failed.load(Relaxed),
        skipped: tally.skipped.load(Relaxed),
    });
    session.finish();
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_file_names_follow_the_convention() {
        assert!(is_test_file_name(Path::new("a/test_math.valk")));
        assert!(is_test_file_name(Path::new("math_test.valk")));
        assert!(!is_test_file_name(Path::new("helper.valk")));
        assert!(!is_test_file_name(Path::new("test_math.txt")));
        assert!(!is_test_file_name(Path::new("contest.valk")));
    }

    #[test]
    fn the_summary_mentions_skips_only_when_there_are_some() {
        let mut c = Counts {
            passed: 3,
            failed: 1,
            skipped: 0,
        };
        assert_eq!(c.summary(), "3 passed, 1 failed");
        c.add(Counts {
            passed: 0,
            failed: 0,
            skipped: 2,
        });
        assert_eq!(c.summary(), "3 passed, 1 failed, 2 skipped");
    }
}
