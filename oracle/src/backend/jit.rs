//! The engine's JIT (checked mode) as a backend: its pair with the
//! interpreter is one of the harness's own differential pairs.

use super::interp::{execution_from_engine, EINVAL};
use super::{Backend, Capabilities, Checking};
use crate::outcome::{Outcome, Verdict};
use bpfdiff_engine::interp::DEFAULT_BUDGET;
use bpfdiff_engine::jit::{JitProgram, Mode};
use bpfdiff_engine::Program;

/// The engine JIT backend (checked mode: every access bounds-checked, the
/// same budget as the interpreter).
#[derive(Clone, Debug)]
pub struct JitBackend {
    budget: u64,
}

impl JitBackend {
    /// A backend with the given instruction budget.
    pub fn new(budget: u64) -> JitBackend {
        JitBackend { budget }
    }
}

impl Default for JitBackend {
    fn default() -> Self {
        JitBackend::new(DEFAULT_BUDGET)
    }
}

impl Backend for JitBackend {
    fn name(&self) -> &'static str {
        "jit"
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
        let jit = match JitProgram::compile(program, Mode::Checked) {
            Ok(j) => j,
            Err(e) => return Outcome::rejected(self.name(), EINVAL, e.to_string(), None),
        };
        let mut mem = input.to_vec();
        let run = jit.run(&mut mem, self.budget);
        Outcome {
            backend: self.name().to_string(),
            verdict: Verdict::Accepted,
            execution: execution_from_engine(run.result, mem, run.mem_derived),
        }
    }
}
