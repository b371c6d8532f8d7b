//! Messages: a term deep-copied out of one heap into memory of its own (a
//! fragment), owned by the message until a receiving heap adopts it.
//!
//! - Most messages are a few words (`{pid 12345}` is 8). They are copied
//!   into one message buffer (`MsgBuf`, `MSG_WORDS` words) taken from a
//!   per-thread cache: no allocation. The receiver copies those few words
//!   into its nursery (relocating the pointers between them) and the buffer
//!   goes back to its thread's cache. For a tiny message that second copy is
//!   cheaper than adopting a chunk: no chunk allocated per message, none
//!   for the next minor collection to free, and only the message's own
//!   words count against the nursery budget.
//! - A message that outgrows the buffer continues in fresh chunks (the
//!   buffer becomes the first one) with the collector's Cheney copier.
//!   Adoption moves those chunks into the receiver's nursery as young
//!   memory (their objects already carry the YOUNG flag): no second copy.
//!   The next minor collection evacuates what is still live.
//! - Sharing is preserved: the first visit of a source object writes a
//!   forwarding header into it, later visits follow it; the overwritten
//!   headers are logged and restored when the copy is done.
//! - Shared-heap objects are not copied: the fragment takes a count on each
//!   occurrence, and adoption moves the counts into the receiver's owned set.

use crate::chunk::{
    Chunk, MsgBuf, ScanPos, Space, FRAGMENT_FIRST_WORDS, MSG_NURSERY_FIRST_WORDS, MSG_WORDS,
    NURSERY_FIRST_WORDS, NURSERY_MAX_WORDS, WORD,
};
use crate::copy::Copier;
use crate::heap::Heap;
use crate::object::{self, flag, ErrorParts, ListKind, ObjKind};
use crate::read::read_methods;
use crate::shared::{self, SharedValue};
use crate::stats::HeapError;
use crate::value::Value;
use core::mem::MaybeUninit;
use std::any::Any;
use std::sync::Arc;

/// A message term, owned by nobody else. `Send`.
pub struct Fragment {
    root: Value,
    body: Body,
}

/// What a fragment holds besides its root.
enum Body {
    /// The root is an immediate.
    Empty,
    /// The root is a shared object the fragment holds one count on.
    Shared,
    /// A small message: `used` words of objects at the start of `buf`, and
    /// `shared` addresses of shared objects the fragment holds one count on
    /// (one per occurrence) in the last `shared` words of `buf`.
    Small { buf: MsgBuf, used: u32, shared: u32 },
    /// A message that outgrew a buffer.
    Big(Box<Big>),
}

struct Big {
    chunks: Vec<Chunk>,
    large: Vec<Chunk>,
    /// Shared objects this fragment holds one count on (each occurrence).
    shared: Vec<*const u64>,
}

// SAFETY: a fragment exclusively owns its buffer and chunks (no heap points
// into them until one adopts it, consuming the fragment), and the shared
// objects it counts are immutable and atomically counted. Moving it between
// threads is sound; it has no interior mutability, so `&Fragment` reads are
// too.
unsafe impl Send for Fragment {}
// SAFETY: see above: reading a fragment through `&self` never writes.
unsafe impl Sync for Fragment {}

/// The shared objects a small message's buffer lists at its end.
///
/// # Safety
/// `buf` holds a small fragment's body with `shared` entries.
unsafe fn small_shared(buf: &MsgBuf, shared: u32) -> impl Iterator<Item = *const u64> + '_ {
    let base = buf.start();
    // SAFETY: (each read) the last `shared` words of the buffer hold shared
    // object addresses (caller's contract).
    (MSG_WORDS - shared as usize..MSG_WORDS).map(move |k| unsafe { *base.add(k) } as *const u64)
}

impl Fragment {
    /// A message holding an immediate (no allocation). A pointer value is
    /// not an immediate and is replaced by `{}`: use
    /// [`Heap::copy_to_fragment`] or [`Fragment::from_shared`] for those.
    pub fn immediate(v: Value) -> Fragment {
        debug_assert!(!v.is_ptr(), "Fragment::immediate given a pointer");
        Fragment {
            root: if v.is_ptr() { Value::NIL } else { v },
            body: Body::Empty,
        }
    }

