//! The C layer's marshalling under random type specs and values, written
//! to C memory, read back and passed through the test library's echo
//! functions (`valk_ffi::fuzzing`). Run:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run ffi_marshal` from `ffi/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn library() -> Option<&'static libloading::Library> {
    static LIB: OnceLock<Option<libloading::Library>> = OnceLock::new();
    LIB.get_or_init(|| {
        // SAFETY: the test library runs no initialisers.
        unsafe { libloading::Library::new(env!("VALK_FFI_TEST_LIB")) }.ok()
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    valk_ffi::fuzzing::run(data, library());
});
