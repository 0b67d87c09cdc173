//! Execution tests run on both the interpreter and the JIT (checked mode),
//! through one helper, [`run_both`], that asserts the two agree before a
//! test looks at the result: the same ending, the same r0 unless the
//! interpreter marks it pointer-derived, the same fault (kind, pc, address,
//! size), the same instruction count, and the same input memory except
//! bytes the interpreter marks pointer-derived.
//!
//! Also here: every `corpus/conformance/*.data` file on both, unchecked
//! mode on the corpus programs that run cleanly, and a property comparing
//! the two on generated programs (`PROPTEST_CASES` sets how many; the
//! default keeps `cargo test` quick).

use std::fs;
use std::path::{Path, PathBuf};

use bpfdiff_engine::data::{parse_data_file, Expected};
use bpfdiff_engine::decode::Instruction;
use bpfdiff_engine::insn::Insn;
use bpfdiff_engine::interp::{
    self, ExecResult, Execution, Fault, FaultKind, DEFAULT_BUDGET, MEM_BASE, STACK_TOP,
};
use bpfdiff_engine::jit::{self, JitProgram, Mode, Verified};
use bpfdiff_engine::opcode::{Class, Operation, Source, OPCODES};
use bpfdiff_engine::Program;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// The shared helper
// ---------------------------------------------------------------------------

/// Where the interpreter and the JIT disagree on one run, if anywhere.
fn disagreement(
    interp: &Execution,
    interp_mem: &[u8],
    jit: &Execution,
    jit_mem: &[u8],
) -> Option<String> {
    let result_agrees = match (interp.result, jit.result) {
        (ExecResult::Returned { r0, r0_derived }, ExecResult::Returned { r0: jit_r0, .. }) => {
            r0_derived || r0 == jit_r0
        }
        (ExecResult::Fault(a), ExecResult::Fault(b)) => a == b,
        (ExecResult::OutOfBudget, ExecResult::OutOfBudget) => true,
        _ => false,
    };
    if !result_agrees {
        return Some(format!(
            "interpreter: {}, JIT: {}",
            interp.result, jit.result
        ));
    }
    if interp.insns_executed != jit.insns_executed {
        return Some(format!(
            "instructions executed: interpreter {}, JIT {}",
            interp.insns_executed, jit.insns_executed
        ));
    }
    let differing: Vec<usize> = (0..interp_mem.len())
        .filter(|&i| !interp.mem_derived.get(i).copied().unwrap_or(false))
        .filter(|&i| interp_mem[i] != jit_mem[i])
        .collect();
    if !differing.is_empty() {
        return Some(format!(
            "memory differs at bytes {differing:?}: interpreter {interp_mem:02x?}, JIT {jit_mem:02x?}"
        ));
    }
    None
}

/// Runs `program` on copies of `mem` on the interpreter and the JIT
/// (checked), asserts that they agree, and returns the interpreter's
/// execution and memory afterwards.
fn run_both(program: &Program, mem: &[u8], budget: u64) -> (Execution, Vec<u8>) {
    let mut interp_mem = mem.to_vec();
    let interp = interp::run_program(program, &mut interp_mem, budget).expect("decodes");
    let mut jit_mem = mem.to_vec();
    let jit = jit::run_program(program, Mode::Checked, &mut jit_mem, budget).expect("decodes");
    if let Some(why) = disagreement(&interp, &interp_mem, &jit, &jit_mem) {
        panic!("{why}\nprogram:\n{}", listing(program));
    }
    (interp, interp_mem)
}

fn listing(program: &Program) -> String {
    bpfdiff_engine::asm::kernel::disassemble(program)
        .unwrap_or_else(|e| format!("(does not decode: {e}) {:?}", program.insns))
}

/// [`run_both`] with the default budget, returning the execution.
fn run(insns: &[Insn], mem: &mut [u8]) -> Execution {
    let (e, after) = run_both(&Program::new(insns.to_vec()), mem, DEFAULT_BUDGET);
    mem.copy_from_slice(&after);
    e
}

fn r0(e: &Execution) -> u64 {
    match e.result {
        ExecResult::Returned { r0, .. } => r0,
        other => panic!("expected a return, got {other}"),
    }
}

const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

// ---------------------------------------------------------------------------
// Execution tests (moved from the interpreter's unit tests, now on both)
// ---------------------------------------------------------------------------

#[test]
fn input_convention_r1_pointer_r2_length() {
    // DESIGN.md "Input": r1 = pointer to the memory, r2 = its length.
    let e = run(&[Insn::new(0xbf, 0, 2, 0, 0), EXIT], &mut [0; 7]);
    assert_eq!(r0(&e), 7);
    let e = run(&[Insn::new(0xbf, 0, 1, 0, 0), EXIT], &mut [0; 7]);
    assert_eq!(
        e.result,
        ExecResult::Returned {
            r0: MEM_BASE,
            r0_derived: true
        }
    );
    // Without memory r1 = r2 = 0, and r1 is not a pointer.
    let e = run(&[Insn::new(0xbf, 0, 1, 0, 0), EXIT], &mut []);
    assert_eq!(
        e.result,
        ExecResult::Returned {
            r0: 0,
            r0_derived: false
        }
    );
}

