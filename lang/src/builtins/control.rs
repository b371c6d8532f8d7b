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
];
