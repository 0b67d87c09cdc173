//! Minimal programs, one per rejection the structural pass and the
//! per-instruction rules produce, with the kernel's pc and message
//! (Linux 6.18). Shared by `engine/tests/verifier_structural.rs` (the
//! engine's answer) and `oracle/tests/structural_vs_kernel.rs` (the real
//! kernel's answer, the ground truth).
#![allow(dead_code)]

use bpfdiff_engine::verifier::verdict::RejectClass;
use bpfdiff_engine::verifier::{insn_rules, structural, subprog, Rejection};
use bpfdiff_engine::{Insn, Program};

/// At which step of the kernel's flow the error is found, and so which
/// engine function finds it.
#[derive(Clone, Debug)]
pub enum Stage {
    /// Before exploration: `structural::check`.
    Structural,
    /// When exploration first reaches `pc`: `insn_rules::decode`.
    Decode,
    /// After the operand reads at `pc`: `insn_rules::alu_immediate`.
    AluImmediate,
    /// At the destination write at `pc`: `insn_rules::frame_pointer_write`.
    FramePointer,
    /// At a local call explored in frame `curframe`:
    /// `subprog::check_call_depth`.
    Call {
        /// The caller's frame number (0 for the entry).
        curframe: usize,
    },
    /// After exploration: `subprog::check_max_stack_depth` with the stack
    /// depths the exploration measures for each subprogram.
    StackDepth(Vec<u32>),
}

/// One case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Short name.
    pub name: &'static str,
    /// The kernel function that reports it.
    pub kernel_fn: &'static str,
    /// Loaded with CAP_BPF (`false`: as an unprivileged user).
    pub privileged: bool,
    /// The program's slots.
    pub insns: Vec<Insn>,
    /// Where in the flow it is found.
    pub stage: Stage,
    /// `None`: accepted by this stage. Else (pc, class, message).
    pub expect: Option<(usize, RejectClass, String)>,
}

const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);
const MOV_R0_0: Insn = Insn::new(0xb7, 0, 0, 0, 0);

fn call_local(imm: i32) -> Insn {
    Insn::new(0x85, 0, 1, 0, imm)
}

fn ld_imm64(dst: u8, src: u8, lo: i32, hi: i32) -> [Insn; 2] {
    [Insn::new(0x18, dst, src, 0, lo), Insn::new(0, 0, 0, 0, hi)]
}

fn case(
    name: &'static str,
    kernel_fn: &'static str,
    insns: Vec<Insn>,
    stage: Stage,
    expect: Option<(usize, RejectClass, &str)>,
) -> Case {
    Case {
        name,
        kernel_fn,
        privileged: true,
        insns,
        stage,
        expect: expect.map(|(pc, c, m)| (pc, c, m.to_string())),
    }
}

