//! Epoch-based reclamation of replaced globals.
//!
//! A `def` swaps a global's slot; the value it replaces may still be in use
//! by an actor that read the slot a moment ago and holds the pointer in a
//! register without a count of its own. Such uncounted pointers only live
//! inside one [`Interp::run`](crate::Interp::run) slice: a run pins its
//! thread's [`Participant`] for the slice, records every shared pointer it
//! reads from a global, and before unpinning takes a count on each (they join
//! its heap's owned set, `Heap::keep_shared`). Everything else it may hold is
//! reachable from a counted object (the heap's owned set, the counts a
//! fragment or a shared object holds), so once unpinned a thread holds no
//! pointer a retired value alone keeps alive.
//!
//! The protocol (checked by the loom models in `loom_tests.rs`):
//!
//! - **pin**: `e = epoch.load`, then `slot.swap(e, AcqRel)` (an RMW: the
//!   reclaimer's scan is an RMW on the same slot, so one of the two reads
//!   the other);
//! - **retire** (after the global's slot was swapped): `t =
//!   epoch.fetch_add(1)`, the old value is listed with tag `t`;
//! - **reclaim**: take the retired list, then scan every slot with an RMW;
//!   a value with tag `t` is freed when every slot is quiet or pinned at an
//!   epoch `> t`. A reader pinned at `e > t` read the epoch after the
//!   increment, so after the slot swap: it sees the new value. A reader
//!   pinned at `e <= t` is waited for. A reader whose pin comes after the
//!   scan in the slot's order synchronizes with the scan, so with every
//!   retire the scan's caller took from the list: it sees the new values.
//! - **unpin**: `slot.swap(QUIET, AcqRel)`, after the counts were taken.
//!
//! Threads, not actors, are the participants: actors number in millions,
//! threads in tens, and an actor holds uncounted pointers only while its
//! thread runs it. Pins nest (an interpreter run from inside another's
//! builtin): only the outermost one touches the slot.
//!
//! A slice may switch coroutines in the middle (a long builtin yields, the
//! main actor waits in `receive` keeping its stack) and resume on another
//! thread. Around such a switch the host calls [`suspended`]: the thread's
//! pin is **parked** (its epoch moves to the reclaimer's parked list and the
//! slot goes quiet, so other actors can run on the thread) and, once the
//! coroutine runs again, **resumed** into the slot of whatever thread it now
//! runs on. Park, resume and the reclaimer's scan hold one mutex, so a scan
//! sees the epoch in the list or in a slot, never in neither.

use std::cell::Cell;

use valk_heap::SharedValue;
use valk_sync::{Arc, AtomicU64, AtomicUsize, Mutex, Ordering};

/// A slot's value while its thread runs no slice.
const QUIET: u64 = u64::MAX;

/// Retired values listed before a reclaim is tried (then twice what survived
/// the last one): reclaiming scans every participant, so it is amortized.
#[cfg(not(valk_loom))]
const FIRST_RECLAIM: usize = 64;
#[cfg(valk_loom)]
const FIRST_RECLAIM: usize = 1;

/// One participant's pin: the epoch it pinned at, or `QUIET`.
struct Slot {
    pinned: AtomicU64,
}

/// The participants' slots and the pins parked off their threads.
#[derive(Default)]
struct Registry {
    slots: Vec<Arc<Slot>>,
    /// `(token, epoch)` of each parked pin.
    parked: Vec<(u64, u64)>,
    next_token: u64,
}

/// The epoch, the participants and the retired values.
pub struct Reclaimer {
    epoch: AtomicU64,
    registry: Mutex<Registry>,
    retired: Mutex<Vec<(u64, SharedValue)>>,
    /// Retire this many before the next reclaim.
    next_reclaim: AtomicUsize,
}

impl Default for Reclaimer {
    fn default() -> Self {
        Reclaimer::new()
    }
}

impl Reclaimer {
    pub fn new() -> Reclaimer {
        Reclaimer {
            epoch: AtomicU64::new(0),
            registry: Mutex::new(Registry::default()),
            retired: Mutex::new(Vec::new()),
            next_reclaim: AtomicUsize::new(FIRST_RECLAIM),
        }
    }

