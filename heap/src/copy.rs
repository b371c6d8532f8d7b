//! The Cheney copier shared by the collector (nursery -> old space, old ->
//! fresh old space) and by message copy (heap -> fragment).
//!
//! Copies are bump-allocated into a `Space` in order, so the objects still to
//! be scanned are exactly those between the scan position and the space's
//! top: no mark stack for ordinary objects. Objects larger than
//! `LARGE_WORDS` get their own chunk and a small gray list instead.
//! The caller decides, per field, what to do (copy, keep, count a shared
//! reference) in the closure it gives `drain`.

use crate::chunk::{Chunk, ScanPos, Space, LARGE_WORDS};
use crate::object::{self, flag};
use crate::value::Value;

pub(crate) struct Copier<'a> {
    to: &'a mut Space,
    large: &'a mut Vec<Chunk>,
    gray: Vec<*mut u64>,
    scan: ScanPos,
    young: bool,
    first_words: usize,
    max_words: usize,
    /// Chunks set aside before the copy (a collection's to-space, see
    /// `gc.rs`), used before asking the system for more: for ordinary
    /// objects, and one of its exact size per large object.
    reserve: Vec<Chunk>,
    reserve_large: Vec<Chunk>,
    /// A chunk could not be had: the copy stopped (see [`Copier::failed`]).
    failed: bool,
}

impl<'a> Copier<'a> {
    /// Copy into `to` (ordinary objects) and `large` (big ones). Copies get
    /// the YOUNG flag if `young`.
    pub(crate) fn new(
        to: &'a mut Space,
        large: &'a mut Vec<Chunk>,
        young: bool,
        first_words: usize,
        max_words: usize,
    ) -> Copier<'a> {
        let scan = to.scan_start();
        Copier::resume(to, large, young, first_words, max_words, scan)
    }

    /// Like `new`, for a copy already under way in `to`: the objects from
    /// `scan` up to the space's top are copies still to be scanned.
    pub(crate) fn resume(
        to: &'a mut Space,
        large: &'a mut Vec<Chunk>,
        young: bool,
        first_words: usize,
        max_words: usize,
        scan: ScanPos,
    ) -> Copier<'a> {
        Copier {
            to,
            large,
            gray: Vec::new(),
            scan,
            young,
            first_words,
            max_words,
            reserve: Vec::new(),
            reserve_large: Vec::new(),
            failed: false,
        }
    }

    /// Take chunks from `reserve` (ordinary objects) and `large` (one per
    /// large object) before allocating.
    pub(crate) fn with_reserve(mut self, reserve: (Vec<Chunk>, Vec<Chunk>)) -> Copier<'a> {
        (self.reserve, self.reserve_large) = reserve;
        self
    }

    /// Did a chunk allocation fail? The copy then stopped: fields still
    /// hold source values and the copied objects are incomplete, so the
    /// caller must throw the destination away (message copy) after putting
    /// the source headers back.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// A chunk of at least `words` words for a large object: its reserved
    /// one, else from the system, else any reserved chunk big enough.
    /// `None` (and `failed` set) if there is none.
    fn large_chunk(&mut self, words: usize) -> Option<Chunk> {
        let exact = self.reserve_large.iter().position(|c| c.words() == words);
        if let Some(i) = exact {
            return Some(self.reserve_large.swap_remove(i));
        }
        self.chunk(words)
    }

    /// A chunk of at least `words` words: from the system, else any
    /// reserved chunk big enough. `None` (and `failed` set) if none.
    fn chunk(&mut self, words: usize) -> Option<Chunk> {
        if let Some(c) = Chunk::try_new(words) {
            return Some(c);
        }
        for r in [&mut self.reserve, &mut self.reserve_large] {
            if let Some(i) = r.iter().position(|c| c.words() >= words) {
                return Some(r.swap_remove(i));
            }
        }
        self.failed = true;
        None
    }

    /// Copy the object at `src` (header `h`, not forwarded) and leave a
    /// forwarding header behind. Returns the copy's address.
    ///
    /// # Safety
    /// `src` is a live object with header `h` that no one else reads while
    /// the copier runs, and is not inside the destination space.
    ///
    /// If memory for the copy cannot be had, returns `src` unchanged (no
    /// forwarding header written) and [`Copier::failed`] is set.
    #[inline]
    pub(crate) unsafe fn copy(&mut self, src: *mut u64, h: u64) -> *mut u64 {
        let words = object::object_words(h);
        let dst = if words > LARGE_WORDS {
            self.alloc_large(words)
        } else {
            match self.to.try_bump(words) {
                Some(p) => Some(p),
                None => self.refill(words),
            }
        };
        let Some(dst) = dst else {
            return src;
        };
        let h2 = (h & !flag::SPACE) | if self.young { flag::YOUNG } else { 0 };
        // SAFETY: `dst` is fresh memory of `words` words, `src` a live object
        // of `words` words (contract); they do not overlap.
        unsafe {
            if words <= 5 {
                // Most objects are cons cells: a few word moves beat a
                // call to memcpy.
                for i in 1..words {
                    dst.add(i).write(*src.add(i));
                }
            } else {
                core::ptr::copy_nonoverlapping(src.add(1), dst.add(1), words - 1);
            }
            dst.write(h2);
            src.write(object::forwarding(dst));
        }
        dst
    }

    #[cold]
    fn refill(&mut self, words: usize) -> Option<*mut u64> {
        let next = (self.to.current_words() * 2)
            .clamp(self.first_words, self.max_words)
            .max(words);
        let chunk = match self.reserve.pop() {
            Some(c) if c.words() >= words => c,
            Some(c) => {
                self.reserve.push(c);
                self.chunk(next)?
            }
            None => self.chunk(next)?,
        };
        self.to.start_chunk(chunk);
        self.to.try_bump(words)
    }

    #[cold]
    fn alloc_large(&mut self, words: usize) -> Option<*mut u64> {
        let mut c = self.large_chunk(words)?;
        // A reserved chunk may be bigger than the object: the rest is
        // unused (a large chunk holds one object).
        c.used = words;
        let p = c.start();
        self.large.push(c);
        self.gray.push(p);
        Some(p)
    }

    /// The reserved chunks the copy did not use.
    pub(crate) fn take_reserve(&mut self) -> Vec<Chunk> {
        let mut left = core::mem::take(&mut self.reserve);
        left.append(&mut self.reserve_large);
        left
    }

    /// Scan every copied object until none is left, calling `visit` on each
    /// traced field (which may copy more objects).
    pub(crate) fn drain(&mut self, mut visit: impl FnMut(&mut Self, &mut Value)) {
        loop {
            if self.failed {
                return;
            }
            let obj = match self.to.next_unscanned(&mut self.scan) {
                Some(o) => {
                    // SAFETY: `o` is an object this copier wrote.
                    let h = unsafe { *o };
                    self.scan.advance(object::object_words(h));
                    o
                }
                None => match self.gray.pop() {
                    Some(o) => o,
                    None => return,
                },
            };
            // SAFETY: `obj` is a complete copy written by `copy`.
            let n = object::traced_words(unsafe { *obj });
            for i in 0..n {
                // SAFETY: traced words lie in the payload of `obj`, which
                // nothing else references while we update the slot (copies
                // only write fresh memory and source headers).
                let field = unsafe { &mut *(obj.add(1 + i) as *mut Value) };
                visit(self, field);
            }
        }
    }
}
