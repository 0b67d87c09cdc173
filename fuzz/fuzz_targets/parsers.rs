//! The assemblers, the `.data` reader and the decoder on any bytes: errors only, no panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bpfdiff::fuzz_glue::check_parsers(data);
});
