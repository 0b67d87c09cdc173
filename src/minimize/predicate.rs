//! "The same divergence": the predicate `bpfdiff minimize` keeps while it
//! shrinks a case, and the staged, cached evaluation that makes it cheap.
//!
//! The predicate is the divergence [`Signature`] on the same backends: a
//! [`DivergenceKey`] holds, for each difference, its backend, its aspect,
//! the signature's class (the fault kinds, the crash, or the error class of
//! the refusals on both sides, numbers removed) and the known rule that
//! explains it (a candidate explained by a different rule is a different
//! divergence); plus what those signatures need of the reference (the
//! engine): its verdict, or how it ended, nothing for a crash. A signature
//! also names the opcode rows the program uses, and those shrink as the
//! case does: a candidate keeps the signature when its rows are among the
//! original's, or are the rows the minimizer itself writes (`dst = 0` and
//! `ja`, see [`super::neutral`]). A candidate that diverges in the same
//! aspect through an instruction row the original did not use, or with
//! another fault, crash or refusal class, is a different divergence and is
//! refused. Differences come from the fuzz harness ([`DiffHarness`]), so
//! cases whose results depend on addresses or unwritten state are
//! discounted as in campaigns and fuzzing.
//!
//! [`DiffPredicate`] asks the engine first: a candidate whose reference
//! outcome does not give what the signatures need is refused without
//! running anything else.
//! Then the backends that cost little (everything but the kernel) run;
//! the kernel only sees candidates whose other differences already match.
//! A program the kernel refused once is not loaded again (a refusal does
//! not depend on the input, and a refused program has no kernel
//! difference), and the minimizer never asks twice about the same program
//! and input.

use super::{Case, Predicate};
use crate::campaign::normalize_reason;
use crate::fuzz_glue::{DiffCheck, DiffHarness};
use crate::signature::{reference_class, rows_used, Signature};
use bpfdiff_engine::opcode::{Class, Operation, Source};
use bpfdiff_engine::Program;
use bpfdiff_oracle::registry::{self, RegistryError};
use bpfdiff_oracle::{Backend, Comparison, Execution, KnownRules, Outcome, Verdict};
use std::collections::{BTreeSet, HashSet};
use std::fmt;

/// One difference, reduced to its signature (without the rows, which the
/// [`DivergenceKey`] checks for the whole program).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DifferenceKey {
    /// The backend that differs from the reference.
    pub backend: String,
    /// The aspect (`r0`, `verdict`, …).
    pub aspect: String,
    /// The signature's class: fault kinds, crash or refusal classes on both
    /// sides (empty for `r0` and `memory`).
    pub class: String,
    /// The known rule that explains it, if any.
    pub known: Option<String>,
}

/// Everything that must stay the same while a case shrinks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DivergenceKey {
    /// What the signatures need of the reference's outcome, by aspect (its
    /// verdict for a verdict difference, how it ended for r0, memory,
    /// ending and fault differences, nothing for a crash): the engine alone
    /// must give these before the other backends run.
    pub reference: BTreeSet<(String, String)>,
    /// The differences.
    pub differences: BTreeSet<DifferenceKey>,
    /// The opcode rows of the original program (its signature's rows): a
    /// candidate may use these and the rows the minimizer writes, no other.
    pub rows: BTreeSet<String>,
}

/// The rows the minimizer writes itself (`dst = 0`, `ja`): a candidate may
/// use them although the original did not.
pub fn minimizer_rows() -> [String; 2] {
    [
        super::neutral::zero(0).row.name().to_string(),
        crate::gen::layout::row(Class::Jmp, Operation::Ja, Source::Imm)
            .name()
            .to_string(),
    ]
}

impl DivergenceKey {
    /// True when `program`'s rows keep the signature: each is one of the
    /// original's or one the minimizer writes.
    pub fn rows_allowed(&self, program: &Program) -> bool {
        let extra = minimizer_rows();
        rows_used(program)
            .iter()
            .all(|r| self.rows.contains(r) || extra.contains(r))
    }
}

