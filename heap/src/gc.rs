//! Collection: minor (nursery -> old space) and major (everything -> fresh
//! compact old space), both Cheney copies from an explicit root set.
//!
//! Steps of a minor collection:
//! 1. Copy every young object a root points to into old space; leave a
//!    forwarding header behind; rewrite the root.
//! 2. Do the same for the fields of remembered old objects.
//! 3. Scan the copies in order (Cheney), copying the young objects they
//!    reach. Every shared pointer met on the way joins the owned set.
//! 4. Free the nursery (keeping its current chunk for reuse if it was well
//!    used) and the young large-object chunks.
//!
//! A major collection does the same for all private objects into a fresh old
//! space, then frees every previous chunk, and rebuilds the owned set from
//! the shared pointers it met: counts on shared objects no longer reached are
//! released.

use crate::chunk::{
    self, Chunk, Space, LARGE_WORDS, NURSERY_FIRST_WORDS, OLD_FIRST_WORDS, OLD_MAX_WORDS, WORD,
};
use crate::copy::Copier;
use crate::heap::{nursery_budget_for, Heap, MIN_MAJOR_HEADROOM};
use crate::object::{self, flag};
use crate::roots::Roots;
use crate::shared::{self, PtrSet};
use crate::value::Value;
use std::time::Instant;

/// A copier into old space, where both collections put what survives,
/// taking its chunks from `reserve` first.
fn promoting_copier<'a>(
    old: &'a mut Space,
    large: &'a mut Vec<Chunk>,
    first: usize,
    reserve: (Vec<Chunk>, Vec<Chunk>),
) -> Copier<'a> {
    Copier::new(old, large, false, first, OLD_MAX_WORDS).with_reserve(reserve)
}

/// The to-space a collection may need, allocated before it starts: a copy
/// cannot stop half-way (objects already forwarded, roots half rewritten),
/// so a collection either has all the memory its survivors could take or
/// does not start. Survivors of ordinary objects take at most `normal`
/// bytes, plus, per chunk, the tail left when the next object does not fit
/// (under `LARGE_WORDS`); each large object takes a chunk of its size.
/// `None` if the system refuses any of it (what was taken goes back).
fn reserve_to_space(
    normal: usize,
    large_words: impl Iterator<Item = usize>,
) -> Option<(Vec<Chunk>, Vec<Chunk>)> {
    let words = normal.div_ceil(WORD);
    let mut chunks = Vec::new();
    if words > OLD_MAX_WORDS {
        let per_chunk = OLD_MAX_WORDS - LARGE_WORDS;
        for _ in 0..words.div_ceil(per_chunk) {
            chunks.push(Chunk::try_new(OLD_MAX_WORDS)?);
        }
    } else if words > 0 {
        chunks.push(Chunk::try_new(first_chunk_words(normal).max(words))?);
    }
    let large = large_words
        .map(Chunk::try_new)
        .collect::<Option<Vec<Chunk>>>()?;
    Some((chunks, large))
}

/// Object words of the large objects in `large` that `pick` selects by
/// header.
fn large_objects(large: &[Chunk], pick: impl Fn(u64) -> bool) -> Vec<usize> {
    large
        .iter()
        .filter_map(|c| {
            // SAFETY: a large chunk holds one object at its start.
            let h = unsafe { *c.start() };
            pick(h).then(|| object::object_words(h))
        })
        .collect()
}

/// Minor: copy young objects; note shared ones in `owned`.
#[inline(always)]
fn minor_visit(c: &mut Copier<'_>, owned: &mut PtrSet, v: &mut Value) {
    let Some(p) = v.ptr() else { return };
    if v.is_local() {
        // SAFETY: every local pointer in a root or a reachable object
        // addresses a live object of this heap (value contract).
        let h = unsafe { *p };
        if object::is_forwarded(h) {
            *v = Value::local_ptr(object::forward_target(h));
        } else if h & flag::YOUNG != 0 {
            // SAFETY: `p` is a live young object; the old space we copy into
            // does not contain it.
            *v = Value::local_ptr(unsafe { c.copy(p, h) });
        }
    } else if owned.insert(p as usize) {
        // SAFETY: a shared pointer reachable from this heap is alive (held by
        // a global, a message or this heap) until this heap's GC takes its
        // own count, which is now.
        unsafe { shared::retain(p) };
    }
}

