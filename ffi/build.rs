// Builds the small C library the FFI tests call (`tests/c/`) as a shared
// library, and tells the tests where it is (`VALK_FFI_TEST_LIB`).

use std::path::PathBuf;

fn main() {
    // Also the fuzz crate's build script (`fuzz/build.rs` includes this
    // file), one directory down.
    let source = ["tests/c/valk_ffi_test.c", "../tests/c/valk_ffi_test.c"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("tests/c/valk_ffi_test.c");
    println!("cargo:rerun-if-changed={source}");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("libvalk_ffi_test.so");
    let compiler = cc::Build::new().get_compiler().path().to_owned();
    // The compiler alone, without flags from the environment: under
    // cargo-fuzz, CFLAGS asks for gcc's AddressSanitizer, which cannot share
    // a process with Rust's.
    let status = std::process::Command::new(compiler)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(source)
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => println!("cargo:warning=could not build the FFI test library: {other:?}"),
    }
    println!("cargo:rustc-env=VALK_FFI_TEST_LIB={}", out.display());
}
