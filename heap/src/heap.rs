//! The private, per-actor heap: allocation and reading. Collection lives in
//! `gc.rs`, message copy in `fragment.rs`, invariant checks in
//! `debug_checks.rs`.

use crate::chunk::{self, Chunk, Space, LARGE_WORDS, NURSERY_FIRST_WORDS, NURSERY_MAX_WORDS, WORD};
use crate::object::{self, flag, ErrorParts, ListKind, ObjKind, SourceLoc};
use crate::read::read_methods;
use crate::shared::{self, PtrSet, SharedValue};
use crate::stats::{GcStats, HeapError};
use crate::value::Value;
use std::any::Any;
use std::sync::Arc;

/// Strings of at least this many bytes are allocated in the shared heap:
/// messages and `def` then pass them by reference count, never by copy.
pub const LARGE_STRING: usize = 1024;

/// Minimum nursery allocation between requested minor collections.
pub(crate) const MIN_NURSERY_BUDGET: usize = 32 * 1024;
/// Maximum nursery allocation between requested minor collections.
pub(crate) const MAX_NURSERY_BUDGET: usize = 8 * 1024 * 1024;
/// Old space may grow by this much (or half the live set, if more) past
/// the live set before `collect` runs a major collection.
pub(crate) const MIN_MAJOR_HEADROOM: usize = 64 * 1024;
/// Fewest shared objects a heap may own before a major collection is due
/// (see `Heap::owned_limit`).
pub(crate) const MIN_OWNED_HEADROOM: u32 = 4096;
/// KiB of big shared objects a heap may own before a major collection is
/// due (see `Heap::owned_kib`).
pub(crate) const MIN_OWNED_KIB: u32 = 16 * 1024;

/// Collector counters (kept apart so `Heap` stays small and flat).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) minor: u64,
    pub(crate) major: u64,
    pub(crate) total_pause_ns: u64,
    pub(crate) last_pause_ns: u64,
}

/// Young bytes allowed between collections for a live set of `live_after`.
pub(crate) fn nursery_budget_for(live_after: usize) -> usize {
    (2 * live_after).clamp(MIN_NURSERY_BUDGET, MAX_NURSERY_BUDGET)
}

/// One actor's private heap. `Send` (it moves with its actor between
/// worker threads), not `Sync`.
///
/// Values pointing into it are valid until its next collection, which only
/// happens when its owner calls [`Heap::minor_gc`], [`Heap::major_gc`] or
/// [`Heap::collect`] with every live value in the root set.
pub struct Heap {
    /// Young objects: bump chunks plus adopted fragment chunks.
    pub(crate) nursery: Space,
    /// What only a heap that has collected needs, made by its first
    /// collection: an actor that parks before it has one (most idle actors)
    /// does not carry it.
    pub(crate) tenured: Option<Box<Tenured>>,
    /// Objects over `LARGE_WORDS`, one per chunk, young (flag) or old.
    pub(crate) large: Vec<Chunk>,
    /// Shared objects this heap holds one count on.
    pub(crate) owned: PtrSet,
    /// Bytes of chunks held from the system.
    pub(crate) in_use: usize,
    /// Nursery bytes taken since the last collection.
    pub(crate) young_bytes: usize,
    /// Byte limit (`usize::MAX`: none).
    pub(crate) limit: usize,
    /// Old-space size that makes `collect` run a major collection.
    pub(crate) old_threshold: usize,
    /// Bytes of objects that survived the last collection.
    pub(crate) live_after: usize,
    pub(crate) gc_wanted: bool,
    /// Shared objects this heap may own before a major collection is due
    /// whatever its private size (only a major one gives counts back): an
    /// actor that makes or reads many shared objects (futures, boxes,
    /// globals) and allocates little privately would otherwise keep them
    /// all until it ends. Twice what survived the last major, at least
    /// [`MIN_OWNED_HEADROOM`] (like BEAM's virtual binary heap).
    pub(crate) owned_limit: u32,
    /// KiB of big shared objects in the owned set (a box's whole value, a
    /// long string): owning them keeps them alive, so past
    /// `owned_kib_limit` a major collection is due, however little this
    /// heap allocates privately (an actor that receives boxes and drops
    /// them must not keep them all: BEAM's binary virtual heap).
    pub(crate) owned_kib: u32,
    /// Twice what survived the last major, at least [`MIN_OWNED_KIB`].
    pub(crate) owned_kib_limit: u32,
}

