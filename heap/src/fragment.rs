//! Messages: a term deep-copied out of one heap into chunks of its own (a
//! fragment), owned by the message until a receiving heap adopts it.
//!
//! - The copy is a Cheney copy (`copy.rs`) into fresh chunks. Sharing is
//!   preserved: the first visit of a source object writes a forwarding
//!   header into it, later visits follow it; the overwritten headers are
//!   logged and restored when the copy is done.
//! - Shared-heap objects are not copied: the fragment takes a count on each.
//! - Adoption moves the fragment's chunks into the receiver's nursery as
//!   young memory (their objects already carry the YOUNG flag) and its
//!   shared counts into the receiver's owned set: no second copy. The next
//!   minor collection evacuates what is still live, like any young object.

use crate::chunk::{Chunk, Space, FRAGMENT_FIRST_WORDS, NURSERY_MAX_WORDS};
use crate::copy::Copier;
use crate::heap::Heap;
use crate::object::{self, ErrorParts, ListKind, ObjKind};
use crate::read::read_methods;
use crate::shared::{self, SharedValue};
use crate::stats::HeapError;
use crate::value::Value;
use std::any::Any;
use std::sync::Arc;

/// A message term, owned by nobody else. `Send`.
pub struct Fragment {
    chunks: Vec<Chunk>,
    large: Vec<Chunk>,
    root: Value,
    /// Shared objects this fragment holds one count on (each occurrence).
    shared: Vec<*const u64>,
}

// SAFETY: a fragment exclusively owns its chunks (no heap points into them
// until one adopts it, consuming the fragment), and the shared objects it
// counts are immutable and atomically counted. Moving it between threads is
// sound; it has no interior mutability, so `&Fragment` reads are too.
unsafe impl Send for Fragment {}
// SAFETY: see above: reading a fragment through `&self` never writes.
unsafe impl Sync for Fragment {}

impl Fragment {
    /// A message holding an immediate (no allocation). A pointer value is
    /// not an immediate and is replaced by `{}`: use
    /// [`Heap::copy_to_fragment`] or [`Fragment::from_shared`] for those.
    pub fn immediate(v: Value) -> Fragment {
        debug_assert!(!v.is_ptr(), "Fragment::immediate given a pointer");
        Fragment {
            chunks: Vec::new(),
            large: Vec::new(),
            root: if v.is_ptr() { Value::NIL } else { v },
            shared: Vec::new(),
        }
    }

    /// A message holding a shared value (its count moves into the message).
    pub fn from_shared(v: SharedValue) -> Fragment {
        let root = v.into_owned();
        Fragment {
            chunks: Vec::new(),
            large: Vec::new(),
            shared: root.ptr().map(|p| p as *const u64).into_iter().collect(),
            root,
        }
    }

    /// The term. Readable with the fragment's own read methods or any
    /// heap's, until the fragment is adopted or dropped.
    pub fn root(&self) -> Value {
        self.root
    }

    /// Bytes of private memory the message holds (excluding shared objects).
    pub fn byte_size(&self) -> usize {
        self.chunks
            .iter()
            .chain(&self.large)
            .map(Chunk::bytes)
            .sum()
    }

    read_methods!(crate::read::any);
}

impl Drop for Fragment {
    fn drop(&mut self) {
        for &p in &self.shared {
            // SAFETY: the fragment owns one count per entry.
            unsafe { shared::release(p) };
        }
    }
}

impl core::fmt::Debug for Fragment {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fragment")
            .field("root", &self.root)
            .field("bytes", &self.byte_size())
            .field("shared", &self.shared.len())
            .finish()
    }
}

/// Source objects whose header a message copy replaced with a forwarding
/// pointer, with the header to put back.
type HeaderLog = smallvec::SmallVec<[(*mut u64, u64); 8]>;

