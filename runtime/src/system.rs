//! The Valk [`System`]: messages are heap fragments, exit reasons a small
//! enum whose catch-all case holds any Valk value (as a shared value).

use std::collections::HashSet;
use std::sync::Arc;

use valk_heap::{Fragment, Heap, ListKind, ObjKind, SharedValue, Value};
use valk_scheduler::{ExitReason, MonitorRef, Pid, System};
use valk_sync::Mutex;

use crate::log::{self, Level};
use crate::program::ProgramEnd;

/// An uncaught error, as an exit reason: `{:error message where}` (plain
/// data; the Error value itself would propagate into whoever looks at it).
#[derive(Debug)]
pub struct ErrorReason {
    pub message: String,
    /// `"file:line:col"`, or `""` when unknown.
    pub place: String,
    /// The place as parts (`line` 0: unknown), for a renderer.
    pub file: Option<String>,
    pub line: u32,
    pub col: u32,
    /// The Valk backtrace, innermost first (for the crash report only).
    pub trace: Vec<valk_lang::TraceEntry>,
}

impl ErrorReason {
    /// The error as the command line's renderer takes it.
    pub fn to_valk_error(&self) -> valk_lang::ValkError {
        let mut e = valk_lang::ValkError::at(None, self.message.clone());
        if self.line != 0 {
            e.file = self.file.clone();
            e.line = self.line;
            e.col = self.col;
        }
        e.trace = self.trace.clone();
        e
    }
}

/// Why a Valk actor ended.
#[derive(Clone, Debug)]
pub enum Reason {
    /// `:normal`.
    Normal,
    /// `:kill` (an untrappable exit signal).
    Kill,
    /// `:killed`: the actor received `:kill`.
    Killed,
    /// `:noproc`: linked to or monitored a dead pid.
    NoProc,
    /// `:stack-overflow`.
    StackOverflow,
    /// `{:heap-limit bytes}`.
    HeapLimit(usize),
    /// `(exit N)` with an integer: in the main actor, the program's status.
    Status(i32),
    /// `{:error message where}`: an uncaught error.
    Error(Arc<ErrorReason>),
    /// Any other value (what `exit` was given).
    Value(SharedValue),
    /// `{:panic message}`: Rust code panicked inside the actor.
    Panicked(String),
}

impl ExitReason for Reason {
    fn normal() -> Self {
        Reason::Normal
    }
    fn kill() -> Self {
        Reason::Kill
    }
    fn killed() -> Self {
        Reason::Killed
    }
    fn noproc() -> Self {
        Reason::NoProc
    }
    fn panicked(message: String) -> Self {
        Reason::Panicked(message)
    }
    fn is_normal(&self) -> bool {
        matches!(self, Reason::Normal)
    }
    fn is_kill(&self) -> bool {
        matches!(self, Reason::Kill)
    }
    fn out_of_memory(bytes: usize) -> Self {
        Reason::HeapLimit(bytes)
    }
    /// Only the runtime makes `HeapLimit` (a Valk `{:heap-limit n}` value
    /// is `Value`): the memory governor's kill cannot be trapped.
    fn untrappable(&self) -> bool {
        matches!(self, Reason::HeapLimit(_))
    }
}

fn kw(name: &str) -> Value {
    Value::keyword(valk_heap::intern(name))
}

impl Reason {
    /// `{:error message where}` for an Error value (`None` for others).
    pub fn from_error(heap: &Heap, v: Value, trace: Vec<valk_lang::TraceEntry>) -> Option<Reason> {
        if heap.kind(v) != Some(ObjKind::Error) {
            return None;
        }
        let parts = heap.error_parts(v)?;
        let message = heap.str(parts.message).unwrap_or("").to_owned();
        let place = parts.loc.map_or(String::new(), |l| {
            format!("{}:{}:{}", valk_heap::symbol_name(l.file), l.line, l.col)
        });
        let loc = parts.loc.filter(|l| l.line != 0);
        Some(Reason::Error(Arc::new(ErrorReason {
            message,
            place,
            file: loc.map(|l| valk_heap::symbol_name(l.file).to_owned()),
            line: loc.map_or(0, |l| l.line),
            col: loc.map_or(0, |l| l.col),
            trace,
        })))
    }

