//! `lang`'s `eval` target with the native tier installed at `always`:
//! arbitrary text read and evaluated under a step budget, every function
//! compiled before its first call where the tier takes it. Any result is
//! fine except a panic, a hang or a crash.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use valk_lang::tier::JitMode;
use valk_lang::{Globals, Interp};

/// One runtime for the whole run (compiled code lives for the process).
fn runtime() -> Arc<Globals> {
    static GLOBALS: OnceLock<Arc<Globals>> = OnceLock::new();
    GLOBALS
        .get_or_init(|| {
            let g = Interp::new().globals().clone();
            valk_codegen::install(&g, JitMode::Always);
            g
        })
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
        let _ = interp.repr(v);
    }
});
