//! The Valk [`System`]: messages are heap fragments, exit reasons a small
//! enum whose catch-all case holds any Valk value (as a shared value).

use valk_heap::{Fragment, Heap, ListKind, SharedValue, Value};
use valk_scheduler::{ExitReason, MonitorRef, Pid, System};

use crate::program::ProgramEnd;

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
    /// Any other value (an uncaught Error value, or what `exit` was given).
    Value(SharedValue),
    /// Rust code panicked inside the actor.
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
    /// The reason a Valk value names (`:normal`, `:kill`, ... or any value).
    pub fn from_value(heap: &mut Heap, v: Value) -> Reason {
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
            Reason::Value(sv) => sv.value(),
            Reason::Panicked(m) => heap.string(m).unwrap_or(Value::NIL),
        }
    }

    /// How the reason reads when the main actor ends with it.
    pub fn describe(&self) -> String {
        let mut heap = Heap::new();
        let v = self.to_value(&mut heap);
        valk_lang::printer::repr(&heap, v)
    }
}

/// The Valk language's plug into the scheduler.
#[derive(Default)]
pub struct ValkSystem {
    /// The main actor and a pending `(shutdown N)`.
    pub(crate) program: ProgramEnd,
}

impl ValkSystem {
    pub fn new() -> ValkSystem {
        ValkSystem::default()
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
fn message(items: &[Value]) -> Message {
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
