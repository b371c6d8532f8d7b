//! The global environment of one runtime: what `def` binds, shared by every
//! actor. A grow-only table of atomic slots indexed by symbol id, so a read
//! is two loads and no lock. Values live in the shared heap; a replaced value
//! is retired to the epoch reclaimer (`reclaim.rs`) and freed once no thread
//! is inside a slice that may have read it without taking a count.
//!
//! Every atomic and lock comes from the `valk-sync` facade; the loom models
//! (`loom_tests.rs`) check a read racing with a `def` and the reclamation,
//! the first touch of a chunk, and the builtin fast-path flags. Under `--cfg valk_loom` the table
//! is shrunk (4 chunks of 4 slots, 8 tracked builtins) so that a model's
//! table is a few dozen loom objects; the protocol does not depend on sizes.

use valk_sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, OnceLock, Ordering};

use valk_heap::symbol::intern;
use valk_heap::{Heap, SharedValue, Value};

use std::collections::HashMap;

use crate::builtins::{self, BuiltinSet};
use crate::reclaim::Reclaimer;
use valk_sync::Arc;

#[cfg(not(valk_loom))]
const CHUNK_BITS: u32 = 12;
#[cfg(valk_loom)]
const CHUNK_BITS: u32 = 2;
const CHUNK: usize = 1 << CHUNK_BITS;
#[cfg(not(valk_loom))]
const CHUNKS: usize = 1 << 12;
#[cfg(valk_loom)]
const CHUNKS: usize = 4;

/// The marker of an empty slot or an unset `=` local. Not a value any
/// program can make (builtin indices are small).
pub const UNSET: Value = Value::builtin(u32::MAX);

/// What a store updates under the lock.
#[derive(Default)]
struct State {
    /// Symbol -> the builtin this runtime bound under that name.
    builtin_names: HashMap<u32, u32>,
    /// Symbol -> the value its slot holds, counted (the slot's reference).
    current: HashMap<u32, SharedValue>,
}

/// One runtime's globals.
pub struct Globals {
    chunks: Box<[OnceLock<Box<[AtomicU64]>>]>,
    /// Where replaced values go (the process's; a model's own under loom).
    reclaimer: Arc<Reclaimer>,
    /// Per builtin index: the global of the same name holds it, so compiled
    /// fast paths for it may be taken (false for builtins this runtime does
    /// not bind, and once a `def` replaces one).
    intact: Box<[AtomicBool]>,
    /// Held while a store updates a slot: racing stores leave a slot, its
    /// counted value and its `intact` flag agreeing.
    state: Mutex<State>,
    /// Most bytes each actor's heap may hold (0: no limit).
    heap_limit: AtomicUsize,
    /// The native tier compiling this runtime's code, if any (`tier.rs`).
    tier: OnceLock<Arc<dyn crate::tier::NativeTier>>,
}

/// Most builtins a process can register whose fast paths are tracked; a
/// builtin beyond it is always called the general way.
#[cfg(not(valk_loom))]
const MAX_TRACKED_BUILTINS: usize = 4096;
#[cfg(valk_loom)]
const MAX_TRACKED_BUILTINS: usize = 8;

impl Default for Globals {
    fn default() -> Self {
        Self::new()
    }
}

impl Globals {
    /// A table holding the core builtins under their names.
    pub fn new() -> Globals {
        Globals::with_builtins(&BuiltinSet::core())
    }

    /// A table holding every builtin of `set` under its name (a later one
    /// of the same name wins).
    pub fn with_builtins(set: &BuiltinSet) -> Globals {
        let g = Globals {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            #[cfg(not(valk_loom))]
            reclaimer: crate::reclaim::process().clone(),
            #[cfg(valk_loom)]
            reclaimer: Arc::new(Reclaimer::new()),
            intact: (0..MAX_TRACKED_BUILTINS)
                .map(|_| AtomicBool::new(false))
                .collect(),
            state: Mutex::new(State::default()),
            heap_limit: AtomicUsize::new(0),
            tier: OnceLock::new(),
        };
        for &i in set.indices() {
            g.bind_builtin(i);
        }
        g
    }

