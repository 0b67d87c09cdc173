//! `bpfdiff diff --kernel-states`: the kernel verifier's level-2 states
//! checked against the engine's concrete run, end to end.

mod common;

use common::{bpfdiff, stderr, stdout, Scratch};

#[test]
fn diff_kernel_states_checks_every_instruction_of_the_run() {
    let s = Scratch::new("kernel-states");
    let f = s.write(
        "p.s",
        "r3 = *(u8 *)(r1 +0)\nr3 &= 15\nr0 = r3\nr0 += 100\nexit\n",
    );
    let out = bpfdiff(&[
        &"diff",
        &f,
        &"--mem",
        &"07",
        &"--backends",
        &"interp",
        &"--kernel-states",
    ]);
    let text = stdout(&out);
    let k = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    if let Some(why) = k.unavailable() {
        // Asked for and impossible: bad input, never a silent pass.
        assert_eq!(out.status.code(), Some(2), "{text}{}", stderr(&out));
        assert!(stderr(&out).contains("kernel states"), "{why}");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("kernel states: 5 insns checked, 0 violations"),
        "{text}"
    );
}