/// Major: copy every private object; collect reached shared ones.
#[inline(always)]
fn major_visit(c: &mut Copier<'_>, reached: &mut PtrSet, v: &mut Value) {
    let Some(p) = v.ptr() else { return };
    if v.is_local() {
        // SAFETY: as in `minor_visit`; from-space objects stay allocated
        // until the collection ends.
        let h = unsafe { *p };
        if object::is_forwarded(h) {
            *v = Value::local_ptr(object::forward_target(h));
        } else {
            // SAFETY: `p` is a live from-space object, not in the new space.
            *v = Value::local_ptr(unsafe { c.copy(p, h) });
        }
    } else {
        reached.insert(p as usize);
    }
}

/// The first to-space chunk for an expected `bytes` of survivors.
/// Above an eighth of a pooled chunk, take a pooled one: it is warm memory.
fn first_chunk_words(bytes: usize) -> usize {
    let words = bytes / WORD;
    if words > OLD_MAX_WORDS / 8 {
        OLD_MAX_WORDS
    } else {
        words
            .next_power_of_two()
            .clamp(OLD_FIRST_WORDS, OLD_MAX_WORDS)
    }
}

impl Heap {
    /// Copy the live young objects to old space. Updates every root.
    ///
    /// If the memory the survivors could need cannot be had, nothing is
    /// collected and the heap refuses every later allocation (see
    /// [`Heap::starve`]): the owner dies with `{:heap-limit bytes}` at its
    /// next allocation instead of the process at the allocator.
    pub fn minor_gc(&mut self, roots: &mut dyn Roots) {
        let t0 = Instant::now();
        let large_before = self.large.len();
        // Survivors fit in what the nursery holds: size the first old chunk
        // for that instead of ramping up from a small one.
        let used = self.nursery.used_bytes();
        let first = first_chunk_words(used);
        let young_large = large_objects(&self.large, |h| h & flag::YOUNG != 0);
        let reserve = crate::memory::as_owner(self.in_use, || {
            reserve_to_space(used, young_large.into_iter())
        });
        let Some(reserve) = reserve else {
            return self.starve();
        };
        let left;
        {
            let owned = &mut self.owned;
            let tenured = &mut **self.tenured.get_or_insert_with(Box::default);
            let mut c = promoting_copier(&mut tenured.old, &mut self.large, first, reserve);
            roots.visit_roots(&mut |v| minor_visit(&mut c, owned, v));
            for &o in &tenured.remembered {
                // SAFETY: remembered objects are live old objects (old
                // objects do not move in a minor collection).
                let h = unsafe { *o };
                // SAFETY: as above; clearing our own flag bit.
                unsafe { o.write(h & !flag::REMEMBERED) };
                for i in 0..object::traced_words(h) {
                    // SAFETY: traced words lie inside the object's payload.
                    let field = unsafe { &mut *(o.add(1 + i) as *mut Value) };
                    minor_visit(&mut c, owned, field);
                }
            }
            c.drain(|c, v| minor_visit(c, owned, v));
            // The reserve covers every survivor: a copy that still ran
            // out would leave the heap half-forwarded.
            if c.failed() {
                std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u64; OLD_MAX_WORDS]>());
            }
            left = c.take_reserve();
        }
        chunk::free_chunks(left);
        self.tenured().remembered.clear();
        // Young large objects were copied (forwarded) or are garbage (still
        // YOUNG): either way their chunks go.
        let mut i = 0;
        self.large.retain(|c| {
            let keep = i >= large_before || {
                // SAFETY: a large chunk holds one object at its start.
                let h = unsafe { *c.start() };
                !object::is_forwarded(h) && h & flag::YOUNG == 0
            };
            i += 1;
            keep
        });
        self.finish(t0, false, roots);
    }

    /// Copy every live private object into fresh, compact old space and
    /// release the shared objects this heap no longer reaches.
    ///
    /// Like [`Heap::minor_gc`], collects nothing (and starves the heap) if
    /// the to-space cannot be had.
    pub fn major_gc(&mut self, roots: &mut dyn Roots) {
        let t0 = Instant::now();
        let old_used = self.tenured.as_ref().map_or(0, |t| t.old.used_bytes());
        let used = old_used + self.nursery.used_bytes();
        let all_large = large_objects(&self.large, |_| true);
        let reserve = crate::memory::as_owner(self.in_use, || {
            reserve_to_space(used, all_large.into_iter())
        });
        let Some(reserve) = reserve else {
            return self.starve();
        };
        let from_old = core::mem::take(&mut self.tenured().old);
        let from_large = core::mem::take(&mut self.large);
        let mut reached = PtrSet::default();
        let first = first_chunk_words(used);
        let left;
        {
            let tenured = &mut **self.tenured.get_or_insert_with(Box::default);
            let mut c = promoting_copier(&mut tenured.old, &mut self.large, first, reserve);
            roots.visit_roots(&mut |v| major_visit(&mut c, &mut reached, v));
            c.drain(|c, v| major_visit(c, &mut reached, v));
            // The reserve covers every survivor: a copy that still ran
            // out would leave the heap half-forwarded.
            if c.failed() {
                std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u64; OLD_MAX_WORDS]>());
            }
            left = c.take_reserve();
        }
        chunk::free_chunks(left);
        // Remembered objects were all in from-space.
        self.tenured().remembered.clear();
        let mut from = from_large;
        from.append(&mut { from_old }.chunks);
        chunk::free_chunks(from);
        for &p in &reached {
            if !self.owned.contains(&p) {
                // SAFETY: reached shared objects are alive (see minor_visit).
                unsafe { shared::retain(p as *const u64) };
            }
        }
        let old_owned = core::mem::replace(&mut self.owned, reached);
        for p in old_owned {
            if !self.owned.contains(&p) {
                // SAFETY: we held one count on `p` and give it up.
                unsafe { shared::release(p as *const u64) };
            }
        }
        self.finish(t0, true, roots);
    }

    /// Minor collection, then a major one if old space has grown past its
    /// threshold. The policy a runtime calls at safepoints.
    pub fn collect(&mut self, roots: &mut dyn Roots) {
        self.minor_gc(roots);
        if self.live_after > self.old_threshold || self.owned_over_limit() {
            self.major_gc(roots);
        }
    }

    /// A collection could not get its to-space: lower the limit to what the
    /// heap holds now, so that its next allocation that needs a chunk fails
    /// with `HeapError::Limit` and the owner ends, while every value it holds
    /// stays valid.
    fn starve(&mut self) {
        self.limit = self.limit.min(self.in_use);
        self.gc_wanted = false;
    }

    /// Common end of both collections: reset the nursery, recount, time.
    fn finish(&mut self, t0: Instant, major: bool, roots: &mut dyn Roots) {
        let cycle = self.young_bytes.max(NURSERY_FIRST_WORDS * WORD);
        let large: usize = self.large.iter().map(Chunk::bytes).sum();
        let tenured = &mut **self.tenured.get_or_insert_with(Box::default);
        self.live_after = tenured.old.used_bytes() + large;
        // Keep the last nursery chunk for the next cycle if this cycle used
        // at least half its size: busy actors then bump into warm memory,
        // idle ones fall back to small chunks. A kept chunk counts as
        // allocated (it will be filled before the next slow-path check), so
        // it must leave most of the budget free: one as large as the budget
        // would make every later chunk start a collection.
        let budget = nursery_budget_for(self.live_after);
        self.nursery
            .clear(|c| c.bytes() <= 2 * cycle && c.bytes() <= budget / 2);
        self.young_bytes = self.nursery.capacity_bytes();
        self.in_use = self.nursery.capacity_bytes() + tenured.old.capacity_bytes() + large;
        if major {
            self.old_threshold = self.live_after + (self.live_after / 2).max(MIN_MAJOR_HEADROOM);
            self.owned_limit = u32::try_from(2 * self.owned.len())
                .unwrap_or(u32::MAX)
                .max(crate::heap::MIN_OWNED_HEADROOM);
            let kib = self
                .owned
                .iter()
                .map(|&p| {
                    // SAFETY: every object in the owned set is alive (this
                    // heap holds a count on each).
                    unsafe { crate::shared::weight_kib(p as *const u64) }
                })
                .fold(0u32, u32::saturating_add);
            self.owned_kib = kib;
            self.owned_kib_limit = kib.saturating_mul(2).max(crate::heap::MIN_OWNED_KIB);
            tenured.counters.major += 1;
        } else {
            tenured.counters.minor += 1;
        }
        self.gc_wanted = self.live_after > self.old_threshold
            || self.owned.len() > self.owned_limit as usize
            || self.owned_kib > self.owned_kib_limit;
        let ns = t0.elapsed().as_nanos() as u64;
        tenured.counters.last_pause_ns = ns;
        tenured.counters.total_pause_ns += ns;
        if cfg!(feature = "debug-checks") {
            if let Err(e) = self.verify(roots, true) {
                panic!(
                    "heap invariant broken after {} GC: {e}",
                    if major { "major" } else { "minor" }
                );
            }
        }
    }
}
