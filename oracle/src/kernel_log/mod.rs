//! The kernel's level-2 verifier log as an oracle: parsed into abstract
//! states per instruction and path ([`state`]), and checked against a
//! concrete run of the same program and input ([`check`]): a concrete
//! value outside the state the kernel printed is a kernel verifier
//! soundness finding.
//!
//! - [`parse`]: one register's or stack slot's text.
//! - [`state`]: the log's lines, carried forward into full states.
//! - [`check`]: the concrete trace against the states.
//!
//! The concrete run is the engine interpreter's traced run
//! ([`bpfdiff_engine::interp::trace_program`]), on the same input the kernel
//! backend gives the program.

pub mod check;
pub mod parse;
pub mod state;

pub use check::{check, CheckReport, Violation};
pub use state::{parse_log, InsnState, KernelLog, KernelLogError};

use crate::backend::kernel::{wrapper, KernelBackend};
use crate::compare::{Aspect, Difference};
use crate::known::KERNEL_BACKEND;
use bpfdiff_engine::interp::{trace_program, DEFAULT_BUDGET};
use bpfdiff_engine::Program;

/// Steps of the concrete run recorded at most (later steps are unchecked).
pub const MAX_TRACE_STEPS: usize = 1_000_000;

/// The outcome of a kernel-states check of one program and input.
#[derive(Clone, Debug)]
pub struct KernelStates {
    /// The parsed log.
    pub log: KernelLog,
    /// The check's result.
    pub report: CheckReport,
    /// Executed instructions the trace did not record.
    pub untraced: u64,
}

impl KernelStates {
    /// The summary line: `kernel states: N insns checked, M violations`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "kernel states: {} insns checked, {} violations",
            self.report.checked,
            self.report.violations.len()
        );
        let unchecked = self.report.unchecked as u64 + self.untraced;
        if unchecked > 0 {
            s.push_str(&format!(
                " ({unchecked} insns not checked: after a path the kernel pruned, or after a refusal)"
            ));
        }
        if !self.log.accepted {
            s.push_str(" [the kernel refused the program]");
        }
        s
    }

    /// The check's finding as a difference of the `kernel` backend
    /// (aspect `kernel-state`): the first failing step, with how many more
    /// registers failed there. `None` when every checked step was inside.
    pub fn difference(&self) -> Option<Difference> {
        let first = self.report.violations.first()?;
        let more = self.report.violations.len() - 1;
        let mut detail = format!("concrete run vs the kernel verifier's states: {first}");
        if more > 0 {
            detail.push_str(&format!(" (and {more} more register(s) at that step)"));
        }
        Some(Difference {
            backend: KERNEL_BACKEND.to_string(),
            aspect: Aspect::KernelState,
            detail,
            known: None,
        })
    }
}

/// Why a kernel-states check could not be made.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum KernelStatesError {
    /// The kernel could not be asked (no permission, too large, …).
    #[error("kernel states: the kernel log is unavailable: {0}")]
    Unavailable(String),
    /// The log has a line the parser does not understand.
    #[error("kernel states: {0}")]
    Parse(#[from] KernelLogError),
    /// The engine cannot run the program.
    #[error("kernel states: the engine cannot run the program: {0}")]
    Engine(String),
}

/// Loads `program` with a level-2 log, parses it, runs the program on the
/// engine interpreter with a trace, and checks the trace against the log.
pub fn kernel_states(
    kernel: &mut KernelBackend,
    program: &Program,
    input: &[u8],
) -> Result<KernelStates, KernelStatesError> {
    let (loaded, raw) = kernel
        .raw_verifier_log(program, input.len(), 2)
        .map_err(KernelStatesError::Unavailable)?;
    let mut log = parse_log(&raw, &wrapper::layout(input.len()))?;
    // The load's own result is the verdict: a refusal whose message the
    // parser reads as an ordinary line must not make the log "accepted"
    // (the run would then be judged against a refused program's partial
    // exploration).
    log.accepted &= loaded;
    let mut mem = input.to_vec();
    let trace = trace_program(program, &mut mem, DEFAULT_BUDGET, MAX_TRACE_STEPS)
        .map_err(|e| KernelStatesError::Engine(e.to_string()))?;
    let report = check(&log, &trace.steps);
    let untraced = trace.execution.insns_executed - trace.steps.len() as u64;
    Ok(KernelStates {
        log,
        report,
        untraced,
    })
}
