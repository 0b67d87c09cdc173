//! The engine against the Linux kernel (verdict and run); idle without `bpf()`.
#![no_main]

use bpfdiff::fuzz_glue::{self, FuzzTarget};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

fuzz_target!(|data: &[u8]| {
    fuzz_glue::fuzz_kernel(data);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    if seed % 16 == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    fuzz_glue::mutate(FuzzTarget::Kernel, data, size, max_size, seed)
});
