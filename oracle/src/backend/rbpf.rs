//! rbpf's interpreter (`rbpf`) and x86-64 JIT (`rbpf-jit`) as backends, run
//! in a worker process so that a panic, a hang or a crash of JIT'd code
//! becomes an outcome. How rbpf is driven is in [`super::rbpf_vm`].

use super::rbpf_vm::{run_many_on_rbpf, run_on_rbpf};
use super::worker::{WorkerClient, WorkerVm};
use super::{Backend, Capabilities, Checking};
use crate::outcome::Outcome;
use bpfdiff_engine::Program;
use std::time::Duration;

/// One of rbpf's two executors.
pub struct RbpfBackend {
    vm: WorkerVm,
    worker: WorkerClient,
}

impl RbpfBackend {
    /// A backend for `vm` whose worker is found through `BPFDIFF_WORKER`; a
    /// program still running after `timeout` is reported as timed out.
    pub fn new(vm: WorkerVm, timeout: Duration) -> RbpfBackend {
        RbpfBackend {
            vm,
            worker: WorkerClient::from_env(timeout),
        }
    }

    /// The backend with a per-program CPU-time limit in its worker besides
    /// the wall-clock timeout ([`WorkerClient::with_cpu_limit`]).
    pub fn with_cpu_limit(self, limit: Duration) -> RbpfBackend {
        RbpfBackend {
            worker: self.worker.with_cpu_limit(limit),
            ..self
        }
    }
}

impl Backend for RbpfBackend {
    fn name(&self) -> &'static str {
        match self.vm {
            WorkerVm::RbpfInterp => "rbpf",
            WorkerVm::RbpfJit => "rbpf-jit",
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checking: Checking::Encoding,
            full_r0: true,
            memory_after: true,
            // Neither executor zeroes the stack per frame. The interpreter
            // zeroes one 512-byte stack per run, which all frames share: a
            // local call's frame starts with whatever an earlier call that
            // returned left there. The JIT zeroes neither its stack nor
            // its registers.
            zeroed_stack: false,
        }
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        run_on_rbpf(self.name(), &mut self.worker, self.vm, program, input)
    }

    fn run_many(&mut self, items: &[(&Program, &[u8])]) -> Vec<Outcome> {
        run_many_on_rbpf(self.name(), &mut self.worker, self.vm, items)
    }

    fn start_afresh(&mut self) {
        self.worker.retire();
    }
}
