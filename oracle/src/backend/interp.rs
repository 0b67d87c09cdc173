//! The engine's checking interpreter as a backend (the reference).

use super::{Backend, Capabilities, Checking};
use crate::outcome::{Execution, Outcome, Value, Verdict};
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::Program;

/// Errno reported for programs the decoder refuses (as the kernel's EINVAL).
pub const EINVAL: i32 = 22;

/// The engine interpreter backend.
#[derive(Clone, Debug)]
pub struct InterpBackend {
    budget: u64,
}

impl InterpBackend {
    /// A backend with the given instruction budget.
    pub fn new(budget: u64) -> InterpBackend {
        InterpBackend { budget }
    }
}

impl Default for InterpBackend {
    fn default() -> Self {
        InterpBackend::new(DEFAULT_BUDGET)
    }
}

/// Converts one engine run into an [`Execution`].
pub fn execution_from_engine(
    result: ExecResult,
    mem: Vec<u8>,
    mem_derived: Vec<bool>,
) -> Execution {
    match result {
        ExecResult::Returned { r0, r0_derived } => Execution::Returned {
            r0: Value {
                bits: r0,
                derived: r0_derived,
            },
            mem,
            mem_derived,
            regs: None,
        },
        ExecResult::Fault(fault) => Execution::Fault {
            kind: fault.kind.name().to_string(),
            pc: Some(fault.pc),
            detail: fault.to_string(),
        },
        ExecResult::OutOfBudget => Execution::OutOfBudget,
    }
}

impl Backend for InterpBackend {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checking: Checking::Encoding,
            full_r0: true,
            memory_after: true,
            zeroed_stack: true,
        }
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        let vm = match Interpreter::new(program) {
            Ok(vm) => vm,
            Err(e) => return Outcome::rejected(self.name(), EINVAL, e.to_string(), None),
        };
        let mut mem = input.to_vec();
        let run = vm.run(&mut mem, self.budget);
        Outcome {
            backend: self.name().to_string(),
            verdict: Verdict::Accepted,
            execution: execution_from_engine(run.result, mem, run.mem_derived),
        }
    }
}
