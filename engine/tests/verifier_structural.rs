//! The structural pass and the per-instruction rules of the engine's
//! verifier: one test per rejection, each a minimal program with the pc and
//! message Linux 6.18 reports, naming the kernel function that reports it
//! (`kernel/bpf/verifier.c` unless said otherwise). The same programs are
//! loaded into the real kernel by `oracle/tests/structural_vs_kernel.rs`.

#[path = "support/structural_cases.rs"]
mod structural_cases;

use bpfdiff_engine::verifier::structural::{self, LdImm64Kind};
use bpfdiff_engine::verifier::{RejectClass, Verdict};
use bpfdiff_engine::{Insn, Program};
use structural_cases::{assert_engine, cases, named};

macro_rules! case_tests {
    ($($test:ident => $name:literal,)*) => {$(
        #[test]
        fn $test() {
            assert_engine(&named($name));
        }
    )*};
}

case_tests! {
    // resolve_pseudo_ldimm64: `unknown opcode %02x` for bytes missing from
    // the kernel's opcode table; callx (0x8d) is one of them.
    unknown_opcode => "unknown-opcode",
    callx_is_unknown_to_the_kernel => "callx-is-unknown-to-the-kernel",
    unknown_opcode_reported_before_a_later_ldx_error => "unknown-opcode-before-later-ldx-reserved",
    // resolve_pseudo_ldimm64: LDX with a mode other than MEM/MEMSX or imm != 0.
    ldx_reserved_fields => "ldx-reserved-fields",
    ldx_mode_imm_is_reserved => "ldx-mode-imm-is-reserved",
    // resolve_pseudo_ldimm64: the second slot of ld_imm64 and its src kinds.
    ld_imm64_bad_second_slot => "ld-imm64-bad-second-slot",
    ld_imm64_unknown_src => "ld-imm64-unknown-src",
    ld_imm64_map_fd_with_second_imm => "ld-imm64-map-fd-with-second-imm",
    ld_imm64_fd_idx_without_fd_array => "ld-imm64-fd-idx-without-fd-array",
    // check_subprogs: jumps inside the subprogram; last insn exit or ja.
    jump_out_of_range => "jump-out-of-range",
    gotol_out_of_range => "gotol-out-of-range",
    jump_into_another_subprogram => "jump-into-another-subprogram",
    jump_out_of_range_is_found_before_the_last_insn => "jump-out-of-range-before-last-insn",
    last_insn_not_exit => "last-insn-not-exit",
    last_insn_of_a_subprogram_not_exit => "last-insn-of-subprogram-not-exit",
    last_insn_is_checked_before_opcodes => "last-insn-before-unknown-opcode",
    truncated_ld_imm64_is_a_bad_last_insn => "ld-imm64-truncated-at-end",
    // add_subprog: call and function-address targets inside the program.
    call_to_invalid_destination => "call-to-invalid-destination",
    call_to_negative_destination => "call-to-negative-destination",
    func_address_to_invalid_destination => "func-address-to-invalid-destination",
    too_many_subprograms => "too-many-subprograms",
    // check_btf_info -> check_abnormal_return: without BTF no LD_ABS or
    // tail call outside the entry.
    ld_abs_in_subprogram => "ld-abs-in-subprogram",
    tail_call_in_subprogram => "tail-call-in-subprogram",
    // check_cfg: every slot reached; no jump into an ld_imm64.
    unreachable_insn => "unreachable-insn",
    unknown_opcode_is_found_before_unreachable_code => "unknown-opcode-before-unreachable",
    endless_ja_leaves_exit_unreachable => "endless-ja-leaves-exit-unreachable",
    jump_into_the_middle_of_ld_imm64 => "jump-into-the-middle-of-ld-imm64",
    // check_cfg: root may have back-edges (bounded loops).
    root_may_loop => "root-may-loop",
    // do_check_insn / check_alu_op / check_atomic: reserved fields, in the
    // kernel's per-class words, when exploration reaches the instruction.
    alu_reserved_fields => "alu-reserved-fields",
    mov_bad_selector => "mov-bad-selector",
    exit_reserved_fields => "exit-reserved-fields",
    ja_reserved_fields => "ja-reserved-fields",
    st_reserved_fields => "st-reserved-fields",
    atomic_invalid_opcode => "atomic-invalid-opcode",
    ld_imm64_reserved_off => "ld-imm64-reserved-off",
    neg_reserved_fields => "neg-reserved-fields",
    end_bad_width => "end-bad-width",
    cond_jump_reserved_fields => "cond-jump-reserved-fields",
    call_unknown_src => "call-unknown-src",
    stx_reserved_fields => "stx-reserved-fields",
    ld_abs_reserved_fields => "ld-abs-reserved-fields",
    atomic_operand_size => "atomic-operand-size",
    // check_reg_arg: `R%d is invalid`, `frame pointer is read only`.
    invalid_register => "invalid-register",
    frame_pointer_is_read_only => "frame-pointer-is-read-only",
    // check_alu_op: immediate divisor and shift amount.
    div_by_immediate_zero => "div-by-immediate-zero",
    mod32_by_immediate_zero => "mod32-by-immediate-zero",
    shift_by_width => "shift-by-width",
    shift32_by_width => "shift32-by-width",
    negative_shift => "negative-shift",
    // setup_func_entry: at most 8 frames.
    call_stack_too_deep => "call-stack-too-deep",
    // check_max_stack_depth: 16-byte rounded frames sum to at most 512.
    combined_stack_size => "combined-stack-size",
    combined_stack_size_fits => "combined-stack-size-fits",
    // bpf_prog_load (kernel/bpf/syscall.c): 1..=1M insns with CAP_BPF.
    program_too_large => "program-too-large",
    empty_program => "empty-program",
    // Unprivileged rules (not testable against this machine's kernel:
    // kernel.unprivileged_bpf_disabled = 2).
    unprivileged_back_edge => "unprivileged-back-edge",
    unprivileged_local_call => "unprivileged-local-call",
    unprivileged_program_too_large => "unprivileged-program-too-large",
}

