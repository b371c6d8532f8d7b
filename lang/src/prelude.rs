//! The prelude and test module, written in Valk (`lang/prelude/*.valk`),
//! embedded at build time (see `build.rs`) and run by `Interp::new`.

include!(concat!(env!("OUT_DIR"), "/prelude.rs"));
