//! Verdicts of verdict-only backends (the engine's verifier) judged against
//! the verdicts of safety verifiers (the kernel's).
//!
//! A verdict-only backend does not run programs, so it is never compared
//! with an executing backend's result. Against each [`Checking::Safety`]
//! backend:
//!
//! - one accepts and the other refuses: a difference of aspect `verdict`;
//! - both refuse with different error classes (the engine's
//!   `RejectClass`, and the class of the kernel's message, see
//!   `RejectClass::from_kernel_message`): a difference of aspect
//!   `verdict-class`; when the kernel's message has no known class the
//!   classes are not compared.
//!
//! The difference is the verdict-only backend's (`verifier: verdict: …`),
//! so known rules name `"backend": "verifier"`.

use crate::backend::Checking;
use crate::compare::{Aspect, Comparison, Difference};
use crate::outcome::{Execution, Outcome, Verdict};
use bpfdiff_engine::verifier::RejectClass;

/// The class of a refusal as both sides can tell it (see
/// `RejectClass::comparable`), or the name as given when unknown to the
/// engine.
fn comparable_class(name: &str) -> String {
    RejectClass::from_name(name)
        .map(|c| c.comparable().as_str().to_string())
        .unwrap_or_else(|| name.to_string())
}

fn refusal_text(o: &Outcome) -> String {
    match &o.verdict {
        Verdict::Rejected { reason, class, .. } => match class {
            Some(c) => format!("{} refuses [{c}]: {reason}", o.backend),
            None => format!("{} refuses: {reason}", o.backend),
        },
        _ => format!("{} accepts", o.backend),
    }
}

fn why_not(o: &Outcome) -> String {
    match &o.execution {
        Execution::NotRun { why } => format!("{}: {why}", o.backend),
        e => format!("{}: no verdict ({e})", o.backend),
    }
}

/// Compares the verdict of `ours` (a verdict-only backend) with that of
/// `theirs` (a safety verifier): the differences, or why they cannot be
/// compared.
pub fn compare_verdicts(ours: &Outcome, theirs: &Outcome) -> Result<Vec<Difference>, String> {
    if ours.verdict == Verdict::Unknown {
        return Err(why_not(ours));
    }
    if theirs.verdict == Verdict::Unknown {
        return Err(why_not(theirs));
    }
    let diff = |aspect, detail| Difference {
        backend: ours.backend.clone(),
        aspect,
        detail,
        known: None,
    };
    match (&ours.verdict, &theirs.verdict) {
        (Verdict::Rejected { .. }, Verdict::Rejected { .. }) => {
            match (ours.reject_class(), theirs.reject_class()) {
                (Some(a), Some(b)) if comparable_class(a) != comparable_class(b) => Ok(vec![diff(
                    Aspect::VerdictClass,
                    format!("{}; {}", refusal_text(ours), refusal_text(theirs)),
                )]),
                _ => Ok(Vec::new()),
            }
        }
        (Verdict::Rejected { .. }, _) | (_, Verdict::Rejected { .. }) => Ok(vec![diff(
            Aspect::Verdict,
            format!("{}; {}", refusal_text(ours), refusal_text(theirs)),
        )]),
        _ => Ok(Vec::new()),
    }
}

