//! Fair builtins: a builtin pays reductions in proportion to its work, and a
//! long one gives its thread back in the middle.
//!
//! Every builtin call already costs the one reduction of its call site. A
//! builtin that walks or builds data also reports its work to the call's
//! [`Meter`] (`cx.meter`): elements visited or made, bytes copied or
//! scanned. Work is counted in units, [`UNITS_PER_REDUCTION`] to a
//! reduction, so that a reduction of builtin work takes about as long as a
//! reduction of interpreted code (a call, some tens of nanoseconds):
//!
//! - an element (a list cell walked or made, a value sorted per pass):
//!   [`ELEMENT`] units, 4 elements to a reduction;
//! - a byte of a string made or scanned: [`BYTE`] unit, 64 bytes to a
//!   reduction.
//!
//! Each time [`YIELD_EVERY`] reductions of work pile up inside one call (a
//! default slice, some tens of microseconds of work), the meter charges
//! them to the host and yields ([`Host::yield_now`]): the actor lets the
//! others on its scheduler run and resumes right there, keeping its native
//! stack (the scheduler pins the coroutine; the same mechanism lets the main
//! actor yield inside a top-level form). Nothing collects the actor's heap
//! while it waits (a collection runs only at an interpreter safepoint), so
//! the heap values the builtin holds in Rust locals stay valid. A kill that
//! arrives meanwhile unwinds the builtin at the yield. What is left under a
//! full slice when the builtin returns becomes the interpreter's debt
//! (`Interp::debt`), paid from the fuel at the next safepoint, so a loop of
//! short builtin calls is preempted as often as one long call.
//!
//! The helpers below are the metered building blocks of the list, string
//! and sort builtins: [`walk_list`] (a list's items), [`build_list`] (a list
//! of items), [`merge_sort`] (a bottom-up merge sort that charges each pass).

use std::cmp::Ordering;

use valk_heap::{Heap, ListKind, Value};

use super::Failure;
use crate::host::Host;
use crate::interp::host_slot::HostSlot;
use crate::interp::DEFAULT_BUDGET;

/// Work units in one reduction.
pub const UNITS_PER_REDUCTION: u64 = 64;
/// The units of one element visited or made.
pub const ELEMENT: u64 = UNITS_PER_REDUCTION / 4;
/// The units of one byte copied or scanned.
pub const BYTE: u64 = 1;
/// Reductions of work after which a builtin yields (a default slice).
pub const YIELD_EVERY: u64 = DEFAULT_BUDGET as u64;

/// Elements a metered loop handles between two reports to the meter (the
/// report is cheap; batching keeps it off the per-element path).
pub(crate) const BATCH: usize = 256;

/// The work meter of one builtin call (see the module documentation).
pub struct Meter<'a> {
    /// The interpreter's host: charged and yielded to every
    /// [`YIELD_EVERY`] reductions.
    pub(crate) host: &'a mut HostSlot,
    /// Units of work not yet charged to the host.
    units: u64,
    /// Reductions charged to the host during this call (at yields).
    charged: u64,
}

impl<'a> Meter<'a> {
    pub(crate) fn new(host: &'a mut HostSlot) -> Meter<'a> {
        Meter {
            host,
            units: 0,
            charged: 0,
        }
    }

    /// `n` elements visited or made.
    #[inline]
    pub fn elements(&mut self, n: usize) {
        self.units(n as u64 * ELEMENT);
    }

    /// `n` bytes copied or scanned.
    #[inline]
    pub fn bytes(&mut self, n: usize) {
        self.units(n as u64 * BYTE);
    }

    /// `n` reductions of work (for work that is neither elements nor bytes).
    #[inline]
    pub fn reductions(&mut self, n: u64) {
        self.units(n.saturating_mul(UNITS_PER_REDUCTION));
    }

    /// `n` units of work; yields once a slice's worth has piled up.
    #[inline]
    pub fn units(&mut self, n: u64) {
        self.units = self.units.saturating_add(n);
        if self.units >= YIELD_EVERY * UNITS_PER_REDUCTION {
            self.yield_now();
        }
    }

    /// Charges the work done so far and lets the other actors of this
    /// scheduler run; returns when this actor's turn comes again.
    #[cold]
    fn yield_now(&mut self) {
        let r = self.units / UNITS_PER_REDUCTION;
        self.units %= UNITS_PER_REDUCTION;
        self.charged += r;
        let host: &mut dyn Host = self.host.get();
        host.charge(u32::try_from(r).unwrap_or(u32::MAX));
        host.yield_now();
    }

    /// The reductions of this call: `(charged at yields, still owed)`.
    pub(crate) fn finish(&self) -> (u64, u64) {
        (self.charged, self.units / UNITS_PER_REDUCTION)
    }
}

/// The items of list `v` (`None`: not a proper list), metered.
pub(crate) fn walk_list(heap: &Heap, meter: &mut Meter<'_>, v: Value) -> Option<Vec<Value>> {
    heap.list_kind(v)?;
    let mut out = Vec::new();
    let mut cur = v;
    loop {
        for _ in 0..BATCH {
            if cur.is_nil() || cur.is_empty_s() {
                meter.elements(out.len() % BATCH);
                return Some(out);
            }
            let (car, cdr) = heap.car_cdr(cur)?;
            out.push(car);
            cur = cdr;
        }
        meter.elements(BATCH);
    }
}

/// A list of `items` of kind `kind` ending in `tail`, metered: built from
/// the end, a batch at a time.
pub(crate) fn build_list(
    heap: &mut Heap,
    meter: &mut Meter<'_>,
    items: &[Value],
    kind: ListKind,
    tail: Value,
) -> Result<Value, Failure> {
    let mut out = tail;
    for batch in items.rchunks(BATCH) {
        for &item in batch.iter().rev() {
            out = heap.cons(item, out, kind)?;
        }
        meter.elements(batch.len());
    }
    Ok(out)
}

/// `items` mapped by `f`, a metered batch at a time; `Err(i)`: `f` gave
/// `None` for item `i` (the pass stops there).
pub(crate) fn map<T, U>(
    meter: &mut Meter<'_>,
    items: &[T],
    mut f: impl FnMut(&T) -> Option<U>,
) -> Result<Vec<U>, usize> {
    let mut out = Vec::with_capacity(items.len());
    for batch in items.chunks(BATCH) {
        for item in batch {
            match f(item) {
                Some(u) => out.push(u),
                None => {
                    meter.elements(out.len() % BATCH + 1);
                    return Err(out.len());
                }
            }
        }
        meter.elements(batch.len());
    }
    Ok(out)
}

/// The empty list of kind `k`.
pub(crate) fn empty(k: ListKind) -> Value {
    match k {
        ListKind::Q => Value::NIL,
        ListKind::S => Value::EMPTY_S,
    }
}

/// Runs of this many elements are sorted in one go before merging.
const RUN: usize = 512;

/// Sorts `items` stably by `cmp`: runs of [`RUN`] elements sorted in
/// place, then bottom-up merges, each merged element charged, so the meter
/// can yield between (and inside) passes. The state between two yields is
/// `items` and the scratch buffer, Rust memory: the heap values inside are
/// not moved while the builtin runs (no collection at a yield).
pub(crate) fn merge_sort<T: Copy>(
    meter: &mut Meter<'_>,
    items: &mut Vec<T>,
    cmp: impl Fn(&T, &T) -> Ordering,
) {
    let n = items.len();
    for run in items.chunks_mut(RUN) {
        run.sort_by(&cmp);
        // A run costs about log2(RUN) = 9 comparisons an element.
        meter.elements(run.len() * 9);
    }
    if n <= RUN {
        return;
    }
    let mut src = std::mem::take(items);
    let mut dst: Vec<T> = Vec::with_capacity(n);
    let mut width = RUN;
    while width < n {
        dst.clear();
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            merge(meter, &src[lo..mid], &src[mid..hi], &mut dst, &cmp);
            lo = hi;
        }
        std::mem::swap(&mut src, &mut dst);
        width *= 2;
    }
    *items = src;
}