/// Every case.
pub fn cases() -> Vec<Case> {
    use RejectClass as C;
    let mut v = vec![
        case(
            "unknown-opcode",
            "resolve_pseudo_ldimm64",
            vec![MOV_R0_0, Insn::new(0x8f, 0, 0, 0, 0), EXIT],
            Stage::Structural,
            Some((1, C::UnknownOpcode, "unknown opcode 8f")),
        ),
        case(
            "callx-is-unknown-to-the-kernel",
            "resolve_pseudo_ldimm64",
            vec![MOV_R0_0, Insn::new(0x8d, 0, 0, 0, 0), EXIT],
            Stage::Structural,
            Some((1, C::UnknownOpcode, "unknown opcode 8d")),
        ),
        case(
            "unknown-opcode-before-later-ldx-reserved",
            "resolve_pseudo_ldimm64",
            vec![
                MOV_R0_0,
                Insn::new(0x8f, 0, 0, 0, 0),
                Insn::new(0x79, 1, 10, -8, 5),
                EXIT,
            ],
            Stage::Structural,
            Some((1, C::UnknownOpcode, "unknown opcode 8f")),
        ),
        case(
            "ldx-reserved-fields",
            "resolve_pseudo_ldimm64",
            vec![MOV_R0_0, Insn::new(0x79, 1, 10, -8, 5), EXIT],
            Stage::Structural,
            Some((1, C::ReservedFields, "BPF_LDX uses reserved fields")),
        ),
        case(
            "ldx-mode-imm-is-reserved",
            "resolve_pseudo_ldimm64",
            vec![MOV_R0_0, Insn::new(0x01, 0, 0, 0, 0), EXIT],
            Stage::Structural,
            Some((1, C::ReservedFields, "BPF_LDX uses reserved fields")),
        ),
        case(
            "ld-imm64-bad-second-slot",
            "resolve_pseudo_ldimm64",
            vec![
                MOV_R0_0,
                Insn::new(0x18, 1, 0, 0, 0),
                Insn::new(0x07, 0, 0, 0, 0),
                EXIT,
            ],
            Stage::Structural,
            Some((1, C::InvalidLdImm64, "invalid bpf_ld_imm64 insn")),
        ),
        case(
            "ld-imm64-unknown-src",
            "resolve_pseudo_ldimm64",
            [vec![MOV_R0_0], ld_imm64(1, 7, 0, 0).to_vec(), vec![EXIT]].concat(),
            Stage::Structural,
            Some((1, C::UnrecognizedLdImm64, "unrecognized bpf_ld_imm64 insn")),
        ),
        case(
            "ld-imm64-map-fd-with-second-imm",
            "resolve_pseudo_ldimm64",
            [vec![MOV_R0_0], ld_imm64(1, 1, 0, 1).to_vec(), vec![EXIT]].concat(),
            Stage::Structural,
            Some((1, C::UnrecognizedLdImm64, "unrecognized bpf_ld_imm64 insn")),
        ),
        case(
            "ld-imm64-fd-idx-without-fd-array",
            "resolve_pseudo_ldimm64",
            [vec![MOV_R0_0], ld_imm64(1, 5, 0, 0).to_vec(), vec![EXIT]].concat(),
            Stage::Structural,
            Some((1, C::FdArrayMissing, "fd_idx without fd_array is invalid")),
        ),
        case(
            "jump-out-of-range",
            "check_subprogs",
            vec![MOV_R0_0, Insn::new(0x05, 0, 0, 5, 0), EXIT],
            Stage::Structural,
            Some((1, C::JumpOutOfRange, "jump out of range from insn 1 to 7")),
        ),
        case(
            "gotol-out-of-range",
            "check_subprogs",
            vec![MOV_R0_0, Insn::new(0x06, 0, 0, 0, 5), EXIT],
            Stage::Structural,
            Some((1, C::JumpOutOfRange, "jump out of range from insn 1 to 7")),
        ),
        case(
            "jump-into-another-subprogram",
            "check_subprogs",
            vec![
                MOV_R0_0,
                call_local(2),
                Insn::new(0x05, 0, 0, 1, 0),
                EXIT,
                MOV_R0_0,
                EXIT,
            ],
            Stage::Structural,
            Some((2, C::JumpOutOfRange, "jump out of range from insn 2 to 4")),
        ),
        case(
            "jump-out-of-range-before-last-insn",
            "check_subprogs",
            vec![MOV_R0_0, Insn::new(0x05, 0, 0, 5, 0), MOV_R0_0],
            Stage::Structural,
            Some((1, C::JumpOutOfRange, "jump out of range from insn 1 to 7")),
        ),
        case(
            "last-insn-not-exit",
            "check_subprogs",
            vec![MOV_R0_0],
            Stage::Structural,
            Some((
                0,
                C::LastInsnNotExitOrJmp,
                "last insn is not an exit or jmp",
            )),
        ),
        case(
            "last-insn-of-subprogram-not-exit",
            "check_subprogs",
            // The call targets slot 4, so the entry ends at slot 3 (a mov).
            vec![MOV_R0_0, call_local(2), EXIT, MOV_R0_0, MOV_R0_0, EXIT],
            Stage::Structural,
            Some((
                3,
                C::LastInsnNotExitOrJmp,
                "last insn is not an exit or jmp",
            )),
        ),
        case(
            "last-insn-before-unknown-opcode",
            "check_subprogs",
            vec![MOV_R0_0, Insn::new(0x8f, 0, 0, 0, 0), MOV_R0_0],
            Stage::Structural,
            Some((
                2,
                C::LastInsnNotExitOrJmp,
                "last insn is not an exit or jmp",
            )),
        ),
        case(
            "ld-imm64-truncated-at-end",
            "check_subprogs",
            vec![MOV_R0_0, EXIT, Insn::new(0x18, 1, 0, 0, 0)],
            Stage::Structural,
            Some((
                2,
                C::LastInsnNotExitOrJmp,
                "last insn is not an exit or jmp",
            )),
        ),
        case(
            "call-to-invalid-destination",
            "add_subprog",
            vec![MOV_R0_0, call_local(100), EXIT],
            Stage::Structural,
            Some((
                1,
                C::CallToInvalidDestination,
                "call to invalid destination",
            )),
        ),
        case(
            "call-to-negative-destination",
            "add_subprog",
            vec![MOV_R0_0, call_local(-100), EXIT],
            Stage::Structural,
            Some((
                1,
                C::CallToInvalidDestination,
                "call to invalid destination",
            )),
        ),
        case(
            "func-address-to-invalid-destination",
            "add_subprog",
            [vec![MOV_R0_0], ld_imm64(1, 4, 100, 0).to_vec(), vec![EXIT]].concat(),
            Stage::Structural,
            Some((
                1,
                C::CallToInvalidDestination,
                "call to invalid destination",
            )),
        ),
        case(
            "too-many-subprograms",
            "add_subprog",
            [vec![call_local(256); 256], vec![EXIT], vec![EXIT; 256]].concat(),
            Stage::Structural,
            Some((255, C::TooManySubprograms, "too many subprograms")),
        ),
        case(
            "ld-abs-in-subprogram",
            "check_abnormal_return",
            vec![
                MOV_R0_0,
                call_local(1),
                EXIT,
                Insn::new(0x30, 0, 0, 0, 0),
                EXIT,
            ],
            Stage::Structural,
            Some((
                3,
                C::SubprogNeedsBtf,
                "LD_ABS is not allowed in subprogs without BTF",
            )),
        ),
        case(
            "tail-call-in-subprogram",
            "check_abnormal_return",
            vec![
                MOV_R0_0,
                call_local(1),
                EXIT,
                Insn::new(0x85, 0, 0, 0, 12),
                EXIT,
            ],
            Stage::Structural,
            Some((
                3,
                C::SubprogNeedsBtf,
                "tail_call is not allowed in subprogs without BTF",
            )),
        ),
        case(
            "unreachable-insn",
            "check_cfg",
            vec![MOV_R0_0, EXIT, MOV_R0_0, EXIT],
            Stage::Structural,
            Some((2, C::UnreachableInsn, "unreachable insn 2")),
        ),
        case(
            "unknown-opcode-before-unreachable",
            "resolve_pseudo_ldimm64",
            vec![MOV_R0_0, EXIT, Insn::new(0x8f, 0, 0, 0, 0), EXIT],
            Stage::Structural,
            Some((2, C::UnknownOpcode, "unknown opcode 8f")),
        ),
        case(
            "endless-ja-leaves-exit-unreachable",
            "check_cfg",
            vec![MOV_R0_0, Insn::new(0x05, 0, 0, -1, 0), EXIT],
            Stage::Structural,
            Some((2, C::UnreachableInsn, "unreachable insn 2")),
        ),
        case(
            "jump-into-the-middle-of-ld-imm64",
            "check_cfg",
            [
                vec![MOV_R0_0, Insn::new(0x15, 0, 0, 1, 0)],
                ld_imm64(1, 0, 0, 0).to_vec(),
                vec![EXIT],
            ]
            .concat(),
            Stage::Structural,
            Some((
                2,
                C::JumpIntoLdImm64,
                "jump into the middle of ldimm64 insn 2",
            )),
        ),
        case(
            "root-may-loop",
            "check_cfg",
            vec![MOV_R0_0, Insn::new(0x15, 0, 0, -2, 0), EXIT],
            Stage::Structural,
            None,
        ),
        case(
            "alu-reserved-fields",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0x07, 0, 1, 0, 5), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_ALU uses reserved fields")),
        ),
        case(
            "mov-bad-selector",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0xbf, 0, 0, 7, 0), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_MOV uses reserved fields")),
        ),
        case(
            "exit-reserved-fields",
            "do_check_insn",
            vec![MOV_R0_0, Insn::new(0x95, 0, 0, 0, 1)],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_EXIT uses reserved fields")),
        ),
        case(
            "ja-reserved-fields",
            "do_check_insn",
            vec![MOV_R0_0, Insn::new(0x05, 0, 0, 0, 1), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_JA uses reserved fields")),
        ),
        case(
            "st-reserved-fields",
            "do_check_insn",
            vec![MOV_R0_0, Insn::new(0x7a, 10, 1, -8, 1), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_ST uses reserved fields")),
        ),
        case(
            "atomic-invalid-opcode",
            "check_atomic",
            vec![MOV_R0_0, Insn::new(0xdb, 10, 0, -8, 2), EXIT],
            Stage::Decode,
            Some((
                1,
                C::ReservedFields,
                "BPF_ATOMIC uses invalid atomic opcode 02",
            )),
        ),
        case(
            "ld-imm64-reserved-off",
            "do_check_insn",
            vec![
                MOV_R0_0,
                Insn::new(0x18, 1, 0, 3, 0),
                Insn::new(0, 0, 0, 0, 0),
                EXIT,
            ],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_LD_IMM64 uses reserved fields")),
        ),
        case(
            "neg-reserved-fields",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0x87, 0, 0, 0, 1), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_NEG uses reserved fields")),
        ),
        case(
            "end-bad-width",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0xd4, 0, 0, 0, 8), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_END uses reserved fields")),
        ),
        case(
            "cond-jump-reserved-fields",
            "check_cond_jmp_op",
            vec![MOV_R0_0, Insn::new(0x15, 0, 1, 0, 0), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_JMP/JMP32 uses reserved fields")),
        ),
        case(
            "call-unknown-src",
            "do_check_insn",
            vec![MOV_R0_0, Insn::new(0x85, 0, 3, 0, 1), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_CALL uses reserved fields")),
        ),
        case(
            "stx-reserved-fields",
            "do_check_insn",
            vec![MOV_R0_0, Insn::new(0x7b, 10, 0, -8, 1), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "BPF_STX uses reserved fields")),
        ),
        case(
            "ld-abs-reserved-fields",
            "check_ld_abs",
            vec![MOV_R0_0, Insn::new(0x20, 0, 0, 1, 0), EXIT],
            Stage::Decode,
            Some((
                1,
                C::ReservedFields,
                "BPF_LD_[ABS|IND] uses reserved fields",
            )),
        ),
        case(
            "atomic-operand-size",
            "check_atomic",
            vec![MOV_R0_0, Insn::new(0xd3, 10, 0, -8, 0), EXIT],
            Stage::Decode,
            Some((1, C::ReservedFields, "invalid atomic operand size")),
        ),
        case(
            "invalid-register",
            "check_reg_arg",
            vec![MOV_R0_0, Insn::new(0xb7, 11, 0, 0, 5), EXIT],
            Stage::Decode,
            Some((1, C::InvalidRegister, "R11 is invalid")),
        ),
        case(
            "div-by-immediate-zero",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0x37, 0, 0, 0, 0), EXIT],
            Stage::AluImmediate,
            Some((1, C::DivisionByZero, "div by zero")),
        ),
        case(
            "mod32-by-immediate-zero",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0x94, 0, 0, 0, 0), EXIT],
            Stage::AluImmediate,
            Some((1, C::DivisionByZero, "div by zero")),
        ),
        case(
            "shift-by-width",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0x67, 0, 0, 0, 64), EXIT],
            Stage::AluImmediate,
            Some((1, C::InvalidShift, "invalid shift 64")),
        ),
        case(
            "shift32-by-width",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0x64, 0, 0, 0, 32), EXIT],
            Stage::AluImmediate,
            Some((1, C::InvalidShift, "invalid shift 32")),
        ),
        case(
            "negative-shift",
            "check_alu_op",
            vec![MOV_R0_0, Insn::new(0x77, 0, 0, 0, -1), EXIT],
            Stage::AluImmediate,
            Some((1, C::InvalidShift, "invalid shift -1")),
        ),
        case(
            "frame-pointer-is-read-only",
            "check_reg_arg",
            vec![Insn::new(0xb7, 10, 0, 0, 0), EXIT],
            Stage::FramePointer,
            Some((0, C::FramePointerReadOnly, "frame pointer is read only")),
        ),
    ];
    // A chain of nine frames: each subprogram calls the next. The kernel
    // refuses the call made from frame 7 (slot 14) when exploring it.
    let mut chain: Vec<Insn> = Vec::new();
    for _ in 0..9 {
        chain.extend([call_local(1), EXIT]);
    }
    chain.extend([MOV_R0_0, EXIT]);
    v.push(case(
        "call-stack-too-deep",
        "setup_func_entry",
        chain,
        Stage::Call { curframe: 7 },
        Some((
            14,
            C::CallStackTooDeep,
            "the call stack of 9 frames is too deep",
        )),
    ));
    // Two frames of 300 bytes (a store at r10 - 300 each): 304 + 304 > 512.
    let stb = |off| Insn::new(0x72, 10, 0, off, 0);
    v.push(case(
        "combined-stack-size",
        "check_max_stack_depth",
        vec![
            stb(-300),
            call_local(2),
            MOV_R0_0,
            EXIT,
            stb(-300),
            MOV_R0_0,
            EXIT,
        ],
        Stage::StackDepth(vec![300, 300]),
        Some((
            1,
            C::CombinedStackSize,
            "combined stack size of 2 calls is 608. Too large",
        )),
    ));
    v.push(case(
        "combined-stack-size-fits",
        "check_max_stack_depth",
        vec![
            stb(-250),
            call_local(2),
            MOV_R0_0,
            EXIT,
            stb(-250),
            MOV_R0_0,
            EXIT,
        ],
        Stage::StackDepth(vec![250, 250]),
        None,
    ));
    v.push(case(
        "program-too-large",
        "bpf_prog_load",
        vec![EXIT; structural::MAX_INSNS_PRIVILEGED + 1],
        Stage::Structural,
        Some((
            0,
            C::ProgramTooLarge,
            "program of 1000001 insns is outside 1..=1000000 (bpf() fails with E2BIG and logs nothing)",
        )),
    ));
    v.push(case(
        "empty-program",
        "bpf_prog_load",
        vec![],
        Stage::Structural,
        Some((
            0,
            C::ProgramTooLarge,
            "program of 0 insns is outside 1..=1000000 (bpf() fails with E2BIG and logs nothing)",
        )),
    ));
    let mut unpriv = |name, kernel_fn, insns, expect: (usize, RejectClass, &str)| {
        let mut c = case(name, kernel_fn, insns, Stage::Structural, Some(expect));
        c.privileged = false;
        v.push(c);
    };
    unpriv(
        "unprivileged-back-edge",
        "check_cfg",
        vec![MOV_R0_0, Insn::new(0x15, 0, 0, -2, 0), EXIT],
        (1, C::BackEdge, "back-edge from insn 1 to 0"),
    );
    unpriv(
        "unprivileged-local-call",
        "add_subprog_and_kfunc",
        vec![MOV_R0_0, call_local(1), EXIT, MOV_R0_0, EXIT],
        (
            1,
            C::SubprogramsNeedPrivilege,
            "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
        ),
    );
    unpriv(
        "unprivileged-program-too-large",
        "bpf_prog_load",
        vec![EXIT; structural::MAX_INSNS_UNPRIVILEGED + 1],
        (
            0,
            C::ProgramTooLarge,
            "program of 4097 insns is outside 1..=4096 (bpf() fails with E2BIG and logs nothing)",
        ),
    );
    v
}