/// Message copy of one field: copy private objects (once), count shared ones.
#[inline(always)]
fn visit(
    c: &mut Copier<'_>,
    log: &mut HeaderLog,
    shared_refs: &mut Vec<*const u64>,
    v: &mut Value,
) {
    let Some(p) = v.ptr() else { return };
    if v.is_local() {
        // SAFETY: value contract: a live object of the heap being copied
        // from, borrowed mutably by `copy_to_fragment`.
        let h = unsafe { *p };
        if object::is_forwarded(h) {
            *v = Value::local_ptr(object::forward_target(h));
        } else {
            log.push((p, h));
            // SAFETY: `p` is a live source object, not in the fragment.
            *v = Value::local_ptr(unsafe { c.copy(p, h) });
        }
    } else {
        // SAFETY: the source heap keeps `p` alive; the fragment takes its
        // own count.
        unsafe { shared::retain(p) };
        shared_refs.push(p);
    }
}

impl Heap {
    /// Deep-copy `v` into a message. Preserves sharing inside the term and
    /// passes shared-heap objects by count. `v` and this heap are unchanged.
    pub fn copy_to_fragment(&mut self, v: Value) -> Fragment {
        if !v.is_ptr() {
            // Numbers, keywords, symbols: most replies copy nothing.
            return Fragment::immediate(v);
        }
        let mut space = Space::new();
        let mut large = Vec::new();
        // The overwritten headers of the copied objects: a small message
        // (the usual case) logs them without a heap allocation.
        let mut log = HeaderLog::new();
        let mut shared_refs = Vec::new();
        let mut root = v;
        {
            let mut c = Copier::new(
                &mut space,
                &mut large,
                true,
                FRAGMENT_FIRST_WORDS,
                NURSERY_MAX_WORDS,
            );
            visit(&mut c, &mut log, &mut shared_refs, &mut root);
            c.drain(|c, f| visit(c, &mut log, &mut shared_refs, f));
        }
        for (p, h) in log {
            // SAFETY: restoring the header the copy overwrote; `p` is live.
            unsafe { p.write(h) };
        }
        space.seal();
        Fragment {
            chunks: core::mem::take(&mut space.chunks),
            large,
            root,
            shared: shared_refs,
        }
    }

    /// Take a message into this heap without copying it again. Fails (and
    /// drops the message) if its memory would take the heap past its limit.
    pub fn adopt(&mut self, mut f: Fragment) -> Result<Value, HeapError> {
        let bytes = f.byte_size();
        if self.in_use.saturating_add(bytes) > self.limit {
            return Err(HeapError::Limit {
                limit: self.limit,
                in_use: self.in_use,
            });
        }
        for c in f.chunks.drain(..) {
            self.nursery.add_full_chunk(c);
        }
        self.large.append(&mut f.large);
        for p in f.shared.drain(..) {
            if !self.owned.insert(p as usize) {
                // SAFETY: the fragment owned this count; we already hold one.
                unsafe { shared::release(p) };
            }
        }
        self.grew_young(bytes);
        Ok(f.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_immediate_message_holds_no_memory() {
        let f = Fragment::immediate(Value::TRUE);
        assert_eq!(f.byte_size(), 0);
        assert_eq!(f.root(), Value::TRUE);
        let mut h = Heap::new();
        assert_eq!(h.adopt(f), Ok(Value::TRUE));
        assert_eq!(h.bytes_in_use(), 0);
    }

    #[test]
    fn a_small_message_uses_a_small_chunk() {
        let mut h = Heap::new();
        let l = h.list(&[Value::TRUE, Value::FALSE], ListKind::Q).unwrap();
        let f = h.copy_to_fragment(l);
        assert_eq!(f.byte_size(), FRAGMENT_FIRST_WORDS * 8);
        assert_eq!(
            f.list_to_vec(f.root()),
            Some(vec![Value::TRUE, Value::FALSE])
        );
        assert_eq!(f.kind(f.root()), Some(ObjKind::Cons));
    }
}