/// Appends the stable merge of sorted `a` and `b` to `out`, metered.
fn merge<T: Copy>(
    meter: &mut Meter<'_>,
    a: &[T],
    b: &[T],
    out: &mut Vec<T>,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let before = out.len();
        let stop = before + BATCH;
        while out.len() < stop && i < a.len() && j < b.len() {
            // Take from `b` only when strictly less: equal elements keep
            // their order (stable).
            if cmp(&b[j], &a[i]) == Ordering::Less {
                out.push(b[j]);
                j += 1;
            } else {
                out.push(a[i]);
                i += 1;
            }
        }
        meter.elements(out.len() - before);
    }
    for rest in [&a[i..], &b[j..]] {
        for piece in rest.chunks(BATCH) {
            out.extend_from_slice(piece);
            meter.elements(piece.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the yields a meter makes.
    #[derive(Default)]
    struct Yields(u64);

    impl Host for Yields {
        fn yield_now(&mut self) {
            self.0 += 1;
        }
    }

    /// A deterministic pseudo-random sequence with many equal keys.
    fn keys(n: usize, seed: u64) -> Vec<(u32, u32)> {
        let mut x = seed | 1;
        (0..n as u32)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x % 1000) as u32, i)
            })
            .collect()
    }

    #[test]
    fn a_yielding_merge_sort_gives_the_stable_sort() {
        let mut host = Yields::default();
        let mut slot = HostSlot::default();
        slot.install(&mut host);
        let mut yielded = 0;
        for (k, n) in [
            0usize, 1, 2, 3, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 1536, 2047, 4097,
            16_000, 16_001, 65_537, 100_003,
        ]
        .into_iter()
        .enumerate()
        {
            let mut items = keys(n, k as u64 + 7);
            let mut expected = items.clone();
            expected.sort_by_key(|p| p.0); // std's sort is stable
            let mut meter = Meter::new(&mut slot);
            merge_sort(&mut meter, &mut items, |a, b| a.0.cmp(&b.0));
            assert!(items == expected, "size {n}");
            let (charged, _) = meter.finish();
            yielded += charged;
        }
        slot.restore(None);
        assert!(
            host.0 > 0 && yielded > 0,
            "no yield: the sizes are too small"
        );
    }

    #[test]
    fn metered_walks_and_builds_match_the_heap_s_own() {
        let mut slot = HostSlot::default();
        let mut heap = Heap::default();
        for n in [0usize, 1, 255, 256, 257, 1000] {
            let items: Vec<Value> = (0..n as i64).filter_map(Value::small_int).collect();
            let mut meter = Meter::new(&mut slot);
            let l = build_list(
                &mut heap,
                &mut meter,
                &items,
                ListKind::S,
                empty(ListKind::S),
            )
            .expect("fits");
            assert_eq!(heap.list_to_vec(l), Some(items.clone()), "size {n}");
            assert_eq!(walk_list(&heap, &mut meter, l), Some(items), "size {n}");
            let (_, owed) = meter.finish();
            assert_eq!(owed, (2 * n as u64 * ELEMENT) / UNITS_PER_REDUCTION);
        }
    }
}
