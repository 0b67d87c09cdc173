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

/// What the engine's executors (interpreter and JIT) can do and observe.
pub const ENGINE_CAPABILITIES: Capabilities = Capabilities {
    checking: Checking::Encoding,
    full_r0: true,
    memory_after: true,
    zeroed_stack: true,
};

/// An outcome for one run of an engine executor, or its decode refusal.
pub fn engine_outcome(
    backend: &str,
    prepared: Result<bpfdiff_engine::interp::Execution, bpfdiff_engine::DecodeError>,
    mem: Vec<u8>,
) -> Outcome {
    match prepared {
        Err(e) => Outcome::rejected(backend, EINVAL, e.to_string(), None),
        Ok(run) => Outcome {
            backend: backend.to_string(),
            verdict: Verdict::Accepted,
            execution: execution_from_engine(run.result, mem, run.mem_derived),
        },
    }
}

impl Backend for InterpBackend {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn capabilities(&self) -> Capabilities {
        ENGINE_CAPABILITIES
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        let mut mem = input.to_vec();
        let run = Interpreter::new(program).map(|vm| vm.run(&mut mem, self.budget));
        engine_outcome(self.name(), run, mem)
    }

    fn engine_interpreter_budget(&self) -> Option<u64> {
        Some(self.budget)
    }
}
