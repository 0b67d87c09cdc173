//! The confusion matrix of the engine verifier's verdicts against the
//! kernel's, over the cases of a campaign: both accept, both refuse (and
//! how many of those with the same error class), only the kernel accepts,
//! only we accept. Cases where either has no verdict are counted apart.

use bpfdiff_oracle::known::KERNEL_BACKEND;
use bpfdiff_oracle::{Outcome, Verdict, VERIFIER_BACKEND};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Verdict counts of `verifier` against `kernel`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictMatrix {
    /// Both accept.
    pub both_accept: u64,
    /// Both refuse.
    pub both_refuse: u64,
    /// Both refuse, with the same error class (when the kernel's message
    /// has a known class).
    pub same_class: u64,
    /// Both refuse, the kernel's message with no known class.
    pub class_unknown: u64,
    /// The kernel accepts, the engine's verifier refuses.
    pub only_kernel_accepts: u64,
    /// The engine's verifier accepts, the kernel refuses.
    pub only_we_accept: u64,
    /// Either side has no verdict (not modeled, not run).
    pub no_verdict: u64,
}

impl VerdictMatrix {
    /// Counts one case's outcomes (nothing when either backend is absent).
    pub fn record(&mut self, outcomes: &[Outcome]) {
        let find = |name: &str| outcomes.iter().find(|o| o.backend == name);
        let (Some(ours), Some(theirs)) = (find(VERIFIER_BACKEND), find(KERNEL_BACKEND)) else {
            return;
        };
        match (&ours.verdict, &theirs.verdict) {
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => self.no_verdict += 1,
            (Verdict::Accepted, Verdict::Accepted) => self.both_accept += 1,
            (Verdict::Accepted, _) => self.only_we_accept += 1,
            (_, Verdict::Accepted) => self.only_kernel_accepts += 1,
            _ => {
                self.both_refuse += 1;
                let class = |o: &Outcome| {
                    o.reject_class()
                        .and_then(bpfdiff_engine::verifier::RejectClass::from_name)
                        .map(|c| c.comparable())
                };
                match (class(ours), class(theirs)) {
                    (_, None) => self.class_unknown += 1,
                    (a, b) if a == b => self.same_class += 1,
                    _ => {}
                }
            }
        }
    }

    /// Cases with a verdict on both sides.
    pub fn compared(&self) -> u64 {
        self.both_accept + self.both_refuse + self.only_kernel_accepts + self.only_we_accept
    }

    /// Percentage of compared cases with the same verdict.
    pub fn agreement(&self) -> f64 {
        100.0 * (self.both_accept + self.both_refuse) as f64 / self.compared().max(1) as f64
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.compared() + self.no_verdict == 0
    }
}

impl fmt::Display for VerdictMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "verifier vs kernel verdicts: both accept {}, both refuse {} (same class {}, kernel class unknown {}), only kernel accepts {}, only verifier accepts {}; same verdict {:.2} % of {}; no verdict {}",
            self.both_accept,
            self.both_refuse,
            self.same_class,
            self.class_unknown,
            self.only_kernel_accepts,
            self.only_we_accept,
            self.agreement(),
            self.compared(),
            self.no_verdict
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_oracle::Execution;

    fn accepted(b: &str) -> Outcome {
        Outcome {
            backend: b.into(),
            verdict: Verdict::Accepted,
            execution: Execution::NotRun { why: "x".into() },
        }
    }

    #[test]
    fn cases_fall_in_their_cells() {
        let mut m = VerdictMatrix::default();
        m.record(&[accepted("verifier"), accepted("kernel")]);
        m.record(&[
            accepted("verifier"),
            Outcome::rejected("kernel", 13, "R2 !read_ok", None),
        ]);
        m.record(&[accepted("interp"), accepted("kernel")]);
        m.record(&[
            Outcome::not_run("verifier", "not modeled"),
            accepted("kernel"),
        ]);
        assert_eq!(m.both_accept, 1);
        assert_eq!(m.only_we_accept, 1);
        assert_eq!(m.no_verdict, 1);
        assert_eq!(m.compared(), 2);
        assert_eq!(m.agreement(), 50.0);
    }
}