/// Adds the verdict comparisons of every verdict-only outcome with the
/// host kernel's (`kernel`) to `exec`, the comparison of the executing
/// backends (`exec_pairs` of them compared with the reference). `outcomes`
/// pairs each outcome with its backend's checking.
///
/// Kernels in guests (`kernel@6.1`, ...) are not judges: the engine's
/// verifier models one kernel version (Linux 6.18, the host's), and an older
/// kernel refuses what it never learned (cpu v4 instructions on 6.1), which
/// is a difference between kernel versions, not a verifier bug.
pub fn merge(exec: Comparison, exec_pairs: usize, outcomes: &[(&Outcome, Checking)]) -> Comparison {
    let ours: Vec<&Outcome> = outcomes
        .iter()
        .filter(|(_, c)| *c == Checking::VerdictOnly)
        .map(|(o, _)| *o)
        .collect();
    if ours.is_empty() {
        return exec;
    }
    let theirs: Vec<&Outcome> = outcomes
        .iter()
        .filter(|(o, c)| *c == Checking::Safety && o.backend == crate::known::KERNEL_BACKEND)
        .map(|(o, _)| *o)
        .collect();
    let mut differences = Vec::new();
    let mut skipped = Vec::new();
    let mut compared = 0;
    for o in &ours {
        if theirs.is_empty() {
            skipped.push(format!(
                "{}: no safety verifier (the host's kernel, whose version it models) selected to compare its verdict with",
                o.backend
            ));
        }
        for t in &theirs {
            match compare_verdicts(o, t) {
                Ok(d) => {
                    compared += 1;
                    differences.extend(d);
                }
                Err(why) => skipped.push(why),
            }
        }
    }
    match exec {
        Comparison::Diverge { differences: mut d } => {
            d.extend(differences);
            Comparison::Diverge { differences: d }
        }
        _ if !differences.is_empty() => Comparison::Diverge { differences },
        Comparison::Agree { skipped: mut s } if exec_pairs > 0 => {
            s.extend(skipped);
            Comparison::Agree { skipped: s }
        }
        Comparison::Agree { skipped: mut s } | Comparison::Inconclusive { why: mut s } => {
            s.extend(skipped);
            if compared > 0 {
                Comparison::Agree { skipped: s }
            } else {
                Comparison::Inconclusive { why: s }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(backend: &str, class: Option<&str>, reason: &str) -> Outcome {
        let mut o = Outcome::rejected(backend, 13, reason, None);
        if let Verdict::Rejected { class: c, .. } = &mut o.verdict {
            *c = class.map(str::to_string);
        }
        o
    }

    fn accepted(backend: &str) -> Outcome {
        Outcome {
            backend: backend.into(),
            verdict: Verdict::Accepted,
            execution: Execution::NotRun { why: "x".into() },
        }
    }

    #[test]
    fn a_different_verdict_is_a_verdict_difference_of_the_verifier() {
        let d = compare_verdicts(
            &accepted("verifier"),
            &refused("kernel", Some("register-not-readable"), "R2 !read_ok"),
        )
        .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].aspect, Aspect::Verdict);
        assert_eq!(d[0].backend, "verifier");
        assert_eq!(
            d[0].detail,
            "verifier accepts; kernel refuses [register-not-readable]: R2 !read_ok"
        );
    }

    #[test]
    fn both_refusing_compares_the_classes() {
        let ours = refused(
            "verifier",
            Some("invalid-shift"),
            "invalid shift 64 (insn 0)",
        );
        let same = refused("kernel", Some("invalid-shift"), "invalid shift 64");
        assert!(compare_verdicts(&ours, &same).unwrap().is_empty());
        let other = refused("kernel", Some("div-by-zero"), "div by zero");
        let d = compare_verdicts(&ours, &other).unwrap();
        assert_eq!(d[0].aspect, Aspect::VerdictClass);
        let unknown = refused("kernel", None, "EINVAL");
        assert!(compare_verdicts(&ours, &unknown).unwrap().is_empty());
        // `R0 !read_ok` at exit is the same words as any unwritten read.
        let r0 = refused("verifier", Some("r0-not-readable-at-exit"), "R0 !read_ok");
        let k = refused("kernel", Some("register-not-readable"), "R0 !read_ok");
        assert!(compare_verdicts(&r0, &k).unwrap().is_empty());
    }

    #[test]
    fn verdicts_alone_make_a_comparison() {
        let v = accepted("verifier");
        let k = accepted("kernel");
        let c = merge(
            Comparison::Agree { skipped: vec![] },
            0,
            &[(&v, Checking::VerdictOnly), (&k, Checking::Safety)],
        );
        assert_eq!(c, Comparison::Agree { skipped: vec![] });
        let n = Outcome::not_run("kernel", "bpf() denied");
        let c = merge(
            Comparison::Agree { skipped: vec![] },
            0,
            &[(&v, Checking::VerdictOnly), (&n, Checking::Safety)],
        );
        assert!(matches!(c, Comparison::Inconclusive { .. }));
    }

    #[test]
    fn only_the_host_kernel_judges_the_verifier_not_older_guest_kernels() {
        // Measured on the kernel matrix: Linux 6.1 refuses SDIV (cpu v4,
        // RFC 9669 §4.1) as `BPF_ALU uses reserved fields`; 6.18, which the
        // engine's verifier models, accepts it. A version difference, not a
        // verifier difference.
        let v = accepted("verifier");
        let old = refused(
            "kernel@6.1",
            Some("reserved-fields"),
            "BPF_ALU uses reserved fields",
        );
        let c = merge(
            Comparison::Agree { skipped: vec![] },
            1,
            &[(&v, Checking::VerdictOnly), (&old, Checking::Safety)],
        );
        assert!(!matches!(c, Comparison::Diverge { .. }), "{c:?}");
        let host = accepted("kernel");
        let c = merge(
            Comparison::Agree { skipped: vec![] },
            1,
            &[
                (&v, Checking::VerdictOnly),
                (&old, Checking::Safety),
                (&host, Checking::Safety),
            ],
        );
        assert_eq!(c, Comparison::Agree { skipped: vec![] });
    }
}
