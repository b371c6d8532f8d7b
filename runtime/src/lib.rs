//! # valk-runtime
//!
//! The actor layer: the Valk language hosted on the scheduler. It plugs the
//! interpreter (`valk-lang`, which knows no scheduler) into `valk-scheduler`
//! (which knows no Valk values):
//!
//! - [`ValkSystem`]: messages are heap fragments ([`Message`]), exit reasons
//!   a [`Reason`];
//! - [`ActorHost`]: the interpreter's [`Host`](valk_lang::Host): the slice
//!   budget and the mailbox are the scheduler's, `receive` asks it for the
//!   next message and tells it which one matched;
//! - [`Body`]: a spawned actor, an `Interp` run one slice at a time;
//! - [`BUILTINS`]: the actor builtins (LANGUAGE.md §7), registered as a
//!   layer over the core's ([`builtin_set`]);
//! - [`Handle`]: a running runtime any thread can use, and [`Session`]s,
//!   host-owned actors that evaluate and call for it.

pub mod blocking;
mod body;
mod builtins;
pub mod calls;
mod futures;
pub mod handle;
#[allow(unsafe_code)]
mod host;
pub mod log;
pub mod memory;
mod program;
pub mod session;
pub mod system;

use valk_lang::{BuiltinSet, Interp};
use valk_scheduler::{Config, Cx, Runtime};

pub use body::Body;
pub use builtins::BUILTINS;
pub use handle::{Handle, Options};
pub use host::ActorHost;
pub use session::{Done, Job, Outcome, Session};
pub use system::{Message, Reason, ValkSystem};
pub use valk_scheduler::Cx as SchedCx;

/// Valk source loaded into a runtime before any program: `sleep`, and
/// `await`, `future/all`, `future/any` over the future builtins
/// (`futures.rs`).
pub const PRELUDE: &str = r#"
; (sleep ms): wait ms milliseconds (a whole number, 0 or more); other
; actors run meanwhile. Returns :ok.
(fun {sleep __ms} {
  if (== (type __ms) :number)
    {if (== __ms (floor __ms)) {if (>= __ms 0) {receive {:after __ms :ok}} {sleep/-bad __ms}} {sleep/-bad __ms}}
    {sleep/-bad __ms}
})
(fun {sleep/-bad __ms} {
  error/-at-caller (str "`sleep`: expected a whole number of milliseconds (0 or more), got " (repr __ms))
})

; (await f [ms]) is a special form of the core that calls these by arity:
; the future's value (or the error it failed with), waiting in a receive,
; so the actor parks; with ms, an error once ms have passed.
(fun {future/-await future/-f} {
  do
    (= {future/-v} (future/-poll future/-f))
    (if (== future/-v :future/-pending)
      {do (receive {{:future/-ready} ()}) (future/-await future/-f)}
      {future/-v})
})
(fun {future/-await-ms future/-f future/-ms} {
  do
    (= {future/-deadline} (future/-deadline future/-ms))
    (if (== future/-deadline :never)
      {future/-await future/-f}
      {future/-await-until future/-f future/-deadline future/-ms})
})
(fun {future/-await-until future/-f future/-deadline future/-ms} {
  if (future/-wait future/-f)
    {future/-value future/-f}
    {do
      (= {future/-left} (/ (- future/-deadline (time-us)) 1000))
      (if (<= future/-left 0)
        {do (future/-unwait future/-f) (error/-at-caller (str "await: no value within " future/-ms " ms"))}
        {do
          (receive {{:future/-ready} ()} {:after future/-left ()})
          (future/-await-until future/-f future/-deadline future/-ms)})}
})

; (future/all fs): a future of the list of the values of fs, in order, or
; of the first error among them (in list order).
(fun {future/all future/-fs} {
  do
    (future/-list future/-fs "future/all")
    (= {future/-p} (promise))
    (spawn (\ {fs r} {resolve r (map await fs)}) future/-fs (snd future/-p))
    (fst future/-p)
})

(fun {future/-any-loop future/-fs future/-r} {
  try
    {do
      (= {future/-v} (future/-first-value future/-fs))
      (if (== future/-v :future/-pending)
        {do (receive {{:future/-ready} ()}) (future/-any-loop future/-fs future/-r)}
        {resolve future/-r future/-v})}
    {\ {e} {resolve future/-r e}}
})
; (future/any fs): a future of the first value any of fs gets; errors are
; passed over while another may still succeed, and if all fail, the first
; error (in list order) is its value.
(fun {future/any future/-fs} {
  do
    (future/-list future/-fs "future/any")
    (= {future/-p} (promise))
    (spawn future/-any-loop future/-fs (snd future/-p))
    (fst future/-p)
})
"#;

/// The name [`PRELUDE`] has in error locations.
pub const PRELUDE_NAME: &str = "<actor prelude>";

/// The builtins of an actor runtime: the core's, then the actor layer's.
pub fn builtin_set() -> BuiltinSet {
    valk_lang::printer::register_opaque::<futures::Cell>("future", "resolver");
    let mut set = BuiltinSet::core();
    set.add_layer(BUILTINS);
    set
}

/// A fresh interpreter with its own globals binding [`builtin_set`], with
/// the prelude loaded (call [`load_prelude`] inside an actor for `sleep`).
pub fn new_interp() -> Interp {
    Interp::with_builtins(&builtin_set())
}

/// Runs `main` as the main actor of a fresh runtime with `schedulers`
/// workers (0: the default); returns the main actor's exit reason.
pub fn run_main<F>(schedulers: usize, main: F) -> Reason
where
    F: FnOnce(&mut Cx<'_, ValkSystem>) -> Reason + Send + 'static,
{
    let mut config = Config::default();
    if schedulers > 0 {
        config.schedulers = schedulers;
    }
    let rt = Runtime::new(ValkSystem::new(), config);
    let mut main = Some(main);
    rt.run_main(move |cx: &mut Cx<'_, ValkSystem>| match main.take() {
        Some(f) => valk_scheduler::Step::Exit(f(cx)),
        None => valk_scheduler::Step::Exit(Reason::Normal),
    })
}

/// Runs `f` on `it` as the main actor (waiting keeps the native stack);
/// returns `f`'s result and the reason `(exit reason)` gave, if any.
pub fn hosted<R>(
    cx: &mut Cx<'_, ValkSystem>,
    it: &mut Interp,
    f: impl FnOnce(&mut Interp) -> R,
) -> (R, Option<Reason>) {
    ActorHost::run(cx, false, it, f)
}

/// Loads [`PRELUDE`] into `it` (once per runtime: globals are shared).
pub fn load_prelude(it: &mut Interp) -> Result<(), valk_lang::ValkError> {
    valk_lang::prelude::register_prelude(PRELUDE_NAME, PRELUDE);
    it.eval_source(PRELUDE, PRELUDE_NAME).map(|_| ())
}

#[cfg(test)]
mod prelude_docs {
    #[test]
    fn every_public_actor_prelude_function_has_a_doc_comment() {
        let missing = valk_lang::builtins::help::undocumented_functions(super::PRELUDE);
        assert!(missing.is_empty(), "no doc comment for {missing:?}");
    }
}
