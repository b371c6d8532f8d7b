//! The runtime-wide memory ceiling (`Options.max_memory`): past it the
//! actor holding the most memory is killed with `{:heap-limit bytes}`, even
//! if it traps exits, and the others go on. One test: the ceiling is
//! process-wide, so nothing else may run beside it in this process.

use valk_runtime::{Handle, Options};

#[test]
fn past_the_ceiling_the_heaviest_actor_is_killed() {
    let handle = Handle::start(Options {
        schedulers: 2,
        max_memory: Some(48 << 20),
        ..Options::default()
    })
    .expect("runtime starts");
    let session = handle.main_session();
    let src = "
        (fun {grow acc} {grow (cons 1 acc)})
        (fun {idle} {receive {:never-sent 0}})
        (def {small} (spawn idle))
        (def {big} (spawn (\\ {} {do (trap-exit 1) (grow {})})))
        (def {m} (monitor big))
        (def {reason} (receive {{:DOWN ^m p r} r}))
        (list (head reason) (> (eval (head (tail reason))) 1000000) (alive? small))
    ";
    let out = session.run_to_text(src, "test.valk");
    assert_eq!(out, "{{:heap-limit} 1 1}");
}
