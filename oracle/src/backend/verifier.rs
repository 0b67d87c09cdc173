//! The engine's verifier as a backend: its outcome is a verdict only (the
//! program is not run), judged against the kernel verifier's verdict for
//! the same program and input (see [`crate::verdicts`]).
//!
//! The program is verified the way the kernel backend loads it: as a static
//! subprogram of a SYSCALL program with the input as a map value of its
//! length (docs/verifier.md). A program with something the engine's
//! verifier does not model (class `unsupported`) has no verdict: the
//! outcome is `NotRun` with the reason, and nothing is compared.

use super::{Backend, Capabilities, Checking};
use crate::outcome::{Execution, Outcome, Verdict};
use bpfdiff_engine::verifier::{self, RejectClass, VerifyOptions};
use bpfdiff_engine::Program;

/// The registry name of the engine's verifier.
pub const VERIFIER_BACKEND: &str = "verifier";

/// The errno the kernel returns for a refusal of `class` (0 when unknown).
pub fn errno_of(class: RejectClass) -> i32 {
    match class.errno() {
        Some("EACCES") => libc::EACCES,
        Some("E2BIG") => libc::E2BIG,
        Some("EBADF") => libc::EBADF,
        Some("EPROTO") => libc::EPROTO,
        Some("EPERM") => libc::EPERM,
        Some("EINVAL") => libc::EINVAL,
        _ => 0,
    }
}

/// The engine's verifier backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifierBackend;

impl Backend for VerifierBackend {
    fn name(&self) -> &'static str {
        VERIFIER_BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checking: Checking::VerdictOnly,
            full_r0: false,
            memory_after: false,
            zeroed_stack: true,
        }
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        let opts = VerifyOptions {
            privileged: true,
            input_len: Some(input.len()),
            log_level: 0,
        };
        let name = self.name();
        match verifier::verify(program, &opts).verdict {
            verifier::Verdict::Accepted => Outcome {
                backend: name.to_string(),
                verdict: Verdict::Accepted,
                execution: Execution::NotRun {
                    why: "the engine's verifier judges programs, it does not run them".into(),
                },
            },
            verifier::Verdict::Rejected {
                class: RejectClass::Unsupported,
                message,
                ..
            } => Outcome::not_run(
                name,
                format!("not modeled by the engine's verifier: {message}"),
            ),
            verifier::Verdict::Rejected { pc, class, message } => Outcome {
                backend: name.to_string(),
                verdict: Verdict::Rejected {
                    errno: errno_of(class),
                    reason: format!("{message} (insn {pc})"),
                    log: None,
                    class: Some(class.as_str().to_string()),
                },
                execution: Execution::NotRun {
                    why: format!("rejected: {message}"),
                },
            },
        }
    }
}
