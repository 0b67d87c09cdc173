//! Traced runs: the registers before every executed instruction.
//!
//! A traced run uses its own prepared code: pairs are not fused (so every
//! instruction is a step of its own) and every op's handler records the
//! step and then runs the op's own handler. Ordinary runs
//! ([`super::Interpreter::run`]) use code without the recording handler,
//! so tracing costs them nothing. The semantics are the interpreter's
//! own: the same handlers run in both.

use super::exec::{execute_traced, Tracer};
use super::prepared::PreparedCode;
use super::Execution;
use crate::decode::DecodeError;
use crate::program::Program;

/// The machine state before one executed instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// The instruction's slot.
    pub pc: usize,
    /// Live frames above frame 0 (0 in the program's entry function).
    pub depth: usize,
    /// r0..r10.
    pub regs: [u64; 11],
    /// Bit i set: register i holds a pointer-derived value (an engine
    /// address or something computed from one), not a plain number.
    pub derived: u16,
}

impl TraceStep {
    /// True when register `r` holds a pointer-derived value.
    pub fn is_derived(&self, r: usize) -> bool {
        self.derived & (1 << r) != 0
    }
}

/// One 8-byte stack slot of the current frame, read before a recorded
/// step ([`trace_program_sampling`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackSample {
    /// Index into [`Trace::steps`].
    pub step: usize,
    /// The slot: bytes `fp - 8*(spi+1) .. fp - 8*spi` of the current frame.
    pub spi: u8,
    /// The slot's value, when all 8 bytes were written and none holds part
    /// of a pointer-derived value; `None` otherwise.
    pub value: Option<u64>,
}

/// A traced run's result: the execution and its first steps.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The run's result, as [`super::Interpreter::run`] gives it.
    pub execution: Execution,
    /// One entry per executed instruction, in order (at most `max_steps`).
    pub steps: Vec<TraceStep>,
    /// True when the run executed more instructions than were recorded.
    pub truncated: bool,
    /// Stack samples, in step order (empty unless requested with
    /// [`trace_program_sampling`]).
    pub stack: Vec<StackSample>,
}

/// Runs `program` on `mem` like [`super::run_program`] and records the
/// registers before each of the first `max_steps` executed instructions.
pub fn trace_program(
    program: &Program,
    mem: &mut [u8],
    budget: u64,
    max_steps: usize,
) -> Result<Trace, DecodeError> {
    trace_program_sampling(program, mem, budget, max_steps, Vec::new())
}

/// [`trace_program`], also sampling stack slots: before each recorded step
/// at slot `pc`, the current frame's slots whose bits are set in
/// `stack_slots[pc]` (bit `spi`: `fp - 8*(spi+1)`) go to [`Trace::stack`].
pub fn trace_program_sampling(
    program: &Program,
    mem: &mut [u8],
    budget: u64,
    max_steps: usize,
    stack_slots: Vec<u64>,
) -> Result<Trace, DecodeError> {
    let (code, own) = PreparedCode::new_traced(program)?;
    let mut tracer = Tracer {
        own,
        steps: Vec::new(),
        limit: max_steps,
        stack_slots,
        stack: Vec::new(),
    };
    let execution = execute_traced(&code, mem, budget, &mut tracer);
    let truncated = execution.insns_executed > tracer.steps.len() as u64;
    Ok(Trace {
        execution,
        steps: tracer.steps,
        truncated,
        stack: tracer.stack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Insn;
    use crate::interp::{run_program, DEFAULT_BUDGET};

    #[test]
    fn a_traced_run_records_every_instruction_even_fused_pairs() {
        // r2 = r1 / r2 += 4 is a fused pair in ordinary runs.
        let p = Program::new(vec![
            Insn::new(0xb7, 1, 0, 0, 3), // r1 = 3
            Insn::new(0xbf, 2, 1, 0, 0), // r2 = r1
            Insn::new(0x07, 2, 0, 0, 4), // r2 += 4
            Insn::new(0xbf, 0, 2, 0, 0), // r0 = r2
            Insn::new(0x95, 0, 0, 0, 0), // exit
        ]);
        let t = trace_program(&p, &mut [], DEFAULT_BUDGET, 100).unwrap();
        let pcs: Vec<usize> = t.steps.iter().map(|s| s.pc).collect();
        assert_eq!(pcs, [0, 1, 2, 3, 4]);
        assert_eq!(t.steps[2].regs[2], 3, "before r2 += 4");
        assert_eq!(t.steps[3].regs[2], 7, "after r2 += 4");
        assert!(!t.truncated);
        let plain = run_program(&p, &mut [], DEFAULT_BUDGET).unwrap();
        assert_eq!(t.execution, plain);
    }

    #[test]
    fn the_trace_stops_recording_at_its_limit_but_the_run_goes_on() {
        let p = Program::new(vec![
            Insn::new(0xb7, 0, 0, 0, 0),  // r0 = 0
            Insn::new(0x07, 0, 0, 0, 1),  // r0 += 1
            Insn::new(0xa5, 0, 0, -2, 5), // if r0 < 5 goto -2
            Insn::new(0x95, 0, 0, 0, 0),  // exit
        ]);
        let t = trace_program(&p, &mut [], DEFAULT_BUDGET, 3).unwrap();
        assert_eq!(t.steps.len(), 3);
        assert!(t.truncated);
        assert_eq!(
            t.execution,
            run_program(&p, &mut [], DEFAULT_BUDGET).unwrap()
        );
    }

    /// As `exec::tests::threaded_code_runs_in_constant_stack`: a traced run
    /// of a long straight line needs no stack per instruction (the
    /// recording handler calls the op's own handler as a jump).
    #[test]
    fn traced_code_runs_in_constant_stack() {
        let mut insns = vec![Insn::new(0xb7, 0, 0, 0, 0)];
        insns.extend(std::iter::repeat_n(Insn::new(0x07, 0, 0, 0, 1), 100_000));
        insns.push(Insn::new(0x95, 0, 0, 0, 0));
        let p = Program::new(insns);
        let t = std::thread::Builder::new()
            .stack_size(32 * 1024)
            .spawn(move || trace_program(&p, &mut [], u64::MAX, 10).unwrap())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            t.execution.result,
            crate::interp::ExecResult::Returned {
                r0: 100_000,
                r0_derived: false
            }
        );
    }
}
