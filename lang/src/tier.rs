//! The seam to a native tier (`codegen/`): the language core knows what a
//! compiled function looks like and when to ask for one, never how it is
//! made.
//!
//! - A native function has one signature for every arity,
//!   [`NativeEntry`]: the call context, then up to [`MAX_NATIVE_PARAMS`]
//!   argument words (unused ones are ignored). One signature lets compiled
//!   code make tail calls (`musttail`) to any other compiled function.
//! - It answers a value's bits, or [`BAIL`]: "I met something I do not
//!   handle". A native function is only made for code that has no effect
//!   but its result (no allocation, no `def`, no messages, no output), so
//!   after a bail the interpreter runs the same call from its start and
//!   nothing is done twice. Errors, big integers, floats and deep
//!   recursion all take that road, which keeps results identical to the
//!   interpreter's by construction.
//! - Compiled code charges one reduction at every call, tail call and loop
//!   back-edge, as the interpreter does, through [`NativeCx::fuel`]; when
//!   the slice is spent it calls [`native_yield`], which yields to the
//!   host with the native frames kept on the actor's stack.
//! - Each [`Proto`] has a [`TierSlot`]: call counts (the tiering
//!   trigger), the state of its compilation, and the entry once published.

use valk_sync::{AtomicPtr, AtomicU32, Ordering};

use crate::interp::Interp;
use crate::ir::Proto;

/// Most parameters a compiled function takes (all in registers on x86-64
/// and AArch64, after the context).
pub const MAX_NATIVE_PARAMS: usize = 4;

/// A compiled function: the context, then the arguments' value bits.
/// `C-unwind`: a kill unwinds an actor's stack, native frames included
/// (compiled code has unwind tables), from inside [`native_yield`].
pub type NativeEntry = unsafe extern "C-unwind" fn(*mut NativeCx, u64, u64, u64, u64) -> u64;

/// The answer of a native function that gave up. Compiled code returns
/// only immediates, and this (like [`RESUME`]) is at or above
/// `Value::FIRST_PTR_BITS`: never an immediate's bits.
pub const BAIL: u64 = u64::MAX;

/// The answer of an outermost native loop whose slice is spent at its
/// back-edge: the interpreter takes over the same function from its start
/// with the arguments in [`NativeCx::resume`] (the loop's next turn), and
/// yields at its first safepoint.
pub const RESUME: u64 = u64::MAX - 1;

/// The answer of a native function whose unit was compiled against
/// globals or builtins that have since been redefined: the interpreter
/// runs the call, and the function is compiled again when hot (against
/// the new definitions).
pub const STALE: u64 = u64::MAX - 2;

/// Calls a function makes in the interpreter before `--jit=on` compiles it
/// (tail calls, which are its loops, count too).
pub const HOT_CALLS: u32 = 1_000;

/// Bails after which a compiled function is not entered any more (it keeps
/// meeting what it does not handle, so each entry is wasted work).
pub const MAX_BAILS: u32 = 64;

/// The state compiled code reads and writes while it runs. `#[repr(C)]`:
/// `codegen` addresses the fields by offset.
#[repr(C)]
#[derive(Debug)]
pub struct NativeCx {
    /// Reductions left in the slice (offset 0): read on entry, written
    /// back on return (compiled code keeps it in a register meanwhile).
    pub fuel: u32,
    /// Native calls that may nest before the stack runs short (offset 4):
    /// read on entry; at 0 a call bails.
    pub depth_left: u32,
    /// `depth_left` at entry (offset 8): the depth of the outermost native
    /// frame, which may answer [`RESUME`].
    pub depth_start: u32,
    /// `fuel` when this slice's part of the native run began (offset 12).
    pub slice_start: u32,
    /// The interpreter running the code, for [`native_yield`] (offset 16).
    pub interp: *mut Interp,
    /// The arguments of the loop turn a [`RESUME`] hands over (offset 24).
    pub resume: [u64; MAX_NATIVE_PARAMS],
}

