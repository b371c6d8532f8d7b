//! Raw memory: `Chunk` (one system allocation), `Space` (bump allocation
//! over a list of chunks, in allocation order so a Cheney scan can follow it)
//! and `MsgBuf` (a small message's buffer, recycled per thread).

use core::cell::Cell;
use core::ptr::NonNull;
use std::alloc::Layout;

use valk_sync::statics::{Mutex, MutexGuard, OnceLock};

use crate::memory;
use crate::reaper::{reap, Reaper};

/// Bytes per word.
pub(crate) const WORD: usize = 8;
/// The first nursery chunk (512 bytes: an idle actor stays small).
pub(crate) const NURSERY_FIRST_WORDS: usize = 64;
/// Nursery chunks grow geometrically up to the pooled size (2 MiB).
pub(crate) const NURSERY_MAX_WORDS: usize = POOL_WORDS;
/// Old-space chunks start here (4 KiB)...
pub(crate) const OLD_FIRST_WORDS: usize = 512;
/// ...and grow up to the pooled size (2 MiB), like the nursery.
pub(crate) const OLD_MAX_WORDS: usize = POOL_WORDS;
/// The largest chunk size (2 MiB). Chunks of this size are 2 MiB-aligned
/// and advised for transparent huge pages: one fault maps a whole chunk.
pub(crate) const POOL_WORDS: usize = 256 * 1024;
const POOL_ALIGN: usize = 2 << 20;
/// Chunks of a power-of-two size from this (64 KiB) up to `POOL_WORDS` are
/// recycled through a process-wide pool instead of going back to the system
/// allocator: reused memory is already mapped (no page faults, no zeroing),
/// and freeing a big heap is a few pointer pushes instead of returning pages
/// to the kernel inside a GC pause.
const POOL_MIN_WORDS: usize = 8 * 1024;
const POOL_CLASSES: usize = 6; // 64 KiB, 128 KiB, ..., 2 MiB
/// Most bytes the pool keeps (64 MiB); beyond that chunks are freed.
const POOL_MAX_BYTES: usize = 64 << 20;

/// Raw chunk memory waiting for reuse, by size class. Each entry is an
/// allocation made by `Chunk::try_new` with the layout of its class.
struct Pool {
    classes: [Vec<NonNull<u64>>; POOL_CLASSES],
    bytes: usize,
}

// SAFETY: the pool only stores addresses of allocations nobody else uses;
// handing one to another thread hands over ownership (under the mutex).
unsafe impl Send for Pool {}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    classes: [const { Vec::new() }; POOL_CLASSES],
    bytes: 0,
});

fn pool() -> MutexGuard<'static, Pool> {
    POOL.lock()
}

/// The pool class of a chunk size, if it has one.
fn pool_class(words: usize) -> Option<usize> {
    if words.is_power_of_two() && (POOL_MIN_WORDS..=POOL_WORDS).contains(&words) {
        Some((words / POOL_MIN_WORDS).trailing_zeros() as usize)
    } else {
        None
    }
}

/// Chunk lists bigger than this (a dead actor's big heap, a major
/// collection's from-space) are freed on a background thread: returning
/// 100 MB of pages to the kernel takes ~10 ms, which the dropping thread (a
/// scheduler running other actors) should not wait for.
const REAP_BYTES: usize = 8 << 20;

/// The process's reaper (`None`: its thread could not be started), started
/// on first use. A static, so it is built from `valk_sync::statics`; the
/// protocol itself is `Reaper`, which the loom models instantiate.
static REAPER: OnceLock<Option<&'static Reaper<Vec<Chunk>>>> = OnceLock::new();

fn reaper() -> Option<&'static Reaper<Vec<Chunk>>> {
    *REAPER.get_or_init(|| {
        // Leaked: the reaper lives as long as the process (so does its
        // thread, parked while there is nothing to free).
        let reaper: &'static Reaper<Vec<Chunk>> = Box::leak(Box::new(Reaper::new()));
        valk_sync::thread::Builder::new()
            .name("valk-heap-reaper".into())
            .spawn(move || reaper.run())
            .ok()
            .map(|_| reaper)
    })
}

