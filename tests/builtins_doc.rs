//! `docs/builtins.md` is generated from the builtin registry of an actor
//! runtime (the core's builtins and the actor layer's, by topic, as
//! `(help)` lists them). This test regenerates it and fails when the file
//! in the repository is stale; `VALK_BLESS=1 cargo test --test
//! builtins_doc` rewrites it.

use std::path::Path;

use valk_lang::builtins::{help, VARIADIC};

fn arity(min: usize, max: usize) -> String {
    match (min, max) {
        (0, 0) => "none".into(),
        (a, b) if a == b => a.to_string(),
        (a, VARIADIC) => format!("{a} or more"),
        (a, b) => format!("{a} to {b}"),
    }
}

/// Table cells hold the doc strings as they are, with `|` escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn generate() -> String {
    let set = valk_cli::cli::session::builtins();
    let mut out = String::from(
        "# Builtins\n\n\
         Every builtin of an actor runtime (`valk run`, the REPL, embedding), by topic,\n\
         with its argument count and doc string: the same text `(doc name)` prints.\n\
         Functions written in Valk (the prelude: `map`, `filter`, `load`, the\n\
         supervisors and servers, ...) are in `lang/prelude/*.valk`; `(doc name)`\n\
         shows their doc comments too.\n\n\
         Generated from the builtin registry by `tests/builtins_doc.rs`; do not edit\n\
         by hand: `VALK_BLESS=1 cargo test --test builtins_doc` rewrites it, and the\n\
         test fails when it is stale.\n",
    );
    for (topic, defs) in help::by_topic(set.indices()) {
        out.push_str(&format!(
            "\n## {topic}\n\n| name | arguments | what it does |\n|---|---|---|\n"
        ));
        for d in defs {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                cell(d.name),
                arity(d.min_args, d.max_args),
                cell(d.doc)
            ));
        }
    }
    out
}

#[test]
fn docs_builtins_md_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/builtins.md");
    let fresh = generate();
    if std::env::var_os("VALK_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write docs/builtins.md");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == fresh,
        "docs/builtins.md is stale: run `VALK_BLESS=1 cargo test --test builtins_doc`"
    );
}
