//! Valk IR -> LLVM IR (inkwell, LLVM 19): the native tier.
//!
//! - `plan.rs`: which functions compile, and the globals they call;
//! - `lower.rs`: one function's Valk IR to LLVM IR;
//! - `accumulate.rs`: which self calls `lower` turns into loop turns
//!   (`(+ x (f ...))` returned by `f`);
//! - `jit.rs`: the compile thread (MCJIT), publishing entries into each
//!   proto's `valk_lang::tier::TierSlot`, and recompiling stale units;
//! - `aot.rs`: `valk build`: the program's functions compiled ahead of
//!   time into a shared object (and `--emit`, the same lowering written
//!   out);
//! - `linked.rs`: that code's manifest, and binding it at run time;
//! - `fuzzing.rs`: the differential check of the fuzz target `jit_diff`.
//!
//! It plugs into the language core through `valk_lang::tier::NativeTier`
//! ([`install`]); `lang` never names this crate.

mod accumulate;
mod aot;
#[doc(hidden)]
pub mod fuzzing;
mod jit;
mod linked;
mod lower;
mod plan;

use std::sync::Arc;

pub use aot::{emit, precompile, EmitKind, NativeImage};
pub use jit::{quiesce, stats, JitStats};
pub use linked::load as load_native;
use valk_lang::tier::JitMode;
use valk_lang::Globals;

/// The tiers this build has, for `valk --version`.
pub const TIERS: &str = "interpreter + LLVM 19 JIT";

/// Installs the native tier in a runtime's globals (nothing for
/// [`JitMode::Off`]).
pub fn install(globals: &Arc<Globals>, mode: JitMode) {
    if mode != JitMode::Off {
        globals.set_tier(Arc::new(jit::Jit::new(mode)));
    }
}
