//! The Linux kernel as a backend: `BPF_PROG_LOAD` for the verdict and
//! `BPF_PROG_TEST_RUN` for the run (SEMANTICS.md, "Observing a program
//! through BPF_PROG_TEST_RUN").
//!
//! - The program runs as a subprogram of a [`wrapper`] in a sleepable
//!   `BPF_PROG_TYPE_SYSCALL` program, whose ctx write-back carries the full
//!   64-bit r0.
//! - The input memory is the value of a one-entry ARRAY map, reached with
//!   `ld_imm64 src=2`; it is written before and read back after the run.
//!   Maps are created once per value size and reused.
//! - Host safety: the engine's checking interpreter runs the program on the
//!   same input first. A program the kernel accepts but the engine sees
//!   fault is not run; the outcome says so ([`Execution::Withheld`]).
//! - The verifier log is fetched only when asked: a load with a log costs
//!   4–8× a plain one.
//! - Without permission for `bpf()` the backend says so once on stderr and
//!   returns `NotRun` with the reason.

mod harness_fds;
pub mod host_harden;
pub mod host_sysctl;
pub mod loader;
mod memory_maps;
pub mod native;
pub mod unpriv;
pub mod user_maps;
pub mod wrapper;

pub use loader::{errno_name, reason_from_log};

use super::{Backend, Capabilities, Checking};
use crate::outcome::{Execution, Outcome, Value, Verdict};
use bpfdiff_engine::interp::{ExecResult, FaultKind, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::Program;
use memory_maps::MemoryMaps;
use std::sync::Once;

/// Options of the kernel backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOptions {
    /// Reload a refused program with a level-1 log to give the reason.
    pub log_on_reject: bool,
    /// `kernel-harden`: load with `net.core.bpf_jit_harden=2` (constant
    /// blinding), behind the opt-in of [`host_harden`].
    pub harden: bool,
}

impl Default for KernelOptions {
    fn default() -> Self {
        KernelOptions {
            log_on_reject: true,
            harden: false,
        }
    }
}

/// The kernel backend.
pub struct KernelBackend {
    options: KernelOptions,
    maps: MemoryMaps,
    denied: Option<String>,
    /// Run programs the engine saw fault (see [`KernelBackend::allow_unsafe_runs`]).
    run_unsafe: bool,
}

static DENIED_NOTICE: Once = Once::new();
static HARDEN_NOTICE: Once = Once::new();

impl KernelBackend {
    /// A backend with `options`. Checks once whether `bpf()` is permitted.
    pub fn new(options: KernelOptions) -> KernelBackend {
        let mut maps = MemoryMaps::default();
        let mut denied = maps.probe().err();
        if let Some(why) = &denied {
            DENIED_NOTICE.call_once(|| eprintln!("bpfdiff: kernel backend disabled: {why}"));
        } else if options.harden {
            denied = host_harden::enable().err();
            if let Some(why) = &denied {
                HARDEN_NOTICE.call_once(|| eprintln!("bpfdiff: kernel-harden disabled: {why}"));
            }
        }
        KernelBackend {
            options,
            maps,
            denied,
            run_unsafe: false,
        }
    }

    /// Runs accepted programs even when the engine saw them fault: only
    /// for a disposable kernel (a qemu guest, `backend::guest`), where a
    /// crash harms nothing and is itself the finding.
    pub fn allow_unsafe_runs(&mut self) {
        self.run_unsafe = true;
    }

    /// For `kernel-harden`, makes this thread's loads hardened until the
    /// guard is dropped ([`host_harden`]).
    fn hardened_scope(&self) -> Option<host_harden::HardenedScope> {
        self.options.harden.then(host_harden::HardenedScope::enter)
    }

    /// Why the backend cannot run anything here, if it cannot.
    pub fn unavailable(&self) -> Option<&str> {
        self.denied.as_deref()
    }

    /// Loads the wrapped program with a verifier log of `level` (1 or 2) and
    /// returns the log, whether or not the load succeeds.
    pub fn verifier_log(
        &mut self,
        program: &Program,
        input_len: usize,
        level: u32,
    ) -> Result<String, String> {
        if let Some(why) = &self.denied {
            return Err(why.clone());
        }
        if let Some(why) = harness_exceeds_limit(program.len(), input_len) {
            return Err(why);
        }
        let _hardened = self.hardened_scope();
        let fd = self.maps.fd_for(input_len)?;
        let insns = wrapper::wrap(program, fd, input_len);
        match loader::load(&insns, level.max(1)) {
            Ok(_) => Ok(String::from(
                "(accepted; a successful load keeps no log at this level)",
            )),
            Err(e) => Ok(wrapper::translate(&e.log.unwrap_or_default(), input_len)),
        }
    }

    /// Loads the wrapped program with a verifier log of `level` and returns
    /// whether the kernel accepted it and the log as the kernel wrote it:
    /// instruction numbers are the wrapped program's (the program starts at
    /// [`wrapper::layout`]`(input_len).added()`), and a successful load
    /// keeps its log too.
    pub fn raw_verifier_log(
        &mut self,
        program: &Program,
        input_len: usize,
        level: u32,
    ) -> Result<(bool, String), String> {
        if let Some(why) = &self.denied {
            return Err(why.clone());
        }
        if let Some(why) = harness_exceeds_limit(program.len(), input_len) {
            return Err(why);
        }
        let _hardened = self.hardened_scope();
        let fd = self.maps.fd_for(input_len)?;
        let insns = wrapper::wrap(program, fd, input_len);
        let (result, log) = loader::load_with_log(&insns, level);
        match result {
            Ok(_) => Ok((true, log)),
            Err(libc::ENOSPC) => Err(format!(
                "the level-{level} verifier log does not fit in the log buffer"
            )),
            Err(_) => Ok((false, log)),
        }
    }

