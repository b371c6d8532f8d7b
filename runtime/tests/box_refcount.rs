//! A box (LANGUAGE.md §9) is freed when its last reference goes, and not
//! before: a big boxed value sent to several actors stays allocated while
//! any of them holds it, and the process's live bytes (counted by a global
//! allocator) come back to the baseline once they have all exited. One
//! test: the count is process-wide, so nothing else may run beside it.

use std::time::{Duration, Instant};

use valk_heap::{shared_stats, trim_chunk_pool};
use valk_runtime::{Handle, Options, Session};

mod counting;

#[global_allocator]
static COUNTING: counting::Counting = counting::Counting;

/// Elements of the boxed list: each is a shared cons cell of 4 words
/// (count, header, car, cdr), so the box holds 8 MB.
const ELEMENTS: usize = 250_000;
const BOXED_BYTES: isize = (ELEMENTS * 32) as isize;
const READERS: usize = 4;
/// How long the figures get to settle where nothing is awaited (a free
/// that should not happen would have happened by then).
const MOMENT: Duration = Duration::from_millis(300);

/// The owner makes the box and sends it to `k` readers, then exits: only
/// the readers hold it. Each reader replies with the length it sees and
/// keeps the box until it gets `:drop`. The session running this never
/// touches the box (its heap would hold a count for as long as it lives):
/// it gets the readers' pids and lengths only.
const SETUP: &str = "
(fun {reader owner} {receive {{:box b} do
  (send owner (list :len (self) (len (unbox b))))
  (receive {:drop :dropped})}})
(fun {gather k acc} {if (== k 0) {acc} {gather (- k 1) (cons (receive {{:len p n} (list p n)}) acc)}})
(fun {owner main n k} {do
  (= {b} (box (range 0 n)))
  (= {me} (self))
  (= {pids} (map (\\ {i} {spawn reader me}) (range 0 k)))
  (map (\\ {p} {send p (list :box b)}) pids)
  (send main (list :ready (gather k {})))})
(fun {start n k} {do
  (spawn owner (self) n k)
  (receive {{:ready got} got})})
(fun {drop-all got} {map (\\ {pn} {send (fst pn) :drop}) got})
:ok";

fn eval(session: &Session, src: &str) -> String {
    session.run_to_text(src, "box_refcount.valk")
}

/// Live bytes (allocator) and shared-heap bytes once `done` holds for
/// both, or after `wait`, whichever first. Actors end, and the heaps they
/// drop are freed (big ones on the reaper thread), shortly after the
/// messages that end them: poll. The chunk pool keeps freed heap chunks
/// for reuse; empty it so that live bytes are what is in use.
fn settle(wait: Duration, done: impl Fn(isize, isize) -> bool) -> (isize, isize) {
    let deadline = Instant::now() + wait;
    loop {
        trim_chunk_pool();
        let now = (counting::live(), shared_stats().bytes as isize);
        if done(now.0, now.1) || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `{{pid n}...}` from `start`: checks every reader saw `n` elements.
fn check_lengths(got: &str, n: usize) {
    let lens = got.matches(&format!(" {n}}}")).count();
    assert_eq!(lens, READERS, "every reader sees {n} elements: {got}");
}

#[test]
fn a_box_is_freed_with_its_last_reference_and_not_before() {
    let handle = Handle::start(Options {
        schedulers: 2,
        ..Options::default()
    })
    .expect("runtime starts");
    let session = handle.main_session();
    assert_eq!(eval(&session, SETUP), ":ok");
    // A small round first: what the runtime allocates once (tables,
    // interned names, the session's heap) is in the baseline.
    for _ in 0..2 {
        let got = eval(
            &session,
            &format!("(def {{got}} (start 1000 {READERS})) got"),
        );
        check_lengths(&got, 1000);
        eval(&session, "(drop-all got) (def {got} ()) (sleep 50) :ok");
    }
    let (base, base_shared) = settle(MOMENT, |_, _| false);

    // The owner has exited: the readers alone hold the box.
    let got = eval(
        &session,
        &format!("(def {{got}} (start {ELEMENTS} {READERS})) got"),
    );
    check_lengths(&got, ELEMENTS);
    let (held, held_shared) = settle(MOMENT, |_, _| false);
    assert!(
        held - base >= BOXED_BYTES && held_shared - base_shared >= BOXED_BYTES,
        "held by {READERS} readers: {} live bytes, {} shared bytes over the baseline; the box is {BOXED_BYTES}",
        held - base,
        held_shared - base_shared,
    );

    // All readers but one let go: one reference is enough to keep it.
    eval(
        &session,
        "(drop-all (tail got)) (def {got} (list (fst got))) (sleep 100) :ok",
    );
    let (one, one_shared) = settle(MOMENT, |_, _| false);
    assert!(
        one - base >= BOXED_BYTES && one_shared - base_shared >= BOXED_BYTES,
        "held by one reader: {} live bytes, {} shared bytes over the baseline; the box is {BOXED_BYTES}",
        one - base,
        one_shared - base_shared,
    );

    // The last one lets go: the box and its list are freed.
    eval(&session, "(drop-all got) (def {got} ()) :ok");
    let slack = BOXED_BYTES / 8;
    let (after, after_shared) = settle(Duration::from_secs(10), |live, shared| {
        live - base < slack && shared - base_shared < slack
    });
    assert!(
        after - base < slack && after_shared - base_shared < slack,
        "after the last reader exited: {} live bytes, {} shared bytes over the baseline \
         (under {slack} wanted; the box was {BOXED_BYTES})",
        after - base,
        after_shared - base_shared,
    );
    eprintln!(
        "box of {BOXED_BYTES} bytes: held {} / {} (live / shared) over the baseline, \
         by one reader {} / {}, after the last {} / {}",
        held - base,
        held_shared - base_shared,
        one - base,
        one_shared - base_shared,
        after - base,
        after_shared - base_shared,
    );
    handle.shutdown();
}
