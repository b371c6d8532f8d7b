//! Actors through the library API: a main actor on a scheduler runtime
//! running Valk code that spawns, sends and receives.

use valk_lang::actor::{self, Reason};
use valk_lang::Interp;

/// Runs `src` in the main actor of a fresh runtime; the repr of its value
/// (or the error) comes back as the main actor's exit reason.
fn run_in_main(schedulers: usize, src: &'static str) -> String {
    let reason = actor::run_main(schedulers, move |cx| {
        let mut it = Interp::new();
        let text = actor::hosted(cx, &mut it, |it| {
            actor::load_prelude(it).expect("actor prelude loads");
            match it.eval_source(src, "test.valk") {
                Ok(v) => it.repr(v),
                Err(e) => format!("error: {e}"),
            }
        });
        Reason::Panicked(text)
    });
    match reason {
        Reason::Panicked(text) => text,
        other => format!("unexpected reason {other:?}"),
    }
}

#[test]
fn spawn_send_receive_round_trip() {
    for schedulers in [1, 2] {
        let got = run_in_main(
            schedulers,
            "(spawn (\\ {p n} {send p (* n 2)}) (self) 21) (receive {n n})",
        );
        assert_eq!(got, "42");
    }
}

#[test]
fn selective_receive_keeps_order_of_skipped_messages() {
    let got = run_in_main(
        2,
        "(send (self) 1) (send (self) :x) (send (self) 2) \
         (def {a} (receive {:x :x})) (list a (receive {n n}) (receive {n n}))",
    );
    assert_eq!(got, "{:x 1 2}");
}

#[test]
fn receive_after_times_out() {
    let got = run_in_main(1, "(receive {:never 1} {:after 20 :timeout})");
    assert_eq!(got, ":timeout");
}

#[test]
fn thousand_actors_report_back() {
    let got = run_in_main(
        2,
        "(fun {go k} {if (== k 0) {0} {do (spawn (\\ {p i} {send p i}) (self) k) (go (- k 1))}}) \
         (fun {sum k acc} {if (== k 0) {acc} {receive {i (sum (- k 1) (+ acc i))}}}) \
         (go 1000) (sum 1000 0)",
    );
    assert_eq!(got, "500500");
}

#[test]
fn error_in_child_is_a_down_reason() {
    let got = run_in_main(
        2,
        "(spawn-monitor (\\ {} {error \"bad\"})) \
         (receive {{:DOWN r p reason} (error-message reason)})",
    );
    assert_eq!(got, "\"bad\"");
}

#[test]
fn actor_builtins_outside_an_actor_are_errors() {
    let mut it = Interp::new();
    let e = it.eval_source("(self)", "t.valk").unwrap_err();
    assert!(e.to_string().contains("not running in an actor"), "{e}");
    let e = it.eval_source("(spawn (\\ {} {1}))", "t.valk").unwrap_err();
    assert!(e.to_string().contains("not running in an actor"), "{e}");
}

#[test]
fn exit_reasons_map_to_values() {
    let got = run_in_main(
        2,
        "(spawn-monitor (\\ {} {exit :kill})) \
         (def {a} (receive {{:DOWN r p reason} reason})) \
         (spawn-monitor (\\ {} {exit {:heap-limit 5}})) \
         (list a (receive {{:DOWN r p reason} reason}))",
    );
    assert_eq!(got, "{:kill {:heap-limit 5}}");
}

#[test]
fn spawned_actor_parks_in_receive_and_resumes() {
    // The child parks (no stack kept) in each receive; wake-ups with a
    // non-matching message, a match after several parks, and an `:after`
    // that expires across parks must all behave as one receive.
    let got = run_in_main(
        2,
        "(def {c} (spawn (\\ {p} {send p (list (receive {:b :got-b}) \
           (receive {:x 1} {:after 30 :timeout}) (receive {m m}))}) (self))) \
         (sleep 20) (send c :a) (sleep 10) (send c :b) (receive {r r})",
    );
    assert_eq!(got, "{:got-b :timeout :a}");
}