#[test]
fn pointer_marks_flow_through_registers_and_memory() {
    let prog = [
        Insn::new(0x7b, 10, 10, -8, 0), // *(u64 *)(r10 -8) = r10
        Insn::new(0x79, 0, 10, -8, 0),  // r0 = *(u64 *)(r10 -8)
        Insn::new(0x07, 0, 0, 0, 1),    // r0 += 1 (still derived)
        EXIT,
    ];
    let e = run(&prog, &mut []);
    assert_eq!(
        e.result,
        ExecResult::Returned {
            r0: STACK_TOP + 1,
            r0_derived: true
        }
    );
    // A pointer stored into input memory marks those bytes.
    let prog = [
        Insn::new(0x7b, 1, 1, 0, 0),
        Insn::new(0xb7, 0, 0, 0, 0),
        EXIT,
    ];
    let mut mem = [0u8; 12];
    let e = run(&prog, &mut mem);
    assert_eq!(e.mem_derived.iter().filter(|&&d| d).count(), 8);
    assert!(!e.mem_derived[8]);
}

#[test]
fn reads_of_never_written_stack_are_reported() {
    // SEMANTICS.md: for root the kernel lets a program read uninitialised
    // stack and returns garbage; the engine reads zeros and says where (the
    // interpreter reports the pc; the JIT reads the same zeros).
    let prog = [
        Insn::new(0x7a, 10, 0, -8, 1),
        Insn::new(0x79, 0, 10, -8, 0),
        Insn::new(0x79, 0, 10, -16, 0),
        EXIT,
    ];
    let e = run(&prog, &mut []);
    assert_eq!(e.uninit_stack_read, Some(2));
    assert_eq!(r0(&e), 0);
    let e = run(&prog[1..], &mut []);
    assert_eq!(e.uninit_stack_read, Some(0));
    let e = run(
        &[
            Insn::new(0x7a, 10, 0, -8, 1),
            Insn::new(0x79, 0, 10, -8, 0),
            EXIT,
        ],
        &mut [],
    );
    assert_eq!(e.uninit_stack_read, None);
}

#[test]
fn memory_faults_name_kind_pc_addr_size() {
    let prog = [Insn::new(0x61, 0, 1, 6, 0), EXIT]; // r0 = *(u32 *)(r1 +6) on 8 bytes
    let e = run(&prog, &mut [0; 8]);
    assert_eq!(
        e.result,
        ExecResult::Fault(Fault {
            kind: FaultKind::OutOfBounds,
            pc: 0,
            addr: MEM_BASE + 6,
            size: 4
        })
    );
    // Below frame 0's 512 bytes of stack.
    let prog = [Insn::new(0x72, 10, 0, -513, 1), EXIT];
    let e = run(&prog, &mut []);
    assert_eq!(
        e.result,
        ExecResult::Fault(Fault {
            kind: FaultKind::OutOfBounds,
            pc: 0,
            addr: STACK_TOP - 513,
            size: 1
        })
    );
}

#[test]
fn budget_and_control_faults() {
    let spin = [Insn::new(0x05, 0, 0, -1, 0)];
    let (e, _) = run_both(&Program::new(spin.to_vec()), &[], 1000);
    assert_eq!(e.result, ExecResult::OutOfBudget);
    assert_eq!(
        e.insns_executed, 1001,
        "checked at the back-edge once the count passes the budget"
    );
    // Straight-line code is never stopped by the budget.
    let straight = [
        Insn::new(0xb7, 0, 0, 0, 1),
        Insn::new(0x07, 0, 0, 0, 1),
        EXIT,
    ];
    let (e, _) = run_both(&Program::new(straight.to_vec()), &[], 1);
    assert_eq!(
        e.result,
        ExecResult::Returned {
            r0: 2,
            r0_derived: false
        }
    );
    let e = run(&[Insn::new(0xb7, 0, 0, 0, 0)], &mut []);
    assert!(matches!(
        e.result,
        ExecResult::Fault(Fault {
            kind: FaultKind::FellOffEnd,
            pc: 1,
            ..
        })
    ));
    // A jump out of range faults only when taken, at the jump's pc.
    let prog = [
        Insn::new(0x15, 1, 0, 100, 1),
        Insn::new(0xb7, 0, 0, 0, 3),
        EXIT,
    ];
    assert_eq!(r0(&run(&prog, &mut [])), 3);
    let prog = [Insn::new(0x15, 1, 0, 100, 0), EXIT];
    assert_eq!(
        run(&prog, &mut []).result,
        ExecResult::Fault(Fault {
            kind: FaultKind::JumpOutOfRange,
            pc: 0,
            addr: 101,
            size: 0
        })
    );
    // Jumping into the second slot of ld_imm64.
    let prog = [
        Insn::new(0x05, 0, 0, 1, 0),
        Insn::new(0x18, 0, 0, 0, 1),
        Insn::new(0, 0, 0, 0, 0),
        EXIT,
    ];
    assert!(matches!(
        run(&prog, &mut []).result,
        ExecResult::Fault(Fault {
            kind: FaultKind::JumpIntoLdImm64,
            pc: 0,
            ..
        })
    ));
}

#[test]
fn local_calls_save_r6_to_r10_and_limit_depth() {
    // SEMANTICS.md: r6-r9 callee-saved, 8 frames at most.
    let prog = [
        Insn::new(0xb7, 6, 0, 0, 6),
        Insn::new(0x85, 0, 1, 0, 2), // call pc+2
        Insn::new(0x0f, 0, 6, 0, 0), // r0 += r6
        EXIT,
        Insn::new(0xb7, 6, 0, 0, 100),
        Insn::new(0xb7, 0, 0, 0, 1),
        EXIT,
    ];
    assert_eq!(r0(&run(&prog, &mut [])), 7);
    // Unbounded recursion stops at the frame limit.
    let prog = [Insn::new(0x85, 0, 1, 0, -1), EXIT];
    assert!(matches!(
        run(&prog, &mut []).result,
        ExecResult::Fault(Fault {
            kind: FaultKind::CallDepthExceeded,
            pc: 0,
            ..
        })
    ));
}

