//! The global environment of one runtime: what `def` binds, shared by every
//! actor. A grow-only table of atomic slots indexed by symbol id, so a read
//! is two loads and no lock. Values live in the shared heap; a replaced value
//! is retired (kept alive) rather than freed, because another actor may have
//! just read it and not yet made its own reference.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use valk_heap::symbol::intern;
use valk_heap::{SharedValue, Value};

use crate::builtins;

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
    /// Per builtin index: the global of the same name no longer holds it,
    /// so compiled fast paths for it must take the general route.
    replaced: Box<[AtomicBool]>,
}

impl Default for Globals {
    fn default() -> Self {
        Self::new()
    }
}

impl Globals {
    /// A table holding every builtin under its name.
    pub fn new() -> Globals {
        let table = builtins::table();
        let g = Globals {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            owned: Mutex::new(Vec::new()),
            replaced: (0..table.len()).map(|_| AtomicBool::new(false)).collect(),
        };
        for (i, b) in table.iter().enumerate() {
            g.store(intern(b.name), Value::builtin(i as u32));
        }
        g
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
        let name = valk_heap::symbol::symbol_name(sym);
        if let Some(i) = builtins::index_of(name) {
            if let Some(r) = self.replaced.get(i as usize) {
                r.store(v != Value::builtin(i), Ordering::Release);
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
        match self.replaced.get(index as usize) {
            Some(r) => !r.load(Ordering::Relaxed),
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