/// The old generation and the collector's bookkeeping.
#[derive(Default)]
pub(crate) struct Tenured {
    /// Promoted objects.
    pub(crate) old: Space,
    /// Old objects that may point to young ones or to shared objects not yet
    /// in `owned` (written by `set_cdr`).
    pub(crate) remembered: Vec<*mut u64>,
    pub(crate) counters: Counters,
}

// SAFETY: a Heap exclusively owns its chunks (raw pointers into them never
// leave it except as `Value`s, which are only dereferenced through the heap
// or by its owner under the value contract); the shared objects it points to
// are immutable and atomically counted. So moving it to another thread is
// sound. It is not Sync: reads and writes need no locks only because one
// thread at a time uses it.
unsafe impl Send for Heap {}

impl Default for Heap {
    fn default() -> Heap {
        Heap::new()
    }
}

impl Heap {
    /// An empty heap with no limit. Allocates nothing.
    pub const fn new() -> Heap {
        Heap {
            nursery: Space::new(),
            tenured: None,
            large: Vec::new(),
            owned: PtrSet::with_hasher(core::hash::BuildHasherDefault::new()),
            in_use: 0,
            young_bytes: 0,
            limit: usize::MAX,
            old_threshold: MIN_MAJOR_HEADROOM,
            live_after: 0,
            gc_wanted: false,
            owned_limit: MIN_OWNED_HEADROOM,
            owned_kib: 0,
            owned_kib_limit: MIN_OWNED_KIB,
        }
    }

    /// The old generation, made now if this heap has none yet.
    pub(crate) fn tenured(&mut self) -> &mut Tenured {
        self.tenured.get_or_insert_with(Box::default)
    }

    /// An empty heap that refuses to grow past `limit_bytes` of chunks.
    pub fn with_limit(limit_bytes: usize) -> Heap {
        let mut h = Heap::new();
        h.set_limit(Some(limit_bytes));
        h
    }

    /// Change (or remove) the byte limit. Memory already held is kept.
    pub fn set_limit(&mut self, limit_bytes: Option<usize>) {
        self.limit = limit_bytes.unwrap_or(usize::MAX);
    }

    /// The byte limit, if any.
    pub fn limit(&self) -> Option<usize> {
        (self.limit != usize::MAX).then_some(self.limit)
    }

    /// Bytes of private memory held from the system.
    pub fn bytes_in_use(&self) -> usize {
        self.in_use
    }

    /// Has allocation passed the nursery budget (or old space its
    /// threshold) so the owner should call [`Heap::collect`] at its next
    /// safepoint?
    pub fn gc_wanted(&self) -> bool {
        self.gc_wanted
    }

    /// Collector figures.
    pub fn stats(&self) -> GcStats {
        let counters = self.tenured.as_ref().map(|t| &t.counters);
        GcStats {
            bytes_in_use: self.in_use,
            live_after_last_gc: self.live_after,
            minor_count: counters.map_or(0, |c| c.minor),
            major_count: counters.map_or(0, |c| c.major),
            total_pause_ns: counters.map_or(0, |c| c.total_pause_ns),
            last_pause_ns: counters.map_or(0, |c| c.last_pause_ns),
            limit: (self.limit != usize::MAX).then_some(self.limit),
        }
    }

    pub(crate) fn nursery_budget(&self) -> usize {
        nursery_budget_for(self.live_after)
    }

    fn check_limit(&self, bytes: usize) -> Result<(), HeapError> {
        if self.in_use.saturating_add(bytes) > self.limit {
            Err(HeapError::Limit {
                limit: self.limit,
                in_use: self.in_use,
            })
        } else {
            Ok(())
        }
    }

    /// The error for a refused system allocation of `words` words.
    pub(crate) fn out_of_memory(&self, words: usize) -> HeapError {
        HeapError::OutOfMemory {
            requested: words.saturating_mul(WORD),
            in_use: self.in_use,
        }
    }

    /// Account for `bytes` of new young memory.
    pub(crate) fn grew_young(&mut self, bytes: usize) {
        self.in_use += bytes;
        self.young_bytes += bytes;
        if self.young_bytes >= self.nursery_budget() {
            self.gc_wanted = true;
        }
    }

    /// Allocate an object in the nursery and write its header.
    #[inline(always)]
    fn alloc_obj(
        &mut self,
        kind: ObjKind,
        flags: u64,
        payload: usize,
    ) -> Result<*mut u64, HeapError> {
        let words = payload + 1;
        let p = match self.nursery.try_bump(words) {
            Some(p) => p,
            None => self.alloc_slow(words)?,
        };
        // SAFETY: `p` is fresh nursery memory of `words` >= 1 words.
        unsafe { p.write(object::header(kind, flags | flag::YOUNG, payload)) };
        Ok(p)
    }