#[test]
fn callx_calls_a_function_pointer_or_a_helper_id() {
    // ld_imm64 src 4 gives a code address; callx on it calls the subprogram.
    let prog = [
        Insn::new(0x18, 2, 4, 0, 3),
        Insn::new(0, 0, 0, 0, 0),
        Insn::new(0x8d, 2, 0, 0, 0),
        EXIT,
        Insn::new(0xb7, 0, 0, 0, 42),
        EXIT,
    ];
    assert_eq!(r0(&run(&prog, &mut [])), 42);
    // A plain number is a helper id (bpf_conformance's callx test).
    let prog = [
        Insn::new(0xb7, 2, 0, 0, 99),
        Insn::new(0x8d, 2, 0, 0, 0),
        EXIT,
    ];
    assert!(matches!(
        run(&prog, &mut []).result,
        ExecResult::Fault(Fault {
            kind: FaultKind::UnknownHelper,
            addr: 99,
            ..
        })
    ));
}

#[test]
fn map_value_ld_imm64_points_into_input_memory() {
    let prog = [
        Insn::new(0x18, 3, 2, 0, 7),
        Insn::new(0, 0, 0, 0, 4),
        Insn::new(0x61, 0, 3, 0, 0),
        EXIT,
    ];
    let mut mem = [0, 0, 0, 0, 0x78, 0x56, 0x34, 0x12];
    assert_eq!(r0(&run(&prog, &mut mem)), 0x1234_5678);
}

#[test]
fn legacy_packet_loads_are_big_endian_and_exit_zero_out_of_bounds() {
    // SEMANTICS.md: LD_ABS/LD_IND read big-endian and exit with r0 = 0 when out of bounds.
    let prog = [Insn::new(0x28, 0, 0, 0, 1), EXIT];
    assert_eq!(r0(&run(&prog, &mut [0x11, 0x22, 0x33])), 0x2233);
    let prog = [
        Insn::new(0x20, 0, 0, 0, 1),
        Insn::new(0xb7, 0, 0, 0, 9),
        EXIT,
    ];
    assert_eq!(r0(&run(&prog, &mut [0x11, 0x22, 0x33])), 0);
}

#[test]
fn ld_ind_offsets_are_32_bit_signed_sums() {
    // The kernel rewrites LD_IND to `w2 = wSRC; w2 += imm` and loads at
    // that int offset (bpf_gen_ld_abs, net/core/filter.c; measured on
    // Linux 6.18): r1 = -16 with imm 18 reads offset 2 on both engines;
    // a sum that stays negative is out of bounds (r0 = 0).
    let mut mem = [0x11, 0x22, 0x33, 0x44];
    let prog = [
        Insn::new(0xb7, 1, 0, 0, -16),
        Insn::new(0x50, 0, 1, 0, 18),
        EXIT,
    ];
    assert_eq!(r0(&run(&prog, &mut mem)), 0x33);
    let prog = [
        Insn::new(0xb7, 1, 0, 0, -16),
        Insn::new(0x50, 0, 1, 0, 15),
        Insn::new(0xb7, 0, 0, 0, 9),
        EXIT,
    ];
    assert_eq!(r0(&run(&prog, &mut mem)), 0);
}

// ---------------------------------------------------------------------------
// More execution tests the JIT's code shape makes interesting
// ---------------------------------------------------------------------------

#[test]
fn helpers_see_the_exact_instruction_count() {
    // interp/helper_call.rs: ktime_get_ns (5) is a virtual clock, the number
    // of instructions executed so far. Its r0 is opaque (pointer-derived) to
    // other backends, but the JIT must return the same number.
    let prog = Program::new(vec![
        Insn::new(0xb7, 6, 0, 0, 3),
        Insn::new(0x85, 0, 0, 0, 5), // call ktime_get_ns
        Insn::new(0x0f, 7, 0, 0, 0), // r7 += r0
        Insn::new(0x85, 0, 0, 0, 7), // call get_prandom_u32
        Insn::new(0xaf, 7, 0, 0, 0), // r7 ^= r0
        Insn::new(0x17, 6, 0, 0, 1),
        Insn::new(0x55, 6, 0, -6, 0), // loop 3 times
        Insn::new(0xbf, 0, 7, 0, 0),
        EXIT,
    ]);
    let (interp, _) = run_both(&prog, &[], DEFAULT_BUDGET);
    let jit = jit::run_program(&prog, Mode::Checked, &mut [], DEFAULT_BUDGET).unwrap();
    assert_eq!(interp.result, jit_with_interp_marks(&jit, &interp));
    assert!(matches!(
        interp.result,
        ExecResult::Returned {
            r0_derived: true,
            ..
        }
    ));
}

/// The JIT's result with the interpreter's r0 mark, for exact comparison of
/// values the interpreter marks opaque.
fn jit_with_interp_marks(jit: &Execution, interp: &Execution) -> ExecResult {
    match (jit.result, interp.result) {
        (ExecResult::Returned { r0, .. }, ExecResult::Returned { r0_derived, .. }) => {
            ExecResult::Returned { r0, r0_derived }
        }
        (other, _) => other,
    }
}

