//! The shared heap: immutable objects every actor can read without copying.
//!
//! Each shared object is its own system allocation:
//!
//! ```text
//! [ count: AtomicUsize ][ header ][ payload ... ]
//!                        ^ the Value points here
//! ```
//!
//! The count is the number of references held by: other shared objects,
//! `SharedValue` handles, private heaps' owned sets, and fragments. Shared
//! objects only ever point to shared objects, so freeing one can only release
//! other shared objects; that cascade uses a worklist, never recursion, so
//! dropping a million-element shared list does not overflow the stack.
//!
//! The count is an atomic of the `valk-sync` facade; the protocol (`retain`,
//! `release`: Arc's) is checked by loom models (`loom_tests.rs`). Under
//! `--cfg valk_loom` a loom atomic cannot live in raw memory, so the count
//! word holds a pointer to a boxed `ModelCount` instead (see there).

use crate::object::{self, flag, ErrorParts, ListKind, ObjKind};
use crate::read::read_methods;
use crate::value::Value;
use core::hash::{BuildHasherDefault, Hasher};
use core::ptr::NonNull;
use std::alloc::{self, Layout};

use crate::memory;
use std::any::Any;
use std::collections::HashSet;
// The opaque payload's `Arc` is the embedder's object, not a protocol of
// ours: std's, as in the public `SharedValue::opaque`.
use std::sync::Arc;
use valk_sync::atomic::{fence, AtomicUsize, Ordering};
use valk_sync::statics;

// Statistics only (they order nothing), so plain statics.
static LIVE_OBJECTS: statics::AtomicUsize = statics::AtomicUsize::new(0);
static LIVE_BYTES: statics::AtomicUsize = statics::AtomicUsize::new(0);

/// Process-wide shared-heap occupancy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedStats {
    pub objects: usize,
    pub bytes: usize,
}

/// Current shared-heap occupancy (objects and bytes not yet freed).
pub fn shared_stats() -> SharedStats {
    SharedStats {
        objects: LIVE_OBJECTS.load(Ordering::Relaxed),
        bytes: LIVE_BYTES.load(Ordering::Relaxed),
    }
}

fn layout(payload_words: usize) -> Option<Layout> {
    Layout::array::<u64>(payload_words.checked_add(2)?).ok()
}

/// Allocate a shared object with count 0 and the given header; the payload
/// is uninitialised. Returns the header address, or `None` if the system
/// allocator (or the hard memory limit) refuses.
pub(crate) fn try_alloc_shared(header: u64) -> Option<*mut u64> {
    let words = object::payload_words(header);
    let layout = layout(words)?;
    let base = memory::alloc(layout)?.as_ptr();
    // SAFETY: `base` is a fresh allocation of `words + 2` words.
    unsafe {
        init_count(base);
        base.add(1).write(header & !flag::SPACE);
    }
    LIVE_OBJECTS.fetch_add(1, Ordering::Relaxed);
    LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
    Some(base.wrapping_add(1))
}

/// [`try_alloc_shared`] where a refusal is the allocation error handler's:
/// `to_shared` (whose callers cannot take an error yet) and opaque objects.
pub(crate) fn alloc_shared(header: u64) -> *mut u64 {
    match try_alloc_shared(header) {
        Some(p) => p,
        None => alloc::handle_alloc_error(
            layout(object::payload_words(header)).unwrap_or(Layout::new::<u64>()),
        ),
    }
}

/// Writes a count of zero into the count word at `base`.
///
/// # Safety
/// `base` is the start of a fresh allocation from `alloc_shared`.
#[cfg(not(valk_loom))]
unsafe fn init_count(base: *mut u64) {
    // An AtomicUsize has the size and alignment of a u64 on 64-bit targets.
    const _: () = assert!(
        core::mem::size_of::<AtomicUsize>() == 8 && core::mem::align_of::<AtomicUsize>() == 8
    );
    // SAFETY: per the contract, `base` is valid for a word's write.
    unsafe { (base as *mut AtomicUsize).write(AtomicUsize::new(0)) };
}

/// The count word of a shared object.
///
/// # Safety
/// `p` is the header address of a live shared object.
#[cfg(not(valk_loom))]
#[inline]
unsafe fn count<'a>(p: *const u64) -> &'a AtomicUsize {
    // SAFETY: per the contract, the word before the header is the count,
    // initialised by `alloc_shared` and alive as long as the object.
    unsafe { &*(p.sub(1) as *const AtomicUsize) }
}

