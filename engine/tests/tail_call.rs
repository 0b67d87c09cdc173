//! `bpf_tail_call` (helper 12) with a prog_array on the native packet
//! types: the interpreter's semantics and the verifier's rules, from
//! Linux 6.18 kernel/bpf/core.c (`___bpf_prog_run` `JMP_TAIL_CALL`,
//! `bpf_tail_call_proto`), arch/x86/net/bpf_jit_comp.c
//! (`emit_bpf_tail_call_indirect`/`_direct`) and kernel/bpf/verifier.c.
//! corpus/conformance-prog-types/*tail-call* are the end-to-end tests that
//! oracle/tests/prog_types_vs_kernel.rs also runs on the kernel.

use bpfdiff_engine::data::{parse_data, DataTest};
use bpfdiff_engine::interp::{
    ExecResult, Execution, FaultKind, Interpreter, DEFAULT_BUDGET, MAX_TAIL_CALL_CNT,
};
use bpfdiff_engine::maps::MapSet;
use bpfdiff_engine::prog_type::env::{RunEnv, DEFAULT_PACKET_LEN};
use bpfdiff_engine::verifier::{verify_with_maps, RejectClass, Verdict, VerifyOptions};

/// Map 0: a counter array; map 1: a prog_array whose slot 0 is the
/// program itself, slot 1 empty.
const MAPS: &str =
    "-- maps\narray key=4 value=8 entries=1\nprog_array key=4 value=4 entries=2\n00 00 00 00 = self\n";

fn test(t: &str, asm: &str) -> DataTest {
    parse_data(&format!(
        "-- prog-type\n{t}\n{MAPS}-- asm\n{asm}-- result\n0\n"
    ))
    .unwrap()
}

fn run(t: &DataTest, budget: u64) -> Execution {
    let mut env = RunEnv::new(t.prog_type, &[0; DEFAULT_PACKET_LEN], None).unwrap();
    env.maps = MapSet::new(&t.maps);
    Interpreter::new(&t.program)
        .unwrap()
        .run_env(&mut env, budget)
}

fn verdict(t: &DataTest) -> Verdict {
    verify_with_maps(&t.program, &VerifyOptions::default(), t.prog_type, &t.maps).verdict
}

/// A self tail call, then `r0 = 1; exit`: 3 instructions per run (the
/// `ld_imm64` counts once).
const SELF_CALL: &str = "lddw_map_fd %r2, 1\nmov %r3, 0\ncall 12\nmov %r0, 1\nexit\n";

// MAX_TAIL_CALL_CNT (include/linux/bpf.h) is 33: 33 calls enter the
// program, the 34th falls through; the executed-instruction count and the
// budget go on across the calls.
#[test]
fn the_instruction_count_and_budget_span_the_tail_calls() {
    assert_eq!(MAX_TAIL_CALL_CNT, 33);
    let t = test("xdp", SELF_CALL);
    assert_eq!(verdict(&t), Verdict::Accepted);
    let e = run(&t, DEFAULT_BUDGET);
    assert_eq!(
        e.result,
        ExecResult::Returned {
            r0: 1,
            r0_derived: false
        }
    );
    assert_eq!(e.insns_executed, 34 * 3 + 2);
    let e = run(&t, 50);
    assert_eq!(e.result, ExecResult::OutOfBudget);
}

// ___bpf_prog_run: an empty slot or an index not below max_entries goes
// to `out` (the next instruction); r0 is then what the verifier calls
// NOT_INIT (RET_VOID) and r1-r5 are clobbered: never compared.
#[test]
fn a_call_that_falls_through_leaves_r0_to_r5_opaque() {
    for index in [1, 2, 0x7fff_ffff] {
        let t = test(
            "sched_cls",
            &format!("mov %r0, 5\nlddw_map_fd %r2, 1\nmov %r3, {index}\ncall 12\nexit\n"),
        );
        match run(&t, DEFAULT_BUDGET).result {
            ExecResult::Returned { r0_derived, .. } => {
                assert!(r0_derived, "index {index}: r0 must be opaque")
            }
            other => panic!("index {index}: {other:?}"),
        }
    }
}

