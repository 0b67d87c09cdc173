//! rbpf's x86-64 JIT as a backend, run in a worker process so that a crash
//! of JIT'd code becomes an outcome.

use super::rbpf_vm::run_on_rbpf;
use super::worker::{WorkerClient, WorkerVm};
use super::{Backend, Capabilities, Checking};
use crate::outcome::Outcome;
use bpfdiff_engine::Program;
use std::time::Duration;

/// The rbpf JIT backend.
pub struct RbpfJitBackend {
    worker: WorkerClient,
}

impl RbpfJitBackend {
    /// A backend whose worker is found through `BPFDIFF_WORKER`.
    pub fn new(timeout: Duration) -> RbpfJitBackend {
        RbpfJitBackend {
            worker: WorkerClient::from_env(timeout),
        }
    }
}

impl Backend for RbpfJitBackend {
    fn name(&self) -> &'static str {
        "rbpf-jit"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checking: Checking::Encoding,
            full_r0: true,
            memory_after: true,
            // rbpf's JIT neither zeroes its stack nor its registers.
            zeroed_stack: false,
        }
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        run_on_rbpf(
            self.name(),
            &mut self.worker,
            WorkerVm::RbpfJit,
            program,
            input,
        )
    }
}