impl fmt::Display for DivergenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reference: BTreeSet<&str> = self.reference.iter().map(|(_, c)| c.as_str()).collect();
        if reference.is_empty() {
            write!(f, "reference: any outcome")?;
        } else {
            write!(
                f,
                "reference {}",
                reference.into_iter().collect::<Vec<_>>().join(", ")
            )?;
        }
        for d in &self.differences {
            write!(f, "; {}: {}", d.backend, d.aspect)?;
            if !d.class.is_empty() {
                write!(f, " ({})", d.class)?;
            }
            if let Some(k) = &d.known {
                write!(f, " [known: {k}]")?;
            }
        }
        Ok(())
    }
}

/// A refusal reason without numbers, instruction names or opcodes, so
/// that the same refusal of a smaller program has the same class.
pub fn refusal_class(reason: &str) -> String {
    let normal = normalize_reason(reason);
    let words: Vec<&str> = normal.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let next_is_opcode = words.get(i + 1).is_some_and(|n| n.starts_with("(N"));
        if w.starts_with("(N") || next_is_opcode || *w == "insn" || *w == "N:" {
            continue;
        }
        out.push(w);
    }
    out.join(" ")
}

/// How an outcome ended, as the key records it.
pub fn shape(o: &Outcome) -> String {
    if let Verdict::Rejected { reason, .. } = &o.verdict {
        return format!("rejected: {}", refusal_class(reason));
    }
    match &o.execution {
        Execution::Fault { kind, .. } => format!("fault {kind}"),
        other => other.kind_name().to_string(),
    }
}

/// The differences of `check` (none unless it diverges), as signature
/// keys of `program`.
pub fn difference_keys(program: &Program, check: &DiffCheck) -> BTreeSet<DifferenceKey> {
    let Comparison::Diverge { differences } = &check.comparison else {
        return BTreeSet::new();
    };
    differences
        .iter()
        .map(|d| {
            let s = Signature::of(program, &check.outcomes, d);
            DifferenceKey {
                backend: s.backend,
                aspect: s.aspect,
                class: s.class,
                known: d.known.clone(),
            }
        })
        .collect()
}

/// Counters of the staged evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stages {
    /// Candidates refused before anything ran (a row the original did not
    /// use) or on the engine's outcome alone.
    pub engine_refused: u64,
    /// Candidates refused on the backends other than the kernel.
    pub others_refused: u64,
    /// Kernel loads.
    pub kernel_runs: u64,
    /// Kernel loads saved: the kernel had refused the same program before.
    pub kernel_cached: u64,
}

/// The `bpfdiff minimize` predicate over the named backends (reference
/// first): the candidate's [`DivergenceKey`] equals the original's.
pub struct DiffPredicate {
    reference: Box<dyn Backend>,
    others: Option<DiffHarness>,
    kernel: Option<DiffHarness>,
    kernel_refused: HashSet<Vec<u8>>,
    target: DivergenceKey,
    stages: Stages,
}

/// Why a case cannot be minimized.
#[derive(Debug, thiserror::Error)]
pub enum PredicateError {
    /// A bad backend selection.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The case does not diverge on these backends.
    #[error("the case does not diverge on {backends}: {comparison}")]
    NoDivergence {
        /// The backends.
        backends: String,
        /// What the comparison said.
        comparison: String,
    },
}

fn describe(c: &Comparison) -> String {
    match c {
        Comparison::Agree { skipped } if skipped.is_empty() => "they agree".to_string(),
        Comparison::Agree { skipped } => {
            format!("they agree (not compared: {})", skipped.join("; "))
        }
        Comparison::Inconclusive { why } => format!("inconclusive: {}", why.join("; ")),
        Comparison::Diverge { .. } => "it diverges".to_string(),
    }
}

