//! What a parked Valk actor costs in heap memory (the bytes the program has
//! allocated and not freed), counted by a global allocator. Resident memory
//! per actor (with allocator overhead and the scheduler's slot tables) is
//! measured by `benches/actors/idle.valk`; this test keeps the allocation
//! side from creeping up unnoticed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use valk_runtime::{Handle, Job, Options, Outcome};

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
    let handle = Handle::start(Options {
        schedulers: 1,
        ..Options::default()
    })
    .expect("runtime starts");
    let session = handle.main_session();
    let eval = |text: String| {
        let job = Job::Source {
            text,
            name: "idle.valk".to_owned(),
            line: false,
        };
        session
            .request(job, |it, out| match out {
                Outcome::Value(v) => Ok(it.repr(v)),
                Outcome::Error(e) => Err(e.to_string()),
                _ => Err("ended".to_owned()),
            })
            .expect("session answers")
    };
    eval(
        "(fun {idler} {receive {:stop 0}})
         (fun {spawn-all k} {if (== k 0) {0} {do (spawn idler) (spawn-all (- k 1))}})
         (sleep 1)"
            .to_owned(),
    )
    .expect("setup runs");
    let before = LIVE.load(Relaxed);
    eval(format!("(spawn-all {ACTORS}) (sleep 300) (len {{}})")).expect("spawning runs");
    let after = LIVE.load(Relaxed);
    let bytes = (after - before) / ACTORS as isize;
    assert!(
        bytes > 0 && bytes < 1024,
        "{bytes} bytes allocated per parked actor"
    );
    eprintln!("{bytes} bytes allocated per parked actor");
}
