//! Builds the FFI test library (`ffi/tests/c/`) for the fuzz target, as
//! `../build.rs` does for the tests.

use std::path::PathBuf;

fn main() {
    let source = "../tests/c/valk_ffi_test.c";
    println!("cargo:rerun-if-changed={source}");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("libvalk_ffi_test.so");
    let status = cc::Build::new()
        .get_compiler()
        .to_command()
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(source)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("cargo:warning=could not build the FFI test library");
    }
    println!("cargo:rustc-env=VALK_FFI_TEST_LIB={}", out.display());
}