/// The case called `name`.
pub fn named(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// The engine's answer at the case's stage. Stages after the structural
/// pass require that pass to accept the program first (as the kernel's
/// flow does).
pub fn engine_answer(c: &Case) -> Result<(), Rejection> {
    let program = Program::new(c.insns.clone());
    let info = structural::check(&program, c.privileged)?;
    let pc = c.expect.as_ref().map_or(0, |e| e.0);
    match &c.stage {
        Stage::Structural => Ok(()),
        Stage::Decode => insn_rules::decode(&c.insns, pc).map(|_| ()),
        Stage::AluImmediate => {
            let ins = insn_rules::decode(&c.insns, pc)?;
            insn_rules::alu_immediate(pc, &ins)
        }
        Stage::FramePointer => {
            let ins = insn_rules::decode(&c.insns, pc)?;
            insn_rules::alu_immediate(pc, &ins)?;
            insn_rules::frame_pointer_write(pc, &ins)
        }
        Stage::Call { curframe } => subprog::check_call_depth(pc, *curframe),
        Stage::StackDepth(depths) => {
            subprog::check_max_stack_depth(&c.insns, &info.subprogs, depths)
        }
    }
}

/// Asserts that the engine gives the case's expected answer.
pub fn assert_engine(c: &Case) {
    let got = engine_answer(c);
    match &c.expect {
        None => assert!(got.is_ok(), "{}: expected acceptance, got {got:?}", c.name),
        Some((pc, class, message)) => {
            let r = got.expect_err(&format!("{}: expected a rejection", c.name));
            assert_eq!(
                (r.pc, r.class, r.message.as_str()),
                (*pc, *class, message.as_str()),
                "{} ({})",
                c.name,
                c.kernel_fn
            );
        }
    }
}
