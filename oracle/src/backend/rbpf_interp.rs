//! rbpf's interpreter as a backend, run in a worker process.

use super::rbpf_vm::run_on_rbpf;
use super::worker::{WorkerClient, WorkerVm};
use super::{Backend, Capabilities, Checking};
use crate::outcome::Outcome;
use bpfdiff_engine::Program;
use std::time::Duration;

/// The rbpf interpreter backend.
pub struct RbpfInterpBackend {
    worker: WorkerClient,
}

impl RbpfInterpBackend {
    /// A backend whose worker is found through `BPFDIFF_WORKER`; a program
    /// still running after `timeout` is reported as timed out.
    pub fn new(timeout: Duration) -> RbpfInterpBackend {
        RbpfInterpBackend {
            worker: WorkerClient::from_env(timeout),
        }
    }
}

impl Backend for RbpfInterpBackend {
    fn name(&self) -> &'static str {
        "rbpf"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checking: Checking::Encoding,
            full_r0: true,
            memory_after: true,
            // rbpf allocates one zeroed 512-byte stack per run.
            zeroed_stack: true,
        }
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        run_on_rbpf(
            self.name(),
            &mut self.worker,
            WorkerVm::RbpfInterp,
            program,
            input,
        )
    }
}