#[test]
fn callx_into_the_middle_of_a_block_counts_exactly() {
    // CODE_BASE + 8 * 4 computed as a plain number: callx enters the
    // straight-line block 3..=5 at its second instruction, and the helper
    // at pc 5 reads the count.
    let code_base_plus_32 = interp::CODE_BASE + 32;
    let prog = Program::new(vec![
        Insn::new(0x18, 2, 0, 0, code_base_plus_32 as u32 as i32),
        Insn::new(0, 0, 0, 0, (code_base_plus_32 >> 32) as i32),
        Insn::new(0x8d, 2, 0, 0, 0), // callx r2 -> slot 4
        EXIT,
        Insn::new(0xb7, 0, 0, 0, 1), // 3.. never reached: slot 3 is EXIT above
        Insn::new(0x07, 0, 0, 0, 1),
        Insn::new(0x85, 0, 0, 0, 5), // ktime_get_ns
        EXIT,
    ]);
    let (interp, _) = run_both(&prog, &[], DEFAULT_BUDGET);
    let jit = jit::run_program(&prog, Mode::Checked, &mut [], DEFAULT_BUDGET).unwrap();
    assert_eq!(jit_with_interp_marks(&jit, &interp), interp.result);
    assert_eq!(interp.insns_executed, 7);
}

#[test]
fn faults_in_nested_frames_unwind_with_exact_counts() {
    // A memory fault three frames deep, and the budget running out in a
    // callee: the JIT leaves from any depth.
    let prog = [
        Insn::new(0x85, 0, 1, 0, 0),     // call 1
        Insn::new(0x85, 0, 1, 0, 0),     // call 2
        Insn::new(0x85, 0, 1, 0, 0),     // call 3
        Insn::new(0x7a, 10, 0, 8, 1),    // *(u64 *)(r10 + 8) = 1: caller's frame, fine
        Insn::new(0x7a, 10, 0, 2048, 1), // above frame 0: out of bounds
        EXIT,
    ];
    let e = run(&prog, &mut []);
    assert!(matches!(
        e.result,
        ExecResult::Fault(Fault {
            kind: FaultKind::OutOfBounds,
            pc: 4,
            size: 8,
            ..
        })
    ));
    let spin_in_callee = Program::new(vec![
        Insn::new(0x85, 0, 1, 0, 1),
        EXIT,
        Insn::new(0x05, 0, 0, -1, 0),
    ]);
    let (e, _) = run_both(&spin_in_callee, &[], 500);
    assert_eq!(e.result, ExecResult::OutOfBudget);
}

#[test]
fn frames_start_zeroed_and_callers_frames_stay_addressable() {
    // interp/mod.rs: every frame's 512 bytes are zero when it is entered;
    // a callee may address its callers' frames (r10 + positive offsets).
    let prog = [
        Insn::new(0x7a, 10, 0, -8, 0x55), // frame 0: *(r10-8) = 0x55
        Insn::new(0x85, 0, 1, 0, 2),      // call +2 (first time)
        Insn::new(0x85, 0, 1, 0, 1),      // call +1 (second time)
        EXIT,
        Insn::new(0x79, 3, 10, -8, 0), // r3 = own frame (zero at entry)
        Insn::new(0x7a, 10, 0, -8, 0x77), // dirty own frame
        Insn::new(0x79, 4, 10, 504, 0), // r4 = caller's *(r10-8)
        Insn::new(0x0f, 0, 3, 0, 0),
        Insn::new(0x0f, 0, 4, 0, 0),
        EXIT,
    ];
    assert_eq!(r0(&run(&prog, &mut [])), 0xaa);
}

#[test]
fn division_and_shift_edge_cases_semantics_md() {
    // SEMANTICS.md "Arithmetic": by zero, INT_MIN / -1 (32 and 64 bit, register
    // and immediate), shift amounts masked, 32-bit results zero-extended.
    let r = |dst: u8, value: u64| {
        Instruction::wide(
            bpfdiff_engine::opcode::lookup(0x18, 0, 0, 0).unwrap(),
            dst,
            value,
        )
        .encode()
    };
    for (opcode, off, imm_or_reg, a, b) in [
        (0x3f, 0, None, 7u64, 0u64),                         // div64 r, 0
        (0x9f, 0, None, 0xffff_ffff_0000_1234, 0),           // mod64 r, 0
        (0x9c, 0, None, 0xffff_ffff_0000_1234, 0),           // mod32 r, 0
        (0x3f, 1, None, i64::MIN as u64, u64::MAX),          // sdiv64 INT_MIN / -1
        (0x9f, 1, None, i64::MIN as u64, u64::MAX),          // smod64
        (0x3c, 1, None, 0x8000_0000, 0xffff_ffff),           // sdiv32
        (0x9c, 1, None, 0xdead_0000_8000_0000, 0xffff_ffff), // smod32
        (0x37, 1, Some(-1), i64::MIN as u64, 0),             // sdiv64 imm -1
        (0x34, 1, Some(-1), 0x8000_0000, 0),                 // sdiv32 imm -1
        (0x37, 0, Some(-1), 5, 0),                           // div64 imm -1 (unsigned)
        (0x94, 0, Some(0), 0xffff_ffff_0000_1234, 0),        // mod32 imm 0
        (0x6f, 0, None, 1, 65),                              // lsh64 by 65
        (0x6c, 0, None, 0xffff_ffff_0000_0001, 32),          // lsh32 by 32 (= 0)
        (0xcc, 0, None, 0x8000_0000, 33),                    // arsh32 by 33
        (0x7c, 0, None, 0xffff_ffff_ffff_ffff, 0),           // rsh32 by 0: zero-extends
        (0x74, 0, Some(32), 0xffff_ffff_ffff_ffff, 0),       // rsh32 imm 32: masked to 0
    ] {
        for dst in [0u8, 3, 6] {
            let src = if dst == 3 { 4 } else { 3 };
            let mut insns = r(dst, a);
            insns.extend(r(src, b));
            insns.extend(r(if dst == 0 { 5 } else { 0 }, 0x1111));
            let imm = imm_or_reg.unwrap_or(0);
            insns.push(Insn::new(
                opcode,
                dst,
                if imm_or_reg.is_some() { 0 } else { src },
                off,
                imm,
            ));
            insns.push(Insn::new(0xbf, 0, dst, 0, 0));
            insns.push(EXIT);
            run(&insns, &mut []);
        }
    }
}