/// Free a list of chunks: inline if small, else on the reaper thread (or
/// inline if that thread cannot be started).
pub(crate) fn free_chunks(chunks: Vec<Chunk>) {
    let bytes: usize = chunks.iter().map(Chunk::bytes).sum();
    if bytes < REAP_BYTES {
        return drop(chunks);
    }
    reap(reaper(), chunks);
}

/// Give the chunk pool's memory back to the system allocator, after the
/// background frees in flight are done, together with the calling thread's
/// cache of message buffers (for leak checks, or after a burst when the
/// memory is better used elsewhere). Returns the bytes released.
pub fn trim_chunk_pool() -> usize {
    if let Some(Some(reaper)) = REAPER.get() {
        reaper.wait_idle();
    }
    let buffers = MSG_CACHE.try_with(MsgCache::clear).unwrap_or(0);
    let (classes, bytes) = {
        let mut p = pool();
        let bytes = core::mem::take(&mut p.bytes);
        (
            core::mem::replace(&mut p.classes, [const { Vec::new() }; POOL_CLASSES]),
            bytes,
        )
    };
    for (class, chunks) in classes.into_iter().enumerate() {
        let Some(layout) = Chunk::layout(POOL_MIN_WORDS << class) else {
            continue;
        };
        for p in chunks {
            // SAFETY: pooled pointers are live allocations of their class's
            // size made with this layout, owned by nobody else now.
            unsafe { memory::dealloc(p, layout) };
        }
    }
    bytes + buffers
}

/// A small message (most are a few words: `{pid 12345}` is 8) is copied
/// into one buffer of this many words (256 bytes), objects from its start
/// and the shared objects it counts from its end.
pub(crate) const MSG_WORDS: usize = 32;
/// Message buffers each thread keeps for reuse (16 KiB).
const MSG_CACHE_MAX: usize = 64;

/// Free message buffers of one thread, linked through their first word. A
/// buffer sent to an actor on another thread comes back to that thread's
/// cache (or to the allocator when it is full).
struct MsgCache {
    head: Cell<*mut u64>,
    len: Cell<usize>,
}

impl MsgCache {
    fn layout() -> Layout {
        // 256 bytes, aligned to words: always a valid layout.
        Layout::new::<[u64; MSG_WORDS]>()
    }

    #[inline]
    fn pop(&self) -> Option<NonNull<u64>> {
        let p = NonNull::new(self.head.get())?;
        // SAFETY: a cached buffer is a live allocation of `MSG_WORDS` words
        // owned by the cache; its first word links to the next one.
        self.head.set(unsafe { *p.as_ptr() } as *mut u64);
        self.len.set(self.len.get() - 1);
        Some(p)
    }

    /// Keep `p` (false: the cache is full).
    #[inline]
    fn push(&self, p: NonNull<u64>) -> bool {
        if self.len.get() >= MSG_CACHE_MAX {
            return false;
        }
        // SAFETY: the caller hands over a buffer of `MSG_WORDS` words that
        // nobody else uses; its first word becomes the link.
        unsafe { p.as_ptr().write(self.head.get() as u64) };
        self.head.set(p.as_ptr());
        self.len.set(self.len.get() + 1);
        true
    }

    /// Free every cached buffer; returns the bytes freed.
    fn clear(&self) -> usize {
        let n = self.len.get();
        while let Some(p) = self.pop() {
            // SAFETY: cached buffers were allocated with this layout and are
            // owned by nobody else once popped.
            unsafe { memory::dealloc(p, Self::layout()) };
        }
        n * MSG_WORDS * WORD
    }
}

impl Drop for MsgCache {
    fn drop(&mut self) {
        self.clear();
    }
}

std::thread_local! {
    static MSG_CACHE: MsgCache = const {
        MsgCache {
            head: Cell::new(core::ptr::null_mut()),
            len: Cell::new(0),
        }
    };
}

/// One message buffer of `MSG_WORDS` uninitialised words, taken from (and
/// given back on drop to) the calling thread's cache: sending a small
/// message costs no allocation in the steady state.
pub(crate) struct MsgBuf(NonNull<u64>);