    /// A new participant (one per thread that reads globals).
    pub fn participant(this: &Arc<Reclaimer>) -> Participant {
        let slot = Arc::new(Slot {
            pinned: AtomicU64::new(QUIET),
        });
        this.registry.lock().slots.push(slot.clone());
        Participant {
            reclaimer: this.clone(),
            slot,
            depth: Cell::new(0),
        }
    }

    /// `old` was just swapped out of a global: free it once no pinned
    /// reader may still hold it without a count.
    pub fn retire(&self, old: SharedValue) {
        if old.ref_count().is_none() {
            return; // an immediate: nothing to free
        }
        let tag = self.epoch.fetch_add(1, Ordering::AcqRel);
        let len = {
            let mut r = self.retired.lock();
            r.push((tag, old));
            r.len()
        };
        if len >= self.next_reclaim.load(Ordering::Relaxed) {
            self.reclaim();
        }
    }

    /// Free every retired value no pinned reader may hold.
    pub fn reclaim(&self) {
        // The list first, then the scan (see the module note).
        let taken = std::mem::take(&mut *self.retired.lock());
        if taken.is_empty() {
            return;
        }
        let oldest_pin = {
            let reg = self.registry.lock();
            let in_slots = reg
                .slots
                .iter()
                .map(|s| s.pinned.fetch_add(0, Ordering::AcqRel));
            in_slots
                .chain(reg.parked.iter().map(|&(_, e)| e))
                .min()
                .unwrap_or(QUIET)
        };
        let (free, keep): (Vec<_>, Vec<_>) = taken.into_iter().partition(|(t, _)| *t < oldest_pin);
        let survivors = {
            let mut r = self.retired.lock();
            r.extend(keep);
            r.len()
        };
        self.next_reclaim
            .store((2 * survivors).max(FIRST_RECLAIM), Ordering::Relaxed);
        // Freed outside the locks (a freed list may be long).
        drop(free);
    }

    /// Retired values not freed yet (tests and figures).
    pub fn retired_len(&self) -> usize {
        self.retired.lock().len()
    }
}

/// One thread's membership: pin it for a slice with [`Participant::pin`].
pub struct Participant {
    reclaimer: Arc<Reclaimer>,
    slot: Arc<Slot>,
    depth: Cell<u32>,
}

impl Participant {
    /// Pin for a slice: until the guard drops, no value retired from now on
    /// (nor any retired while an enclosing pin was held) is freed.
    pub fn pin(&self) -> PinGuard<'_> {
        self.pin_raw();
        PinGuard { p: self }
    }

    pub(crate) fn pin_raw(&self) {
        let d = self.depth.get();
        if d == 0 {
            let e = self.reclaimer.epoch.load(Ordering::Acquire);
            self.slot.pinned.swap(e, Ordering::AcqRel);
        }
        self.depth.set(d + 1);
    }

    pub(crate) fn unpin_raw(&self) {
        let d = self.depth.get() - 1;
        self.depth.set(d);
        if d == 0 {
            // Every write to a slot is an RMW, like the scan's (loom 0.7
            // lets an RMW racing with a plain store leave the value the
            // RMW read last in modification order).
            self.slot.pinned.swap(QUIET, Ordering::AcqRel);
        }
    }

    /// Moves this participant's pin (all its nesting) to the reclaimer's
    /// parked list and leaves the slot quiet, for a coroutine switch that may
    /// resume on another thread. `None` when not pinned.
    pub fn park(&self) -> Option<ParkedPin> {
        let depth = self.depth.get();
        if depth == 0 {
            return None;
        }
        let mut reg = self.reclaimer.registry.lock();
        // Only this participant stores to its slot (the scan's RMW keeps
        // the value), so this is the epoch it pinned at.
        let epoch = self.slot.pinned.load(Ordering::Relaxed);
        let token = reg.next_token;
        reg.next_token += 1;
        reg.parked.push((token, epoch));
        self.slot.pinned.swap(QUIET, Ordering::AcqRel);
        self.depth.set(0);
        Some(ParkedPin {
            token,
            epoch,
            depth,
        })
    }

    /// Takes a parked pin back into this participant (the thread the
    /// coroutine now runs on). If this participant is pinned too (a parked
    /// coroutine unwound inside another's slice), the pins merge at the
    /// older epoch.
    pub fn resume(&self, parked: ParkedPin) {
        let mut reg = self.reclaimer.registry.lock();
        let current = self.depth.get();
        let epoch = if current == 0 {
            parked.epoch
        } else {
            self.slot.pinned.load(Ordering::Relaxed).min(parked.epoch)
        };
        self.slot.pinned.swap(epoch, Ordering::AcqRel);
        reg.parked.retain(|&(t, _)| t != parked.token);
        self.depth.set(current + parked.depth);
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        let mut reg = self.reclaimer.registry.lock();
        reg.slots.retain(|s| !Arc::ptr_eq(s, &self.slot));
    }
}

