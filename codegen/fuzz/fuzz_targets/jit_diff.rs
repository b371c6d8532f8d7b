//! Differential fuzzing of the native tier: the bytes choose a program of
//! small integer functions (`valk_codegen::fuzzing`), which runs
//! interpreted and with every function compiled first; any difference in
//! a value or an error message is a failure.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = valk_codegen::fuzzing::check(data) {
        panic!("the native tier differs from the interpreter:\n{report}");
    }
});
