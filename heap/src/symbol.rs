//! The global symbol table: one thread-safe interner for symbols, keywords
//! and file names. Names live for the whole process (they are leaked on
//! purpose: ids are immediates and may sit in any heap or message forever,
//! so no name can be proven dead).
//!
//! Because names are never collected, the table has a cap: at most
//! [`MAX_SYMBOLS`] names and [`MAX_SYMBOL_BYTES`] bytes of them. Names that
//! come from user input (the reader) go through [`try_intern`], which
//! refuses a new name past the cap with [`SymbolLimit`] (the reader turns it
//! into a Valk read error naming the cap). [`intern`] is for the runtime's
//! own, fixed names and always succeeds. Documented in `docs/gc.md`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{OnceLock, PoisonError, RwLock};

/// Most distinct names (symbols, keywords, file names) a process interns
/// from user input.
pub const MAX_SYMBOLS: usize = 1 << 20;
/// Most bytes of distinct names a process interns from user input.
pub const MAX_SYMBOL_BYTES: usize = 64 << 20;

/// A new name was refused: the symbol table is at its cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SymbolLimit;

impl fmt::Display for SymbolLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "symbol table full: a process holds at most {MAX_SYMBOLS} distinct symbols and \
             keywords ({} MiB of names), and they are never freed \
             (MAX_SYMBOLS / MAX_SYMBOL_BYTES in heap/src/symbol.rs)",
            MAX_SYMBOL_BYTES >> 20
        )
    }
}

impl std::error::Error for SymbolLimit {}

#[derive(Default)]
struct Table {
    ids: HashMap<&'static str, u32>,
    names: Vec<&'static str>,
    bytes: usize,
}

impl Table {
    /// Adds `name` (not in the table) if it fits under the caps given
    /// (`None`: no cap).
    fn add(&mut self, name: &str, cap: Option<(usize, usize)>) -> Result<u32, SymbolLimit> {
        if let Some((count, bytes)) = cap {
            if self.names.len() >= count || self.bytes + name.len() > bytes {
                return Err(SymbolLimit);
            }
        }
        let id = self.names.len() as u32;
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        self.names.push(leaked);
        self.ids.insert(leaked, id);
        self.bytes += name.len();
        Ok(id)
    }
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

fn intern_capped(name: &str, cap: Option<(usize, usize)>) -> Result<u32, SymbolLimit> {
    if let Some(&id) = table()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .ids
        .get(name)
    {
        return Ok(id);
    }
    let mut t = table().write().unwrap_or_else(PoisonError::into_inner);
    if let Some(&id) = t.ids.get(name) {
        return Ok(id);
    }
    t.add(name, cap)
}

/// The id of `name`, interning it on first sight (the runtime's own names:
/// never refused).
pub fn intern(name: &str) -> u32 {
    match intern_capped(name, None) {
        Ok(id) => id,
        Err(SymbolLimit) => unreachable!("no cap given"),
    }
}

/// The id of `name` from user input: a new name past the cap is refused.
pub fn try_intern(name: &str) -> Result<u32, SymbolLimit> {
    intern_capped(name, Some((MAX_SYMBOLS, MAX_SYMBOL_BYTES)))
}

/// How many names are interned (figures and tests).
pub fn symbol_count() -> usize {
    table()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .names
        .len()
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

    #[test]
    fn a_table_at_its_cap_refuses_new_names_only() {
        let mut t = Table::default();
        let cap = Some((3, 10));
        assert_eq!(t.add("abc", cap), Ok(0));
        assert_eq!(t.add("defg", cap), Ok(1));
        // 7 bytes used: a 4-byte name would pass the byte cap.
        assert_eq!(t.add("hijk", cap), Err(SymbolLimit));
        assert_eq!(t.add("hi", cap), Ok(2));
        // Three names: the count cap.
        assert_eq!(t.add("z", cap), Err(SymbolLimit));
        assert_eq!(t.add("z", None), Ok(3));
        let msg = SymbolLimit.to_string();
        assert!(
            msg.contains("MAX_SYMBOLS") && msg.contains(&MAX_SYMBOLS.to_string()),
            "{msg}"
        );
    }
}