    /// A new nursery chunk (or a chunk of its own for a large object).
    #[cold]
    #[inline(never)]
    fn alloc_slow(&mut self, words: usize) -> Result<*mut u64, HeapError> {
        self.alloc_slow_from(words, NURSERY_FIRST_WORDS)
    }

    /// A chunk from the system for this heap (see `memory::as_owner`).
    pub(crate) fn new_chunk(&self, words: usize) -> Option<Chunk> {
        crate::memory::as_owner(self.in_use, || Chunk::try_new(words))
    }

    /// `alloc_slow`, taking at least `first` words for a new nursery chunk
    /// (`NURSERY_FIRST_WORDS` for allocation; a received message may start
    /// the nursery of a heap that has none smaller).
    #[inline]
    pub(crate) fn alloc_slow_from(
        &mut self,
        words: usize,
        first: usize,
    ) -> Result<*mut u64, HeapError> {
        if words > object::MAX_PAYLOAD_WORDS {
            return Err(HeapError::Limit {
                limit: self.limit,
                in_use: self.in_use,
            });
        }
        if words > LARGE_WORDS {
            self.check_limit(words * WORD)?;
            let mut c = self.new_chunk(words).ok_or(self.out_of_memory(words))?;
            c.used = words;
            let p = c.start();
            self.large.push(c);
            self.grew_young(words * WORD);
            return Ok(p);
        }
        let mut want = (self.nursery.current_words() * 2)
            .clamp(first, NURSERY_MAX_WORDS)
            .max(words);
        if self.check_limit(want * WORD).is_err() {
            // Near the limit: take only what still fits, if the object does.
            self.check_limit(words * WORD)?;
            want = (self.limit - self.in_use) / WORD;
        }
        let chunk = match self.new_chunk(want) {
            Some(c) => c,
            // Refused: try for just the object before giving up.
            None => {
                want = words;
                self.new_chunk(words).ok_or(self.out_of_memory(words))?
            }
        };
        self.nursery.start_chunk(chunk);
        self.grew_young(want * WORD);
        match self.nursery.try_bump(words) {
            Some(p) => Ok(p),
            None => unreachable!("fresh chunk of {want} words cannot hold {words}"),
        }
    }

    /// Take (one more) count on a shared object for this heap.
    pub(crate) fn own_shared(&mut self, p: *mut u64) {
        if self.owned.insert(p as usize) {
            // SAFETY: `p` is a live shared object the caller can read.
            unsafe { shared::retain(p) };
            self.owned_new(p);
        }
    }

    /// Accounts for `p`, just added to the owned set.
    #[inline]
    pub(crate) fn owned_new(&mut self, p: *const u64) {
        // SAFETY: `p` is a live shared object (every caller holds a count).
        let kib = unsafe { shared::weight_kib(p) };
        self.owned_kib = self.owned_kib.saturating_add(kib);
        if self.owned_over_limit() {
            self.gc_wanted = true;
        }
    }

    /// Does the owned set call for a major collection?
    pub(crate) fn owned_over_limit(&self) -> bool {
        self.owned.len() > self.owned_limit as usize || self.owned_kib > self.owned_kib_limit
    }

    /// Take a count on the shared object `v` points to (it joins the owned
    /// set; nothing for immediates and private pointers). A reader of a
    /// global calls it before the global may be replaced and reclaimed.
    /// The caller keeps `v` alive until then (a global, or a pin of the
    /// globals' reclaimer).
    pub fn keep_shared(&mut self, v: Value) {
        if let Some(p) = v.ptr().filter(|_| v.is_shared()) {
            self.own_shared(p);
        }
    }

    /// An integer: inline if it fits in 48 bits, boxed otherwise.
    pub fn int(&mut self, i: i64) -> Result<Value, HeapError> {
        if let Some(v) = Value::small_int(i) {
            return Ok(v);
        }
        let p = self.alloc_obj(ObjKind::BigInt, 0, 1)?;
        // SAFETY: a BigInt has one payload word.
        unsafe { p.add(1).write(i as u64) };
        Ok(Value::local_ptr(p))
    }

    /// A cons cell of an S- or Q-expression.
    #[inline]
    pub fn cons(&mut self, car: Value, cdr: Value, kind: ListKind) -> Result<Value, HeapError> {
        let f = match kind {
            ListKind::Q => 0,
            ListKind::S => flag::S_LIST,
        };
        let p = self.alloc_obj(ObjKind::Cons, f, 2)?;
        // SAFETY: a cons cell has two payload words.
        unsafe {
            p.add(1).write(car.to_bits());
            p.add(2).write(cdr.to_bits());
        }
        Ok(Value::local_ptr(p))
    }

