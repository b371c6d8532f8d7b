//! Memory exhaustion stays in one actor: over its heap limit (its
//! unreceived messages included) an actor ends with `{:heap-limit bytes}`,
//! its links and monitors see that reason, and the runtime goes on.
//! (The runtime-wide ceiling: tests/memory_ceiling.rs, alone in its process
//! because the ceiling is process-wide.)

use valk_runtime::{Handle, Options};

const LIMIT: usize = 2 << 20;

/// Runs `src` in the main session of a runtime whose actors may hold
/// `LIMIT` bytes each; the repr of its value (or the error).
fn run_limited(src: &str) -> String {
    let handle = Handle::start(Options {
        schedulers: 2,
        max_heap: Some(LIMIT),
        ..Options::default()
    })
    .expect("runtime starts");
    let session = handle.main_session();
    session.run_to_text(src, "test.valk")
}

/// `(check reason)`: `{{:heap-limit} 1}` when the reason is
/// `{:heap-limit n}` with n past the limit.
const CHECK: &str = "
(fun {check reason} {list (head reason) (> (eval (head (tail reason))) LIMIT)})
(fun {flood to} {do (send to {1 2 3 4 5 6 7 8 9 10 11 12}) (flood to)})
(fun {grow acc} {grow (cons 1 acc)})
";

fn with_check(body: &str) -> String {
    format!("{}\n{body}", CHECK.replace("LIMIT", &LIMIT.to_string()))
}

#[test]
fn an_actor_growing_a_list_ends_with_heap_limit_and_main_goes_on() {
    let out = run_limited(&with_check(
        "(spawn-monitor (\\ {} {grow {}}))
         (def {r} (receive {{:DOWN m p reason} (check reason)}))
         (list r (+ 1 2))",
    ));
    assert_eq!(out, "{{{:heap-limit} 1} 3}");
}

#[test]
fn links_see_the_heap_limit_reason() {
    let out = run_limited(&with_check(
        "(trap-exit 1)
         (def {c} (spawn-link (\\ {} {grow {}})))
         (receive {{:EXIT ^c reason} (check reason)})",
    ));
    assert_eq!(out, "{{:heap-limit} 1}");
}

#[test]
fn an_actor_flooding_its_own_mailbox_ends_with_heap_limit() {
    let out = run_limited(&with_check(
        "(spawn-monitor (\\ {} {flood (self)}))
         (receive {{:DOWN m p reason} (check reason)})",
    ));
    assert_eq!(out, "{{:heap-limit} 1}");
}

#[test]
fn the_receiver_of_a_flood_ends_not_the_sender() {
    // One receiver waits for another message, one never receives at all.
    let out = run_limited(&with_check(
        "(fun {spin n} {spin (+ n 1)})
         (def {waiting} (spawn (\\ {} {receive {:never-sent 0}})))
         (def {busy} (spawn spin 0))
         (def {mw} (monitor waiting))
         (def {mb} (monitor busy))
         (def {s1} (spawn flood waiting))
         (def {s2} (spawn flood busy))
         (def {a} (receive {{:DOWN ^mw p reason} (check reason)}))
         (def {b} (receive {{:DOWN ^mb p reason} (check reason)}))
         (def {senders} (list (alive? s1) (alive? s2)))
         (exit s1 :kill)
         (exit s2 :kill)
         (list a b senders)",
    ));
    assert_eq!(out, "{{{:heap-limit} 1} {{:heap-limit} 1} {1 1}}");
}
