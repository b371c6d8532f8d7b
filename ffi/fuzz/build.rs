//! Builds the FFI test library for the fuzz target: the same script as
//! the tests' (`../build.rs`).

include!("../build.rs");
