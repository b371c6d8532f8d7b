//! What a parked Valk actor costs in heap memory (the bytes the program has
//! allocated and not freed), counted by a global allocator. Resident memory
//! per actor (with allocator overhead and the scheduler's slot tables) is
//! measured by `benches/actors/idle.valk`; this test keeps the allocation
//! side from creeping up unnoticed.

use valk_runtime::{Handle, Job, Options, Outcome};

mod counting;

#[global_allocator]
static COUNTING: counting::Counting = counting::Counting;

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
    let before = counting::live();
    eval(format!("(spawn-all {ACTORS}) (sleep 300) (len {{}})")).expect("spawning runs");
    let after = counting::live();
    let bytes = (after - before) / ACTORS as isize;
    assert!(
        bytes > 0 && bytes < 1024,
        "{bytes} bytes allocated per parked actor"
    );
    eprintln!("{bytes} bytes allocated per parked actor");
}