impl DiffPredicate {
    /// Sets up the backends called `names` (reference first) with `rules`,
    /// runs `case` on all of them and records its divergence; an error when
    /// it does not diverge.
    pub fn new(
        names: &[String],
        rules: KnownRules,
        case: &Case,
    ) -> Result<(DiffPredicate, DiffCheck), PredicateError> {
        let reference_name = names.first().ok_or(RegistryError::Empty)?;
        let cheap: Vec<String> = names.iter().filter(|n| *n != "kernel").cloned().collect();
        let uses_kernel = names.len() > cheap.len() && reference_name != "kernel";
        let others = (cheap.len() > 1 || !uses_kernel)
            .then(|| DiffHarness::new(&cheap, rules.clone(), false))
            .transpose()?;
        let kernel = uses_kernel
            .then(|| {
                DiffHarness::new(
                    &[reference_name.clone(), "kernel".into()],
                    rules.clone(),
                    false,
                )
            })
            .transpose()?;
        let mut full = DiffHarness::new(names, rules, false)?;
        let check = full.check(case);
        let differences = difference_keys(&case.program, &check);
        let reference = match check.outcomes.first() {
            Some(o) => differences
                .iter()
                .filter_map(|d| reference_class(&d.aspect, o).map(|c| (d.aspect.clone(), c)))
                .collect(),
            None => BTreeSet::new(),
        };
        let target = DivergenceKey {
            reference,
            differences,
            rows: rows_used(&case.program).into_iter().collect(),
        };
        if target.differences.is_empty() {
            return Err(PredicateError::NoDivergence {
                backends: names.join(","),
                comparison: describe(&check.comparison),
            });
        }
        let p = DiffPredicate {
            reference: registry::create(reference_name)?,
            others,
            kernel,
            kernel_refused: HashSet::new(),
            target,
            stages: Stages::default(),
        };
        Ok((p, check))
    }

    /// The divergence being kept.
    pub fn target(&self) -> &DivergenceKey {
        &self.target
    }

    /// The stage counters so far.
    pub fn stages(&self) -> Stages {
        self.stages
    }

    fn expected_for(&self, backends: &[&str]) -> BTreeSet<DifferenceKey> {
        self.target
            .differences
            .iter()
            .filter(|d| backends.contains(&d.backend.as_str()))
            .cloned()
            .collect()
    }

    /// The key of `case` on every backend, without shortcuts.
    fn evaluate(&mut self, case: &Case) -> bool {
        // 0. The rows: a row the original did not use is another signature.
        if !self.target.rows_allowed(&case.program) {
            self.stages.engine_refused += 1;
            return false;
        }
        // 1. The engine alone: the reference must give what the
        // signatures need of it.
        let reference = self.reference.run(&case.program, &case.input);
        let same_reference = self
            .target
            .reference
            .iter()
            .all(|(aspect, class)| reference_class(aspect, &reference).as_ref() == Some(class));
        if !same_reference {
            self.stages.engine_refused += 1;
            return false;
        }
        // 2. Every backend but the kernel.
        if let Some(h) = self.others.as_mut() {
            let names = h.backend_names();
            let check = h.check(case);
            if difference_keys(&case.program, &check) != self.expected_for(&names[1..]) {
                self.stages.others_refused += 1;
                return false;
            }
        }
        // 3. The kernel, unless it refused this program before.
        if self.kernel.is_none() {
            return true;
        }
        let expected = self.expected_for(&["kernel"]);
        let bytes = case.program.to_bytes();
        if self.kernel_refused.contains(&bytes) {
            self.stages.kernel_cached += 1;
            return expected.is_empty();
        }
        self.stages.kernel_runs += 1;
        let Some(h) = self.kernel.as_mut() else {
            return true;
        };
        let check = h.check(case);
        let refused = check
            .outcomes
            .iter()
            .any(|o| o.backend == "kernel" && o.verdict.is_rejected());
        if refused {
            self.kernel_refused.insert(bytes);
        }
        difference_keys(&case.program, &check) == expected
    }
}

impl Predicate for DiffPredicate {
    fn holds(&mut self, case: &Case) -> bool {
        self.evaluate(case)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_classes_drop_numbers_and_opcodes() {
        assert_eq!(
            refusal_class("insn 2: smod (0x9f) uses reserved field imm = 7 (must be 0)"),
            "uses reserved field imm = N (must be N)"
        );
        assert_eq!(
            refusal_class("insn 5: div (0x37) uses reserved field imm = 3 (must be 0)"),
            refusal_class("insn 1: mod (0x97) uses reserved field imm = 1 (must be 0)")
        );
        assert_ne!(
            refusal_class("insn 1: unknown opcode 0x8f"),
            refusal_class("insn 1: exit (0x95) uses reserved field imm = 1 (must be 0)")
        );
    }
}