    /// Not worth a crash report: `:normal`, `:shutdown` and
    /// `{:shutdown ...}` (how supervisors stop children), as in OTP.
    pub fn is_quiet(&self) -> bool {
        match self {
            Reason::Normal => true,
            Reason::Value(sv) => {
                let v = sv.value();
                let shutdown = Value::keyword(valk_heap::intern("shutdown"));
                // Reading a shared value needs no heap of its own.
                v == shutdown || Heap::new().car_cdr(v).is_some_and(|(h, _)| h == shutdown)
            }
            _ => false,
        }
    }

    /// A crash of the actor's own code: an uncaught error, a native panic,
    /// a stack overflow, or memory (what an unwatched actor is reported
    /// for; Erlang reports the same, not exit signals).
    pub fn is_crash(&self) -> bool {
        matches!(
            self,
            Reason::Error(_) | Reason::Panicked(_) | Reason::StackOverflow | Reason::HeapLimit(_)
        )
    }

    /// The reason a Valk value names (`:normal`, `:kill`, ... or any value).
    pub fn from_value(heap: &mut Heap, v: Value) -> Reason {
        if let Some(r) = Reason::from_error(heap, v, Vec::new()) {
            return r;
        }
        if let Some(k) = v.as_keyword() {
            match valk_heap::symbol_name(k) {
                "normal" => return Reason::Normal,
                "kill" => return Reason::Kill,
                "killed" => return Reason::Killed,
                "noproc" => return Reason::NoProc,
                "stack-overflow" => return Reason::StackOverflow,
                _ => {}
            }
        }
        Reason::Value(heap.to_shared(v))
    }

    /// The reason as a value of `heap` (for `{:EXIT ..}` / `{:DOWN ..}`).
    pub fn to_value(&self, heap: &mut Heap) -> Value {
        match self {
            Reason::Normal => kw("normal"),
            Reason::Kill => kw("kill"),
            Reason::Killed => kw("killed"),
            Reason::NoProc => kw("noproc"),
            Reason::StackOverflow => kw("stack-overflow"),
            Reason::HeapLimit(n) => {
                let n = Value::small_int(*n as i64).unwrap_or(Value::NIL);
                heap.list(&[kw("heap-limit"), n], ListKind::Q)
                    .unwrap_or(Value::NIL)
            }
            Reason::Status(n) => Value::small_int(i64::from(*n)).unwrap_or(Value::NIL),
            Reason::Error(e) => {
                let (Ok(m), Ok(w)) = (heap.string(&e.message), heap.string(&e.place)) else {
                    return kw("error");
                };
                heap.list(&[kw("error"), m, w], ListKind::Q)
                    .unwrap_or(kw("error"))
            }
            Reason::Value(sv) => sv.value(),
            Reason::Panicked(m) => {
                let Ok(m) = heap.string(m) else {
                    return kw("panic");
                };
                heap.list(&[kw("panic"), m], ListKind::Q)
                    .unwrap_or(kw("panic"))
            }
        }
    }

    /// How the reason reads when the main actor ends with it.
    pub fn describe(&self) -> String {
        let mut heap = Heap::new();
        let v = self.to_value(&mut heap);
        valk_lang::printer::repr(&heap, v)
    }
}

/// A set of pids that is usually empty: every actor's exit asks it, so an
/// empty one answers without taking its lock.
#[derive(Default)]
pub(crate) struct PidSet {
    set: Mutex<HashSet<Pid>>,
    len: std::sync::atomic::AtomicUsize,
}

impl PidSet {
    pub(crate) fn insert(&self, pid: Pid) {
        let mut set = self.set.lock();
        set.insert(pid);
        self.len
            .store(set.len(), std::sync::atomic::Ordering::Release);
    }

    /// Removes `pid`; was it there?
    pub(crate) fn remove(&self, pid: Pid) -> bool {
        if self.len.load(std::sync::atomic::Ordering::Acquire) == 0 {
            return false;
        }
        let mut set = self.set.lock();
        let was = set.remove(&pid);
        self.len
            .store(set.len(), std::sync::atomic::Ordering::Release);
        was
    }
}