/// Under `valk_loom`, what the count word points to: the (loom) count, and
/// a loom cell standing for the object's memory. `free` writes the cell and
/// models read it ([`model_read`]) where real code reads the object, so loom
/// reports a free that is not ordered after every read (a use after free).
#[cfg(valk_loom)]
struct ModelCount {
    count: AtomicUsize,
    memory: valk_sync::cell::UnsafeCell<()>,
}

/// Writes a count of zero into the count word at `base` (a pointer to a
/// fresh `ModelCount`, freed by `free`).
///
/// # Safety
/// `base` is the start of a fresh allocation from `alloc_shared`.
#[cfg(valk_loom)]
unsafe fn init_count(base: *mut u64) {
    let model = Box::new(ModelCount {
        count: AtomicUsize::new(0),
        memory: valk_sync::cell::UnsafeCell::new(()),
    });
    // SAFETY: per the contract, `base` is valid for a word's write.
    unsafe { base.write(Box::into_raw(model) as u64) };
}

/// The `ModelCount` of a shared object.
///
/// # Safety
/// `p` is the header address of a live shared object.
#[cfg(valk_loom)]
unsafe fn model_count<'a>(p: *const u64) -> &'a ModelCount {
    // SAFETY: per the contract, the word before the header holds the
    // pointer `init_count` wrote; the box lives as long as the object.
    unsafe { &*(*p.sub(1) as *const ModelCount) }
}

/// The count of a shared object.
///
/// # Safety
/// `p` is the header address of a live shared object.
#[cfg(valk_loom)]
#[inline]
unsafe fn count<'a>(p: *const u64) -> &'a AtomicUsize {
    // SAFETY: forwarded contract.
    &unsafe { model_count(p) }.count
}

/// Records, for loom, a read of the shared object `v` points to (nothing
/// for immediates and private pointers). Models call it where real code
/// reads an object; loom then checks the read happens before the free.
///
/// The caller keeps `v` alive (value contract).
#[cfg(valk_loom)]
#[doc(hidden)]
pub fn model_read(v: Value) {
    if let Some(p) = v.ptr().filter(|_| v.is_shared()) {
        // SAFETY: value contract: `v` is a live shared object.
        unsafe { model_count(p) }.memory.with(|_| ());
    }
}

/// The current count of a shared object (debug checks and tests).
///
/// # Safety
/// `p` is the header address of a live shared object.
pub(crate) unsafe fn count_of(p: *const u64) -> usize {
    // SAFETY: forwarded contract.
    unsafe { count(p) }.load(Ordering::Acquire)
}

/// Take one more reference.
///
/// # Safety
/// `p` is the header address of a live shared object (its count is > 0, or
/// it is still private to the thread building it).
#[inline]
pub(crate) unsafe fn retain(p: *const u64) {
    // Relaxed is enough for an increment: whoever gave us the pointer
    // already holds a reference that keeps the object alive (as Arc does).
    // SAFETY: forwarded contract.
    unsafe { count(p) }.fetch_add(1, Ordering::Relaxed);
}

/// Drop one reference, freeing the object (and, iteratively, the children
/// that lose their last reference) when it reaches zero.
///
/// # Safety
/// `p` is the header address of a live shared object and the caller owns
/// one of its references, which it gives up.
pub(crate) unsafe fn release(p: *const u64) {
    // SAFETY: forwarded contract.
    if unsafe { count(p) }.fetch_sub(1, Ordering::Release) != 1 {
        return;
    }
    // Pairs with the Release decrements of other owners, so their reads of
    // the object happen before we free it (the Arc protocol).
    fence(Ordering::Acquire);
    let mut work: Vec<*mut u64> = Vec::new();
    let mut next = Some(p as *mut u64);
    while let Some(obj) = next.or_else(|| work.pop()) {
        next = None;
        // SAFETY: `obj` reached count zero, so we are its only user.
        let h = unsafe { *obj };
        for i in 0..object::traced_words(h) {
            // SAFETY: traced words lie inside the payload.
            let child = Value::from_bits(unsafe { *obj.add(1 + i) });
            if let Some(c) = child.ptr().filter(|_| child.is_shared()) {
                // SAFETY: shared objects only point to live shared objects
                // and `obj` held a reference to `c`, which we now give up.
                if unsafe { count(c) }.fetch_sub(1, Ordering::Release) == 1 {
                    fence(Ordering::Acquire);
                    if next.is_none() {
                        next = Some(c);
                    } else {
                        work.push(c);
                    }
                }
            }
        }
        // SAFETY: we are the last user of `obj`, allocated by `alloc_shared`.
        unsafe { free(obj, h) };
    }
}