/// Byte offsets of [`NativeCx`]'s fields, for compiled code.
pub mod cx_offset {
    pub const FUEL: u64 = 0;
    pub const DEPTH_LEFT: u64 = 4;
    pub const DEPTH_START: u64 = 8;
    pub const RESUME: u64 = 24;
}

/// When compiled code is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JitMode {
    /// Interpret everything.
    Off,
    /// Compile functions once they are hot, in the background.
    #[default]
    On,
    /// Compile every function before its first call (tests).
    Always,
}

impl JitMode {
    /// `off`, `on` or `always`.
    pub fn parse(s: &str) -> Option<JitMode> {
        match s {
            "off" => Some(JitMode::Off),
            "on" => Some(JitMode::On),
            "always" => Some(JitMode::Always),
            _ => None,
        }
    }
}

/// A native tier, installed in a runtime's globals
/// ([`Globals::set_tier`](crate::Globals::set_tier)).
pub trait NativeTier: Send + Sync {
    /// When it compiles.
    fn mode(&self) -> JitMode;
    /// Compile the proto at code index `proto` against `globals` and
    /// publish the result in its [`TierSlot`] (or mark it rejected). With
    /// `wait`, return only when that is done; otherwise queue it: the
    /// caller goes on interpreting.
    fn request(&self, proto: u32, globals: &std::sync::Arc<crate::Globals>, wait: bool);
    /// Is native code for this proto at hand without compiling (built
    /// ahead of time)? Then under `on` it is requested at its first call,
    /// and that call waits for it.
    fn prepared(&self, _proto: u32) -> bool {
        false
    }
}

const COLD: u32 = 0;
const QUEUED: u32 = 1;
const COMPILED: u32 = 2;
const REJECTED: u32 = 3;

/// A compiled entry and the globals table it was compiled against (its
/// address: compiled code embeds that table's slot addresses), published
/// together through one pointer so no reader can pair one table's entry
/// with another table. Made once per compiled function and runtime and
/// never freed ([`Published::new`]).
#[derive(Debug)]
pub struct Published {
    entry: NativeEntry,
    owner: usize,
}

impl Published {
    /// The record of `entry`, compiled against the globals table at
    /// `owner`, for the life of the process.
    ///
    /// # Safety
    /// `entry` must be the address of a function with the [`NativeEntry`]
    /// signature and contract (module note) that is never freed.
    pub unsafe fn new(entry: *const (), owner: usize) -> &'static Published {
        // SAFETY: the caller guarantees `entry` is a `NativeEntry`.
        let entry = unsafe { std::mem::transmute::<*const (), NativeEntry>(entry) };
        Box::leak(Box::new(Published { entry, owner }))
    }

    /// The entry.
    pub fn entry(&self) -> NativeEntry {
        self.entry
    }
}

/// A proto's native-tier state.
#[derive(Debug)]
pub struct TierSlot {
    /// Null, or the record `publish` stored.
    published: AtomicPtr<Published>,
    hits: AtomicU32,
    bails: AtomicU32,
    state: AtomicU32,
}

impl Default for TierSlot {
    fn default() -> TierSlot {
        TierSlot {
            published: AtomicPtr::new(std::ptr::null_mut()),
            hits: AtomicU32::new(0),
            bails: AtomicU32::new(0),
            state: AtomicU32::new(COLD),
        }
    }
}

impl TierSlot {
    /// The compiled entry, if one was published for `globals`.
    #[inline(always)]
    pub fn entry_for(&self, globals: usize) -> Option<NativeEntry> {
        let p = self.published.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null pointer was stored by `publish` from a
        // `&'static Published`, fully written before that Release store.
        let published = unsafe { &*p };
        (published.owner == globals).then_some(published.entry)
    }

    /// Publishes compiled code (entry and globals table together).
    pub fn publish(&self, published: &'static Published) {
        self.published.store(
            published as *const Published as *mut Published,
            Ordering::Release,
        );
        self.state.store(COMPILED, Ordering::Release);
    }

