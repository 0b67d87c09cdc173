//! The Outcome model: everything a backend observed about one program run.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A 64-bit value as a backend observed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Value {
    /// The bits (a `"0x…"` string in JSON, see [`crate::hex_u64`]).
    #[serde(with = "crate::hex_u64")]
    pub bits: u64,
    /// True when the value derives from a pointer (or another
    /// implementation-specific source) and must not be compared as a number.
    pub derived: bool,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.derived {
            write!(f, "0x{:x} (pointer-derived)", self.bits)
        } else {
            write!(f, "0x{:x}", self.bits)
        }
    }
}

/// What the backend's verifier (or decoder) said about the program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Loaded: the backend will run it.
    Accepted,
    /// Refused at load time.
    Rejected {
        /// The errno the loader returned (EINVAL = 22, EACCES = 13, …), or 0
        /// when the backend has no errno.
        errno: i32,
        /// A one-line reason (the last meaningful verifier log line).
        reason: String,
        /// The full verifier log when it was fetched.
        log: Option<String>,
        /// The error class (`RejectClass::as_str` of the engine's verifier,
        /// or of the kernel's message), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<String>,
    },
    /// The verdict was not observed (the backend could not be used).
    Unknown,
}

impl Verdict {
    /// True for [`Verdict::Rejected`].
    pub fn is_rejected(&self) -> bool {
        matches!(self, Verdict::Rejected { .. })
    }
}

/// How a run ended, as the backend observed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "execution", rename_all = "kebab-case")]
pub enum Execution {
    /// The program returned.
    Returned {
        /// The full 64-bit r0 when observable.
        r0: Value,
        /// The input memory after the run.
        mem: Vec<u8>,
        /// Per byte of `mem`, true when it holds part of a pointer-derived
        /// value (empty when no byte does or the backend cannot tell).
        mem_derived: Vec<bool>,
        /// All registers at exit when the backend can observe them.
        regs: Option<Vec<Value>>,
    },
    /// The run stopped on an error the backend reported.
    Fault {
        /// A stable class name (the engine's `FaultKind::name()` where it
        /// applies, `other` when unknown).
        kind: String,
        /// The faulting instruction, when the backend says.
        pc: Option<usize>,
        /// The backend's own message.
        detail: String,
    },
    /// The engine's instruction budget ran out.
    OutOfBudget,
    /// The backend did not finish within its wall-clock limit.
    TimedOut {
        /// The limit in milliseconds.
        after_ms: u64,
    },
    /// The backend's process died (a signal or a panic).
    Crashed {
        /// What happened.
        what: String,
    },
    /// Accepted, but not run on the host: the engine's checking
    /// interpreter saw it fault, so running it in the kernel could harm the
    /// machine. The acceptance itself is a finding.
    Withheld {
        /// The engine's fault.
        engine_fault: String,
    },
    /// The program was not run.
    NotRun {
        /// Why.
        why: String,
    },
}

impl Execution {
    /// A short name of the variant, for tables.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Execution::Returned { .. } => "returned",
            Execution::Fault { .. } => "fault",
            Execution::OutOfBudget => "out-of-budget",
            Execution::TimedOut { .. } => "timed-out",
            Execution::Crashed { .. } => "crashed",
            Execution::Withheld { .. } => "withheld",
            Execution::NotRun { .. } => "not-run",
        }
    }
}

impl fmt::Display for Execution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Execution::Returned { r0, .. } => write!(f, "r0 = {r0}"),
            Execution::Fault {
                kind, pc: Some(pc), ..
            } => write!(f, "fault {kind} at insn {pc}"),
            Execution::Fault {
                kind,
                pc: None,
                detail,
            } => write!(f, "fault {kind} ({detail})"),
            Execution::OutOfBudget => f.write_str("out of budget"),
            Execution::TimedOut { after_ms } => write!(f, "timed out after {after_ms} ms"),
            Execution::Crashed { what } => write!(f, "crashed: {what}"),
            Execution::Withheld { engine_fault } => {
                write!(
                    f,
                    "accepted but withheld from the host: the engine saw {engine_fault}"
                )
            }
            Execution::NotRun { why } => write!(f, "not run: {why}"),
        }
    }
}

/// Everything one backend observed about one program on one input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The backend's registry name.
    pub backend: String,
    /// The load-time verdict.
    pub verdict: Verdict,
    /// The run.
    pub execution: Execution,
}

impl Outcome {
    /// An outcome for a program that was not run at all.
    pub fn not_run(backend: &str, why: impl Into<String>) -> Outcome {
        Outcome {
            backend: backend.to_string(),
            verdict: Verdict::Unknown,
            execution: Execution::NotRun { why: why.into() },
        }
    }

    /// A kernel's refusal: [`Outcome::rejected`] with the error class the
    /// kernel's message names (`RejectClass::from_kernel_message`), so
    /// that two refusals compare by class.
    pub fn rejected_by_kernel(
        backend: &str,
        errno: i32,
        reason: impl Into<String>,
        log: Option<String>,
    ) -> Outcome {
        let reason = reason.into();
        let class = bpfdiff_engine::verifier::RejectClass::from_kernel_message(&reason)
            .map(|c| c.as_str().to_string());
        let mut outcome = Outcome::rejected(backend, errno, reason, log);
        if let Verdict::Rejected { class: c, .. } = &mut outcome.verdict {
            *c = class;
        }
        outcome
    }

    /// An outcome for a program the backend refused to load.
    pub fn rejected(
        backend: &str,
        errno: i32,
        reason: impl Into<String>,
        log: Option<String>,
    ) -> Outcome {
        let reason = reason.into();
        Outcome {
            backend: backend.to_string(),
            verdict: Verdict::Rejected {
                errno,
                reason: reason.clone(),
                log,
                class: None,
            },
            execution: Execution::NotRun {
                why: format!("rejected: {reason}"),
            },
        }
    }

    /// The refusal's error class, if refused with a known class.
    pub fn reject_class(&self) -> Option<&str> {
        match &self.verdict {
            Verdict::Rejected { class, .. } => class.as_deref(),
            _ => None,
        }
    }

    /// One line: verdict and execution.
    pub fn summary(&self) -> String {
        match &self.verdict {
            Verdict::Rejected {
                errno,
                reason,
                class: Some(class),
                ..
            } => format!("rejected (errno {errno}, {class}): {reason}"),
            Verdict::Rejected { errno, reason, .. } => {
                format!("rejected (errno {errno}): {reason}")
            }
            _ => self.execution.to_string(),
        }
    }
}