/// Free one shared object whose count reached zero.
///
/// # Safety
/// `obj` is a shared object header nobody references any more; `h` is its
/// header.
unsafe fn free(obj: *mut u64, h: u64) {
    if object::header_kind(h) == Some(ObjKind::Opaque) {
        // SAFETY: an Opaque payload holds an initialised Arc written by
        // `SharedValue::opaque`; it is dropped exactly once, here.
        unsafe { core::ptr::drop_in_place(obj.add(1) as *mut Arc<dyn Any + Send + Sync>) };
    }
    // A live object's size had a layout when it was made.
    let Some(layout) = layout(object::payload_words(h)) else {
        return;
    };
    LIVE_OBJECTS.fetch_sub(1, Ordering::Relaxed);
    LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    #[cfg(valk_loom)]
    {
        // SAFETY: `obj` is still allocated; the count box is freed once,
        // here, with the object.
        let model = unsafe { Box::from_raw(*obj.sub(1) as *mut ModelCount) };
        // Freeing writes the object's memory.
        model.memory.with_mut(|_| ());
    }
    // SAFETY: the base (one word before the header) came from
    // `memory::alloc` (in `try_alloc_shared`) with this layout.
    unsafe { memory::dealloc(NonNull::new_unchecked(obj.sub(1)), layout) };
}

/// A shared string with count 0 (the caller takes the first reference);
/// `None` if the memory is refused.
pub(crate) fn alloc_string(s: &str) -> Option<*mut u64> {
    let words = object::str_payload_words(s.len());
    let p = try_alloc_shared(object::header(ObjKind::Str, 0, words))?;
    // SAFETY: the payload has `words` words: a length word and room for
    // `s.len()` bytes; we zero the last word first so padding is defined.
    unsafe {
        p.add(words).write(0);
        p.add(1).write(s.len() as u64);
        core::ptr::copy_nonoverlapping(s.as_ptr(), p.add(2) as *mut u8, s.len());
    }
    Some(p)
}

/// Deep-copy a private object graph into the shared heap, preserving
/// sharing. Returns the new root with count 0 (the caller takes it) and
/// the bytes of shared memory the copy made.
///
/// Sharing is preserved by writing forwarding headers into the source
/// objects while copying and restoring them from a log at the end. `None`
/// if the system refuses memory on the way: then everything is as before.
///
/// # Safety
/// `root` points to a live private object of a heap the caller borrows
/// mutably (nobody else reads the source headers while they are forwarded).
pub(crate) unsafe fn copy_local_graph(root: *mut u64) -> Option<(*mut u64, usize)> {
    let mut log: Vec<(*mut u64, u64)> = Vec::new();
    let mut work: Vec<*mut u64> = Vec::new();
    // SAFETY: root is a live local object (contract).
    let Some(new_root) = (unsafe { copy_one(root, &mut log, &mut work) }) else {
        // SAFETY: nothing was copied or forwarded.
        unsafe { undo_copy(&log, &[], None) };
        return None;
    };
    while let Some(obj) = work.pop() {
        // SAFETY: `obj` is a shared copy we are filling in; its traced
        // fields still hold the source's values.
        let n = object::traced_words(unsafe { *obj });
        for i in 0..n {
            // SAFETY: traced words lie inside the payload.
            let field = unsafe { &mut *(obj.add(1 + i) as *mut Value) };
            let Some(p) = field.ptr() else { continue };
            if field.is_shared() {
                // SAFETY: the source held a reference to this live shared
                // object; the copy takes its own.
                unsafe { retain(p) };
                continue;
            }
            // SAFETY: a local field of a live local object points to a live
            // local object (or one we forwarded in this copy).
            let h = unsafe { *p };
            let target = if object::is_forwarded(h) {
                object::forward_target(h)
            } else {
                // SAFETY: as above, `p` is a live, unforwarded local object.
                match unsafe { copy_one(p, &mut log, &mut work) } {
                    Some(t) => t,
                    None => {
                        // SAFETY: the copy's state is exactly what
                        // `undo_copy` expects: `obj` done up to field `i`,
                        // the objects on `work` not started.
                        unsafe { undo_copy(&log, &work, Some((obj, i))) };
                        return None;
                    }
                }
            };
            // SAFETY: `target` is a shared object built in this copy.
            unsafe { retain(target) };
            *field = Value::shared_ptr(target);
        }
    }
    let mut bytes = 0;
    for (p, h) in log {
        // Each copy: its count word, header and payload.
        bytes += (object::payload_words(h) + 2) * 8;
        // SAFETY: restoring the header we overwrote; `p` is still live.
        unsafe { p.write(h) };
    }
    Some((new_root, bytes))
}

