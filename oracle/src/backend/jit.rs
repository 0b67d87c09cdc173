//! The engine's JIT (checked mode) as a backend: its pair with the
//! interpreter is one of the harness's own differential pairs.

use super::interp::{engine_outcome, ENGINE_CAPABILITIES};
use super::{Backend, Capabilities};
use crate::outcome::Outcome;
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
        ENGINE_CAPABILITIES
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        let mut mem = input.to_vec();
        let run =
            JitProgram::compile(program, Mode::Checked).map(|jit| jit.run(&mut mem, self.budget));
        engine_outcome(self.name(), run, mem)
    }
}
