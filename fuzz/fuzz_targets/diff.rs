//! Every backend on one case; a divergence no known rule explains is a crash.
//! Backends: `BPFDIFF_BACKENDS`, else interp,rbpf,rbpf-jit (+ kernel when permitted).
#![no_main]

use bpfdiff::fuzz_glue::{self, FuzzTarget};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

fuzz_target!(init: fuzz_glue::init_fuzz_target(), |data: &[u8]| {
    fuzz_glue::fuzz_diff(data);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    if seed % 8 == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    fuzz_glue::mutate(FuzzTarget::Diff, data, size, max_size, seed)
});
