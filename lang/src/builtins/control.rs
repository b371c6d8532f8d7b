//! The special builtins: code-running forms the interpreter itself runs
//! (and the compiler inlines when their Q-expression arguments are literal).

use super::{BuiltinDef, Special, VARIADIC};

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::special("eval", 1, 1, "Run a Q-expression as code.", Special::Eval),
    BuiltinDef::special(
        "if",
        2,
        3,
        "`(if cond {then} {else})`: cond must be a number; 0 is false.",
        Special::If,
    ),
    BuiltinDef::special(
        "\\",
        2,
        2,
        "`(\\ {formals} {body})`: a function; `& rest` collects the remaining arguments.",
        Special::Lambda,
    ),
    BuiltinDef::special(
        "macro",
        2,
        2,
        "`(macro {formals} {body})`: like `\\`, but arguments arrive unevaluated, each as `{arg}`.",
        Special::Macro,
    ),
    BuiltinDef::special(
        "=",
        1,
        VARIADIC,
        "`(= {names} values...)`: bind in the current frame; returns ().",
        Special::Local,
    ),
    BuiltinDef::special(
        "let",
        1,
        1,
        "`(let {body})`: run body in a new scope.",
        Special::Let,
    ),
    BuiltinDef::special(
        "do",
        0,
        VARIADIC,
        "Evaluate the arguments in order; the last one's value.",
        Special::Do,
    ),
    BuiltinDef::special(
        "select",
        0,
        VARIADIC,
        "`(select {cond value} ...)`: the value of the first true condition.",
        Special::Select,
    ),
    BuiltinDef::special(
        "case",
        1,
        VARIADIC,
        "`(case x {{key} value} ...)`: the value of the first clause whose key equals x.",
        Special::Case,
    ),
    BuiltinDef::special(
        "match",
        1,
        VARIADIC,
        "`(match v {pattern body...} ...)`: run the first clause whose pattern matches.",
        Special::Match,
    ),
    BuiltinDef::special(
        "try",
        2,
        2,
        "`(try {body} handler)`: body's value, or the handler called with the error body produced.",
        Special::Try,
    )
    .taking_errors(),
    BuiltinDef::special(
        "repeat",
        2,
        2,
        "`(repeat n {body})`: run body n times; the last value.",
        Special::Repeat,
    ),
    BuiltinDef::special(
        "fun",
        2,
        2,
        "`(fun {name formals...} {body})`: define a global function.",
        Special::Fun,
    ),
    BuiltinDef::special(
        "error/-at-caller",
        1,
        1,
        "`(error/-at-caller msg)`: an Error located where the user's code called the prelude function raising it.",
        Special::ErrorAtCaller,
    ),
    BuiltinDef::special(
        "penv",
        0,
        0,
        "The bindings of the current frame as {{name value} ...}.",
        Special::Penv,
    ),
    BuiltinDef::special(
        "receive",
        1,
        VARIADIC,
        "`(receive {pattern body...} ... {:after ms body...})`: take the oldest message a clause matches (in an actor; the mailbox is the host's).",
        Special::Receive,
    ),
    BuiltinDef::special(
        "async",
        1,
        1,
        "`(async {body})`: run body (closing over this scope) in a new lightweight actor; returns a future of its value, or of the error it failed with, or of its exit reason if it was killed.",
        Special::Async,
    ),
    BuiltinDef::special(
        "reset",
        1,
        1,
        "`(reset {body})`: run body as the delimiter of the continuations `shift` captures inside it.",
        Special::Reset,
    ),
    BuiltinDef::special(
        "shift",
        1,
        2,
        "`(shift {k} {body})`: capture the rest of the computation up to the nearest `reset` as the one-shot function k, and run body in place of that `reset`.",
        Special::Shift,
    ),
    BuiltinDef::special(
        "reset/-resume",
        1,
        super::VARIADIC,
        "`(reset/-resume token v)`: resume a captured continuation with v (what calling `k` does; once only).",
        Special::Resume,
    ),
    BuiltinDef::special(
        "async-reset",
        1,
        1,
        "`(async-reset {body})`: the original's name for `reset`.",
        Special::Reset,
    ),
    BuiltinDef::special(
        "async-shift",
        1,
        2,
        "`(async-shift {k} {body})`: the original's name for `shift`.",
        Special::Shift,
    ),
    BuiltinDef::special(
        "load/-source",
        2,
        2,
        "`(load/-source text path)`: read text (named path in locations) and run its forms in order at top level; (), or the first error. What `load` runs.",
        Special::LoadSource,
    ),
    BuiltinDef::special(
        "await",
        1,
        2,
        "`(await future [ms])`: the future's value, or the error it failed with; parks this actor (not its thread) until then; with ms, an error once ms have passed.",
        Special::Await,
    ),
    BuiltinDef::new(
        "future/-async",
        1,
        1,
        "`(future/-async thunk)`: what `async` calls; needs an actor runtime, whose layer replaces this one.",
        future_async_outside_actors,
    ),
];

fn future_async_outside_actors(
    cx: &mut super::BuiltinCx<'_>,
    _: &[valk_heap::Value],
) -> Result<valk_heap::Value, super::Failure> {
    Err(cx.error("`async`: not running in an actor runtime"))
}
