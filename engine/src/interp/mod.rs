//! The checking interpreter: the project's reference semantics.
//!
//! - 11 registers, a 512-byte stack per frame (zeroed when the frame is
//!   entered), up to [`MAX_FRAMES`] frames.
//! - The input memory region: r1 points to it and r2 holds its length (both
//!   0 when there is no input).
//! - Every load, store and atomic is checked against the regions that exist
//!   (input memory, live stack frames); a bad access is a [`Fault`].
//! - An instruction budget turns endless programs into
//!   [`ExecResult::OutOfBudget`]. Every executed instruction counts; the
//!   count is compared with the budget only where a program can repeat
//!   itself: at each taken backward jump (target ≤ pc) and at each local
//!   call (`call` src=1, `callx` to a subprogram), before the jump or call.
//!   A program without loops or calls always runs to its end. The JIT counts
//!   per basic block and checks at the same points, so both agree exactly.
//! - Registers and memory bytes carry a "pointer-derived" mark so that
//!   results computed from addresses are never compared as numbers.
//!
//! Addresses are virtual and deterministic: the input memory starts at
//! [`MEM_BASE`] and frame 0's r10 is [`STACK_TOP`].

mod exec;
mod helper_call;
mod memory;
mod outcome;
mod prepared;
pub mod semantics;

pub use helper_call::{HELPER_GET_PRANDOM_U32, HELPER_KTIME_GET_NS};
pub use outcome::{ExecResult, Execution, Fault, FaultKind};

use crate::decode::DecodeError;
use crate::program::Program;

/// Default instruction budget.
pub const DEFAULT_BUDGET: u64 = 1_000_000;
/// Stack bytes per frame.
pub const STACK_SIZE: usize = 512;
/// Maximum call depth (frame 0 plus 7 nested local calls).
pub const MAX_FRAMES: usize = 8;
/// Virtual address of the first byte of input memory.
pub const MEM_BASE: u64 = 0x0000_0001_0000_0000;
/// Virtual address one past frame 0's stack (frame 0's r10).
pub const STACK_TOP: u64 = 0x0000_0002_0000_0000;
/// Virtual address of slot 0 of the program (for `ld_imm64` src 4 and
/// `callx`). `callx` on a value `CODE_BASE + 8 * slot` inside the program
/// calls the subprogram at `slot`; on any other value it calls the helper
/// with that id (bpf_conformance's and uBPF's reading of `callx`).
pub const CODE_BASE: u64 = 0x0000_0003_0000_0000;

/// A program prepared for repeated execution.
#[derive(Clone, Debug)]
pub struct Interpreter {
    code: prepared::PreparedCode,
}

impl Interpreter {
    /// Decodes and prepares `program`. Fails on the first undecodable slot.
    pub fn new(program: &Program) -> Result<Interpreter, DecodeError> {
        Ok(Interpreter {
            code: prepared::PreparedCode::new(program)?,
        })
    }

    /// Runs the program on `mem` (modified in place) with an instruction budget.
    pub fn run(&self, mem: &mut [u8], budget: u64) -> Execution {
        exec::execute(&self.code, mem, budget)
    }
}

/// Decodes, prepares and runs `program` once.
pub fn run_program(
    program: &Program,
    mem: &mut [u8],
    budget: u64,
) -> Result<Execution, DecodeError> {
    Ok(Interpreter::new(program)?.run(mem, budget))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Insn;

    fn run(insns: &[Insn], mem: &mut [u8]) -> Execution {
        run_program(&Program::new(insns.to_vec()), mem, DEFAULT_BUDGET).unwrap()
    }

    fn r0(e: &Execution) -> u64 {
        match e.result {
            ExecResult::Returned { r0, .. } => r0,
            other => panic!("expected a return, got {other}"),
        }
    }

    const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

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
        // stack and returns garbage; the engine reads zeros and says where.
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
        assert!(matches!(
            e.result,
            ExecResult::Fault(Fault {
                kind: FaultKind::OutOfBounds,
                pc: 0,
                ..
            })
        ));
    }

    #[test]
    fn budget_and_control_faults() {
        let spin = [Insn::new(0x05, 0, 0, -1, 0)];
        let e = run_program(&Program::new(spin.to_vec()), &mut [], 1000).unwrap();
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
        let e = run_program(&Program::new(straight.to_vec()), &mut [], 1).unwrap();
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
}