    /// Reloads a refused wrapped program with a level-1 log for its reason;
    /// instruction numbers in both are the user's (`mem_len` gives the
    /// wrapper's layout).
    fn rejection(
        &self,
        program_insns: &[bpfdiff_engine::Insn],
        mem_len: usize,
        errno: i32,
    ) -> (String, Option<String>) {
        if !self.options.log_on_reject {
            return (errno_name(errno).to_string(), None);
        }
        match loader::load(program_insns, 1) {
            Err(e) => {
                let log = wrapper::translate(&e.log.unwrap_or_default(), mem_len);
                let reason = reason_from_log(&log);
                let reason = if reason.is_empty() {
                    errno_name(errno).to_string()
                } else {
                    reason
                };
                (reason, Some(log))
            }
            Ok(_) => ("accepted when reloaded with a log".to_string(), None),
        }
    }
}

/// The kernel's limit on a program's slots for a loader with CAP_BPF
/// (`BPF_COMPLEXITY_LIMIT_INSNS`; `BPF_PROG_LOAD` refuses more with E2BIG).
pub const MAX_INSNS: usize = 1_000_000;

/// Why a program of `user_len` slots cannot be compared on the kernel: it
/// is within the kernel's limit, but the wrapper's slots push it over. The
/// kernel would refuse the harness's additions, not the program, so the
/// program is not loaded. `None` when the wrapped program fits, or when
/// the program alone exceeds the limit (that refusal is the kernel's own).
pub fn harness_exceeds_limit(user_len: usize, mem_len: usize) -> Option<String> {
    let added = wrapper::layout(mem_len).added();
    (user_len <= MAX_INSNS && user_len + added > MAX_INSNS).then(|| {
        format!(
            "not comparable: program of {user_len} insns + {added} harness insns exceeds the kernel's {MAX_INSNS}-insn limit"
        )
    })
}

/// Engine faults after which a program must not run on the host.
fn unsafe_on_host(kind: FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::OutOfBounds
            | FaultKind::CallDepthExceeded
            | FaultKind::JumpOutOfRange
            | FaultKind::JumpIntoLdImm64
            | FaultKind::FellOffEnd
    )
}

impl Backend for KernelBackend {
    fn name(&self) -> &'static str {
        if self.options.harden {
            "kernel-harden"
        } else {
            "kernel"
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checking: Checking::Safety,
            full_r0: true,
            memory_after: true,
            zeroed_stack: false,
        }
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        let name = self.name();
        if let Some(why) = &self.denied {
            return Outcome::not_run(name, why.clone());
        }
        if let Some(why) = harness_exceeds_limit(program.len(), input.len()) {
            return Outcome::not_run(name, why);
        }
        if let Some(why) = harness_fds::names_a_harness_map(program) {
            return Outcome::not_run(name, why);
        }
        let _hardened = self.hardened_scope();
        // Host safety: the engine runs it first, on the same input.
        let engine_verdict = Interpreter::new(program).map(|vm| {
            let mut mem = input.to_vec();
            vm.run(&mut mem, DEFAULT_BUDGET).result
        });
        let fd = match self.maps.fd_for(input.len()) {
            Ok(fd) => fd,
            Err(why) => return Outcome::not_run(name, why),
        };
        let insns = wrapper::wrap(program, fd, input.len());
        let prog = match loader::load(&insns, 0) {
            Ok(prog) => prog,
            Err(e) => {
                let (reason, log) = self.rejection(&insns, input.len(), e.errno);
                return Outcome::rejected_by_kernel(name, e.errno, reason, log);
            }
        };
        let withheld = match &engine_verdict {
            _ if self.run_unsafe => None,
            Err(decode) => Some(format!("an undecodable program ({decode})")),
            Ok(ExecResult::Fault(f)) if unsafe_on_host(f.kind) => Some(f.to_string()),
            _ => None,
        };
        if let Some(engine_fault) = withheld {
            return Outcome {
                backend: name.to_string(),
                verdict: Verdict::Accepted,
                execution: Execution::Withheld { engine_fault },
            };
        }
        if let Err(why) = self.maps.write(input) {
            return Outcome::not_run(name, why);
        }
        let mut ctx = [0u8; wrapper::CTX_SIZE];
        let execution = match loader::test_run(&prog, &mut ctx) {
            Ok(_retval) => match self.maps.read(input.len()) {
                Ok(mem) => Execution::Returned {
                    r0: Value {
                        bits: u64::from_le_bytes(ctx),
                        derived: false,
                    },
                    mem,
                    mem_derived: Vec::new(),
                    regs: None,
                },
                Err(why) => Execution::NotRun { why },
            },
            Err(errno) => Execution::Fault {
                kind: "test-run-error".to_string(),
                pc: None,
                detail: format!("BPF_PROG_TEST_RUN failed: {} ({errno})", errno_name(errno)),
            },
        };
        Outcome {
            backend: name.to_string(),
            verdict: Verdict::Accepted,
            execution,
        }
    }
}