/// A pin taken off its thread by [`Participant::park`]; give it to
/// [`Participant::resume`] (until then it holds off every free from its
/// epoch on).
#[must_use = "a parked pin dropped without `resume` holds off reclaiming for good"]
#[derive(Debug)]
pub struct ParkedPin {
    token: u64,
    epoch: u64,
    depth: u32,
}

/// A held pin (see [`Participant::pin`]).
pub struct PinGuard<'a> {
    p: &'a Participant,
}

impl Drop for PinGuard<'_> {
    fn drop(&mut self) {
        self.p.unpin_raw();
    }
}

/// The process's reclaimer: every runtime's globals retire into it, so a
/// thread has one participant whatever runtimes it runs.
#[cfg(not(valk_loom))]
pub(crate) fn process() -> &'static Arc<Reclaimer> {
    static PROCESS: valk_sync::statics::OnceLock<Arc<Reclaimer>> =
        valk_sync::statics::OnceLock::new();
    PROCESS.get_or_init(|| Arc::new(Reclaimer::new()))
}

#[cfg(not(valk_loom))]
thread_local! {
    static THREAD: Participant = Reclaimer::participant(process());
}

/// Runs `f` with this thread pinned in the process's reclaimer. `f` may
/// switch coroutines inside [`suspended`] and so end on another thread: the
/// unpin is that thread's. On a thread whose participant is already gone (a
/// TLS destructor), `f` runs with a participant made for the call.
#[cfg(not(valk_loom))]
pub(crate) fn with_pin<R>(f: impl FnOnce() -> R) -> R {
    /// Unpins the thread it drops on (also when unwinding).
    struct Unpin;
    impl Drop for Unpin {
        fn drop(&mut self) {
            thread_unpin();
        }
    }
    if thread_pin() {
        let _unpin = Unpin;
        f()
    } else {
        let p = Reclaimer::participant(process());
        let _g = p.pin();
        f()
    }
}

// The thread-local is reached only in these never-inlined functions: a
// coroutine may resume on another thread, and an address of a thread-local
// computed before the switch would be the old thread's.

#[cfg(not(valk_loom))]
#[inline(never)]
fn thread_pin() -> bool {
    THREAD.try_with(|p| p.pin_raw()).is_ok()
}

#[cfg(not(valk_loom))]
#[inline(never)]
fn thread_unpin() {
    let _ = THREAD.try_with(|p| p.unpin_raw());
}

#[cfg(not(valk_loom))]
#[inline(never)]
fn thread_park() -> Option<ParkedPin> {
    THREAD.try_with(|p| p.park()).ok().flatten()
}

#[cfg(not(valk_loom))]
#[inline(never)]
fn thread_resume(parked: ParkedPin) {
    // With the thread's participant gone (a TLS destructor) the pin stays
    // parked: its values are never freed, which is safe.
    let _ = THREAD.try_with(|p| p.resume(parked));
}

/// Runs `f`, a coroutine switch (it may return on another thread), with
/// this thread's pin parked: other actors run on the thread meanwhile, and
/// the values the suspended slice read stay alive. Hosts call this around
/// every switch made inside `Interp::run` (a yield in a long builtin, a wait
/// keeping the stack). Cheap when the thread is not pinned.
#[cfg(not(valk_loom))]
pub fn suspended<R>(f: impl FnOnce() -> R) -> R {
    /// Resumes the pin on the thread it drops on (also when the switch
    /// never returns because the actor's stack is unwound).
    struct Resume(Option<ParkedPin>);
    impl Drop for Resume {
        fn drop(&mut self) {
            if let Some(p) = self.0.take() {
                thread_resume(p);
            }
        }
    }
    let _resume = Resume(thread_park());
    f()
}

/// Under loom the interpreter pins per call (see `Globals::pinned`) and
/// models park and resume through [`Participant`] directly.
#[cfg(valk_loom)]
pub fn suspended<R>(f: impl FnOnce() -> R) -> R {
    f()
}
