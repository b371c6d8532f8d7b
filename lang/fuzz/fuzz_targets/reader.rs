//! Arbitrary bytes through the reader: forms or a read error, never a panic.
//! A read error must point inside the input (line/column within range).
#![no_main]

use libfuzzer_sys::fuzz_target;
use valk_lang::reader;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match reader::read_all(&text, "fuzz.valk") {
        Ok(_forms) => {}
        Err(e) => {
            let lines = text.split('\n').count() as u32;
            assert!(
                e.span.line >= 1 && e.span.line <= lines + 1,
                "line {} of {lines}",
                e.span.line
            );
            assert!(e.span.col >= 1, "column {}", e.span.col);
            assert!(!e.message.is_empty());
        }
    }
});