#[test]
fn every_case_has_a_test_and_every_structural_class_a_case() {
    let all = cases();
    let src = include_str!("verifier_structural.rs");
    for c in &all {
        assert!(
            src.contains(&format!("=> \"{}\"", c.name)),
            "no test for {}",
            c.name
        );
    }
    for class in [
        RejectClass::UnknownOpcode,
        RejectClass::ReservedFields,
        RejectClass::InvalidLdImm64,
        RejectClass::UnrecognizedLdImm64,
        RejectClass::FdArrayMissing,
        RejectClass::JumpOutOfRange,
        RejectClass::LastInsnNotExitOrJmp,
        RejectClass::CallToInvalidDestination,
        RejectClass::TooManySubprograms,
        RejectClass::SubprogNeedsBtf,
        RejectClass::UnreachableInsn,
        RejectClass::JumpIntoLdImm64,
        RejectClass::BackEdge,
        RejectClass::InvalidRegister,
        RejectClass::FramePointerReadOnly,
        RejectClass::DivisionByZero,
        RejectClass::InvalidShift,
        RejectClass::CallStackTooDeep,
        RejectClass::CombinedStackSize,
        RejectClass::ProgramTooLarge,
        RejectClass::SubprogramsNeedPrivilege,
    ] {
        assert!(
            all.iter()
                .any(|c| c.expect.as_ref().is_some_and(|e| e.1 == class)),
            "no case for {class}"
        );
    }
}

#[test]
fn structure_info_lists_subprograms_targets_and_references() {
    // 0: r1 = map fd 3 (2 slots); 2: call +2 -> 5; 3: if r0 == 0 goto +0 -> 4;
    // 4: exit; 5: r0 = 0; 6: exit.
    let p = Program::new(vec![
        Insn::new(0x18, 1, 1, 0, 3),
        Insn::new(0, 0, 0, 0, 0),
        Insn::new(0x85, 0, 1, 0, 2),
        Insn::new(0x15, 0, 0, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let info = structural::check(&p, true).unwrap();
    let bounds: Vec<_> = info.subprogs.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(bounds, [(0, 5), (5, 7)]);
    assert_eq!(info.insn_starts, [0, 2, 3, 4, 5, 6]);
    assert_eq!(
        info.jump_targets.iter().copied().collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(info.ld_imm64_refs.len(), 1);
    assert_eq!(info.ld_imm64_refs[0].kind, LdImm64Kind::MapFd);
    assert_eq!(info.ld_imm64_refs[0].imm, 3);
    assert!(
        !info.reachable[1],
        "the second slot of ld_imm64 is no instruction"
    );
}

#[test]
fn a_resolver_can_refuse_a_map_fd_in_the_kernels_order() {
    // The fd is resolved before check_cfg: a bad fd wins over unreachable code.
    let p = Program::new(vec![
        Insn::new(0x18, 1, 1, 0, 999),
        Insn::new(0, 0, 0, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let e = structural::check_with(&p, true, &mut |r| {
        Err(bpfdiff_engine::verifier::Rejection::new(
            r.pc,
            RejectClass::InvalidMapFd,
            format!("fd {} is not pointing to valid bpf_map", r.imm),
        ))
    })
    .unwrap_err();
    assert_eq!(e.message, "fd 999 is not pointing to valid bpf_map");
    let v: Verdict = structural::check(&p, true).into();
    assert_eq!(
        v,
        Verdict::Rejected {
            pc: 3,
            class: RejectClass::UnreachableInsn,
            message: "unreachable insn 3".into()
        }
    );
}

mod never_panics {
    use bpfdiff_engine::verifier::{insn_rules, structural, subprog};
    use bpfdiff_engine::{Insn, Program};
    use proptest::prelude::*;

    /// Slots biased towards the opcodes the structural pass looks at.
    fn slot() -> impl Strategy<Value = Insn> {
        let opcode = prop_oneof![
            Just(0x05u8),
            Just(0x06),
            Just(0x15),
            Just(0x18),
            Just(0x85),
            Just(0x95),
            Just(0xb7),
            Just(0x00),
            any::<u8>(),
        ];
        (opcode, 0u8..16, 0u8..8, -8i16..8, -8i32..8)
            .prop_map(|(op, dst, src, off, imm)| Insn::new(op, dst, src, off, imm))
    }

    proptest! {
        #[test]
        fn structural_pass_answers_every_program(slots in prop::collection::vec(slot(), 0..24), privileged: bool) {
            let p = Program::new(slots.clone());
            if let Ok(info) = structural::check(&p, privileged) {
                for &pc in &info.insn_starts {
                    if let Ok(ins) = insn_rules::decode(&slots, pc) {
                        let _ = insn_rules::alu_immediate(pc, &ins);
                        let _ = insn_rules::frame_pointer_write(pc, &ins);
                    }
                }
                let depths = vec![512; info.subprogs.len()];
                let _ = subprog::check_max_stack_depth(&slots, &info.subprogs, &depths);
                prop_assert!(info.reachable[0]);
            }
        }
    }
}