    /// This proto cannot be compiled (or should not be entered any more).
    pub fn reject(&self) {
        self.state.store(REJECTED, Ordering::Release);
        self.published
            .store(std::ptr::null_mut(), Ordering::Release);
    }

    /// Has it been compiled (and not retired)?
    pub fn is_compiled(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPILED
    }

    /// Has compilation been given up?
    pub fn is_rejected(&self) -> bool {
        self.state.load(Ordering::Acquire) == REJECTED
    }

    /// Claims the compilation (cold -> queued): true for the one caller
    /// that should request it.
    pub fn claim(&self) -> bool {
        self.state
            .compare_exchange(COLD, QUEUED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Counts a call; true when the count reaches [`HOT_CALLS`]. Racy on
    /// purpose (a load and a store, not a locked add): a lost count only
    /// delays compilation, and a hot function is called from many threads.
    #[inline]
    fn hit(&self) -> bool {
        let n = self.hits.load(Ordering::Relaxed).saturating_add(1);
        self.hits.store(n, Ordering::Relaxed);
        n >= HOT_CALLS
    }

    /// Withdraws a stale entry: the proto is cold again, to be compiled
    /// anew once hot.
    pub fn reset(&self) {
        self.published
            .store(std::ptr::null_mut(), Ordering::Release);
        self.hits.store(0, Ordering::Relaxed);
        self.bails.store(0, Ordering::Relaxed);
        self.state.store(COLD, Ordering::Release);
    }

    /// Counts a bail; past [`MAX_BAILS`] the entry is withdrawn.
    fn bailed(&self) {
        let n = self.bails.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= MAX_BAILS {
            self.reject();
        }
    }

    fn is_cold(&self) -> bool {
        self.state.load(Ordering::Relaxed) == COLD
    }
}

/// The builtin (global index) whose fast path an arithmetic op is.
pub fn arith_builtin(op: crate::ir::ArithOp) -> u32 {
    crate::interp::arith_index(op)
}

/// The builtin (global index) whose fast path a comparison is.
pub fn compare_builtin(op: crate::ir::CmpOp) -> u32 {
    crate::interp::compare_index(op)
}

/// Native frames the stack can hold: a compiled frame takes well under
/// this many bytes (a few saved registers and spills).
const NATIVE_FRAME_BYTES: usize = 256;

/// Stack kept free for the interpreter and builtins under the native calls.
const NATIVE_STACK_MARGIN: usize = 32 * 1024;

impl Interp {
    /// The native-tier part of a call of `p` on `argc` registers from
    /// `a` (made after the call's safepoint): run its compiled code if it
    /// has some and every argument is a small integer, and answer the
    /// value; count the call towards compiling it otherwise. `None`: run
    /// it in the interpreter.
    #[inline(always)]
    pub(crate) fn try_native(
        &mut self,
        p: &'static Proto,
        index: u32,
        a: usize,
        argc: usize,
        fuel: &mut u32,
    ) -> Option<valk_heap::Value> {
        let owner = self.globals_id();
        match p.tier.entry_for(owner) {
            Some(entry) => self.enter_native(p, entry, a, argc, fuel),
            None => {
                if !p.tier.is_cold() || self.globals.tier().is_none() {
                    return None;
                }
                self.tier_count(p, index);
                // `always` compiled it just now: this call runs it.
                let entry = p.tier.entry_for(owner)?;
                self.enter_native(p, entry, a, argc, fuel)
            }
        }
    }

    /// The identity compiled code is keyed by: this runtime's globals.
    #[inline(always)]
    fn globals_id(&self) -> usize {
        std::sync::Arc::as_ptr(&self.globals) as usize
    }

    /// A cold proto's call under a native tier: count it, and ask for
    /// compilation when it is hot (`on`) or right away (`always`).
    #[cold]
    #[inline(never)]
    fn tier_count(&mut self, p: &'static Proto, index: u32) {
        let Some(tier) = self.globals.tier() else {
            return;
        };
        let wait = match tier.mode() {
            JitMode::Off => return,
            JitMode::On => {
                if tier.prepared(index) {
                    true
                } else if !p.tier.hit() {
                    return;
                } else {
                    false
                }
            }
            JitMode::Always => true,
        };
        if p.tier.claim() {
            tier.request(index, &self.globals, wait);
        }
    }

    #[inline(never)]
    fn enter_native(
        &mut self,
        p: &'static Proto,
        entry: NativeEntry,
        a: usize,
        argc: usize,
        fuel: &mut u32,
    ) -> Option<valk_heap::Value> {
        let mut w = [0u64; MAX_NATIVE_PARAMS];
        for (k, slot) in w.iter_mut().enumerate().take(argc) {
            let v = self.regs[a + k];
            if !v.is_small_int() {
                return None;
            }
            *slot = v.to_bits();
        }
        let room = valk_sync::stack::remaining().saturating_sub(NATIVE_STACK_MARGIN);
        let depth = u32::try_from(room / NATIVE_FRAME_BYTES).unwrap_or(u32::MAX);
        let mut cx = NativeCx {
            fuel: *fuel,
            depth_left: depth,
            depth_start: depth,
            slice_start: *fuel,
            interp: self as *mut Interp,
            resume: [0; MAX_NATIVE_PARAMS],
        };
        // SAFETY: `entry` honours the `NativeEntry` contract (`publish`);
        // `cx` outlives the call, and `self` is not used until it returns
        // except through `cx.interp` by `native_yield`, on this thread.
        let r = unsafe { entry(&mut cx, w[0], w[1], w[2], w[3]) };
        *fuel = cx.fuel;
        self.reductions += u64::from(cx.slice_start - cx.fuel);
        if r == RESUME {
            // The loop's next turn, interpreted: its arguments replace the
            // call's (they are the call's own temporaries).
            for k in 0..argc {
                self.regs[a + k] = valk_heap::Value::from_bits(cx.resume[k]);
            }
            return None;
        }
        if r == BAIL {
            p.tier.bailed();
            return None;
        }
        if r == STALE {
            p.tier.reset();
            return None;
        }
        Some(valk_heap::Value::from_bits(r))
    }
}

/// Called by compiled code at a safepoint whose fuel is spent: charge the
/// slice to the host, let it run other work (the native frames stay on
/// this stack), and answer `budget` with the next slice's fuel (compiled
/// code keeps the fuel in the low 32 bits of its budget, `codegen`).
///
/// # Safety
/// `cx` must be the context [`Interp::enter_native`] passed to the running
/// native code.
pub unsafe extern "C-unwind" fn native_yield(cx: *mut NativeCx, budget: u64) -> u64 {
    // SAFETY: per the contract, `cx` is live and `cx.interp` is the
    // interpreter that entered the native code, not otherwise in use
    // while that code runs.
    let (cx, it) = unsafe {
        let cx = &mut *cx;
        let it = &mut *cx.interp;
        (cx, it)
    };
    let fuel = budget as u32;
    it.reductions += u64::from(cx.slice_start.saturating_sub(fuel));
    let spent = it.slice_budget.saturating_sub(fuel);
    let host = it.host.get();
    host.charge(spent);
    host.yield_now();
    let next = host.budget().max(1);
    it.slice_budget = next;
    cx.slice_start = next;
    (budget & !u64::from(u32::MAX)) | u64::from(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_claimed_once_and_publishes_for_one_globals_table() {
        let slot = TierSlot::default();
        assert!(slot.claim());
        assert!(!slot.claim(), "a second claim of a queued proto");
        assert!(slot.entry_for(1).is_none());
        unsafe extern "C-unwind" fn f(_: *mut NativeCx, a: u64, _: u64, _: u64, _: u64) -> u64 {
            a
        }
        // SAFETY: `f` has the entry signature, has no effect, and lives
        // for the whole program.
        slot.publish(unsafe { Published::new(f as *const (), 7) });
        assert!(slot.is_compiled());
        assert!(slot.entry_for(7).is_some());
        assert!(slot.entry_for(8).is_none(), "another runtime's globals");
        for _ in 0..MAX_BAILS {
            slot.bailed();
        }
        assert!(slot.is_rejected() && slot.entry_for(7).is_none());
    }

    #[test]
    fn hits_reach_the_threshold_at_hot_calls() {
        let slot = TierSlot::default();
        assert!((1..HOT_CALLS).all(|_| !slot.hit()));
        assert!(slot.hit());
    }

    #[test]
    fn modes_parse_by_name() {
        assert_eq!(JitMode::parse("off"), Some(JitMode::Off));
        assert_eq!(JitMode::parse("on"), Some(JitMode::On));
        assert_eq!(JitMode::parse("always"), Some(JitMode::Always));
        assert_eq!(JitMode::parse("fast"), None);
    }

    #[test]
    fn the_answers_are_no_values_bits() {
        for sentinel in [BAIL, RESUME, STALE] {
            assert!(sentinel >= valk_heap::Value::FIRST_PTR_BITS);
        }
        assert_eq!(std::mem::offset_of!(NativeCx, fuel) as u64, cx_offset::FUEL);
        assert_eq!(
            std::mem::offset_of!(NativeCx, depth_left) as u64,
            cx_offset::DEPTH_LEFT
        );
        assert_eq!(
            std::mem::offset_of!(NativeCx, depth_start) as u64,
            cx_offset::DEPTH_START
        );
        assert_eq!(
            std::mem::offset_of!(NativeCx, resume) as u64,
            cx_offset::RESUME
        );
    }
}

/// The loom model of the slot's publication (`scripts/loom.sh`).
#[cfg(all(test, valk_loom))]
mod loom_model {
    use valk_sync::{model, thread, Arc};

    use super::{NativeCx, Published, TierSlot};

    /// Two stand-in compiled entries (different bodies: never folded into one).
    extern "C-unwind" fn entry_one(_: *mut NativeCx, _: u64, _: u64, _: u64, _: u64) -> u64 {
        1
    }

    extern "C-unwind" fn entry_two(_: *mut NativeCx, _: u64, _: u64, _: u64, _: u64) -> u64 {
        2
    }

    /// A tier slot published for one runtime, withdrawn, then published for
    /// another (prelude protos are shared by every runtime of a process):
    /// a reader sees no entry or the entry compiled for its own runtime,
    /// never one runtime's entry under the other's globals (compiled code
    /// embeds its runtime's slot addresses). With the entry and its runtime
    /// in two atomics a reader could load the first runtime's entry, then
    /// the second runtime's owner.
    #[test]
    fn loom_tier_slot_never_pairs_an_entry_with_another_runtime() {
        model(|| {
            let slot = Arc::new(TierSlot::default());
            // SAFETY: stand-ins with the `NativeEntry` signature, never called.
            let (one, two) = unsafe {
                (
                    Published::new(entry_one as *const (), 1),
                    Published::new(entry_two as *const (), 2),
                )
            };
            let publisher = {
                let slot = slot.clone();
                thread::spawn(move || {
                    slot.publish(one);
                    slot.reset();
                    slot.publish(two);
                })
            };
            let expected = [entry_one as usize, entry_two as usize];
            for owner in [1usize, 2, 2] {
                if let Some(e) = slot.entry_for(owner) {
                    assert_eq!(e as usize, expected[owner - 1], "owner {owner}");
                }
            }
            publisher.join().unwrap();
            assert_eq!(
                slot.entry_for(2).map(|e| e as usize),
                Some(entry_two as usize)
            );
            assert!(slot.entry_for(1).is_none());
        });
    }
}
