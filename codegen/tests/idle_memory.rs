//! A parked actor costs no more with every function compiled: the native
//! tier keeps its state per function (`TierSlot`), never per actor.
//! `runtime/tests/idle_memory.rs` is the same measure without the tier.

mod common;
#[path = "../../runtime/tests/counting/mod.rs"]
mod counting;

use common::Rt;
use valk_lang::tier::JitMode;

#[global_allocator]
static COUNTING: counting::Counting = counting::Counting;

const ACTORS: i64 = 20_000;

#[test]
fn a_parked_actor_allocates_under_a_kibibyte_under_jit_always() {
    let rt = Rt::new(JitMode::Always, 1);
    rt.eval(
        "(fun {idler} {receive {:stop 0}})
         (fun {spawn-all k} {if (== k 0) {0} {do (spawn idler) (spawn-all (- k 1))}})
         (fun {fib n} {if (< n 2) {n} {+ (fib (- n 1)) (fib (- n 2))}})
         (fib 10)
         (sleep 1)",
    )
    .expect("setup runs");
    assert!(rt.compiled("fib"), "the tier is at work");
    let before = counting::live();
    rt.eval(&format!("(spawn-all {ACTORS}) (sleep 300) (len {{}})"))
        .expect("spawning runs");
    let after = counting::live();
    let bytes = (after - before) / ACTORS as isize;
    assert!(
        bytes > 0 && bytes < 1024,
        "{bytes} bytes allocated per parked actor"
    );
    eprintln!("{bytes} bytes allocated per parked actor under --jit=always");
}
