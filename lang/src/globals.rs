//! The global environment of one runtime: what `def` binds, shared by every
//! actor. A grow-only table of atomic slots indexed by symbol id, so a read
//! is two loads and no lock. Values live in the shared heap; a replaced value
//! is retired (kept alive) rather than freed, because another actor may have
//! just read it and not yet made its own reference.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use valk_heap::symbol::intern;
use valk_heap::{SharedValue, Value};

use std::collections::HashMap;

use crate::builtins::{self, BuiltinSet};

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNKS: usize = 1 << 12;

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
    /// Symbol -> the builtin this runtime bound under that name.
    builtin_names: Mutex<HashMap<u32, u32>>,
    /// Most bytes each actor's heap may hold (0: no limit).
    heap_limit: AtomicUsize,
}

/// Most builtins a process can register whose fast paths are tracked; a
/// builtin beyond it is always called the general way.
const MAX_TRACKED_BUILTINS: usize = 4096;

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
        let sym = intern(d.name);
        let before = self
            .builtin_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sym, index);
        // A builtin of the same name bound before (a layer overriding the
        // core's `exit`, say) no longer holds the name.
        if let Some(r) = before
            .filter(|&b| b != index)
            .and_then(|b| self.intact.get(b as usize))
        {
            r.store(false, Ordering::Release);
        }
        self.store(sym, Value::builtin(index));
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
        if let Some(s) = self.slot_or_make(sym) {
            s.store(v.to_bits(), Ordering::Release);
        }
        let bound = self
            .builtin_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&sym)
            .copied();
        if let Some(i) = bound {
            if let Some(r) = self.intact.get(i as usize) {
                r.store(v == Value::builtin(i), Ordering::Release);
            }
        }
    }

    /// Bind `sym` to a shared value (a `def`).
    pub fn define(&self, sym: u32, v: SharedValue) {
        let raw = v.value();
        if raw.is_ptr() {
            self.owned.lock().unwrap_or_else(|e| e.into_inner()).push(v);
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
