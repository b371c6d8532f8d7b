//! `doc` and `help` (LANGUAGE.md §12): the builtin registry's doc strings,
//! and the `; (name args): ...` comments above prelude functions, shown to
//! users.

use std::collections::HashMap;

use valk_heap::{ObjKind, Value};

use super::{BuiltinCx, BuiltinDef, Failure, CORE, VARIADIC};

pub(crate) static BUILTINS: &[BuiltinDef] = &[
    BuiltinDef::new(
        "doc",
        1,
        1,
        "(doc f): print the signature and documentation of builtin or function f (`(doc map)`, `(doc +)`); returns ().",
        doc,
    ),
    BuiltinDef::new(
        "help",
        0,
        0,
        "(help): print how to get help and the builtins of this runtime by topic; returns ().",
        help,
    ),
];

/// The topic of each core layer, in `CORE`'s order.
const TOPICS: &[&str] = &[
    "arithmetic",
    "comparison",
    "lists",
    "control and definitions",
    "values and errors",
    "strings",
    "input and output",
    "system",
    "boxes and atoms",
    "help",
    "testing",
];

fn doc(cx: &mut BuiltinCx<'_>, args: &[Value]) -> Result<Value, Failure> {
    let text = describe(cx, args[0]);
    let mut out = String::new();
    cx.append_text(&mut out, &text)?;
    cx.append_text(&mut out, "\n")?;
    super::io::emit_text(cx, &out)
}

/// What `doc` says of `v`.
fn describe(cx: &BuiltinCx<'_>, v: Value) -> String {
    if let Some(d) = v.as_builtin().and_then(super::def) {
        return format!("{}  ({})\n  {}", d.name, arity(d), d.doc);
    }
    // A builtin bound to a handle (a C function from `dlsym`): what it is
    // and what its builtin does.
    if let Some((f, bound)) = cx.heap.partial_parts(v) {
        if let Some(d) = f.as_builtin().and_then(super::def) {
            return format!(
                "{} ({} bound to {} argument{})\n  {}",
                cx.repr(v),
                d.name,
                bound.len(),
                if bound.len() == 1 { "" } else { "s" },
                d.doc
            );
        }
    }
    let closure = match cx.heap.kind(v) {
        Some(ObjKind::Closure) => Some(v),
        Some(ObjKind::Partial) => cx.heap.partial_parts(v).map(|(f, _)| f),
        _ => None,
    };
    let Some(f) = closure else {
        return format!(
            "{} is a {}, not a function: `doc` describes builtins and functions",
            cx.repr(v),
            cx.type_name(v)
        );
    };
    let code = cx.heap.closure_parts(f).map_or(Value::NIL, |(c, _)| c);
    let formals = crate::code::formals_text(code, 0);
    let name = crate::code::decode(code)
        .and_then(|(i, _)| crate::code::get(i))
        .and_then(|p| p.meta.name)
        .map(valk_heap::symbol_name);
    let kind = crate::code::kind_word(code);
    match name {
        Some(name) => match prelude_docs().get(name) {
            Some(text) => format!("{name} {formals}  (prelude {kind})\n  {text}"),
            None => format!("{name} {formals}  ({kind}; no doc string)"),
        },
        None => format!("<{kind} {formals}>  (anonymous; no doc string)"),
    }
}

fn arity(d: &BuiltinDef) -> String {
    match (d.min_args, d.max_args) {
        (0, 0) => "no arguments".into(),
        (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
        (a, VARIADIC) => format!("{a} or more arguments"),
        (a, b) => format!("{a} to {b} arguments"),
    }
}

/// Doc comments of prelude functions with one (see [`function_docs`]).
/// Read at each `doc` (rare): a layer may register its prelude later.
fn prelude_docs() -> HashMap<&'static str, String> {
    crate::prelude::sources()
        .into_iter()
        .flat_map(|(_, source)| function_docs(source))
        .filter(|(_, doc)| !doc.is_empty())
        .collect()
}

