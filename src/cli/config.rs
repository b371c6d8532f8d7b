//! Settings that come from outside the program, checked before anything
//! runs: the scheduler count (`--schedulers`, `$VALK_SCHEDULERS`) and the
//! source files. A bad value is an error naming it, never silently ignored
//! or obeyed (`VALK_SCHEDULERS=5000` used to start 5,000 threads).

use std::path::Path;

use valk_lang::builtins::system::read_regular_file;

/// Scheduler threads a command may ask for.
pub const SCHEDULERS: std::ops::RangeInclusive<usize> = 1..=valk_runtime::handle::MAX_SCHEDULERS;

/// The biggest source file read (a bigger one is an error, not an
/// out-of-memory abort).
pub const MAX_SOURCE_BYTES: u64 = 256 << 20;

/// The scheduler count: the flag's (clap checked its range), else
/// `$VALK_SCHEDULERS`'s, else 0 (one per core).
pub fn schedulers(flag: Option<u16>) -> Result<usize, String> {
    if let Some(n) = flag {
        return Ok(usize::from(n));
    }
    match std::env::var_os("VALK_SCHEDULERS") {
        None => Ok(0),
        Some(value) => parse_schedulers(&value.to_string_lossy()),
    }
}

/// `$VALK_SCHEDULERS`'s value as a scheduler count.
fn parse_schedulers(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if SCHEDULERS.contains(&n) => Ok(n),
        _ => Err(format!(
            "VALK_SCHEDULERS={value:?} is not a number of scheduler threads in {}..{}",
            SCHEDULERS.start(),
            SCHEDULERS.end()
        )),
    }
}

/// A source file's text, or a one-line reason it cannot be had. Only a
/// regular file of at most [`MAX_SOURCE_BYTES`] is read: a FIFO would block
/// and `/dev/zero` would never end.
pub fn read_source(path: &Path) -> Result<String, String> {
    read_regular_file(path, MAX_SOURCE_BYTES)
        .map_err(|reason| format!("cannot read {}: {reason}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_counts_outside_the_range_are_errors_naming_the_value() {
        assert_eq!(parse_schedulers("4"), Ok(4));
        assert_eq!(parse_schedulers(" 1024 "), Ok(1024));
        for bad in ["0", "5000", "-3", "abc", "", "2.5"] {
            let err = parse_schedulers(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn unreadable_files_give_a_short_reason() {
        let err = read_source(Path::new("/no/such/dir/file.valk")).unwrap_err();
        assert_eq!(
            err,
            "cannot read /no/such/dir/file.valk: no such file or directory"
        );
    }

    #[test]
    fn devices_and_directories_are_refused_without_reading() {
        let err = read_source(Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        let err = read_source(Path::new("/")).unwrap_err();
        assert!(err.contains("directory"), "{err}");
    }
}
