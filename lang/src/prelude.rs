//! The prelude and test module, written in Valk (`lang/prelude/*.valk`),
//! embedded at build time (see `build.rs`) and run by `Interp::new`.

include!(concat!(env!("OUT_DIR"), "/prelude.rs"));

/// Prelude code outside this crate (the actor layer's prelude), by source
/// name: registered once by the layer that loads it.
type Sources = Vec<(&'static str, &'static str)>;
static OTHER_PRELUDES: std::sync::Mutex<Sources> = std::sync::Mutex::new(Vec::new());

/// Marks `name` (with its text, for `doc`) as prelude code: errors it
/// raises for the user are placed at the user's call (`error/-at-caller`)
/// and call chains name its functions without their prelude place.
pub fn register_prelude(name: &'static str, source: &'static str) {
    let mut known = OTHER_PRELUDES.lock().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|(n, _)| *n == name) {
        known.push((name, source));
    }
}

/// Every prelude source: this crate's files, then the registered ones.
pub fn sources() -> Sources {
    let mut all: Sources = FILES.to_vec();
    all.extend(
        OTHER_PRELUDES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied(),
    );
    all
}

/// Is `name` the source name of prelude code (this crate's or a layer's)?
pub fn is_prelude_file(name: &str) -> bool {
    FILES.iter().any(|(f, _)| *f == name)
        || OTHER_PRELUDES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(n, _)| *n == name)
}
