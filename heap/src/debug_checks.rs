//! Heap invariant checks. Run after every collection with the
//! `debug-checks` feature; callable any time by tests.
//!
//! 1. Every chunk parses as a sequence of well-formed objects (valid kind,
//!    size inside the chunk): in particular no forwarding header is left.
//! 2. Nursery objects are YOUNG, old-space objects are not.
//! 3. Every private pointer (in a root or an object) lands on the start of
//!    an object in one of this heap's chunks.
//! 4. Every shared pointer addresses an object with count > 0; every owned
//!    shared object has count > 0.
//! 5. Remembered set complete: an old object holding a pointer to a young
//!    object, or to a shared object not in the owned set, is remembered.
//! 6. Right after a collection: the nursery is empty, and every shared
//!    pointer the heap holds is in its owned set.
//! 7. `bytes_in_use` equals the bytes of all chunks.

use crate::chunk::Chunk;
use crate::heap::Heap;
use crate::object::{self, flag};
use crate::roots::Roots;
use crate::shared;
use crate::value::Value;
use std::collections::HashSet;

#[derive(Clone, Copy, PartialEq)]
enum Region {
    Nursery,
    Old,
    Large,
}

impl Heap {
    /// Verify the heap's invariants (slow: walks every object). `roots` are
    /// only read.
    pub fn check_invariants(&self, roots: &mut dyn Roots) -> Result<(), String> {
        self.verify(roots, false)
    }

    pub(crate) fn verify(&self, roots: &mut dyn Roots, after_gc: bool) -> Result<(), String> {
        let mut objects: Vec<(*mut u64, Region)> = Vec::new();
        let mut starts: HashSet<usize> = HashSet::new();
        let regions = self
            .nursery
            .ranges()
            .map(|r| (r, Region::Nursery))
            .chain(
                self.tenured
                    .iter()
                    .flat_map(|t| t.old.ranges())
                    .map(|r| (r, Region::Old)),
            )
            .chain(
                self.large
                    .iter()
                    .map(|c| ((c.start(), c.start().wrapping_add(c.used)), Region::Large)),
            );
        for ((start, end), region) in regions {
            let mut p = start;
            while p < end {
                // SAFETY: `p` is inside a chunk's used part, at an object
                // boundary (we advance by whole objects and stop at `end`).
                let h = unsafe { *p };
                if object::header_kind(h).is_none() {
                    return Err(format!("bad or forwarding header {h:#x} at {p:?}"));
                }
                let words = object::object_words(h);
                if words > (end as usize - p as usize) / 8 {
                    return Err(format!(
                        "object at {p:?} of {words} words overruns its chunk"
                    ));
                }
                let young = h & flag::YOUNG != 0;
                match region {
                    Region::Nursery if !young => {
                        return Err(format!("old object {p:?} in nursery"))
                    }
                    Region::Old if young => return Err(format!("young object {p:?} in old space")),
                    Region::Large if after_gc && young => {
                        return Err(format!("young large object {p:?} after GC"))
                    }
                    _ => {}
                }
                if after_gc && region == Region::Nursery {
                    return Err(format!("nursery object {p:?} left after GC"));
                }
                starts.insert(p as usize);
                objects.push((p, region));
                p = p.wrapping_add(words);
            }
        }
        let no_remembered = Vec::new();
        let remembered_list = self
            .tenured
            .as_ref()
            .map_or(&no_remembered, |t| &t.remembered);
        let remembered: HashSet<usize> = remembered_list.iter().map(|&p| p as usize).collect();
        let check_value = |v: Value, what: &dyn Fn() -> String| -> Result<(), String> {
            let Some(p) = v.ptr() else { return Ok(()) };
            if v.is_local() {
                if !starts.contains(&(p as usize)) {
                    return Err(format!(
                        "{} points to {p:?}, not an object of this heap",
                        what()
                    ));
                }
            } else {
                // SAFETY: a shared pointer held by this heap must be alive;
                // reading its count is how we check that.
                if unsafe { shared::count_of(p) } == 0 {
                    return Err(format!("{} points to freed shared object {p:?}", what()));
                }
                if after_gc && !self.owned.contains(&(p as usize)) {
                    return Err(format!(
                        "{} holds shared {p:?} the heap does not own",
                        what()
                    ));
                }
            }
            Ok(())
        };
        for &(p, region) in &objects {
            // SAFETY: `p` is a well-formed object found by the walk above.
            let h = unsafe { *p };
            let mut needs_remembering = false;
            for i in 0..object::traced_words(h) {
                // SAFETY: traced words lie inside the object.
                let v = Value::from_bits(unsafe { *p.add(1 + i) });
                check_value(v, &|| format!("field {i} of {p:?}"))?;
                if h & flag::YOUNG == 0 {
                    if let Some(q) = v.ptr() {
                        needs_remembering |= if v.is_local() {
                            // SAFETY: `q` was just checked to be an object start.
                            (unsafe { *q }) & flag::YOUNG != 0
                        } else {
                            !self.owned.contains(&(q as usize))
                        };
                    }
                }
            }
            let is_remembered = h & flag::REMEMBERED != 0;
            if is_remembered != remembered.contains(&(p as usize)) {
                return Err(format!(
                    "REMEMBERED flag of {p:?} disagrees with the remembered set"
                ));
            }
            if needs_remembering && !is_remembered {
                return Err(format!(
                    "old object {p:?} ({region:?}) points young/unowned but is not remembered"
                ));
            }
        }
        if remembered.len() != remembered_list.len()
            || remembered.iter().any(|p| !starts.contains(p))
        {
            return Err("remembered set has duplicates or stale entries".into());
        }
        for &p in &self.owned {
            // SAFETY: we own a count on each, so they are alive.
            if unsafe { shared::count_of(p as *const u64) } == 0 {
                return Err(format!("owned shared object {p:#x} has count 0"));
            }
        }
        let mut root_err = None;
        let mut n = 0;
        roots.visit_roots(&mut |v| {
            if root_err.is_none() {
                root_err = check_value(*v, &|| format!("root {n}")).err();
            }
            n += 1;
        });
        if let Some(e) = root_err {
            return Err(e);
        }
        let chunk_bytes = self.nursery.capacity_bytes()
            + self.tenured.as_ref().map_or(0, |t| t.old.capacity_bytes())
            + self.large.iter().map(Chunk::bytes).sum::<usize>();
        if chunk_bytes != self.in_use {
            return Err(format!(
                "in_use {} but chunks hold {chunk_bytes}",
                self.in_use
            ));
        }
        Ok(())
    }
}

impl core::fmt::Debug for Region {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Region::Nursery => "nursery",
            Region::Old => "old",
            Region::Large => "large",
        })
    }
}