#[test]
fn atomics_on_the_stack_and_input_rfc9669_section_5_3() {
    // Every atomic row (32 and 64 bit, fetch and not), on a stack slot and on
    // input memory, with r0 as src too (cmpxchg compares with r0).
    let atomics: Vec<_> = OPCODES.iter().filter(|row| row.is_atomic_rmw()).collect();
    assert!(atomics.len() >= 20);
    for row in atomics {
        for (base, off) in [(10u8, -16i16), (1, 4)] {
            for src in [0u8, 2, 7] {
                let mut insns = Vec::new();
                for (reg, value) in [
                    (0u8, 0x1234_5678_9abc_def0u64),
                    (2, 0xff00_ff00_0f0f_0f0f),
                    (7, 0x8000_0000_0000_0001),
                ] {
                    insns.extend(
                        Instruction::wide(
                            bpfdiff_engine::opcode::lookup(0x18, 0, 0, 0).unwrap(),
                            reg,
                            value,
                        )
                        .encode(),
                    );
                }
                insns.push(Insn::new(0x7b, 10, 7, -16, 0)); // stack slot = r7
                insns.extend(Instruction::new(row, base, src, off, 0).encode());
                // Fold r0, r2, r7 and the slot into r0.
                insns.push(Insn::new(0x79, 3, 10, -16, 0));
                insns.push(Insn::new(0xaf, 0, 2, 0, 0));
                insns.push(Insn::new(0x27, 0, 0, 0, 31));
                insns.push(Insn::new(0xaf, 0, 7, 0, 0));
                insns.push(Insn::new(0x27, 0, 0, 0, 31));
                insns.push(Insn::new(0xaf, 0, 3, 0, 0));
                insns.push(EXIT);
                let mut mem = [0x5au8; 16];
                run(&insns, &mut mem);
            }
        }
    }
}

#[test]
fn every_memory_row_checks_bounds_at_each_edge() {
    // Every LDX/ST/STX row (loads, stores, atomics, acquire/release) at the
    // edges of the input memory and of frame 0.
    for row in OPCODES.iter().filter(|r| r.is_memory_access()) {
        let size = row.size.map_or(8, |s| s.bytes() as i16);
        let loads = matches!(
            row.operation,
            Operation::Load | Operation::LoadSx | Operation::LoadAcquire
        );
        for (base, off) in [
            (1u8, -1i16),
            (1, 0),
            (1, 16 - size),
            (1, 17 - size),
            (10, -512),
            (10, -513),
            (10, -size),
            (10, 1 - size),
            (3, 0),
        ] {
            let ins = if loads {
                Instruction::new(row, 0, base, off, 0)
            } else {
                Instruction::new(row, base, 2, off, 0)
            };
            let mut insns = vec![Insn::new(0xb7, 3, 0, 0, 64), Insn::new(0xb7, 0, 0, 0, 1)];
            insns.extend(ins.encode());
            insns.push(EXIT);
            run(&insns, &mut [0xa5; 16]);
        }
    }
}

#[test]
fn every_jump_row_taken_and_not_taken_forward_and_backward() {
    // RFC 9669 §4.3: each condition, both widths and both sources, on
    // operands where signed and unsigned orders differ.
    let values = [
        0u64,
        1,
        0xffff_ffff,
        0x1_0000_0000,
        u64::MAX,
        i64::MIN as u64,
        0x8000_0000,
    ];
    let ld = bpfdiff_engine::opcode::lookup(0x18, 0, 0, 0).unwrap();
    for row in OPCODES.iter().filter(|r| r.is_conditional_jump()) {
        for &a in &values {
            for &b in &[0u64, 1, 0xffff_ffff, u64::MAX, 0x8000_0000] {
                let imm = b as u32 as i32;
                // Forward: r0 = 1 if taken, 2 if not.
                let mut insns = Instruction::wide(ld, 1, a).encode();
                insns.extend(Instruction::wide(ld, 2, b).encode());
                insns.push(Insn::new(0xb7, 0, 0, 0, 1));
                let src = if row.source == Source::Reg { 2 } else { 0 };
                insns.extend(Instruction::new(row, 1, src, 1, imm).encode());
                insns.push(Insn::new(0xb7, 0, 0, 0, 2));
                insns.push(EXIT);
                run(&insns, &mut []);
                // Backward: a loop that runs while the condition holds, capped
                // by a counter, with a small budget.
                let mut insns = Instruction::wide(ld, 1, a).encode();
                insns.extend(Instruction::wide(ld, 2, b).encode());
                insns.push(Insn::new(0xb7, 0, 0, 0, 0));
                insns.push(Insn::new(0x07, 0, 0, 0, 1)); // loop: r0 += 1
                insns.push(Insn::new(0xa5, 0, 0, 2, 5)); // if r0 < 5 goto +2
                insns.push(EXIT);
                insns.push(EXIT);
                insns.extend(Instruction::new(row, 1, src, -5, imm).encode());
                insns.push(EXIT);
                let (e, _) = run_both(&Program::new(insns), &[], 12);
                assert!(
                    matches!(
                        e.result,
                        ExecResult::Returned { .. } | ExecResult::OutOfBudget
                    ),
                    "{}: {}",
                    row.name(),
                    e.result
                );
            }
        }
    }
}