    /// Limits every actor heap made from now on to `bytes` (`None`: no
    /// limit); going over it ends that actor with `{:heap-limit bytes}`.
    pub fn set_heap_limit(&self, bytes: Option<usize>) {
        self.heap_limit.store(bytes.unwrap_or(0), Ordering::Relaxed);
    }

    /// Installs the native tier that compiles this runtime's hot code
    /// (once; a second call is ignored).
    pub fn set_tier(&self, tier: Arc<dyn crate::tier::NativeTier>) {
        self.tier.get_or_init(|| tier);
    }

    /// The native tier, if one is installed.
    #[inline]
    pub fn tier(&self) -> Option<&Arc<dyn crate::tier::NativeTier>> {
        self.tier.get()
    }

    /// The address of `sym`'s slot (made if missing): the bits of its
    /// value, [`UNSET`] when unbound, read atomically. Compiled code reads
    /// a global there; the slot lives as long as the table.
    #[cfg(not(valk_loom))]
    pub fn slot_address(&self, sym: u32) -> Option<*const u64> {
        self.slot_or_make(sym).map(|s| s.as_ptr() as *const u64)
    }

    /// The address of builtin `index`'s intact flag (a byte, nonzero while
    /// the global of its name holds it), if it is tracked.
    #[cfg(not(valk_loom))]
    pub fn intact_address(&self, index: u32) -> Option<*const u8> {
        self.intact
            .get(index as usize)
            .map(|b| b.as_ptr() as *const u8)
    }

    /// The value bound to `sym` with its own count: it stays allocated
    /// (so its address is not reused) as long as the result lives.
    pub fn get_counted(&self, sym: u32) -> Option<SharedValue> {
        self.state.lock().current.get(&sym).cloned()
    }

    /// The per-actor heap limit, if any.
    pub fn heap_limit(&self) -> Option<usize> {
        Some(self.heap_limit.load(Ordering::Relaxed)).filter(|&n| n > 0)
    }

    /// Binds builtin `index` (of the process registry) under its name.
    pub fn bind_builtin(&self, index: u32) {
        let Some(d) = builtins::def(index) else {
            return;
        };
        self.bind_builtin_as(intern(d.name), index);
    }

    /// Binds builtin `index` under the symbol `sym`.
    pub(crate) fn bind_builtin_as(&self, sym: u32, index: u32) {
        let slot = self.slot_or_make(sym);
        let mut state = self.state.lock();
        // A builtin of the same name bound before (a layer overriding the
        // core's `exit`, say) no longer holds the name.
        if let Some(r) = state
            .builtin_names
            .insert(sym, index)
            .filter(|&b| b != index)
            .and_then(|b| self.intact.get(b as usize))
        {
            r.store(false, Ordering::Release);
        }
        let Some(v) = SharedValue::from_immediate(Value::builtin(index)) else {
            return;
        };
        let old = self.store_locked(&mut state, slot, sym, v);
        drop(state);
        self.retire(old);
    }

    fn slot(&self, sym: u32) -> Option<&AtomicU64> {
        let c = (sym >> CHUNK_BITS) as usize;
        let chunk = self.chunks.get(c)?.get()?;
        chunk.get(sym as usize & (CHUNK - 1))
    }

    fn slot_or_make(&self, sym: u32) -> Option<&AtomicU64> {
        let c = (sym >> CHUNK_BITS) as usize;
        let chunk = self.chunks.get(c)?.get_or_init(|| {
            (0..CHUNK)
                .map(|_| AtomicU64::new(UNSET.to_bits()))
                .collect()
        });
        chunk.get(sym as usize & (CHUNK - 1))
    }