    /// A message holding a shared value (its count moves into the message).
    pub fn from_shared(v: SharedValue) -> Fragment {
        let root = v.into_owned();
        Fragment {
            root,
            body: if root.is_ptr() {
                Body::Shared
            } else {
                Body::Empty
            },
        }
    }

    /// The term. Readable with the fragment's own read methods or any
    /// heap's, until the fragment is adopted or dropped.
    pub fn root(&self) -> Value {
        self.root
    }

    /// Bytes of private memory the message holds (excluding shared objects).
    pub fn byte_size(&self) -> usize {
        match &self.body {
            Body::Empty | Body::Shared => 0,
            Body::Small { .. } => MSG_WORDS * WORD,
            Body::Big(b) => b.chunks.iter().chain(&b.large).map(Chunk::bytes).sum(),
        }
    }

    /// Shared objects the message holds counts on (one per occurrence).
    fn shared_count(&self) -> usize {
        match &self.body {
            Body::Empty => 0,
            Body::Shared => 1,
            Body::Small { shared, .. } => *shared as usize,
            Body::Big(b) => b.shared.len(),
        }
    }

    read_methods!(crate::read::any);
}

impl Drop for Fragment {
    fn drop(&mut self) {
        match &self.body {
            Body::Empty => {}
            Body::Shared => {
                if let Some(p) = self.root.ptr() {
                    // SAFETY: the fragment owns one count on its root.
                    unsafe { shared::release(p) };
                }
            }
            Body::Small { buf, shared, .. } => {
                // SAFETY: a small body lists `shared` addresses.
                for p in unsafe { small_shared(buf, *shared) } {
                    // SAFETY: the fragment owns one count per entry.
                    unsafe { shared::release(p) };
                }
            }
            Body::Big(b) => {
                for &p in &b.shared {
                    // SAFETY: the fragment owns one count per entry.
                    unsafe { shared::release(p) };
                }
            }
        }
    }
}

impl core::fmt::Debug for Fragment {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fragment")
            .field("root", &self.root)
            .field("bytes", &self.byte_size())
            .field("shared", &self.shared_count())
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

/// A copy into one message buffer: objects are bumped from its start
/// (`top`), shared addresses stored down from its end (`end`); the copies
/// between `scan` (the caller's) and `top` are still to be scanned.
struct SmallCopy {
    base: *mut u64,
    top: usize,
    end: usize,
    /// The overwritten source headers. Every object is at least one word,
    /// so a buffer holds at most `MSG_WORDS` copies.
    log: [MaybeUninit<(*mut u64, u64)>; MSG_WORDS],
    logged: usize,
}

impl SmallCopy {
    /// Copy (or count) the value in `*f` into the buffer. Returns false,
    /// having changed nothing, if it does not fit.
    ///
    /// # Safety
    /// `f` is a writable value slot whose pointer, if local, addresses a
    /// live object of the heap being copied from (or one this copy already
    /// forwarded).
    #[inline(always)]
    unsafe fn visit(&mut self, f: *mut Value) -> bool {
        // SAFETY: `f` is a valid slot (contract).
        let v = unsafe { *f };
        let Some(p) = v.ptr() else { return true };
        if v.is_local() {
            // SAFETY: a live source object (contract).
            let h = unsafe { *p };
            if object::is_forwarded(h) {
                // SAFETY: as above.
                unsafe { f.write(Value::local_ptr(object::forward_target(h))) };
                return true;
            }
            let words = object::object_words(h);
            if words > self.end - self.top {
                return false;
            }
            let dst = self.base.wrapping_add(self.top);
            // SAFETY: `dst..dst+words` is free buffer space (checked above),
            // `p` a live source object of `words` words outside the buffer;
            // `logged` < `MSG_WORDS` because every logged copy took at least
            // one of the buffer's words. The source header gets a forwarding
            // header, restored from the log before the copy returns.
            unsafe {
                match words {
                    // A cons cell; a pid, reference or big integer.
                    3 => {
                        dst.add(1).write(*p.add(1));
                        dst.add(2).write(*p.add(2));
                    }
                    2 => dst.add(1).write(*p.add(1)),
                    _ => core::ptr::copy_nonoverlapping(p.add(1), dst.add(1), words - 1),
                }
                dst.write((h & !flag::SPACE) | flag::YOUNG);
                p.write(object::forwarding(dst));
                self.log.get_unchecked_mut(self.logged).write((p, h));
                f.write(Value::local_ptr(dst));
            }
            self.logged += 1;
            self.top += words;
        } else {
            if self.end == self.top {
                return false;
            }
            self.end -= 1;
            // SAFETY: the source heap keeps `p` alive; the fragment takes its
            // own count and records it in a free word of the buffer.
            unsafe {
                shared::retain(p);
                self.base.add(self.end).write(p as u64);
            }
        }
        true
    }

