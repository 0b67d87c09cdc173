//! Oracle backends as conformance backends: an [`Outcome`] seen as a
//! [`RunOutcome`].
//!
//! A refusal by a safety verifier (the kernel's) is not a wrong answer: the
//! test is skipped and the kernel's reason is shown. A refusal by a backend
//! that only checks encodings (rbpf) is a disagreement and fails the test
//! unless the test expects an error. A test whose program the engine itself
//! cannot execute (an unsupported instruction or helper) says nothing about
//! another backend and is skipped.

use crate::conformance::RunOutcome;
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::Program;
use bpfdiff_oracle::compare::is_engine_limit;
use bpfdiff_oracle::registry::{self, RegistryError};
use bpfdiff_oracle::{Backend, Checking, Execution, Outcome, Verdict};
use std::cell::RefCell;

/// What an outcome means for a conformance test.
pub fn run_outcome(outcome: &Outcome, checking: Checking) -> RunOutcome {
    if let Verdict::Rejected { errno, reason, .. } = &outcome.verdict {
        let text = format!("rejected by {} (errno {errno}): {reason}", outcome.backend);
        return match checking {
            Checking::Safety | Checking::VerdictOnly => RunOutcome::NotRun(text),
            Checking::Encoding => RunOutcome::Error(text),
        };
    }
    match &outcome.execution {
        Execution::Returned { r0, .. } => RunOutcome::Returned(r0.bits),
        // The engine's fault name comes first, so that `-- error` texts
        // written for the engine (`out-of-bounds`) match other backends too.
        Execution::Fault { kind, detail, .. } => {
            RunOutcome::Error(format!("fault: {kind}: {detail}"))
        }
        // No budget there: a program that does not finish in time is the
        // same finding as the engine's exhausted budget (as in the comparer).
        Execution::TimedOut { after_ms } => {
            RunOutcome::Error(format!("out of budget (timed out after {after_ms} ms)"))
        }
        Execution::NotRun { why } => RunOutcome::NotRun(why.clone()),
        other => RunOutcome::Error(other.to_string()),
    }
}

/// The backend called `name` as a conformance backend; it writes the
/// memory after the run back into the caller's buffer.
pub fn conformance_backend(
    name: &str,
) -> Result<impl Fn(&Program, &mut [u8]) -> RunOutcome, RegistryError> {
    let backend: RefCell<Box<dyn Backend>> = RefCell::new(registry::create(name)?);
    Ok(move |program: &Program, mem: &mut [u8]| {
        if let Some(why) = engine_limit(program, mem) {
            return RunOutcome::NotRun(why);
        }
        let mut b = backend.borrow_mut();
        let outcome = b.run(program, mem);
        if let Execution::Returned { mem: after, .. } = &outcome.execution {
            if after.len() == mem.len() {
                mem.copy_from_slice(after);
            }
        }
        run_outcome(&outcome, b.capabilities().checking)
    })
}

/// Why the engine cannot execute `program` on `mem`, if it cannot.
fn engine_limit(program: &Program, mem: &[u8]) -> Option<String> {
    let vm = Interpreter::new(program).ok()?;
    let mut copy = mem.to_vec();
    match vm.run(&mut copy, DEFAULT_BUDGET).result {
        ExecResult::Fault(f) if is_engine_limit(f.kind.name()) => Some(format!(
            "the engine cannot execute this program ({f}); nothing to compare"
        )),
        _ => None,
    }
}
