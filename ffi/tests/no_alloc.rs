//! A call of a C function with scalar arguments allocates nothing: the
//! argument and return storage are on the stack, the call interface was
//! prepared at `dlsym`. Counted with a counting global allocator over a
//! loop of 2,000 calls against one of 1,000 (the loop's own steady state
//! allocates nothing either, so the difference is what the calls cost).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTER: Counting = Counting;

fn allocations_for(it: &mut valk_lang::Interp, n: u32) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let out = it.eval_source(&format!("(calls {n} 0)"), "loop.valk");
    assert!(out.is_ok(), "{out:?}");
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn scalar_calls_allocate_nothing() {
    let mut set = valk_lang::BuiltinSet::core();
    valk_ffi::add_to(&mut set);
    let mut it = valk_lang::Interp::with_builtins(&set);
    it.eval_source(
        "(def {labs} (dlsym (dlopen ()) \"labs\" :long {:long})) \
         (def {ldexp} (dlsym (dlopen \"libm.so.6\") \"ldexp\" :double {:double :int})) \
         (fun {calls n acc} {if (== n 0) {acc} {calls (- n 1) (+ acc (labs -2) (ldexp 1.0 3))}})",
        "setup.valk",
    )
    .expect("setup runs");
    // Warm up (caches, the register file, the heap's first chunks).
    allocations_for(&mut it, 3_000);
    let small = allocations_for(&mut it, 1_000);
    let large = allocations_for(&mut it, 2_000);
    assert!(
        large.saturating_sub(small) < 50,
        "1,000 more calls (2,000 C calls) allocated {} more times ({small} vs {large})",
        large.saturating_sub(small)
    );
}