    /// The logged source headers.
    fn log(&self) -> impl Iterator<Item = (*mut u64, u64)> + '_ {
        // SAFETY: the first `logged` entries were written by `visit`.
        self.log[..self.logged]
            .iter()
            .map(|e| unsafe { e.assume_init() })
    }
}

impl Heap {
    /// Deep-copy `v` into a message. Preserves sharing inside the term and
    /// passes shared-heap objects by count. `v` and this heap are unchanged.
    ///
    /// Fails, having changed nothing, if the system refuses memory for the
    /// copy: the sender then dies with `{:heap-limit bytes}`.
    #[inline]
    pub fn try_copy_to_fragment(&mut self, v: Value) -> Result<Fragment, HeapError> {
        if !v.is_ptr() {
            // Numbers, keywords, symbols: most replies copy nothing.
            return Ok(Fragment::immediate(v));
        }
        crate::memory::as_owner(self.in_use, || self.copy_ptr_to_fragment(v))
    }

    /// [`Heap::try_copy_to_fragment`] for callers that cannot take an
    /// error (messages the runtime builds itself, a few words each): a
    /// refused allocation is the allocation error handler's.
    pub fn copy_to_fragment(&mut self, v: Value) -> Fragment {
        match self.try_copy_to_fragment(v) {
            Ok(f) => f,
            Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u64; MSG_WORDS]>()),
        }
    }

    /// `copy_to_fragment` of a pointer.
    #[inline(never)]
    fn copy_ptr_to_fragment(&mut self, v: Value) -> Result<Fragment, HeapError> {
        let Some(p) = v.ptr() else {
            return Ok(Fragment::immediate(v));
        };
        if !v.is_local() {
            // SAFETY: the source heap keeps `p` alive; the fragment takes
            // its own count.
            unsafe { shared::retain(p) };
            return Ok(Fragment {
                root: v,
                body: Body::Shared,
            });
        }
        // SAFETY: value contract: a live object of this heap.
        if object::object_words(unsafe { *p }) > MSG_WORDS {
            return self.copy_big(v, Space::new(), HeaderLog::new(), Vec::new(), None);
        }
        self.copy_small(v)
    }

    /// `copy_to_fragment` of a term whose root fits in a message buffer.
    #[inline(always)]
    fn copy_small(&mut self, v: Value) -> Result<Fragment, HeapError> {
        let Some(buf) = MsgBuf::try_new() else {
            return Err(self.out_of_memory(MSG_WORDS));
        };
        let mut s = SmallCopy {
            base: buf.start(),
            top: 0,
            end: MSG_WORDS,
            log: [const { MaybeUninit::uninit() }; MSG_WORDS],
            logged: 0,
        };
        let mut root = v;
        // SAFETY: `root` is a local value of this heap whose object fits in
        // the empty buffer (the caller checked), so this copies it.
        let copied = unsafe { s.visit(&mut root) };
        debug_assert!(copied);
        let mut scan = 0;
        while scan < s.top {
            let obj = s.base.wrapping_add(scan);
            // SAFETY: `obj` is a complete copy written by `visit`.
            let h = unsafe { *obj };
            for i in 0..object::traced_words(h) {
                let f = obj.wrapping_add(1 + i) as *mut Value;
                // SAFETY: traced words of a copy hold values of the source
                // heap (or ones this copy already rewrote).
                if !unsafe { s.visit(f) } {
                    return self.outgrow(s, buf, root, scan, i);
                }
            }
            scan += object::object_words(h);
        }
        for (p, h) in s.log() {
            // SAFETY: restoring the header the copy overwrote; `p` is live.
            unsafe { p.write(h) };
        }
        Ok(Fragment {
            root,
            body: Body::Small {
                buf,
                used: s.top as u32,
                shared: (MSG_WORDS - s.end) as u32,
            },
        })
    }

    /// The term did not fit in its buffer: field `field` of the copy at
    /// `scan` is the first not copied. Continue with the general copier,
    /// the buffer becoming the fragment's first chunk.
    #[cold]
    #[inline(never)]
    fn outgrow(
        &mut self,
        s: SmallCopy,
        buf: MsgBuf,
        root: Value,
        scan: usize,
        field: usize,
    ) -> Result<Fragment, HeapError> {
        // SAFETY: the buffer's last `MSG_WORDS - end` words hold the
        // addresses of the shared objects counted so far.
        let shared_refs = unsafe { small_shared(&buf, (MSG_WORDS - s.end) as u32) }.collect();
        let log = s.log().collect();
        let obj = s.base.wrapping_add(scan);
        // SAFETY: `obj` is a complete copy in the buffer.
        let next = scan + object::object_words(unsafe { *obj });
        let mut space = Space::new();
        space.start_chunk_at(buf.into_chunk(), s.top);
        self.copy_big(root, space, log, shared_refs, Some((obj, field, next)))
    }

    /// Copy (or finish copying, when `pending` names a half-scanned copy,
    /// its first unvisited field and the offset of the next copy to scan in
    /// the space's first chunk) a term into chunks.
    fn copy_big(
        &mut self,
        mut root: Value,
        mut space: Space,
        mut log: HeaderLog,
        mut shared_refs: Vec<*const u64>,
        pending: Option<(*mut u64, usize, usize)>,
    ) -> Result<Fragment, HeapError> {
        let mut large = Vec::new();
        let failed;
        {
            let (first, max) = (FRAGMENT_FIRST_WORDS, NURSERY_MAX_WORDS);
            let mut c = match pending {
                None => {
                    let mut c = Copier::new(&mut space, &mut large, true, first, max);
                    visit(&mut c, &mut log, &mut shared_refs, &mut root);
                    c
                }
                Some((obj, field, next)) => {
                    let scan = ScanPos::first_chunk(next);
                    let mut c = Copier::resume(&mut space, &mut large, true, first, max, scan);
                    // SAFETY: `obj` is a complete copy in the first chunk.
                    for i in field..object::traced_words(unsafe { *obj }) {
                        // SAFETY: a traced field of that copy, not yet
                        // visited: it holds a value of the source heap.
                        let f = unsafe { &mut *(obj.add(1 + i) as *mut Value) };
                        visit(&mut c, &mut log, &mut shared_refs, f);
                    }
                    c
                }
            };
            c.drain(|c, f| visit(c, &mut log, &mut shared_refs, f));
            failed = c.failed();
        }
        for (p, h) in log {
            // SAFETY: restoring the header the copy overwrote; `p` is live.
            unsafe { p.write(h) };
        }
        if failed {
            // Out of memory half-way: the copies are incomplete (some fields
            // still hold source values), so the chunks go back as raw memory
            // and the counts taken so far are given back.
            for p in shared_refs {
                // SAFETY: the copy took one count per entry.
                unsafe { shared::release(p) };
            }
            let held = space.capacity_bytes() + large.iter().map(Chunk::bytes).sum::<usize>();
            return Err(HeapError::OutOfMemory {
                requested: held,
                in_use: self.in_use,
            });
        }
        space.seal();
        Ok(Fragment {
            root,
            body: Body::Big(Box::new(Big {
                chunks: core::mem::take(&mut space.chunks),
                large,
                shared: shared_refs,
            })),
        })
    }

    /// Take a message into this heap. Fails (and drops the message) if its
    /// memory would take the heap past its limit. A small message's few
    /// words are copied into the nursery; a bigger one's chunks join the
    /// nursery as they are (no second copy).
    #[inline]
    pub fn adopt(&mut self, f: Fragment) -> Result<Value, HeapError> {
        if let Body::Empty = f.body {
            // An immediate: nothing to take.
            return Ok(f.root);
        }
        self.adopt_body(f)
    }

    #[inline(never)]
    fn adopt_body(&mut self, mut f: Fragment) -> Result<Value, HeapError> {
        let root = f.root;
        // `f` is left empty: its drop does nothing.
        match core::mem::replace(&mut f.body, Body::Empty) {
            Body::Empty => Ok(root),
            Body::Shared => {
                if let Some(p) = root.ptr() {
                    self.own_counted(p);
                }
                Ok(root)
            }
            Body::Small { buf, used, shared } => self.adopt_small(root, buf, used, shared),
            Body::Big(b) => self.adopt_big(root, *b),
        }
    }

    /// Add one count the caller hands over to the owned set.
    #[inline]
    fn own_counted(&mut self, p: *const u64) {
        if self.owned.insert(p as usize) {
            self.owned_new(p);
        } else {
            // SAFETY: the caller's count; we already hold one.
            unsafe { shared::release(p) };
        }
    }

    /// Take a small message: copy its words into the current nursery chunk,
    /// or a new one as an allocation would take (a small one if the heap
    /// has none: see `MSG_NURSERY_FIRST_WORDS`), relocating the pointers
    /// between them. The buffer goes back to this thread's cache.
    #[inline(always)]
    fn adopt_small(
        &mut self,
        root: Value,
        buf: MsgBuf,
        used: u32,
        shared: u32,
    ) -> Result<Value, HeapError> {
        let words = used as usize;
        let dst = match self.nursery.try_bump(words) {
            Some(p) => p,
            None => {
                let first = if self.nursery.has_current() {
                    NURSERY_FIRST_WORDS
                } else {
                    MSG_NURSERY_FIRST_WORDS
                };
                match self.alloc_slow_from(words, first) {
                    Ok(p) => p,
                    Err(e) => {
                        // SAFETY: a small body lists `shared` addresses.
                        for p in unsafe { small_shared(&buf, shared) } {
                            // SAFETY: the message owned one count per entry.
                            unsafe { shared::release(p) };
                        }
                        return Err(e);
                    }
                }
            }
        };
        // Moving the objects by `delta` bytes: every private pointer in a
        // small message points into its buffer, and a pointer value is its
        // tag plus the address, so adding `delta` to the word relocates it.
        let src = buf.start();
        let delta = (dst as u64).wrapping_sub(src as u64);
        // SAFETY: the buffer holds `words` words of complete objects; `dst`
        // is fresh nursery memory of `words` words, disjoint from it. The
        // walk visits each copied object once, by its header, and rewrites
        // only its traced fields.
        unsafe {
            core::ptr::copy_nonoverlapping(src, dst, words);
            let end = dst.add(words);
            let mut o = dst;
            while o < end {
                let h = *o;
                let fields = o.add(1);
                o = o.add(object::object_words(h));
                for i in 0..object::traced_words(h) {
                    let bits = *fields.add(i);
                    if Value::from_bits(bits).is_local() {
                        fields.add(i).write(bits.wrapping_add(delta));
                    }
                }
            }
        }
        self.own_small_shared(&buf, shared);
        Ok(Value::from_bits(root.to_bits().wrapping_add(delta)))
    }

    /// Move a small message's shared counts into the owned set.
    #[inline(always)]
    fn own_small_shared(&mut self, buf: &MsgBuf, shared: u32) {
        if shared != 0 {
            // SAFETY: a small body lists `shared` addresses, one count each,
            // which move to this heap.
            for p in unsafe { small_shared(buf, shared) } {
                self.own_counted(p);
            }
        }
    }

    fn adopt_big(&mut self, root: Value, mut b: Big) -> Result<Value, HeapError> {
        let bytes: usize = b.chunks.iter().chain(&b.large).map(Chunk::bytes).sum();
        if self.in_use.saturating_add(bytes) > self.limit {
            for &p in &b.shared {
                // SAFETY: the message owned one count per entry.
                unsafe { shared::release(p) };
            }
            return Err(HeapError::Limit {
                limit: self.limit,
                in_use: self.in_use,
            });
        }
        for c in b.chunks.drain(..) {
            self.nursery.add_full_chunk(c);
        }
        self.large.append(&mut b.large);
        for p in b.shared.drain(..) {
            self.own_counted(p);
        }
        self.grew_young(bytes);
        Ok(root)
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

    fn int(i: i64) -> Value {
        Value::small_int(i).unwrap()
    }

    /// A Q-list of `n` ints `0..n`.
    fn range(h: &mut Heap, n: i64) -> Value {
        let items: Vec<Value> = (0..n).map(int).collect();
        h.list(&items, ListKind::Q).unwrap()
    }

    #[test]
    fn a_fragment_is_small() {
        // It travels by value through the mailbox.
        assert!(core::mem::size_of::<Fragment>() <= 32);
    }

    #[test]
    fn a_small_message_uses_a_buffer_and_is_copied_into_the_nursery() {
        let mut h = Heap::new();
        let pid = h.pid(12345).unwrap();
        let l = h.list(&[pid, int(7)], ListKind::Q).unwrap();
        let f = h.copy_to_fragment(l);
        assert!(matches!(
            f.body,
            Body::Small {
                used: 8,
                shared: 0,
                ..
            }
        ));
        assert_eq!(f.byte_size(), MSG_WORDS * WORD);
        let items = f.list_to_vec(f.root()).unwrap();
        assert_eq!(f.pid_id(items[0]), Some(12345));
        assert_eq!(items[1], int(7));
        assert_eq!(f.kind(f.root()), Some(ObjKind::Cons));
        let buf = f.root().ptr();
        let mut r = Heap::new();
        let got = r.adopt(f).unwrap();
        assert_ne!(got.ptr(), buf);
        // A heap with no nursery chunk starts a small one for a message.
        assert_eq!(r.bytes_in_use(), MSG_NURSERY_FIRST_WORDS * WORD);
        // The buffer went back to this thread's cache and is used again.
        let f2 = h.copy_to_fragment(l);
        assert_eq!(f2.root().ptr(), buf);
        // The next message fills that chunk; the one after takes a chunk
        // as an allocation would.
        let got2 = r.adopt(f2).unwrap();
        assert_eq!(r.bytes_in_use(), MSG_NURSERY_FIRST_WORDS * WORD);
        let got3 = r.adopt(h.copy_to_fragment(l)).unwrap();
        assert_eq!(
            r.bytes_in_use(),
            (MSG_NURSERY_FIRST_WORDS + NURSERY_FIRST_WORDS) * WORD
        );
        let mut roots = vec![got, got2, got3];
        r.check_invariants(&mut roots).unwrap();
        r.minor_gc(&mut roots);
        for v in roots {
            let items = r.list_to_vec(v).unwrap();
            assert_eq!(r.pid_id(items[0]), Some(12345));
            assert_eq!(items[1], int(7));
        }
        h.check_invariants(&mut vec![l]).unwrap();
    }

    #[test]
    fn small_messages_keep_sharing_cycles_and_shared_counts() {
        let mut h = Heap::new();
        let big = h.string(&"s".repeat(crate::heap::LARGE_STRING)).unwrap();
        assert!(big.is_shared());
        let count = || crate::shared::SharedReader.ref_count(big).unwrap();
        let before = count();
        let x = range(&mut h, 2);
        let cyc = h.cons(int(9), Value::NIL, ListKind::S).unwrap();
        h.set_cdr(cyc, cyc);
        let l = h.list(&[x, big, x, cyc, big], ListKind::Q).unwrap();
        let f = h.copy_to_fragment(l);
        assert!(matches!(f.body, Body::Small { shared: 2, .. }));
        assert_eq!(count(), before + 2);
        let mut r = Heap::new();
        let got = r.adopt(f).unwrap();
        // The receiver keeps one count however often the message has it.
        assert_eq!(count(), before + 1);
        let items = r.list_to_vec(got).unwrap();
        assert_eq!(items[0], items[2]);
        assert_eq!((items[1], items[4]), (big, big));
        assert_eq!(r.list_to_vec(items[0]), Some(vec![int(0), int(1)]));
        assert_eq!(r.car_cdr(items[3]), Some((int(9), items[3])));
        r.check_invariants(&mut vec![got]).unwrap();
        h.check_invariants(&mut vec![l]).unwrap();
        // Dropped unread, it gives its counts back.
        drop(h.copy_to_fragment(l));
        assert_eq!(count(), before + 1);
        drop(r);
        assert_eq!(count(), before);
    }

    /// Messages around the buffer size outgrow it at every point of the
    /// copy (between objects, in the middle of one, on a shared count):
    /// the copy continues in chunks and loses nothing.
    #[test]
    fn messages_that_outgrow_the_buffer() {
        let mut h = Heap::new();
        let big = h.string(&"s".repeat(crate::heap::LARGE_STRING)).unwrap();
        let before = crate::shared::SharedReader.ref_count(big).unwrap();
        for n in 0..4 * MSG_WORDS {
            let x = range(&mut h, n as i64 % 5);
            let mut items = vec![x];
            for i in 0..n / 4 {
                items.push(if (i + n) % 3 == 0 { big } else { int(i as i64) });
                items.push(if (i + n) % 2 == 0 { x } else { big });
            }
            let text = "t".repeat(n % 4 * 8 + n);
            items.push(h.string(&text).unwrap());
            let l = h.list(&items, ListKind::Q).unwrap();
            let f = h.copy_to_fragment(l);
            assert_eq!(f.list_to_vec(f.root()).map(|v| v.len()), Some(items.len()));
            let mut r = Heap::new();
            let got = r.adopt(f).unwrap();
            let back = r.list_to_vec(got).unwrap();
            assert_eq!(back.len(), items.len());
            for (k, (&a, &b)) in back.iter().zip(&items).enumerate() {
                if b == x {
                    assert_eq!(a, back[0], "shared subterm copied twice ({n}, {k})");
                    let len = h.list_to_vec(b).map(|v| v.len());
                    assert_eq!(r.list_to_vec(a).map(|v| v.len()), len);
                } else if k + 1 == items.len() {
                    assert_eq!(r.str(a), Some(text.as_str()));
                } else {
                    assert_eq!(a, b);
                }
            }
            let mut roots = vec![got];
            r.check_invariants(&mut roots).unwrap();
            r.minor_gc(&mut roots);
            assert_eq!(r.list_to_vec(roots[0]).map(|v| v.len()), Some(items.len()));
            h.check_invariants(&mut vec![l]).unwrap();
        }
        assert_eq!(crate::shared::SharedReader.ref_count(big), Some(before));
        // A root too big for a buffer goes to chunks at once.
        let text = "r".repeat(500);
        let s = h.string(&text).unwrap();
        let f = h.copy_to_fragment(s);
        assert!(matches!(f.body, Body::Big(_)));
        let mut r = Heap::new();
        let got = r.adopt(f).unwrap();
        assert_eq!(r.str(got), Some(text.as_str()));
    }

    #[test]
    fn a_small_message_over_the_limit_is_refused() {
        let mut h = Heap::new();
        let big = h.string(&"s".repeat(crate::heap::LARGE_STRING)).unwrap();
        let before = crate::shared::SharedReader.ref_count(big).unwrap();
        let l = h.list(&[big, int(1)], ListKind::Q).unwrap();
        let mut r = Heap::with_limit(16);
        let f = h.copy_to_fragment(l);
        assert!(matches!(r.adopt(f), Err(HeapError::Limit { .. })));
        assert_eq!(crate::shared::SharedReader.ref_count(big), Some(before));
        assert_eq!(r.bytes_in_use(), 0);
    }
}
