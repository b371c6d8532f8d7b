//! A slice that switches coroutines in the middle (a long `sort` yields,
//! fair builtins) may resume on another worker. The values it read from
//! globals must stay alive across the move while other actors replace
//! those globals and reclaim (the pin is parked and resumed, see
//! `valk_lang::reclaim`), and once every actor is done the replaced values
//! are all freed.

use valk_heap::shared_stats;
use valk_runtime::{Handle, Options};

fn run(handle: &Handle, src: &str) -> String {
    handle.main_session().run_to_text(src, "reclaim.valk")
}

const N: u32 = 20_000;

#[test]
fn values_read_before_a_yield_survive_defs_on_other_workers() {
    let handle = Handle::start(Options {
        schedulers: 4,
        ..Options::default()
    })
    .expect("runtime starts");
    let setup = "
        (def {big} (reverse (range 0 N)))
        (fun {sorts k want} {
          if (== k 0) {:ok} {
            if (== (sort big) want) {sorts (- k 1) want} {:wrong}}})
        (fun {sorter main} {send main (sorts 20 (range 0 N))})
        (fun {redef k} {
          if (== k 0) {:ok} {do (def {big} (reverse (range 0 N))) (redef (- k 1))}})
        (fun {redef-small k} {
          if (== k 0) {:ok} {do (def {small} (list k)) (redef-small (- k 1))}})
        (fun {collect k acc} {
          if (== k 0) {acc} {collect (- k 1) (cons (receive {r r}) acc)}})
        :ready";
    assert_eq!(run(&handle, &setup.replace('N', &N.to_string())), ":ready");
    let before = shared_stats().objects;
    let out = run(
        &handle,
        "(def {me} (self))
         (map (\\ {i} {spawn (\\ {} {sorter me})}) (range 0 8))
         (spawn (\\ {} {send me (redef 150)}))
         (collect 9 {})",
    );
    assert_eq!(out, "{:ok :ok :ok :ok :ok :ok :ok :ok :ok}");
    // Everything replaced is freed once no slice holds it (the next
    // reclaims, which small `def`s bring on): what is left is the current
    // `big` and the retired list's slack of small lists.
    let after = run(&handle, "(redef-small 200)");
    assert_eq!(after, ":ok");
    let grown = shared_stats().objects.saturating_sub(before);
    assert!(
        grown < 4 * N as usize,
        "{grown} more shared objects after 150 defs of a {N}-element list"
    );
    handle.shutdown();
}
