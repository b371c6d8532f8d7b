//! `VALK_LOG` and what it filters: crash reports and the `log/*` builtins,
//! one line (a report: a few) each on stderr, with the time and the pid.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use valk_scheduler::Pid;

use crate::system::Reason;

/// A line's level; `VALK_LOG` names the most detailed one shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    /// `VALK_LOG=off`: nothing.
    Off,
    Error,
    /// The default.
    #[default]
    Warn,
    Info,
    Debug,
}

impl Level {
    /// `VALK_LOG` (`off`, `error`, `warn`, `info`, `debug`); the default,
    /// `warn`, when unset. An unknown value is reported once and ignored.
    pub fn from_env() -> Level {
        match std::env::var("VALK_LOG") {
            Ok(v) => Level::parse(&v).unwrap_or_else(|| {
                eprintln!(
                    "valk: VALK_LOG={v:?} is not one of off, error, warn, info, debug; using warn"
                );
                Level::Warn
            }),
            Err(_) => Level::Warn,
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }

    /// Does this setting show lines of `level`?
    pub fn allows(self, level: Level) -> bool {
        level != Level::Off && level <= self
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// `HH:MM:SS.mmm` UTC.
fn time_of_day() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_millis()
    )
}

/// `<pid 0.5.0>`, as pids print.
pub fn pid_text(pid: Pid) -> String {
    valk_lang::printer::pid_text(pid.to_u64())
}

/// Writes whole lines at once (a closed stderr is ignored: the program
/// goes on).
fn emit(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// One `log/*` line.
pub fn line(level: Level, pid: Pid, text: &str) {
    emit(&format!(
        "{} {} {} {text}\n",
        time_of_day(),
        level.name(),
        pid_text(pid)
    ));
}

/// The crash report of `pid`: who, why, and where (innermost first).
pub fn crash_report(pid: Pid, name: Option<u64>, reason: &Reason) {
    let who = match name {
        Some(n) => format!(
            "{} (registered as :{})",
            pid_text(pid),
            valk_heap::symbol_name(u32::try_from(n).unwrap_or(0))
        ),
        None => pid_text(pid),
    };
    emit(&report(&format!("{who} crashed"), reason));
}

/// Turns an error into the text a user reads (the command line's renderer:
/// source line, caret, call chain); `None` falls back to the plain form.
pub type ErrorRenderer = fn(&valk_lang::ValkError) -> Option<String>;

static RENDERER: std::sync::OnceLock<ErrorRenderer> = std::sync::OnceLock::new();

/// Crash reports of Valk errors go through `render` from now on (once per
/// process; the runtime itself knows nothing of terminals or source files).
pub fn set_error_renderer(render: ErrorRenderer) {
    let _ = RENDERER.set(render);
}

/// `TIME error WHAT: REASON`, then the reason's Valk backtrace; with a
/// renderer set, `TIME error WHAT:` and the rendered error under it.
fn report(what: &str, reason: &Reason) -> String {
    if let (Reason::Error(e), Some(render)) = (reason, RENDERER.get()) {
        if let Some(shown) = render(&e.to_valk_error()) {
            return format!("{} error {what}:\n{shown}\n", time_of_day());
        }
    }
    let mut text = format!("{} error {what}: {}\n", time_of_day(), reason.describe());
    if let Reason::Error(e) = reason {
        for at in &e.trace {
            let name = at.function.as_deref().unwrap_or("<fn>");
            match &at.file {
                Some(f) => text.push_str(&format!("    at {name} {f}:{}:{}\n", at.line, at.col)),
                None => text.push_str(&format!("    at {name}\n")),
            }
        }
    }
    text
}

/// The report of an `async` task's error that no one awaited (logged when
/// its future is dropped unread): who, why, where.
pub fn unawaited_report(pid: Pid, reason: &Reason) -> String {
    let what = format!(
        "{} async task failed and its future was dropped unawaited",
        pid_text(pid)
    );
    report(&what, reason)
}

/// A source position in one word (file symbol: 20 bits, the symbol cap;
/// line: 24 bits; column: 20 bits; larger values saturate), for
/// `Cx::set_wait_site`. 0 means unknown.
pub fn pack_site(file: u32, line: u32, col: u32) -> u64 {
    if line == 0 {
        return 0;
    }
    let f = u64::from(file.min((1 << 20) - 1));
    let l = u64::from(line.min((1 << 24) - 1));
    let c = u64::from(col.min((1 << 20) - 1));
    f << 44 | l << 20 | c
}

/// `file:line:col` of a [`pack_site`] word (`None` for 0).
pub fn site_text(site: u64) -> Option<String> {
    if site == 0 {
        return None;
    }
    let file = u32::try_from(site >> 44).unwrap_or(0);
    let line = (site >> 20) & ((1 << 24) - 1);
    let col = site & ((1 << 20) - 1);
    Some(format!("{}:{line}:{col}", valk_heap::symbol_name(file)))
}

/// The deadlock report `valk run` prints: every actor and where it waits.
pub fn deadlock_report(waiters: &[valk_scheduler::Waiter]) -> String {
    let mut text = format!(
        "valk: deadlock: all {} actor(s) wait in `receive` and nothing can wake them:\n",
        waiters.len()
    );
    for w in waiters {
        text.push_str("  ");
        text.push_str(&pid_text(w.pid));
        if let Some(n) = w.name {
            text.push_str(&format!(
                " (:{})",
                valk_heap::symbol_name(u32::try_from(n).unwrap_or(0))
            ));
        }
        match site_text(w.site) {
            Some(at) => text.push_str(&format!(" waits in the receive at {at}")),
            None => text.push_str(" waits in a receive"),
        }
        if w.mailbox_len > 0 {
            text.push_str(&format!(
                " ({} message(s) queued that it does not take)",
                w.mailbox_len
            ));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_pack_and_unpack() {
        let f = valk_heap::intern("deadlock.valk");
        assert_eq!(
            site_text(pack_site(f, 12, 7)).as_deref(),
            Some("deadlock.valk:12:7")
        );
        assert_eq!(site_text(pack_site(f, 0, 7)), None);
    }

    #[test]
    fn levels_filter_in_order() {
        assert!(Level::Warn.allows(Level::Error));
        assert!(!Level::Warn.allows(Level::Info));
        assert!(!Level::Off.allows(Level::Error));
        assert_eq!(Level::parse("DEBUG"), Some(Level::Debug));
        assert_eq!(Level::parse("loud"), None);
    }
}