/// How much owning `p` keeps alive, in KiB, for the owners' collection
/// policy: a box's whole value, a long string's bytes; 0 for the rest
/// (small objects are bounded by the owned set's length instead).
///
/// # Safety
/// `p` is a live shared object.
pub(crate) unsafe fn weight_kib(p: *const u64) -> u32 {
    // SAFETY: `p` is a live shared object (the caller's contract), so its
    // header word is readable.
    let h = unsafe { *p };
    let bytes = match object::header_kind(h) {
        // SAFETY: a box has two payload words; the second is its size.
        Some(ObjKind::Box) if object::payload_words(h) >= 2 => (unsafe { *p.add(2) }) as usize,
        Some(ObjKind::Str) => object::payload_words(h) * 8,
        _ => 0,
    };
    u32::try_from(bytes >> 10).unwrap_or(u32::MAX)
}

/// Undoes a copy that ran out of memory: gives back the counts taken on
/// shared objects that existed before, frees the copies made (none is
/// reachable from anything else yet) and restores the source's headers.
/// Allocates nothing: the copies are told apart by header flags that
/// shared objects never carry otherwise (`flag::SPACE`), set here.
///
/// # Safety
/// `log` holds every source object forwarded by this copy with its old
/// header; `unstarted` the copies whose fields were not looked at yet;
/// `partial` the copy being filled in with how many fields were done; every
/// other copy was filled in completely. No other thread can reach a copy.
unsafe fn undo_copy(
    log: &[(*mut u64, u64)],
    unstarted: &[*mut u64],
    partial: Option<(*mut u64, usize)>,
) {
    const MADE: u64 = object::flag::YOUNG;
    const NOT_STARTED: u64 = object::flag::REMEMBERED;
    // SAFETY: each logged source holds its forwarding header to a copy of
    // this run (contract).
    let copy_of = |src: *mut u64| object::forward_target(unsafe { *src });
    for &(src, _) in log {
        let c = copy_of(src);
        // SAFETY: `c` is a live copy only this thread sees.
        unsafe { c.write(*c | MADE) };
    }
    for &c in unstarted {
        // SAFETY: as above.
        unsafe { c.write(*c | NOT_STARTED) };
    }
    for &(src, _) in log {
        let c = copy_of(src);
        // SAFETY: as above.
        let h = unsafe { *c };
        if h & NOT_STARTED != 0 {
            continue;
        }
        let done = match partial {
            Some((obj, i)) if obj == c => i,
            _ => object::traced_words(h),
        };
        for i in 0..done {
            // SAFETY: traced words lie inside the copy's payload.
            let field = unsafe { *(c.add(1 + i) as *const Value) };
            if let Some(p) = field.ptr().filter(|_| field.is_shared()) {
                // SAFETY: a filled-in field points to a live shared object
                // (a copy of this run, or one that existed before).
                let made_here = unsafe { *p } & MADE != 0;
                if !made_here {
                    // SAFETY: the copy took this count on an object the
                    // source still references: it does not reach zero.
                    unsafe { release(p) };
                }
            }
        }
    }
    for &(src, h) in log {
        let c = copy_of(src);
        // SAFETY: `c` was made by this copy and nothing references it (the
        // counts other copies took on it are dropped with them); `src` is
        // the live source whose header we overwrote.
        unsafe {
            let ch = *c & !object::flag::SPACE;
            free(c, ch);
            src.write(h);
        }
    }
}

/// Copy one local object into a fresh shared object, forward the source.
/// `None` (nothing changed) if the allocation is refused.
///
/// # Safety
/// `src` is a live, unforwarded local object.
unsafe fn copy_one(
    src: *mut u64,
    log: &mut Vec<(*mut u64, u64)>,
    work: &mut Vec<*mut u64>,
) -> Option<*mut u64> {
    // Room in the bookkeeping first (a huge graph's log is itself big).
    if log.try_reserve(1).is_err() || work.try_reserve(1).is_err() {
        return None;
    }
    // SAFETY: contract.
    let h = unsafe { *src };
    let n = object::payload_words(h);
    let dst = try_alloc_shared(h)?;
    // SAFETY: both objects have `n` payload words; they do not overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(src.add(1), dst.add(1), n);
        src.write(object::forwarding(dst));
    }
    log.push((src, h));
    if object::traced_words(h) > 0 {
        work.push(dst);
    }
    Some(dst)
}

/// An owning handle on a shared value: clones bump the count, drops release
/// it. Immediates are valid `SharedValue`s too (no count).
pub struct SharedValue(Value);

impl SharedValue {
    /// Wrap a value whose reference the caller hands over (a shared pointer
    /// with one count for us, or an immediate).
    pub(crate) fn from_owned(v: Value) -> SharedValue {
        debug_assert!(!v.is_local());
        SharedValue(v)
    }

