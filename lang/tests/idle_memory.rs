//! What a parked Valk actor costs in heap memory (the bytes the program has
//! allocated and not freed), counted by a global allocator. Resident memory
//! per actor (with allocator overhead and the scheduler's slot tables) is
//! measured by `benches/actors/idle.valk`; this test keeps the allocation
//! side from creeping up unnoticed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use valk_lang::actor::{self, Reason};
use valk_lang::Interp;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

const ACTORS: i64 = 20_000;

#[test]
fn a_parked_actor_allocates_under_a_kibibyte() {
    let reason = actor::run_main(1, |cx| {
        let mut it = Interp::new();
        let per_actor = actor::hosted(cx, &mut it, |it| {
            actor::load_prelude(it).expect("actor prelude loads");
            let setup = "(fun {idler} {receive {:stop 0}})
                 (fun {spawn-all k} {if (== k 0) {0} {do (spawn idler) (spawn-all (- k 1))}})
                 (sleep 1)";
            it.eval_source(setup, "setup.valk").expect("setup runs");
            let before = LIVE.load(Relaxed);
            let run = format!("(spawn-all {ACTORS}) (sleep 300) (len {{}})");
            it.eval_source(&run, "spawn.valk").expect("spawning runs");
            let after = LIVE.load(Relaxed);
            (after - before) / ACTORS as isize
        });
        Reason::Status(i32::try_from(per_actor).unwrap_or(i32::MAX))
    });
    let Reason::Status(bytes) = reason else {
        panic!("main actor ended with {reason:?}");
    };
    assert!(
        bytes > 0 && bytes < 1024,
        "{bytes} bytes allocated per parked actor"
    );
    eprintln!("{bytes} bytes allocated per parked actor");
}