#[test]
fn dump_lists_every_instruction_under_its_ebpf_line() {
    let prog = Program::new(vec![
        Insn::new(0xb7, 0, 0, 0, 1),
        Insn::new(0x61, 2, 1, 0, 0),
        Insn::new(0x15, 2, 0, 1, 0),
        Insn::new(0x07, 0, 0, 0, 1),
        EXIT,
    ]);
    let text = jit::dump(&prog, Mode::Checked).unwrap();
    for line in [
        "; 0: (b7) r0 = 1",
        "; 1: (61) r2 = *(u32 *)(r1 +0)",
        "; 4: (95) exit",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.contains("ret"), "{text}");
    assert!(
        text.contains("out of line for insn 1: out-of-bounds"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// The conformance corpus
// ---------------------------------------------------------------------------

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/conformance");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "data"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 150,
        "corpus went missing: {} files",
        files.len()
    );
    files
}

/// How an execution falls short of a `.data` file's expectation.
fn unmet(expected: &Expected, result: ExecResult) -> Option<String> {
    match (expected, result) {
        (Expected::Result(want), ExecResult::Returned { r0, .. }) if r0 == *want => None,
        (Expected::Error(want), got) if !matches!(got, ExecResult::Returned { .. }) => {
            let message = got.to_string();
            (!message.contains(want.as_str()))
                .then(|| format!("expected an error containing `{want}`, got `{message}`"))
        }
        (want, got) => Some(format!("expected {want:?}, got {got}")),
    }
}

#[test]
fn every_corpus_file_agrees_on_both_and_meets_its_expectation() {
    let mut failures = Vec::new();
    let files = corpus_files();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let test = parse_data_file(path).unwrap_or_else(|e| panic!("{e}"));
        let mut interp_mem = test.mem.clone();
        let interp = interp::run_program(&test.program, &mut interp_mem, DEFAULT_BUDGET).unwrap();
        let mut jit_mem = test.mem.clone();
        let jit =
            jit::run_program(&test.program, Mode::Checked, &mut jit_mem, DEFAULT_BUDGET).unwrap();
        if let Some(why) = disagreement(&interp, &interp_mem, &jit, &jit_mem) {
            failures.push(format!("{name}: {why}"));
        }
        if let Some(why) = unmet(&test.expected, jit.result) {
            failures.push(format!("{name} (JIT): {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files:\n  {}",
        failures.len(),
        files.len(),
        failures.join("\n  ")
    );
}

#[test]
fn unchecked_mode_agrees_on_corpus_programs_that_run_cleanly() {
    // A program that returned normally in checked mode made only in-bounds
    // accesses on this input; the same run unchecked takes the same path.
    let mut compared = 0;
    for path in corpus_files() {
        let test = parse_data_file(&path).unwrap();
        let mut checked_mem = test.mem.clone();
        let checked = jit::run_program(
            &test.program,
            Mode::Checked,
            &mut checked_mem,
            DEFAULT_BUDGET,
        )
        .unwrap();
        if !matches!(checked.result, ExecResult::Returned { .. }) {
            continue;
        }
        // SAFETY: see above; the checked run proved the accesses in bounds.
        let mode = Mode::Unchecked(unsafe { Verified::assume() });
        let program = JitProgram::compile(&test.program, mode).unwrap();
        let mut mem = test.mem.clone();
        let unchecked = program.run(&mut mem, 0);
        assert_eq!(unchecked.result, checked.result, "{}", path.display());
        assert_eq!(mem, checked_mem, "{}", path.display());
        compared += 1;
    }
    assert!(
        compared >= 100,
        "only {compared} corpus programs ran cleanly"
    );
}

// ---------------------------------------------------------------------------
// Generated programs
// ---------------------------------------------------------------------------

/// splitmix64: a small deterministic generator driven by proptest's seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }
}

/// Registers that only ever hold plain numbers in generated programs.
const SCALARS: [u8; 9] = [0, 2, 3, 4, 5, 6, 7, 8, 9];

fn interesting_imm(rng: &mut Rng) -> i32 {
    match rng.below(4) {
        0 => rng.range(-16, 16) as i32,
        1 => rng.pick(&[
            0,
            1,
            -1,
            2,
            7,
            8,
            16,
            31,
            32,
            33,
            63,
            64,
            65,
            i32::MIN,
            i32::MAX,
            0x7fff,
            -0x8000,
            0xff,
            0x8000,
            0x10000,
        ]),
        2 => rng.next() as i32,
        _ => rng.below(256) as i32,
    }
}

fn interesting_u64(rng: &mut Rng) -> u64 {
    match rng.below(3) {
        0 => rng.pick(&[
            0,
            1,
            u64::MAX,
            i64::MIN as u64,
            i64::MAX as u64,
            0xffff_ffff,
            0x8000_0000,
            0x1_ffff_ffff,
        ]),
        1 => interesting_imm(rng) as i64 as u64,
        _ => rng.next(),
    }
}

/// One generated instruction; `target` (an index into the item list) is
/// turned into a pc-relative offset once every item's slot is known.
struct Item {
    ins: Instruction,
    target: Option<usize>,
    /// Aim at the second slot of an `ld_imm64` target, or far outside.
    bad_target: Option<i64>,
}

struct Case {
    program: Program,
    mem: Vec<u8>,
    budget: u64,
}

/// A program: a prologue that sets the scalar registers, random rows of
/// the opcode table with memory accesses based on r1/r10 with small
/// offsets (some in bounds, some not) and jumps to instructions anywhere in
/// the program (backward ones too), then `exit`. r1 and r10 stay pointers:
/// they only move by small constants, and no value computed from them is
/// compared, stored or used as a number (the JIT's addresses are host
/// addresses).
fn generate(seed: u64) -> Case {
    let mut rng = Rng(seed);
    let mem_len = rng.pick(&[0usize, 1, 4, 8, 16, 33, 64]);
    let mem: Vec<u8> = (0..mem_len).map(|_| rng.next() as u8).collect();
    let budget = if rng.percent(50) {
        rng.below(300)
    } else {
        10_000
    };
    let ld_imm64 = bpfdiff_engine::opcode::lookup(0x18, 0, 0, 0).unwrap();
    let mut items = Vec::new();
    for reg in [0u8, 2, 3, 4, 5, 6, 7, 8, 9] {
        if reg == 2 && rng.percent(50) {
            continue;
        }
        let value = interesting_u64(&mut rng);
        items.push(Item {
            ins: Instruction::wide(ld_imm64, reg, value),
            target: None,
            bad_target: None,
        });
    }
    let prologue = items.len();
    let body = 1 + rng.below(40) as usize;
    // Usually the program ends with exit; sometimes it can fall off.
    let ends_with_exit = rng.percent(95);
    let total = prologue + body + usize::from(ends_with_exit);
    let callx = bpfdiff_engine::opcode::lookup(0x8d, 0, 0, 0).unwrap();
    while items.len() < prologue + body {
        let row = &OPCODES[rng.below(OPCODES.len() as u64) as usize];
        let item = generate_one(&mut rng, row, mem_len, total);
        let func_reg = (item.ins.row.operation == Operation::LdFunc).then_some(item.ins.dst);
        items.push(item);
        // Half the function addresses are called right away.
        if let Some(reg) = func_reg.filter(|_| rng.percent(50) && items.len() < prologue + body) {
            items.push(Item {
                ins: Instruction::new(callx, reg, 0, 0, 0),
                target: None,
                bad_target: None,
            });
        }
    }
    if ends_with_exit {
        items.push(Item {
            ins: Instruction::new(
                bpfdiff_engine::opcode::lookup(0x95, 0, 0, 0).unwrap(),
                0,
                0,
                0,
                0,
            ),
            target: None,
            bad_target: None,
        });
    }
    // Lay out slots, then resolve targets.
    let mut slot = Vec::with_capacity(items.len());
    let mut next = 0i64;
    for item in &items {
        slot.push(next);
        next += item.ins.slots() as i64;
    }
    for i in 0..items.len() {
        let Some(t) = items[i].target else { continue };
        let wanted = match items[i].bad_target {
            Some(far) if items[t].ins.slots() == 2 && far == 0 => slot[t] + 1,
            Some(far) if far != 0 => far,
            _ => slot[t],
        };
        let rel = wanted - slot[i] - 1;
        let ins = &mut items[i].ins;
        let in_imm = matches!(ins.row.operation, Operation::CallLocal | Operation::LdFunc)
            || (ins.row.class == Class::Jmp32 && ins.row.operation == Operation::Ja);
        if in_imm {
            ins.imm = rel as i32;
        } else {
            ins.off = rel as i16;
        }
    }
    let instructions: Vec<Instruction> = items.iter().map(|i| i.ins).collect();
    Case {
        program: Program::from_instructions(&instructions),
        mem,
        budget,
    }
}

fn generate_one(
    rng: &mut Rng,
    row: &'static bpfdiff_engine::opcode::OpcodeRow,
    mem_len: usize,
    total: usize,
) -> Item {
    use Operation as O;
    let scalar = |rng: &mut Rng| rng.pick(&SCALARS);
    let imm = interesting_imm(rng);
    let mut target = None;
    let mut bad_target = None;
    let mut pick_target = |rng: &mut Rng| {
        target = Some(rng.below(total as u64) as usize);
        if rng.percent(3) {
            // 0: into an ld_imm64's second slot (when the target is one);
            // otherwise somewhere outside the program.
            bad_target = Some(rng.pick(&[0i64, -1, -50, 5000]));
        }
    };
    // A memory operand based on r1 or r10 with a small offset.
    let base_off = |rng: &mut Rng| -> (u8, i16) {
        if rng.percent(50) {
            (10, rng.range(-520, 9) as i16)
        } else {
            (1, rng.range(-8, mem_len as i64 + 8) as i16)
        }
    };
    let ins = match row.class {
        Class::Alu | Class::Alu64 => {
            let pointer_move = matches!(row.operation, O::Add | O::Sub)
                && row.class == Class::Alu64
                && row.source == Source::Imm
                && rng.percent(10);
            if pointer_move {
                let reg = rng.pick(&[1u8, 10]);
                Instruction::new(row, reg, 0, 0, rng.range(-64, 64) as i32)
            } else {
                Instruction::new(row, scalar(rng), scalar(rng), 0, imm)
            }
        }
        Class::Jmp | Class::Jmp32 => match row.operation {
            O::Call => Instruction::new(row, 0, 0, 0, rng.pick(&[5, 7, 5, 7, 6, 1000, imm])),
            O::CallLocal | O::Ja => {
                pick_target(rng);
                Instruction::new(row, 0, 0, 0, 0)
            }
            O::Callx | O::CallKfunc | O::Exit => Instruction::new(row, scalar(rng), 0, 0, imm),
            _ => {
                pick_target(rng);
                Instruction::new(row, scalar(rng), scalar(rng), 0, imm)
            }
        },
        Class::Ld => match row.operation {
            O::LdImm64 => Instruction::wide(row, scalar(rng), interesting_u64(rng)),
            O::LdMapValue => {
                let mut ins = Instruction::new(row, 1, 0, 0, rng.next() as i32);
                ins.next_imm = rng.below(mem_len as u64 + 16) as i32;
                ins
            }
            O::LdFunc => {
                pick_target(rng);
                Instruction::new(row, scalar(rng), 0, 0, 0)
            }
            O::LdAbs => Instruction::new(
                row,
                0,
                0,
                0,
                if rng.percent(80) {
                    rng.below(mem_len as u64 + 8) as i32
                } else {
                    imm
                },
            ),
            O::LdInd => Instruction::new(row, 0, scalar(rng), 0, rng.range(-8, 8) as i32),
            _ => {
                let mut ins = Instruction::new(row, scalar(rng), 0, 0, imm);
                ins.next_imm = rng.next() as i32;
                ins
            }
        },
        Class::Ldx => {
            let (base, off) = base_off(rng);
            Instruction::new(row, scalar(rng), base, off, 0)
        }
        Class::St => {
            let (base, off) = base_off(rng);
            Instruction::new(row, base, 0, off, imm)
        }
        Class::Stx => {
            let (base, off) = base_off(rng);
            if row.operation == O::LoadAcquire {
                Instruction::new(row, scalar(rng), base, off, 0)
            } else {
                Instruction::new(row, base, scalar(rng), off, 0)
            }
        }
    };
    Item {
        ins,
        target,
        bad_target,
    }
}

/// Runs one generated case on both (and, when it returns, on the unchecked
/// JIT too); `Err` describes a divergence.
fn compare_generated(case: &Case) -> Result<(), String> {
    let mut interp_mem = case.mem.clone();
    let interp = interp::run_program(&case.program, &mut interp_mem, case.budget)
        .map_err(|e| format!("generated program does not decode: {e}"))?;
    let mut jit_mem = case.mem.clone();
    let jit = jit::run_program(&case.program, Mode::Checked, &mut jit_mem, case.budget)
        .map_err(|e| format!("generated program does not decode: {e}"))?;
    let mut why = disagreement(&interp, &interp_mem, &jit, &jit_mem);
    if why.is_none() && matches!(jit.result, ExecResult::Returned { .. }) {
        // The checked run returned, so every access it made was in bounds
        // and it ended within the budget: the unchecked code takes the same
        // path on the same input.
        // SAFETY: see above.
        let mode = Mode::Unchecked(unsafe { Verified::assume() });
        let mut mem = case.mem.clone();
        let unchecked = jit::run_program(&case.program, mode, &mut mem, 0)
            .map_err(|e| format!("generated program does not decode: {e}"))?;
        let pointer = matches!(
            interp.result,
            ExecResult::Returned {
                r0_derived: true,
                ..
            }
        );
        if (!pointer && unchecked.result != jit.result) || mem != jit_mem {
            why = Some(format!(
                "unchecked JIT: {} with memory {mem:02x?}; checked: {} with {jit_mem:02x?}",
                unchecked.result, jit.result
            ));
        }
    }
    match why {
        None => Ok(()),
        Some(why) => Err(format!(
            "{why}\nmem {:02x?}, budget {}\nprogram:\n{}",
            case.mem,
            case.budget,
            listing(&case.program)
        )),
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn jit_agrees_with_the_interpreter_on_generated_programs(seed in any::<u64>()) {
        let case = generate(seed);
        if let Err(why) = compare_generated(&case) {
            prop_assert!(false, "seed {seed:#x}: {why}");
        }
    }
}

#[test]
fn generated_programs_reach_every_ending() {
    // The generator is worth its time only if it produces returns, every
    // kind of fault the JIT checks for, and budget exhaustion.
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..3000u64 {
        let case = generate(seed);
        let mut mem = case.mem.clone();
        let e = interp::run_program(&case.program, &mut mem, case.budget).unwrap();
        seen.insert(match e.result {
            ExecResult::Returned { .. } => "returned".to_string(),
            ExecResult::OutOfBudget => "out of budget".to_string(),
            ExecResult::Fault(f) => f.kind.name().to_string(),
        });
    }
    for want in [
        "returned",
        "out of budget",
        "out-of-bounds",
        "jump-out-of-range",
        "fell-off-end",
        "unknown-helper",
        "unsupported",
        "call-depth-exceeded",
        "jump-into-ld-imm64",
    ] {
        assert!(
            seen.contains(want),
            "no generated program ended with {want}: {seen:?}"
        );
    }
}

#[test]
fn a_number_equal_to_an_engine_address_addresses_nothing() {
    // r7 = 0x1_0000_0000 (the interpreter's MEM_BASE, as a plain number);
    // *(u16 *)(r7 +2) = 1: no pointer behind it, so both engines fault at
    // insn 2, as the kernel would refuse it ("invalid mem access 'scalar'").
    let prog = [
        Insn::new(0x18, 7, 0, 0, 0),
        Insn::new(0, 0, 0, 0, 1),
        Insn::new(0x6a, 7, 0, 2, 1),
        EXIT,
    ];
    let e = run(&prog, &mut [0u8; 8]);
    assert!(
        matches!(e.result, ExecResult::Fault(f) if f.kind == FaultKind::OutOfBounds && f.pc == 2),
        "{:?}",
        e.result
    );
}