    /// Give up the handle without releasing its reference.
    pub(crate) fn into_owned(self) -> Value {
        let v = self.0;
        core::mem::forget(self);
        v
    }

    /// The value (valid while this handle, or another owner, lives).
    pub fn value(&self) -> Value {
        self.0
    }

    /// An immediate as a `SharedValue`; `None` for pointers.
    pub fn from_immediate(v: Value) -> Option<SharedValue> {
        (!v.is_ptr()).then_some(SharedValue(v))
    }

    /// A shared object wrapping a Rust object (code objects, futures, atoms).
    pub fn opaque(obj: Arc<dyn Any + Send + Sync>) -> SharedValue {
        Self::opaque_with(obj, 0)
    }

    /// [`SharedValue::opaque`] marked as the *alternate* handle on `obj`:
    /// read back only by `opaque_alt`, never by `opaque`, so one Rust
    /// object can stand behind two kinds of value (a future and its
    /// resolver) with no wrapper allocation.
    pub fn opaque_alt(obj: Arc<dyn Any + Send + Sync>) -> SharedValue {
        Self::opaque_with(obj, object::flag::ALT)
    }

    fn opaque_with(obj: Arc<dyn Any + Send + Sync>, flags: u64) -> SharedValue {
        let p = alloc_shared(object::header(ObjKind::Opaque, flags, 2));
        // SAFETY: the payload has two words, enough for the (two-word,
        // word-aligned) fat Arc, which the object now owns.
        unsafe { (p.add(1) as *mut Arc<dyn Any + Send + Sync>).write(obj) };
        // SAFETY: `p` is a fresh shared object; this is its first reference.
        unsafe { retain(p) };
        SharedValue(Value::shared_ptr(p))
    }

    /// The number of references to this object (`None` for immediates).
    pub fn ref_count(&self) -> Option<usize> {
        let p = self.0.ptr()?;
        // SAFETY: we hold a reference, so the object is alive.
        Some(unsafe { count_of(p) })
    }
}

impl Clone for SharedValue {
    fn clone(&self) -> SharedValue {
        if let Some(p) = self.0.ptr() {
            // SAFETY: we hold a reference, so the object is alive.
            unsafe { retain(p) };
        }
        SharedValue(self.0)
    }
}

impl Drop for SharedValue {
    fn drop(&mut self) {
        if let Some(p) = self.0.ptr() {
            // SAFETY: we own one reference and give it up.
            unsafe { release(p) };
        }
    }
}

impl core::fmt::Debug for SharedValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("SharedValue").field(&self.0).finish()
    }
}

/// Reads shared values (and immediates) without a `Heap`: from the globals
/// table or any thread. Private pointers answer `None`. The caller keeps the
/// value alive (a `SharedValue`, a global, or a heap that owns it).
#[derive(Clone, Copy, Debug, Default)]
pub struct SharedReader;

impl SharedReader {
    read_methods!(crate::read::not_local);

    /// The reference count of a shared object (`None` for anything else).
    pub fn ref_count(&self, v: Value) -> Option<usize> {
        let p = v.ptr().filter(|_| v.is_shared())?;
        // SAFETY: value contract: the caller keeps `v` alive.
        Some(unsafe { count_of(p) })
    }
}

/// A fast hasher for object addresses (the owned sets).
#[derive(Default)]
pub(crate) struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, x: usize) {
        let m = (x as u64 >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = m ^ (m >> 29);
    }
}

/// A set of shared object addresses.
pub(crate) type PtrSet = HashSet<usize, BuildHasherDefault<PtrHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_holds_and_drops_its_arc() {
        let inner: Arc<dyn Any + Send + Sync> = Arc::new(42u32);
        let sv = SharedValue::opaque(inner.clone());
        assert_eq!(Arc::strong_count(&inner), 2);
        let r = SharedReader;
        let got = r.opaque(sv.value()).unwrap();
        assert_eq!(got.downcast_ref::<u32>(), Some(&42));
        let sv2 = sv.clone();
        assert_eq!(sv.ref_count(), Some(2));
        drop(sv);
        assert_eq!(sv2.ref_count(), Some(1));
        drop(sv2);
        assert_eq!(Arc::strong_count(&inner), 1);
    }

    #[test]
    fn reader_refuses_private_pointers() {
        let local = Value::local_ptr(std::ptr::dangling::<u64>());
        assert_eq!(SharedReader.kind(local), None);
        assert_eq!(SharedReader.car_cdr(local), None);
        assert_eq!(SharedReader.list_kind(Value::NIL), Some(ListKind::Q));
    }
}
