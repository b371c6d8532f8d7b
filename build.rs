//! Links the `valk` binary as a position-dependent executable on Linux.
//! LLVM (the native tier) is linked statically, and in a PIE its hundreds
//! of thousands of data relocations are applied at every start, dirtying
//! the pages they touch: `valk --version` took 17 ms and 55 MiB linked to
//! `libLLVM-19.so`, 7 ms and 29 MiB this way (2 ms and 11 MiB without the
//! tier). Go links its binaries the same way.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
