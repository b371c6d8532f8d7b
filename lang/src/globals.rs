//! The global environment of one runtime: what `def` binds, shared by every
//! actor. A grow-only table of atomic slots indexed by symbol id, so a read
//! is two loads and no lock. Values live in the shared heap; a replaced value
//! is retired (kept alive) rather than freed, because another actor may have
//! just read it and not yet made its own reference.
//!
//! Every atomic and lock comes from the `valk-sync` facade; the loom models
//! (`loom_tests.rs`) check a read racing with a `def`, the first touch of a
//! chunk, and the builtin fast-path flags. Under `--cfg valk_loom` the table
//! is shrunk (4 chunks of 4 slots, 8 tracked builtins) so that a model's
//! table is a few dozen loom objects; the protocol does not depend on sizes.

use valk_sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, OnceLock, Ordering};

use valk_heap::symbol::intern;
use valk_heap::{SharedValue, Value};

use std::collections::HashMap;

use crate::builtins::{self, BuiltinSet};

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

/// One runtime's globals.
pub struct Globals {
    chunks: Box<[OnceLock<Box<[AtomicU64]>>]>,
    /// Every shared value ever bound, current and retired.
    owned: Mutex<Vec<SharedValue>>,
    /// Per builtin index: the global of the same name holds it, so compiled
    /// fast paths for it may be taken (false for builtins this runtime does
    /// not bind, and once a `def` replaces one).
    intact: Box<[AtomicBool]>,
    /// Symbol -> the builtin this runtime bound under that name. Held
    /// while a store to such a name updates its slot and `intact` flag, so
    /// racing stores leave the two agreeing.
    builtin_names: Mutex<HashMap<u32, u32>>,
    /// Most bytes each actor's heap may hold (0: no limit).
    heap_limit: AtomicUsize,
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
            owned: Mutex::new(Vec::new()),
            intact: (0..MAX_TRACKED_BUILTINS)
                .map(|_| AtomicBool::new(false))
                .collect(),
            builtin_names: Mutex::new(HashMap::new()),
            heap_limit: AtomicUsize::new(0),
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
        let mut names = self.builtin_names.lock();
        // A builtin of the same name bound before (a layer overriding the
        // core's `exit`, say) no longer holds the name.
        if let Some(r) = names
            .insert(sym, index)
            .filter(|&b| b != index)
            .and_then(|b| self.intact.get(b as usize))
        {
            r.store(false, Ordering::Release);
        }
        self.store_locked(&names, slot, sym, Value::builtin(index));
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

    /// The value bound to `sym`, if any. A shared pointer stays valid while
    /// this table lives (values are retired, not freed).
    #[inline]
    pub fn get(&self, sym: u32) -> Option<Value> {
        let v = Value::from_bits(self.slot(sym)?.load(Ordering::Acquire));
        (v != UNSET).then_some(v)
    }

    fn store(&self, sym: u32, v: Value) {
        // The chunk is made (once, whoever touches it first) outside the lock.
        let slot = self.slot_or_make(sym);
        self.store_locked(&self.builtin_names.lock(), slot, sym, v);
    }

    /// Stores `v` in `sym`'s slot (Release: a reader that sees it sees the
    /// object it points to) and, if `sym` names a builtin, whether the slot
    /// still holds it. `names` is the locked `builtin_names`: two stores to
    /// one name cannot interleave their slot and flag updates.
    fn store_locked(
        &self,
        names: &HashMap<u32, u32>,
        slot: Option<&AtomicU64>,
        sym: u32,
        v: Value,
    ) {
        if let Some(s) = slot {
            s.store(v.to_bits(), Ordering::Release);
        }
        if let Some(&i) = names.get(&sym) {
            if let Some(r) = self.intact.get(i as usize) {
                r.store(v == Value::builtin(i), Ordering::Release);
            }
        }
    }

    /// Bind `sym` to a shared value (a `def`). A value it replaces is
    /// retired, not freed: it stays alive as long as the table.
    pub fn define(&self, sym: u32, v: SharedValue) {
        let raw = v.value();
        if raw.is_ptr() {
            // Owned before it is published, so no reader can see it freed.
            self.owned.lock().push(v);
        }
        self.store(sym, raw);
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