// A tail call replaces the frame: the target's stack is fresh. The first
// run writes fp-8 and tail-calls; the second reads fp-8 unwritten.
#[test]
fn the_target_starts_with_a_fresh_stack() {
    let asm = "mov %r6, %r1\nstw [%r10-12], 0\nmov %r2, %r10\nadd %r2, -12\nlddw_map_fd %r1, 0\ncall 1\njeq %r0, 0, +14\nldxdw %r7, [%r0]\nadd %r7, 1\nstxdw [%r0], %r7\njgt %r7, 1, +8\nstdw [%r10-8], 0x77\nmov %r1, %r6\nlddw_map_fd %r2, 1\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit\nldxdw %r0, [%r10-8]\nexit\nmov %r0, 0\nexit\n";
    let t = test("xdp", asm);
    let e = run(&t, DEFAULT_BUDGET);
    assert_eq!(
        e.uninit_stack_read,
        Some(20),
        "{:?}: the second run reads fp-8 unwritten",
        e.result
    );
}

// The input model is shared with the engine's JIT, which has no tail
// calls: there helper 12 stays an unknown helper. Its verifier refuses the
// call as the kernel refuses the harness's wrapped program: the program
// is the wrapper's subprogram (`tail_call is not allowed in subprogs
// without BTF`).
#[test]
fn the_input_model_has_no_tail_calls() {
    let t = parse_data(&format!(
        "{MAPS}-- asm\nlddw_map_fd %r2, 1\nmov %r3, 0\ncall 12\nmov %r0, 1\nexit\n-- result\n0\n"
    ))
    .unwrap();
    let mut env = RunEnv::new(t.prog_type, &[], Some(&[])).unwrap();
    env.maps = MapSet::new(&t.maps);
    let e = Interpreter::new(&t.program)
        .unwrap()
        .run_env(&mut env, DEFAULT_BUDGET);
    assert!(
        matches!(e.result, ExecResult::Fault(ref f) if f.kind == FaultKind::UnknownHelper),
        "{:?}",
        e.result
    );
    let v = verdict(&t);
    assert!(
        matches!(
            v,
            Verdict::Rejected {
                class: RejectClass::SubprogNeedsBtf,
                ..
            }
        ),
        "{v:?}"
    );
    // `syscall` runs as the input model does: not modeled there either.
    let (class, _) = refusal("syscall", SELF_CALL);
    assert_eq!(class, RejectClass::Unsupported);
}

fn refusal(t: &str, asm: &str) -> (RejectClass, String) {
    match verdict(&test(t, asm)) {
        Verdict::Rejected { class, message, .. } => (class, message),
        Verdict::Accepted => panic!("accepted:\n{asm}"),
    }
}

// kernel/bpf/verifier.c record_func_map: `expected prog array map for tail
// call`; check_map_func_compatibility: a prog_array goes to no other
// helper, `cannot pass map_type 3 into func bpf_map_lookup_elem#1`
// (oracle/tests/maps_vs_kernel.rs compares these with the kernel's log).
#[test]
fn a_prog_array_and_bpf_tail_call_go_only_together() {
    assert_eq!(
        refusal(
            "xdp",
            "lddw_map_fd %r2, 0\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit\n"
        ),
        (
            RejectClass::MapFuncMismatch,
            "expected prog array map for tail call".to_string()
        )
    );
    // The kernel's words name the same class (its refusal's EINVAL).
    for m in [
        "expected prog array map for tail call",
        "cannot pass map_type 3 into func bpf_map_update_elem#2",
    ] {
        assert_eq!(
            RejectClass::from_kernel_message(m),
            Some(RejectClass::MapFuncMismatch)
        );
    }
    assert_eq!(RejectClass::MapFuncMismatch.errno(), Some("EINVAL"));
    let key = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw_map_fd %r1, 1\n";
    for (id, name) in [(1, "bpf_map_lookup_elem"), (3, "bpf_map_delete_elem")] {
        assert_eq!(
            refusal(
                "socket_filter",
                &format!("{key}call {id}\nmov %r0, 0\nexit\n")
            ),
            (
                RejectClass::MapFuncMismatch,
                format!("cannot pass map_type 3 into func {name}#{id}")
            )
        );
    }
}

// check_helper_call: RET_VOID leaves r0 NOT_INIT; r1-r5 are clobbered by
// every helper call.
#[test]
fn registers_after_a_tail_call_are_unreadable() {
    let (class, message) = refusal("xdp", "lddw_map_fd %r2, 1\nmov %r3, 0\ncall 12\nexit\n");
    assert_eq!(
        (class, message.as_str()),
        (RejectClass::R0NotReadableAtExit, "R0 !read_ok")
    );
    let (_, message) = refusal(
        "xdp",
        "lddw_map_fd %r2, 1\nmov %r3, 0\ncall 12\nmov %r0, %r1\nexit\n",
    );
    assert_eq!(message, "R1 !read_ok");
}