/// The Valk language's plug into the scheduler.
#[derive(Default)]
pub struct ValkSystem {
    /// The main actor and a pending `(shutdown N)`.
    pub(crate) program: ProgramEnd,
    /// What `VALK_LOG` lets through (crash reports, `log/*`).
    pub(crate) log: Level,
    /// Supervised children (`actor/supervised`): every crash of theirs is
    /// reported, though their supervisor takes the exit.
    pub(crate) supervised: PidSet,
    /// Calls in progress, for deadlock detection (`server/call`).
    pub(crate) calls: crate::calls::Calls,
}

impl ValkSystem {
    pub fn new() -> ValkSystem {
        ValkSystem {
            log: Level::from_env(),
            ..ValkSystem::default()
        }
    }
}

/// A message in an actor's mailbox: copied out of the sender's heap, until
/// a `receive` first looks at it and adopts it into the receiver's heap
/// (a big message is not copied again; a small one is copied into the
/// nursery, which is cheaper than taking its buffer). An adopted message stays in the scheduler's queue, the
/// only one, until a clause takes it; the receiver's GC visits it there.
pub enum Message {
    /// As sent.
    Fragment(Fragment),
    /// Adopted: a value of the receiving actor's heap.
    Adopted(Value),
}

impl From<Fragment> for Message {
    fn from(f: Fragment) -> Message {
        Message::Fragment(f)
    }
}

/// Builds `{tag items...}` as a message.
pub(crate) fn message(items: &[Value]) -> Message {
    let mut heap = Heap::new();
    match heap.list(items, ListKind::Q) {
        Ok(v) => heap.copy_to_fragment(v).into(),
        Err(_) => Fragment::immediate(Value::NIL).into(),
    }
}

impl System for ValkSystem {
    type Msg = Message;
    type Reason = Reason;

    fn exit_message(&self, from: Pid, reason: &Reason) -> Message {
        // A notice is never lost to the memory limit it may be telling of.
        valk_heap::memory::past_the_hard_limit(|| exit_notice(from, reason))
    }

    /// A message not yet adopted holds its fragment's memory; it counts
    /// against the receiver's heap limit until a receive adopts it (its
    /// slot in the queue counts until it leaves: the scheduler adds it).
    fn message_bytes(msg: &Message) -> usize {
        match msg {
            Message::Fragment(f) => f.byte_size(),
            Message::Adopted(_) => 0,
        }
    }

    fn down_message(&self, mref: MonitorRef, from: Pid, reason: &Reason) -> Message {
        valk_heap::memory::past_the_hard_limit(|| down_notice(mref, from, reason))
    }

    /// Crash reports: an abnormal exit nothing took, or any crash of a
    /// supervised child.
    fn actor_exited(&self, pid: Pid, name: Option<u64>, reason: &Reason, observed: bool) {
        self.calls.forget(pid);
        let supervised = self.supervised.remove(pid);
        // Unwatched: a crash of the actor's own code (not an exit signal
        // from elsewhere, nor an `exit` of its own). Supervised: any
        // abnormal end, as OTP's supervisor reports.
        let report = if supervised {
            !reason.is_quiet()
        } else {
            !observed && reason.is_crash()
        };
        if !report || !self.log.allows(Level::Error) {
            return;
        }
        log::crash_report(pid, name, reason);
    }
}

/// `{:EXIT pid reason}`.
fn exit_notice(from: Pid, reason: &Reason) -> Message {
    let mut heap = Heap::new();
    let pid = heap.pid(from.to_u64()).unwrap_or(Value::NIL);
    let r = reason.to_value(&mut heap);
    let Ok(v) = heap.list(&[kw("EXIT"), pid, r], ListKind::Q) else {
        return message(&[]);
    };
    heap.copy_to_fragment(v).into()
}

/// `{:DOWN ref pid reason}`.
fn down_notice(mref: MonitorRef, from: Pid, reason: &Reason) -> Message {
    let mut heap = Heap::new();
    let pid = heap.pid(from.to_u64()).unwrap_or(Value::NIL);
    let rf = heap.make_ref(mref.to_u64()).unwrap_or(Value::NIL);
    let r = reason.to_value(&mut heap);
    let Ok(v) = heap.list(&[kw("DOWN"), rf, pid, r], ListKind::Q) else {
        return message(&[]);
    };
    heap.copy_to_fragment(v).into()
}
