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
        }
    }

    /// Copy the object at `src` (header `h`, not forwarded) and leave a
    /// forwarding header behind. Returns the copy's address.
    ///
    /// # Safety
    /// `src` is a live object with header `h` that no one else reads while
    /// the copier runs, and is not inside the destination space.
    #[inline]
    pub(crate) unsafe fn copy(&mut self, src: *mut u64, h: u64) -> *mut u64 {
        let words = object::object_words(h);
        let dst = if words > LARGE_WORDS {
            self.alloc_large(words)
        } else {
            match self.to.try_bump(words) {
                Some(p) => p,
                None => self.refill(words),
            }
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
    fn refill(&mut self, words: usize) -> *mut u64 {
        let next = (self.to.current_words() * 2)
            .clamp(self.first_words, self.max_words)
            .max(words);
        self.to.start_chunk(Chunk::new(next));
        match self.to.try_bump(words) {
            Some(p) => p,
            None => unreachable!("fresh chunk of {next} words cannot hold {words}"),
        }
    }

    #[cold]
    fn alloc_large(&mut self, words: usize) -> *mut u64 {
        let mut c = Chunk::new(words);
        c.used = words;
        let p = c.start();
        self.large.push(c);
        self.gray.push(p);
        p
    }

    /// Scan every copied object until none is left, calling `visit` on each
    /// traced field (which may copy more objects).
    pub(crate) fn drain(&mut self, mut visit: impl FnMut(&mut Self, &mut Value)) {
        loop {
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