/// Every public function (no `/-` in the name, not `__`-prefixed) that
/// `source` defines with a `(fun {name ...` line, with its doc comment: the
/// `;` lines right above it, section rules (`; --- ...`) left out ("" when
/// there is none).
fn function_docs(source: &str) -> Vec<(&str, String)> {
    let mut found = Vec::new();
    let mut comment: Vec<&str> = Vec::new();
    for line in source.lines() {
        if let Some(text) = line.strip_prefix(';') {
            let text = text.trim();
            if !text.starts_with("---") {
                comment.push(text);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("(fun {") {
            let name = rest.split([' ', '}']).next().unwrap_or("");
            if !name.contains("/-") && !name.starts_with("__") {
                found.push((name, comment.join(" ")));
            }
        }
        comment.clear();
    }
    found
}

fn help(cx: &mut BuiltinCx<'_>, _: &[Value]) -> Result<Value, Failure> {
    let bound: Vec<u32> = cx
        .globals
        .bound()
        .into_iter()
        .filter_map(|(_, v)| v.as_builtin())
        .collect();
    let mut text = String::from(
        "Valk: (doc f) describes a builtin or function, e.g. (doc map); docs/builtins.md\n\
         is the reference. Builtins by topic:\n",
    );
    for (topic, defs) in by_topic(&bound) {
        let names: Vec<&str> = defs.iter().map(|d| d.name).collect();
        text.push_str(&format!("  {topic}: {}\n", names.join(" ")));
    }
    let mut out = String::new();
    cx.append_text(&mut out, &text)?;
    super::io::emit_text(cx, &out)
}

/// The public builtins among `indices` (a runtime's bound builtins, or a
/// `BuiltinSet`'s), by topic: the core's layers in order, then the rest
/// (the actor layer, host functions); sorted by name in each, a name once
/// (a later layer's builtin of the same name replaces the core's), hidden
/// helpers (`name/-part`) left out.
pub fn by_topic(indices: &[u32]) -> Vec<(&'static str, Vec<&'static BuiltinDef>)> {
    let mut latest: HashMap<&'static str, u32> = HashMap::new();
    for &i in indices {
        if let Some(d) = super::def(i) {
            let e = latest.entry(d.name).or_insert(i);
            *e = (*e).max(i);
        }
    }
    let mut groups: Vec<(&'static str, Vec<&'static BuiltinDef>)> = Vec::new();
    let mut start = 0u32;
    let core: Vec<(u32, u32, &'static str)> = CORE
        .iter()
        .zip(TOPICS)
        .map(|(layer, topic)| {
            let range = (start, start + layer.len() as u32, *topic);
            start = range.1;
            range
        })
        .collect();
    let layer_topics = LAYER_TOPICS.read().unwrap_or_else(|e| e.into_inner());
    let topic_of = |i: u32| {
        if let Some((_, _, t)) = core.iter().find(|(a, b, _)| (*a..*b).contains(&i)) {
            return *t;
        }
        let name = super::def(i).map_or("", |d| d.name);
        layer_topics
            .iter()
            .find(|(layer, _)| layer.iter().any(|d| d.name == name))
            .map_or("actors, futures and more", |(_, t)| *t)
    };
    let mut picked: Vec<(u32, &'static BuiltinDef)> = latest
        .values()
        .filter_map(|&i| super::def(i).map(|d| (i, d)))
        .filter(|(_, d)| !d.name.contains("/-"))
        .collect();
    picked.sort_by_key(|(_, d)| d.name);
    let order: Vec<&'static str> = TOPICS
        .iter()
        .copied()
        .chain(["actors, futures and more"])
        .chain(layer_topics.iter().map(|(_, t)| *t))
        .collect();
    for topic in order {
        let defs: Vec<&'static BuiltinDef> = picked
            .iter()
            .filter(|(i, _)| topic_of(*i) == topic)
            .map(|(_, d)| *d)
            .collect();
        if !defs.is_empty() {
            groups.push((topic, defs));
        }
    }
    groups
}

/// Topics of layers outside the core and the actor layer, in the order
/// they were named.
type LayerTopics = Vec<(&'static [BuiltinDef], &'static str)>;
static LAYER_TOPICS: std::sync::RwLock<LayerTopics> = std::sync::RwLock::new(Vec::new());

/// Lists `layer`'s builtins under `topic` in `(help)` and the reference.
pub fn set_layer_topic(layer: &'static [BuiltinDef], topic: &'static str) {
    let mut topics = LAYER_TOPICS.write().unwrap_or_else(|e| e.into_inner());
    if !topics.iter().any(|(_, t)| *t == topic) {
        topics.push((layer, topic));
    }
}

/// The public functions (no `/-` in the name) that `source` defines with
/// `(fun {name ...` and no doc comment right above: what a test keeps empty.
pub fn undocumented_functions(source: &str) -> Vec<&str> {
    function_docs(source)
        .into_iter()
        .filter(|(_, doc)| doc.is_empty())
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_public_prelude_function_has_a_doc_comment() {
        for (file, source) in crate::prelude::FILES {
            let missing = super::undocumented_functions(source);
            assert!(missing.is_empty(), "{file}: no doc comment for {missing:?}");
        }
    }

    #[test]
    fn prelude_doc_comments_are_found() {
        let docs = super::prelude_docs();
        let load = docs.get("load").expect("load has a doc comment");
        assert!(load.starts_with("(load path):"), "{load}");
    }
}