// SAFETY: a MsgBuf exclusively owns its allocation; any thread may reuse or
// free it (the cache it goes back to is the dropping thread's).
unsafe impl Send for MsgBuf {}

impl MsgBuf {
    /// A buffer, or `None` if the system allocator (or the hard memory
    /// limit) refuses one.
    #[inline]
    pub(crate) fn try_new() -> Option<MsgBuf> {
        if let Ok(Some(p)) = MSG_CACHE.try_with(MsgCache::pop) {
            return Some(MsgBuf(p));
        }
        MsgBuf::alloc()
    }

    #[cold]
    fn alloc() -> Option<MsgBuf> {
        memory::alloc(MsgCache::layout()).map(MsgBuf)
    }

    #[inline]
    pub(crate) fn start(&self) -> *mut u64 {
        self.0.as_ptr()
    }

    /// The same memory as a chunk (for a message that outgrew its buffer).
    pub(crate) fn into_chunk(self) -> Chunk {
        let start = self.0;
        core::mem::forget(self);
        // A `Chunk` of `MSG_WORDS` words has the buffer's layout, so its
        // drop frees it correctly (to the allocator, not the cache: it may
        // be dropped on the reaper thread, whose cache nobody would use).
        Chunk {
            start,
            words: MSG_WORDS,
            used: 0,
        }
    }
}

impl Drop for MsgBuf {
    #[inline]
    fn drop(&mut self) {
        let p = self.0;
        if !matches!(MSG_CACHE.try_with(|c| c.push(p)), Ok(true)) {
            // SAFETY: allocated with this layout (by `alloc`, or as a chunk
            // of `MSG_WORDS` words), owned by us and freed once, here.
            unsafe { memory::dealloc(p, MsgCache::layout()) };
        }
    }
}

/// A heap with no nursery chunk that receives a small message starts its
/// nursery with a chunk this small (128 bytes, what a message chunk took
/// before message buffers): an actor that parks after one message stays
/// small. Later chunks grow from it like any nursery chunk.
pub(crate) const MSG_NURSERY_FIRST_WORDS: usize = 16;

/// Message fragments that outgrow their buffer continue in chunks that
/// start at twice its size and grow like the nursery.
pub(crate) const FRAGMENT_FIRST_WORDS: usize = 2 * MSG_WORDS;
/// Objects larger than this (8 KiB) get a chunk of their own.
pub(crate) const LARGE_WORDS: usize = 1024;

/// One block of words from the system allocator. Freed on drop.
pub(crate) struct Chunk {
    start: NonNull<u64>,
    words: usize,
    /// Words holding objects. Only meaningful for chunks that are not the
    /// current bump chunk of a `Space` (that one's fill is the space's `top`).
    pub(crate) used: usize,
}

// SAFETY: a Chunk exclusively owns its allocation (no aliasing handle
// exists), so it may be freed or reused from any thread.
unsafe impl Send for Chunk {}

impl Chunk {
    /// A fresh, uninitialised chunk of `words` words (at least one), or
    /// `None` if the system allocator (or the hard memory limit) refuses it.
    /// Every chunk an actor's own growth asks for comes from here.
    pub(crate) fn try_new(words: usize) -> Option<Chunk> {
        let words = words.max(1);
        if let Some(class) = pool_class(words) {
            let mut p = pool();
            if let Some(start) = p.classes[class].pop() {
                p.bytes -= words * WORD;
                return Some(Chunk {
                    start,
                    words,
                    used: 0,
                });
            }
        }
        let start = memory::alloc(Self::layout(words)?)?;
        if words == POOL_WORDS {
            advise_huge_pages(start.as_ptr(), words * WORD);
        }
        Some(Chunk {
            start,
            words,
            used: 0,
        })
    }

    /// The layout of a chunk of `words` words; `None` for a size no
    /// allocator could meet.
    fn layout(words: usize) -> Option<Layout> {
        if words == POOL_WORDS {
            if let Ok(l) = Layout::from_size_align(POOL_WORDS * WORD, POOL_ALIGN) {
                return Some(l);
            }
        }
        Layout::array::<u64>(words).ok()
    }