    /// A proper list of `items`, ending in `{}` (Q) or `()` (S).
    pub fn list(&mut self, items: &[Value], kind: ListKind) -> Result<Value, HeapError> {
        let mut tail = match kind {
            ListKind::Q => Value::NIL,
            ListKind::S => Value::EMPTY_S,
        };
        for &item in items.iter().rev() {
            tail = self.cons(item, tail, kind)?;
        }
        Ok(tail)
    }

    /// An immutable string. Long strings (>= `LARGE_STRING` bytes) go to the
    /// shared heap, owned by this heap until it no longer reaches them.
    pub fn string(&mut self, s: &str) -> Result<Value, HeapError> {
        if s.len() >= LARGE_STRING {
            let p = shared::alloc_string(s).ok_or(HeapError::OutOfMemory {
                requested: s.len(),
                in_use: self.in_use,
            })?;
            self.own_shared(p);
            return Ok(Value::shared_ptr(p));
        }
        let words = object::str_payload_words(s.len());
        let p = self.alloc_obj(ObjKind::Str, 0, words)?;
        // SAFETY: the payload has a length word and room for the bytes; the
        // last word is zeroed first so the padding is defined.
        unsafe {
            p.add(words).write(0);
            p.add(1).write(s.len() as u64);
            core::ptr::copy_nonoverlapping(s.as_ptr(), p.add(2) as *mut u8, s.len());
        }
        Ok(Value::local_ptr(p))
    }

    /// An object of values: `head` then `rest` (closures, partials).
    fn values_obj(
        &mut self,
        kind: ObjKind,
        head: Value,
        rest: &[Value],
    ) -> Result<Value, HeapError> {
        let p = self.alloc_obj(kind, 0, 1 + rest.len())?;
        // SAFETY: the payload has 1 + rest.len() words; `Value` is a u64.
        unsafe {
            p.add(1).write(head.to_bits());
            core::ptr::copy_nonoverlapping(rest.as_ptr() as *const u64, p.add(2), rest.len());
        }
        Ok(Value::local_ptr(p))
    }

    /// A closure: code reference and captured environment.
    pub fn closure(&mut self, code: Value, captures: &[Value]) -> Result<Value, HeapError> {
        self.values_obj(ObjKind::Closure, code, captures)
    }

    /// A partial application: function and bound arguments.
    pub fn partial(&mut self, func: Value, args: &[Value]) -> Result<Value, HeapError> {
        self.values_obj(ObjKind::Partial, func, args)
    }

    /// An error value: message (a string), where it happened, and any value
    /// it carries.
    pub fn error(
        &mut self,
        message: Value,
        loc: Option<SourceLoc>,
        payload: Option<Value>,
    ) -> Result<Value, HeapError> {
        let mut f = 0;
        if loc.is_some() {
            f |= flag::HAS_LOC;
        }
        if payload.is_some() {
            f |= flag::HAS_PAYLOAD;
        }
        let (file, line_col) = loc.map(object::encode_loc).unwrap_or((0, 0));
        let p = self.alloc_obj(ObjKind::Error, f, 4)?;
        // SAFETY: an error has four payload words.
        unsafe {
            p.add(1).write(message.to_bits());
            p.add(2).write(payload.unwrap_or(Value::NIL).to_bits());
            p.add(3).write(file);
            p.add(4).write(line_col);
        }
        Ok(Value::local_ptr(p))
    }

    fn id_obj(&mut self, kind: ObjKind, id: u64) -> Result<Value, HeapError> {
        let p = self.alloc_obj(kind, 0, 1)?;
        // SAFETY: pids and refs have one payload word.
        unsafe { p.add(1).write(id) };
        Ok(Value::local_ptr(p))
    }

    /// A process id.
    pub fn pid(&mut self, id: u64) -> Result<Value, HeapError> {
        self.id_obj(ObjKind::Pid, id)
    }

    /// A unique reference.
    pub fn make_ref(&mut self, id: u64) -> Result<Value, HeapError> {
        self.id_obj(ObjKind::Ref, id)
    }

    /// A foreign (C) pointer with a type tag (usually a keyword).
    pub fn foreign(&mut self, addr: usize, type_tag: Value) -> Result<Value, HeapError> {
        let p = self.alloc_obj(ObjKind::Foreign, 0, 2)?;
        // SAFETY: a foreign object has two payload words.
        unsafe {
            p.add(1).write(type_tag.to_bits());
            p.add(2).write(addr as u64);
        }
        Ok(Value::local_ptr(p))
    }

