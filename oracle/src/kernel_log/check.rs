//! The kernel-soundness check: a concrete run against the states the
//! kernel's verifier printed.
//!
//! At each executed instruction (the engine interpreter's trace, registers
//! before the instruction), the concrete registers must lie inside at least
//! one state the kernel recorded before that instruction in the same frame.
//! "Inside" means: every register the kernel printed as a scalar holds a
//! value its tnum and all eight bounds contain. Registers the engine marks
//! as pointer-derived are not compared (their numbers are the engine's
//! addresses, not the kernel's), nor are pointers, uninitialised registers
//! or stack slots.
//!
//! Pruning: a path the kernel pruned as safe at instruction Q is covered by
//! an earlier state only up to the registers that mattered (imprecise
//! scalars and dead registers may differ), and its continuation is never
//! printed. So once the run has passed an instruction where the kernel
//! pruned some path, a step that no state contains is not a finding; the
//! check stops there and counts the rest as unchecked. Before that, every
//! step is on a path the kernel explored, and a step outside every state
//! (or at an instruction the kernel never reached) is a soundness finding.

use super::parse::RegState;
use super::state::{InsnState, KernelLog};
use bpfdiff_engine::interp::TraceStep;
use bpfdiff_engine::verifier::scalar_text::scalar_to_string;
use std::collections::HashMap;
use std::fmt;

/// One concrete value outside the kernel's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The user's instruction index.
    pub pc: usize,
    /// The step of the run (0 = first executed instruction).
    pub step: usize,
    /// The register (`None`: the kernel has no state at this instruction).
    pub reg: Option<u8>,
    /// The concrete value.
    pub value: u64,
    /// The kernel's state of the register, as the kernel prints it.
    pub kernel: String,
    /// The log line of the closest kernel state.
    pub line: usize,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reg {
            Some(r) => write!(
                f,
                "insn {}: r{r} = {:#x} ({}) is outside the kernel's R{r}={} (log line {}, step {})",
                self.pc, self.value, self.value as i64, self.kernel, self.line, self.step
            ),
            None => write!(
                f,
                "insn {}: the run reaches it (step {}) but the kernel explored no path to it",
                self.pc, self.step
            ),
        }
    }
}

/// The result of a check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Steps checked against the kernel's states.
    pub checked: usize,
    /// Register values compared (scalars only).
    pub values: usize,
    /// Steps after a pruning point that no state contained, and the rest of
    /// the run after them, not judged (see the module doc).
    pub unchecked: usize,
    /// The violations (all registers of the closest state, at the first
    /// failing step).
    pub violations: Vec<Violation>,
}

/// The registers of `s` that `step`'s values fall outside of, and the
/// number of scalars compared.
fn failures(s: &InsnState, step: &TraceStep) -> (Vec<u8>, usize) {
    let mut bad = Vec::new();
    let mut compared = 0;
    for (r, reg) in s.state.regs.iter().enumerate() {
        let Some(RegState::Scalar { bounds, .. }) = reg else {
            continue;
        };
        if step.is_derived(r) {
            continue;
        }
        compared += 1;
        if !bounds.contains(step.regs[r]) {
            bad.push(r as u8);
        }
    }
    (bad, compared)
}

/// Checks `trace` (of the user's program, frame depth 0 = kernel frame 1)
/// against `log`.
pub fn check(log: &KernelLog, trace: &[TraceStep]) -> CheckReport {
    let mut by_pc: HashMap<(usize, usize), Vec<&InsnState>> = HashMap::new();
    for s in &log.states {
        by_pc.entry((s.pc, s.frame)).or_default().push(s);
    }
    let mut report = CheckReport::default();
    let mut passed_pruning = false;
    for (i, step) in trace.iter().enumerate() {
        passed_pruning |= log.safe.contains(&step.pc);
        let states = by_pc
            .get(&(step.pc, step.depth + 1))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if states.is_empty() {
            if passed_pruning || !log.accepted {
                report.unchecked = trace.len() - i;
            } else {
                report.violations.push(Violation {
                    pc: step.pc,
                    step: i,
                    reg: None,
                    value: 0,
                    kernel: String::new(),
                    line: 0,
                });
            }
            return report;
        }
        let mut closest: Option<(&InsnState, Vec<u8>)> = None;
        let mut compared = 0;
        for s in states {
            let (bad, n) = failures(s, step);
            if bad.is_empty() {
                compared = n;
                closest = None;
                break;
            }
            if closest.as_ref().is_none_or(|(_, b)| bad.len() < b.len()) {
                compared = n;
                closest = Some((s, bad));
            }
        }
        match closest {
            None => {
                report.checked += 1;
                report.values += compared;
            }
            // A refused program's log covers the paths explored before
            // the refusal only; the run may be on another one.
            Some(_) if passed_pruning || !log.accepted => {
                report.unchecked = trace.len() - i;
                return report;
            }
            Some((s, bad)) => {
                for r in bad {
                    let kernel = match &s.state.regs[r as usize] {
                        Some(RegState::Scalar { bounds, tag }) => scalar_to_string(bounds, tag),
                        _ => String::new(),
                    };
                    report.violations.push(Violation {
                        pc: step.pc,
                        step: i,
                        reg: Some(r),
                        value: step.regs[r as usize],
                        kernel,
                        line: s.line,
                    });
                }
                return report;
            }
        }
    }
    report
}