    #[inline]
    pub(crate) fn start(&self) -> *mut u64 {
        self.start.as_ptr()
    }

    /// One past the last word.
    #[inline]
    pub(crate) fn end(&self) -> *mut u64 {
        self.start.as_ptr().wrapping_add(self.words)
    }

    #[inline]
    pub(crate) fn words(&self) -> usize {
        self.words
    }

    #[inline]
    pub(crate) fn bytes(&self) -> usize {
        self.words * WORD
    }
}

/// Ask for transparent huge pages (where the kernel does them only on
/// request). Purely advisory: failure changes nothing but speed.
#[cfg(target_os = "linux")]
fn advise_huge_pages(p: *mut u64, bytes: usize) {
    // SAFETY: `p..p+bytes` is one live allocation of ours; MADV_HUGEPAGE
    // does not change its contents or validity.
    unsafe { libc::madvise(p as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_: *mut u64, _: usize) {}

impl Drop for Chunk {
    fn drop(&mut self) {
        if let Some(class) = pool_class(self.words) {
            let mut p = pool();
            if p.bytes + self.bytes() <= POOL_MAX_BYTES {
                p.bytes += self.bytes();
                p.classes[class].push(self.start);
                return;
            }
        }
        // A live chunk's size had a layout when it was made.
        let Some(layout) = Self::layout(self.words) else {
            return;
        };
        // SAFETY: `start` came from `memory::alloc` with exactly this layout
        // and is freed once, here.
        unsafe { memory::dealloc(self.start, layout) }
    }
}

/// A bump-allocated space: a list of chunks whose last one is the current
/// bump chunk while `top` is non-null.
pub(crate) struct Space {
    pub(crate) chunks: Vec<Chunk>,
    top: *mut u64,
    end: *mut u64,
}

/// Where a Cheney scan is: chunk index and word offset in that chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScanPos {
    idx: usize,
    off: usize,
}

impl Default for Space {
    fn default() -> Space {
        Space::new()
    }
}

impl Space {
    pub(crate) const fn new() -> Space {
        Space {
            chunks: Vec::new(),
            top: core::ptr::null_mut(),
            end: core::ptr::null_mut(),
        }
    }

    /// Bump-allocate `words` from the current chunk, if they fit.
    #[inline(always)]
    pub(crate) fn try_bump(&mut self, words: usize) -> Option<*mut u64> {
        let top = self.top;
        // Both null (no current chunk) gives 0 room.
        if (self.end as usize).wrapping_sub(top as usize) >= words * WORD {
            self.top = top.wrapping_add(words);
            Some(top)
        } else {
            None
        }
    }

    pub(crate) fn has_current(&self) -> bool {
        !self.top.is_null()
    }

    /// Words in use in the current chunk.
    fn current_used(&self) -> usize {
        match self.chunks.last() {
            Some(c) if self.has_current() => (self.top as usize - c.start() as usize) / WORD,
            _ => 0,
        }
    }

    /// Words of the current chunk (0 if none).
    pub(crate) fn current_words(&self) -> usize {
        match self.chunks.last() {
            Some(c) if self.has_current() => c.words(),
            _ => 0,
        }
    }

    /// Retire the current chunk and make `chunk` the new bump chunk.
    pub(crate) fn start_chunk(&mut self, mut chunk: Chunk) {
        self.seal();
        if self.chunks.capacity() == 0 {
            // Most idle actors never take a second chunk: one record, not
            // four.
            self.chunks.reserve_exact(1);
        }
        chunk.used = 0;
        self.top = chunk.start();
        self.end = chunk.end();
        self.chunks.push(chunk);
    }

    /// Record the current chunk's fill and stop bumping into it.
    pub(crate) fn seal(&mut self) {
        let used = self.current_used();
        if self.has_current() {
            if let Some(c) = self.chunks.last_mut() {
                c.used = used;
            }
        }
        self.top = core::ptr::null_mut();
        self.end = core::ptr::null_mut();
    }

    /// Retire the current chunk and make `chunk`, whose first `used` words
    /// already hold objects, the new bump chunk.
    pub(crate) fn start_chunk_at(&mut self, chunk: Chunk, used: usize) {
        debug_assert!(used <= chunk.words());
        self.seal();
        self.top = chunk.start().wrapping_add(used);
        self.end = chunk.end();
        self.chunks.push(chunk);
    }

    /// Add a chunk that is already full of objects (an adopted fragment),
    /// keeping the current bump chunk current.
    pub(crate) fn add_full_chunk(&mut self, chunk: Chunk) {
        if self.chunks.capacity() == 0 {
            // An actor that received one message and parked: no room for
            // four chunk records.
            self.chunks.reserve_exact(1);
        }
        if self.has_current() {
            let at = self.chunks.len() - 1;
            self.chunks.insert(at, chunk);
        } else {
            self.chunks.push(chunk);
        }
    }

    /// `(start, used_end)` of every chunk, in allocation order.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (*mut u64, *mut u64)> + '_ {
        let n = self.chunks.len();
        let cur = self.has_current();
        self.chunks.iter().enumerate().map(move |(i, c)| {
            let end = if cur && i + 1 == n {
                self.top
            } else {
                c.start().wrapping_add(c.used)
            };
            (c.start(), end)
        })
    }

    /// Bytes of objects in the space.
    pub(crate) fn used_bytes(&self) -> usize {
        self.ranges().map(|(s, e)| e as usize - s as usize).sum()
    }

    /// Bytes held from the system.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.chunks.iter().map(Chunk::bytes).sum()
    }

    /// Empty the space, keeping (and rewinding) the current chunk if `keep`
    /// says so. Returns the bytes given back to the system.
    pub(crate) fn clear(&mut self, keep_current: impl FnOnce(&Chunk) -> bool) -> usize {
        let cur = if self.has_current() {
            self.chunks.pop()
        } else {
            None
        };
        let freed: usize = self.chunks.iter().map(Chunk::bytes).sum();
        self.chunks.clear();
        self.top = core::ptr::null_mut();
        self.end = core::ptr::null_mut();
        match cur {
            Some(c) if keep_current(&c) => self.start_chunk(c),
            Some(c) => return freed + c.bytes(),
            None => {}
        }
        freed
    }

    /// The scan position of the next object to be allocated.
    pub(crate) fn scan_start(&self) -> ScanPos {
        if self.has_current() {
            ScanPos {
                idx: self.chunks.len() - 1,
                off: self.current_used(),
            }
        } else {
            ScanPos {
                idx: self.chunks.len(),
                off: 0,
            }
        }
    }

    /// The next allocated-but-unscanned object at or after `pos`, if any.
    /// The caller scans it and advances `pos` by its size with
    /// [`ScanPos::advance`].
    #[inline]
    pub(crate) fn next_unscanned(&self, pos: &mut ScanPos) -> Option<*mut u64> {
        loop {
            let c = self.chunks.get(pos.idx)?;
            let last = pos.idx + 1 == self.chunks.len();
            let limit = if last && self.has_current() {
                (self.top as usize - c.start() as usize) / WORD
            } else {
                c.used
            };
            if pos.off < limit {
                return Some(c.start().wrapping_add(pos.off));
            }
            if last {
                return None;
            }
            pos.idx += 1;
            pos.off = 0;
        }
    }
}

impl ScanPos {
    /// `off` words into the space's first chunk.
    pub(crate) fn first_chunk(off: usize) -> ScanPos {
        ScanPos { idx: 0, off }
    }

    #[inline]
    pub(crate) fn advance(&mut self, words: usize) {
        self.off += words;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_fills_a_chunk_then_refuses() {
        let mut s = Space::new();
        assert!(s.try_bump(1).is_none());
        s.start_chunk(Chunk::try_new(4).unwrap());
        let a = s.try_bump(3).unwrap();
        assert!(s.try_bump(2).is_none());
        let b = s.try_bump(1).unwrap();
        assert_eq!(b as usize - a as usize, 24);
        assert_eq!(s.used_bytes(), 32);
        s.start_chunk(Chunk::try_new(8).unwrap());
        assert_eq!(s.used_bytes(), 32);
        assert_eq!(s.capacity_bytes(), 96);
    }
}
