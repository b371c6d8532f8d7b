//! The global symbol table: one thread-safe interner for symbols, keywords
//! and file names. Names live for the whole process (they are leaked on
//! purpose: ids are immediates and may sit in any heap or message forever).

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

#[derive(Default)]
struct Table {
    ids: HashMap<&'static str, u32>,
    names: Vec<&'static str>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// The id of `name`, interning it on first sight.
pub fn intern(name: &str) -> u32 {
    if let Some(&id) = table()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .ids
        .get(name)
    {
        return id;
    }
    let mut t = table().write().unwrap_or_else(PoisonError::into_inner);
    if let Some(&id) = t.ids.get(name) {
        return id;
    }
    let id = t.names.len() as u32;
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    t.names.push(leaked);
    t.ids.insert(leaked, id);
    id
}

/// The name of an interned id; `"<unknown>"` for an id never handed out.
pub fn symbol_name(id: u32) -> &'static str {
    table()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .names
        .get(id as usize)
        .copied()
        .unwrap_or("<unknown>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_reversible() {
        let a = intern("hello-symbol");
        let b = intern("other-symbol");
        assert_ne!(a, b);
        assert_eq!(intern("hello-symbol"), a);
        assert_eq!(symbol_name(a), "hello-symbol");
        assert_eq!(symbol_name(b), "other-symbol");
        assert_eq!(symbol_name(u32::MAX), "<unknown>");
    }

    #[test]
    fn interning_from_many_threads_agrees() {
        let ids: Vec<Vec<u32>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..200).map(|i| intern(&format!("t{i}"))).collect()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
    }
}
