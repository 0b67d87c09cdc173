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

/// `campaign --kernel-states F`: the sampled cases (chosen by case seed)
/// are checked against the kernel's level-2 states, the counts are in the
/// JSON summary, and where `bpf()` is denied the run says it checked
/// nothing and exits 3 instead of passing.
#[test]
fn campaign_checks_a_sampled_fraction_against_the_kernels_states() {
    let programs = 40u64;
    let out = bpfdiff(&[
        &"campaign",
        &"--tier",
        &"verifier",
        &"--programs",
        &programs.to_string(),
        &"--backends",
        &"interp",
        &"--jobs",
        &"2",
        &"--kernel-states",
        &"0.5",
        &"--json",
    ]);
    let expected = (0..programs)
        .filter(|&i| {
            bpfdiff::campaign::kernel_states::sampled(bpfdiff::campaign::case_seed(0, i), 0.5)
        })
        .count() as u64;
    assert!(expected > 5 && expected < 35, "{expected}");
    let k = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    if k.unavailable().is_some() {
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("--kernel-states checked none"),
            "{}",
            stderr(&out)
        );
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let t = &json["kernel_states"];
    assert_eq!(t["sampled"], expected, "{t}");
    // Verifier-tier programs decode and the kernel accepts them: every
    // sampled case is checked, instruction by instruction.
    assert_eq!(t["checked_programs"], expected, "{t}");
    assert_eq!(t["kernel_refused"], 0, "{t}");
    assert!(t["checked_insns"].as_u64().unwrap() > 10 * expected, "{t}");
    assert_eq!(t["violations"], 0, "{t}");
}

/// A program the kernel refuses at its first instruction (`w10 = -3`:
/// `frame pointer is read only`) has no kernel state past it; the engine
/// runs on. The run past the refusal is not checked and is no finding
/// (campaign sampling once reported such runs as "the kernel explored no
/// path to" the next instruction).
#[test]
fn diff_kernel_states_does_not_judge_a_run_past_the_kernels_refusal() {
    let s = Scratch::new("kernel-states-refused");
    let f = s.write(
        "p.s",
        "w10 = -3\nif w0 != w4 goto -1\nw7 <<= w3\nr8 = le16 r8\nexit\n",
    );
    let out = bpfdiff(&[
        &"diff",
        &f,
        &"--mem",
        &"ffffffffffffffffffffffffffffffffffffffffff",
        &"--backends",
        &"interp",
        &"--kernel-states",
    ]);
    let text = stdout(&out);
    let k = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    if k.unavailable().is_some() {
        assert_eq!(out.status.code(), Some(2), "{text}{}", stderr(&out));
        return;
    }
    assert!(text.contains("0 violations"), "{text}");
    assert!(text.contains("[the kernel refused the program]"), "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
}
