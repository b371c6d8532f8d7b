//! Arbitrary text read and evaluated in a fresh interpreter under a step
//! budget: any result is fine except a panic, a hang or a crash.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use valk_lang::{Globals, Interp};

/// One runtime for the whole run: each input gets a fresh actor of it, so the
/// prelude is compiled once (compiled code lives for the process, so a fresh
/// runtime per input would grow without bound and hit the RSS limit).
/// Globals an input defines stay visible to later inputs.
fn runtime() -> Arc<Globals> {
    static GLOBALS: OnceLock<Arc<Globals>> = OnceLock::new();
    GLOBALS
        .get_or_init(|| Interp::new().globals().clone())
        .clone()
}

/// Slices of `DEFAULT_BUDGET` reductions before the input counts as a loop.
const MAX_SLICES: usize = 250;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut interp = Interp::with_globals(runtime());
    interp.set_output(Box::new(std::io::sink()));
    interp.set_stack_limit(20_000, 1 << 20);
    if let Some(v) = interp.eval_text_bounded(&text, MAX_SLICES) {
        // Printing any result must work too.
        let _ = interp.repr(v);
    }
});
