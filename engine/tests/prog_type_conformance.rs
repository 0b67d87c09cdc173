//! corpus/conformance-prog-types: `.data` tests with `-- prog-type` (and
//! `-- packet`, `-- maps`), each citing the kernel fact it checks. Every
//! test must pass the engine's verifier for its type (with its maps) and
//! return its `-- result` as
//! BPF_PROG_TEST_RUN reports it (the low 32 bits of r0).
//! oracle/tests/prog_types_vs_kernel.rs runs the same files on the kernel.

use bpfdiff_engine::data::{parse_data_file, Expected};
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::maps::MapSet;
use bpfdiff_engine::prog_type::env::{RunEnv, DEFAULT_PACKET_LEN};
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::verifier::{verify_as, verify_with_maps, Verdict, VerifyOptions};
use std::path::Path;

#[test]
fn prog_type_conformance_tests_pass_on_the_engine() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/conformance-prog-types");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{} tests", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let test = parse_data_file(f).unwrap();
        assert_ne!(test.prog_type, ProgType::Input, "{}", f.display());
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.starts_with("# "), "{}: no citation", f.display());
        let verdict = verify_with_maps(
            &test.program,
            &VerifyOptions::default(),
            test.prog_type,
            &test.maps,
        )
        .verdict;
        if verdict != Verdict::Accepted {
            failures.push(format!("{}: verifier: {verdict:?}", f.display()));
            continue;
        }
        let packet = if test.prog_type.has_packet() {
            test.packet
                .clone()
                .unwrap_or_else(|| vec![0; DEFAULT_PACKET_LEN])
        } else {
            Vec::new()
        };
        let ctx = (!test.prog_type.has_packet()).then_some(test.mem.as_slice());
        let mut env = RunEnv::new(test.prog_type, &packet, ctx).unwrap();
        env.maps = MapSet::new(&test.maps);
        let e = Interpreter::new(&test.program)
            .unwrap()
            .run_env(&mut env, DEFAULT_BUDGET);
        let Expected::Result(want) = test.expected else {
            panic!("{}: expects an error", f.display())
        };
        match e.result {
            ExecResult::Returned {
                r0,
                r0_derived: false,
            } if r0 as u32 as u64 == want => {}
            other => failures.push(format!("{}: want {want:#x}, got {other}", f.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// kernel/trace/bpf_trace.c bpf_probe_read_kernel_common: a source the
// kernel cannot read gives a negative errno (-ERANGE for a user address,
// measured: 0xffffffde from address 0) and a zeroed destination, but which
// kernel addresses are readable is the host's business: the engine copies
// only from its own regions and marks anything else opaque (r0 and the
// destination bytes), so no comparison reads a number it cannot know.
#[test]
fn probe_read_kernel_from_a_number_is_opaque_and_from_the_stack_a_copy() {
    use bpfdiff_engine::asm::kernel::assemble;
    let run = |src: &str| {
        let text = format!(
            "*(u64 *)(r10 - 16) = 7\n*(u64 *)(r10 - 8) = -1\nr1 = r10\nr1 += -8\nr2 = 8\n{src}\ncall 113\nr6 = r0\nr0 = *(u64 *)(r10 - 8)\nexit\n"
        );
        let program = assemble(&text).unwrap();
        assert_eq!(
            verify_as(&program, &VerifyOptions::default(), ProgType::Xdp).verdict,
            Verdict::Accepted
        );
        let mut env = RunEnv::new(ProgType::Xdp, &[0; DEFAULT_PACKET_LEN], None).unwrap();
        Interpreter::new(&program)
            .unwrap()
            .run_env(&mut env, DEFAULT_BUDGET)
            .result
    };
    assert_eq!(
        run("r3 = r10\nr3 += -16"),
        ExecResult::Returned {
            r0: 7,
            r0_derived: false
        },
        "a stack source is copied"
    );
    for number in ["r3 = 0", "r3 = 4096"] {
        match run(number) {
            ExecResult::Returned { r0_derived, .. } => {
                assert!(r0_derived, "{number}: the destination must be opaque")
            }
            other => panic!("{number}: {other:?}"),
        }
    }
    // The input model is shared with the JIT, which has no such helper.
    let program = assemble("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 113\nexit\n").unwrap();
    let mut mem = [0u8; 0];
    let e = Interpreter::new(&program)
        .unwrap()
        .run(&mut mem, DEFAULT_BUDGET);
    assert!(
        matches!(e.result, ExecResult::Fault(ref f) if f.kind == bpfdiff_engine::interp::FaultKind::UnknownHelper),
        "{:?}",
        e.result
    );
}

/// Runs kernel-assembly `text` as an XDP program on `packet` after the
/// engine's verifier accepted it: the result and the packet after the run.
fn run_xdp(text: &str, packet: &[u8]) -> (ExecResult, Vec<u8>) {
    let program = bpfdiff_engine::asm::kernel::assemble(text).unwrap();
    assert_eq!(
        verify_as(&program, &VerifyOptions::default(), ProgType::Xdp).verdict,
        Verdict::Accepted,
        "{text}"
    );
    let mut env = RunEnv::new(ProgType::Xdp, packet, None).unwrap();
    let e = Interpreter::new(&program)
        .unwrap()
        .run_env(&mut env, DEFAULT_BUDGET);
    (e.result, env.packet_after().unwrap())
}

// net/bpf/test_run.c bpf_prog_test_run_xdp: a packet longer than one page
// minus XDP_PACKET_HEADROOM (256) and the skb_shared_info tailroom (320)
// keeps 3,520 bytes in the linear part and the rest in fragments, which
// direct packet access does not reach; data_out returns both. Measured on
// Linux 6.18: `data_end - data` is 3,520 for 3,521 and 4,000 bytes.
#[test]
fn xdp_packet_longer_than_the_linear_part_keeps_the_rest_in_fragments() {
    let len_is = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr6 = r3\nr6 -= r2\nr0 = 0\n\
                  if r6 != 3520 goto +1\nr0 = 1\nr4 = r2\nr4 += 1\nif r4 > r3 goto +2\n\
                  r5 = 0x55\n*(u8 *)(r2 + 0) = r5\nexit\n";
    let packet = vec![0x11u8; 4000];
    let (result, after) = run_xdp(len_is, &packet);
    assert_eq!(
        result,
        ExecResult::Returned {
            r0: 1,
            r0_derived: false
        }
    );
    assert_eq!(after.len(), 4000, "data_out is the whole packet");
    assert_eq!(after[0], 0x55);
    assert!(after[1..].iter().all(|&b| b == 0x11));
    // A tail adjustment then works on the fragments, which the engine
    // does not model: the run stops as unsupported, never guesses.
    let (result, _) = run_xdp("r2 = 100\ncall 65\nexit\n", &packet);
    assert!(
        matches!(result, ExecResult::Fault(ref f) if f.kind == bpfdiff_engine::interp::FaultKind::Unsupported),
        "{result:?}"
    );
}

// net/core/filter.c: bpf_xdp_adjust_head and bpf_xdp_adjust_tail take an
// `int offset`: the low 32 bits of r2 (measured on Linux 6.18: r2 =
// 0x1_0000_000e moves data by 14). A grow of the tail returns zeroed
// bytes in data_out, and a shrink drops bytes from it.
#[test]
fn xdp_adjust_offsets_are_32_bit_and_data_out_follows_the_window() {
    let head = "r6 = r1\nr2 = 0x10000000e ll\ncall 44\nr2 = *(u32 *)(r6 + 0)\n\
                r3 = *(u32 *)(r6 + 4)\nr3 -= r2\nr0 <<= 8\nif r3 != 50 goto +1\nr0 += 1\nexit\n";
    let packet: Vec<u8> = (0..64).collect();
    let (result, after) = run_xdp(head, &packet);
    assert_eq!(
        result,
        ExecResult::Returned {
            r0: 1,
            r0_derived: false
        }
    );
    assert_eq!(after, packet[14..], "data_out starts at the new data");
    let (_, after) = run_xdp("r2 = 6\ncall 65\nr0 = 2\nexit\n", &packet);
    assert_eq!(after.len(), 70);
    assert_eq!(after[..64], packet[..]);
    assert_eq!(after[64..], [0; 6], "grown bytes are zeroed");
    let (_, after) = run_xdp("r2 = -4\ncall 65\nr0 = 2\nexit\n", &packet);
    assert_eq!(after, packet[..60]);
    // Outside XDP the helpers are unknown (the verifier refuses them for
    // other types, and the input model is the JIT's, which has none).
    let program = bpfdiff_engine::asm::kernel::assemble("r2 = 0\ncall 44\nexit\n").unwrap();
    assert!(matches!(
        verify_as(&program, &VerifyOptions::default(), ProgType::SchedCls).verdict,
        Verdict::Rejected { .. }
    ));
}
