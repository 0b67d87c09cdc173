//! The sampled kernel-states check of a campaign (`--kernel-states
//! FRACTION`): a deterministic fraction of the cases is loaded once more
//! with the kernel's level-2 log, the log is parsed into abstract states,
//! and the engine interpreter's concrete run is checked against them
//! (`bpfdiff_oracle::kernel_log`, docs/verifier.md). A value outside the
//! kernel's states becomes a difference of aspect `kernel-state`, so it is
//! a new divergence like any other (rules, signatures, `--save`); this
//! tally counts what was checked, so that a run that checked nothing
//! cannot pass for one that found nothing.

use bpfdiff_oracle::kernel_log::{KernelStates, KernelStatesError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// True when case `index` of a campaign whose cases have seeds
/// `case_seed` is in the sampled `fraction` (0 < fraction ≤ 1). The choice
/// depends only on the case's seed, so a resumed or sharded campaign
/// samples the same cases.
pub fn sampled(case_seed: u64, fraction: f64) -> bool {
    if fraction >= 1.0 {
        return true;
    }
    // A different mix of the seed than the generator's own use of it.
    let mut z = case_seed ^ 0x6b65_726e_656c_5354; // "kernelST"
    z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^= z >> 33;
    ((z >> 11) as f64 / (1u64 << 53) as f64) < fraction
}

/// What the check gave for one sampled case.
#[derive(Clone, Debug)]
pub enum CaseCheck {
    /// The log was parsed and the run checked.
    Checked(Box<KernelStates>),
    /// The check could not be made.
    Failed(KernelStatesError),
}

/// Counts of the sampled kernel-states check over a campaign.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelStatesTally {
    /// The fraction of cases sampled (0: the check was off).
    pub fraction: f64,
    /// Cases sampled.
    pub sampled: u64,
    /// Sampled cases whose run was checked against the kernel's states.
    pub checked_programs: u64,
    /// Of those, programs the kernel refused (checked up to the refusal).
    pub kernel_refused: u64,
    /// Executed instructions checked.
    pub checked_insns: u64,
    /// Executed instructions not checked (after a path the kernel pruned,
    /// after a refusal, or past the trace's length).
    pub unchecked_insns: u64,
    /// Cases with a value outside the kernel's states.
    pub violations: u64,
    /// Sampled cases that could not be checked, by reason (numbers
    /// replaced by `N`): no permission, a log line the parser does not
    /// read, a program the engine cannot run.
    pub failed: BTreeMap<String, u64>,
}

impl KernelStatesTally {
    /// An empty tally for `fraction` (`None`: the check is off).
    pub fn new(fraction: Option<f64>) -> KernelStatesTally {
        KernelStatesTally {
            fraction: fraction.unwrap_or(0.0),
            ..Default::default()
        }
    }

    /// True when the check is on.
    pub fn is_on(&self) -> bool {
        self.fraction > 0.0
    }

    /// True when cases were sampled but none could be checked.
    pub fn checked_nothing(&self) -> bool {
        self.sampled > 0 && self.checked_programs == 0
    }

    /// Counts one sampled case.
    pub fn record(&mut self, check: &CaseCheck) {
        self.sampled += 1;
        match check {
            CaseCheck::Checked(s) => {
                self.checked_programs += 1;
                self.kernel_refused += u64::from(!s.log.accepted);
                self.checked_insns += s.report.checked as u64;
                self.unchecked_insns += s.report.unchecked as u64 + s.untraced;
                self.violations += u64::from(!s.report.violations.is_empty());
            }
            CaseCheck::Failed(e) => {
                *self
                    .failed
                    .entry(super::normalize_reason(&e.to_string()))
                    .or_default() += 1;
            }
        }
    }
}

impl fmt::Display for KernelStatesTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kernel states (level-2 log, {:.1} % of cases sampled): {} sampled, {} checked \
             ({} refused by the kernel), {} insns checked, {} not checked, {} with a value \
             outside the kernel's states",
            100.0 * self.fraction,
            self.sampled,
            self.checked_programs,
            self.kernel_refused,
            self.checked_insns,
            self.unchecked_insns,
            self.violations
        )?;
        let mut failed: Vec<_> = self.failed.iter().collect();
        failed.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (reason, n) in failed.into_iter().take(6) {
            write!(f, "\n    {n:6}  not checked: {reason}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_deterministic_and_close_to_its_fraction() {
        let hits = (0..100_000u64)
            .filter(|&i| sampled(super::super::case_seed(7, i), 0.05))
            .count();
        assert!((4_500..5_500).contains(&hits), "{hits}");
        for i in 0..1000 {
            let seed = super::super::case_seed(3, i);
            assert_eq!(sampled(seed, 0.3), sampled(seed, 0.3));
            assert!(sampled(seed, 1.0));
        }
    }

    #[test]
    fn a_failed_check_is_counted_by_reason_and_is_not_a_check() {
        let mut t = KernelStatesTally::new(Some(0.5));
        let e =
            KernelStatesError::Unavailable("bpf(BPF_PROG_LOAD): Operation not permitted".into());
        t.record(&CaseCheck::Failed(e.clone()));
        t.record(&CaseCheck::Failed(e));
        assert_eq!((t.sampled, t.checked_programs), (2, 0));
        assert!(t.checked_nothing());
        assert_eq!(t.failed.values().sum::<u64>(), 2);
        assert!(t.to_string().contains("not checked: kernel states"), "{t}");
    }
}