    /// A shared box holding a shared deep copy of `v`. The heap owns one
    /// count on it; `to_shared` it (or send it) to hand it to others.
    pub fn make_box(&mut self, v: Value) -> Result<Value, HeapError> {
        let (inner, bytes) = self.try_to_shared_sized(v)?;
        let p = shared::try_alloc_shared(object::header(ObjKind::Box, 0, 2)).ok_or(
            HeapError::OutOfMemory {
                requested: 3 * WORD,
                in_use: self.in_use,
            },
        )?;
        let inner = inner.into_owned();
        // SAFETY: a box has one payload word; the box takes over the count
        // `to_shared` gave us on `inner`.
        unsafe { p.add(1).write(inner.to_bits()) };
        // SAFETY: the second payload word: what the box holds, in bytes
        // (untraced; its weight for the owners' collections).
        unsafe { p.add(2).write(bytes as u64) };
        self.own_shared(p);
        Ok(Value::shared_ptr(p))
    }

    /// Replace the tail of a private cons cell (for building lists front to
    /// back). Shared cells are immutable: the call is ignored for them and
    /// for non-cons values. Records old-to-young (and old-to-shared)
    /// pointers in the remembered set.
    pub fn set_cdr(&mut self, cell: Value, cdr: Value) {
        let Some(p) = cell.ptr().filter(|_| cell.is_local()) else {
            return;
        };
        // SAFETY: value contract: `cell` is a live object of this heap.
        let h = unsafe { *p };
        if object::header_kind(h) != Some(ObjKind::Cons) {
            return;
        }
        // SAFETY: a cons cell has two payload words.
        unsafe { p.add(2).write(cdr.to_bits()) };
        if h & (flag::YOUNG | flag::REMEMBERED) == 0 && self.needs_remembering(cdr) {
            // SAFETY: `p` is a live old object of this heap.
            unsafe { p.write(h | flag::REMEMBERED) };
            self.tenured().remembered.push(p);
        }
    }

    /// Does storing `v` into an old object need a remembered-set entry?
    fn needs_remembering(&self, v: Value) -> bool {
        match v.ptr() {
            // SAFETY: value contract: `v` is a live object of this heap.
            Some(q) if v.is_local() => (unsafe { *q }) & flag::YOUNG != 0,
            Some(q) => !self.owned.contains(&(q as usize)),
            None => false,
        }
    }

    /// Deep-copy `v` into the shared heap (preserving sharing). Shared
    /// input gives the same object with its count bumped.
    pub fn to_shared(&mut self, v: Value) -> SharedValue {
        match self.try_to_shared(v) {
            Ok(sv) => sv,
            Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u64; 2]>()),
        }
    }

    /// [`Heap::to_shared`], or an error (nothing changed) if the system
    /// refuses memory for the copy (a `def` of a huge value near the memory
    /// limit ends its actor, not the process).
    pub fn try_to_shared(&mut self, v: Value) -> Result<SharedValue, HeapError> {
        self.try_to_shared_sized(v).map(|(sv, _)| sv)
    }

    /// [`Heap::try_to_shared`] and the bytes the copy made (0 for a value
    /// that was shared already).
    fn try_to_shared_sized(&mut self, v: Value) -> Result<(SharedValue, usize), HeapError> {
        let Some(p) = v.ptr() else {
            return Ok((SharedValue::from_owned(v), 0));
        };
        let (p, bytes) = if v.is_local() {
            let in_use = self.in_use;
            // SAFETY: value contract, and `&mut self` keeps anyone else from
            // reading the headers the copy temporarily forwards.
            crate::memory::as_owner(in_use, || unsafe { shared::copy_local_graph(p) }).ok_or(
                HeapError::OutOfMemory {
                    requested: 2 * crate::chunk::WORD,
                    in_use,
                },
            )?
        } else {
            (p, 0)
        };
        // SAFETY: `p` is a live shared object; the handle takes a count.
        unsafe { shared::retain(p) };
        Ok((SharedValue::from_owned(Value::shared_ptr(p)), bytes))
    }

    read_methods!(crate::read::any);
}

impl Drop for Heap {
    fn drop(&mut self) {
        // O(chunks): big heaps go to the background reaper in one piece.
        let mut chunks = core::mem::take(&mut self.large);
        if let Some(t) = self.tenured.as_mut() {
            chunks.append(&mut t.old.chunks);
        }
        chunks.append(&mut self.nursery.chunks);
        chunk::free_chunks(chunks);
        // Give back our shared counts.
        for p in self.owned.drain() {
            // SAFETY: we own one count on each object in `owned`.
            unsafe { shared::release(p as *const u64) };
        }
    }
}