    /// The value bound to `sym`, if any. A shared pointer stays valid only
    /// while the caller's thread is pinned ([`Globals::pinned`]): an actor's
    /// `Interp::run` is, and takes a count on what it read before it unpins;
    /// elsewhere use [`Globals::get_kept`].
    #[inline]
    pub fn get(&self, sym: u32) -> Option<Value> {
        let v = Value::from_bits(self.slot(sym)?.load(Ordering::Acquire));
        (v != UNSET).then_some(v)
    }

    /// The value bound to `sym`, with a count taken for `heap` (it joins
    /// the heap's owned set), so it stays valid whatever `def`s follow.
    pub fn get_kept(&self, sym: u32, heap: &mut Heap) -> Option<Value> {
        self.pinned(|| {
            let v = self.get(sym)?;
            heap.keep_shared(v);
            Some(v)
        })
    }

    /// Runs `f` with this thread pinned: no global value it reads is freed
    /// before `f` returns (see `reclaim.rs`). Pins nest.
    pub fn pinned<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(not(valk_loom))]
        {
            crate::reclaim::with_pin(f)
        }
        #[cfg(valk_loom)]
        {
            let p = Reclaimer::participant(&self.reclaimer);
            let _pin = p.pin();
            f()
        }
    }

    /// A participant of this table's reclaimer (loom models pin their
    /// threads explicitly; an `Interp` pins through [`Globals::pinned`]).
    pub fn participant(&self) -> crate::reclaim::Participant {
        Reclaimer::participant(&self.reclaimer)
    }

    /// The reclaimer replaced values go to.
    pub fn reclaimer(&self) -> &Arc<Reclaimer> {
        &self.reclaimer
    }

    /// Stores `v` in `sym`'s slot (AcqRel swap: a reader that sees it sees
    /// the object it points to; the retire that follows is ordered after
    /// it) and, if `sym` names a builtin, whether the slot still holds it.
    /// `state` is locked: two stores to one name cannot interleave their
    /// slot, count and flag updates. Returns the counted value replaced.
    fn store_locked(
        &self,
        state: &mut State,
        slot: Option<&AtomicU64>,
        sym: u32,
        v: SharedValue,
    ) -> Option<SharedValue> {
        let raw = v.value();
        let s = slot?;
        s.swap(raw.to_bits(), Ordering::AcqRel);
        let old = state.current.insert(sym, v);
        if let Some(&i) = state.builtin_names.get(&sym) {
            if let Some(r) = self.intact.get(i as usize) {
                r.store(raw == Value::builtin(i), Ordering::Release);
            }
        }
        old
    }

    fn retire(&self, old: Option<SharedValue>) {
        if let Some(old) = old {
            self.reclaimer.retire(old);
        }
    }

    /// Bind `sym` to a shared value (a `def`). A value it replaces is
    /// retired: freed once no thread may still read it uncounted.
    pub fn define(&self, sym: u32, v: SharedValue) {
        // The chunk is made (once, whoever touches it first) outside the lock.
        let slot = self.slot_or_make(sym);
        let old = self.store_locked(&mut self.state.lock(), slot, sym, v);
        self.retire(old);
    }

    /// Does the global named like builtin `index` still hold it?
    #[inline]
    pub fn builtin_intact(&self, index: u32) -> bool {
        match self.intact.get(index as usize) {
            Some(r) => r.load(Ordering::Relaxed),
            None => false,
        }
    }

    /// Every bound global (for `penv` at the top level and tools).
    pub fn bound(&self) -> Vec<(u32, Value)> {
        let mut out = Vec::new();
        for (c, chunk) in self.chunks.iter().enumerate() {
            if let Some(chunk) = chunk.get() {
                for (i, s) in chunk.iter().enumerate() {
                    let v = Value::from_bits(s.load(Ordering::Acquire));
                    if v != UNSET {
                        out.push(((c * CHUNK + i) as u32, v));
                    }
                }
            }
        }
        out
    }
}
