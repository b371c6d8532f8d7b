//! The native tier as the command line sets it up: `--jit` / $VALK_JIT,
//! and what `valk --version` says. Without the `jit` cargo feature the
//! binary is interpreter-only and says so.

use std::sync::{Arc, OnceLock};

use valk_lang::tier::JitMode;
use valk_lang::Globals;

/// `valk --version`: the version and the tiers this build has.
#[cfg(feature = "jit")]
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (tiers: interpreter + LLVM 19 JIT)"
);
#[cfg(not(feature = "jit"))]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (tiers: interpreter only)");

static MODE: OnceLock<JitMode> = OnceLock::new();

/// Fixes the mode for this process from `--jit` (else $VALK_JIT, else
/// the build's default). An unknown $VALK_JIT or a tier this build lacks is
/// an error.
pub fn choose(flag: Option<&str>) -> Result<JitMode, String> {
    let env = std::env::var("VALK_JIT").ok().filter(|s| !s.is_empty());
    let mode = match flag.or(env.as_deref()) {
        None if cfg!(feature = "jit") => JitMode::On,
        None => JitMode::Off,
        Some(s) => JitMode::parse(s)
            .ok_or_else(|| format!("--jit / $VALK_JIT must be off, on or always, not `{s}`"))?,
    };
    if mode != JitMode::Off && !cfg!(feature = "jit") {
        return Err(
            "this valk was built without the native tier (cargo feature `jit`); use --jit=off"
                .into(),
        );
    }
    Ok(*MODE.get_or_init(|| mode))
}

/// The chosen mode (`on` in a JIT build if [`choose`] was not called).
#[cfg_attr(not(feature = "jit"), allow(dead_code))]
pub fn mode() -> JitMode {
    *MODE.get_or_init(|| choose(None).unwrap_or(JitMode::Off))
}

/// Installs the native tier in a new runtime's globals.
pub fn install(globals: &Arc<Globals>) {
    #[cfg(feature = "jit")]
    valk_codegen::install(globals, mode());
    #[cfg(not(feature = "jit"))]
    let _ = globals;
}

/// Maps the native code an executable `valk build` made carries (a
/// failure is said under $VALK_JIT_LOG: the JIT compiles the program's
/// functions then).
pub fn load_native(image: &[u8], manifest: &str) {
    #[cfg(feature = "jit")]
    if let Err(why) = valk_codegen::load_native(image, manifest) {
        if std::env::var_os("VALK_JIT_LOG").is_some_and(|v| !v.is_empty()) {
            super::output::err_line(&format!("valk-jit: native code not loaded: {why}"));
        }
    }
    #[cfg(not(feature = "jit"))]
    let _ = (image, manifest);
}

/// Ends the process with `status`, the native tier stopped first (LLVM's
/// static destructors must not run under a compile).
pub fn exit(status: i32) -> ! {
    quiesce();
    std::process::exit(status)
}

/// Stops the native tier's compile thread before the process ends.
pub fn quiesce() {
    #[cfg(feature = "jit")]
    valk_codegen::quiesce();
}
