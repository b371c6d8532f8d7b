//! Builds the FFI test library (`ffi/tests/c/`) for the fuzz target, as
//! `../build.rs` does for the tests.

use std::path::PathBuf;

fn main() {
    let source = "../tests/c/valk_ffi_test.c";
    println!("cargo:rerun-if-changed={source}");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("libvalk_ffi_test.so");
    let compiler = cc::Build::new().get_compiler().path().to_owned();
    // The compiler alone, without flags from the environment: under
    // cargo-fuzz, CFLAGS asks for gcc's AddressSanitizer, which cannot share
    // a process with Rust's.
    let status = std::process::Command::new(compiler)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(source)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("cargo:warning=could not build the FFI test library");
    }
    println!("cargo:rustc-env=VALK_FFI_TEST_LIB={}", out.display());
}
