//! The engine's verifier against concrete runs: a program it accepts must
//! run inside the abstract states it explored (self-soundness).
#![no_main]

use bpfdiff::fuzz_glue::{self, FuzzTarget};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

fuzz_target!(|data: &[u8]| {
    fuzz_glue::fuzz_verifier_soundness(data);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    if seed % 8 == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    // The kernel target's mutator: fresh cases from the verifier-aware tier.
    fuzz_glue::mutate(FuzzTarget::Kernel, data, size, max_size, seed)
});
