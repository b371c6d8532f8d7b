//! The prelude and test module, written in Valk (`lang/prelude/*.valk`),
//! embedded at build time (see `build.rs`) and run by `Interp::new`.

include!(concat!(env!("OUT_DIR"), "/prelude.rs"));

/// Source names of prelude code outside this crate (the actor layer's
/// prelude): registered once by the layer that loads it.
static OTHER_PRELUDES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Marks `name` as prelude code (errors it raises for the user are
/// located at the user's call, see `error/-at-caller`).
pub fn register_prelude_file(name: &'static str) {
    let mut names = OTHER_PRELUDES.lock().unwrap_or_else(|e| e.into_inner());
    if !names.contains(&name) {
        names.push(name);
    }
}

/// Is `name` the source name of prelude code (this crate's or a layer's)?
pub fn is_prelude_file(name: &str) -> bool {
    FILES.iter().any(|(f, _)| *f == name)
        || OTHER_PRELUDES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&name)
}
