//! The running summary of a campaign, and the fold that adds one case to
//! it. Cases are folded strictly in case order, so the summary after `k`
//! cases is the same whatever the threads did, and a resumed campaign ends
//! with the summary of an uninterrupted one.

use super::findings::Findings;
use super::timeline::Timeline;
use super::{CampaignConfig, CampaignError, CaseResult, Shard};
use crate::environment::Environment;
use crate::gen::{Case, Tier};
use crate::signature::Signature;
use bpfdiff_engine::opcode::OPCODES;
use bpfdiff_oracle::known::Ambiguity;
use bpfdiff_oracle::{Comparison, KnownRules, Outcome, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How many distinct signatures a summary keeps, for new and for known
/// divergences each (signatures of unminimized programs include every row
/// they use, so there can be many); the rest are only counted.
pub const MAX_SIGNATURES: usize = 2048;

/// Verdict counts of one backend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictStats {
    /// Programs loaded.
    pub accepted: u64,
    /// Programs refused.
    pub rejected: u64,
    /// Refusals by reason (numbers replaced by `N`).
    pub reasons: BTreeMap<String, u64>,
}

/// How two backends' verdicts compare over the campaign (cases where both
/// gave a verdict).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Both loaded the program.
    pub both_accept: u64,
    /// Both refused it.
    pub both_refuse: u64,
    /// Only the first loaded it.
    pub only_a_accepts: u64,
    /// Only the second loaded it.
    pub only_b_accepts: u64,
}

/// How often one signature was seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureCount {
    /// Differences with it.
    pub count: u64,
    /// True when a known rule explained it.
    pub known: bool,
    /// The rule.
    pub rule: Option<String>,
}

/// One diverging case, kept as an example.
#[derive(Clone, Debug)]
pub struct Example {
    /// Its index in the campaign.
    pub index: u64,
    /// The case.
    pub case: Case,
    /// Every backend's outcome.
    pub outcomes: Vec<Outcome>,
    /// The difference, in words.
    pub detail: String,
}

/// New divergences of one (backend, aspect).
#[derive(Clone, Debug)]
pub struct DivergenceGroup {
    /// Cases with such a difference.
    pub count: u64,
    /// Cases by detail (numbers replaced by `N`).
    pub details: BTreeMap<String, u64>,
    /// The smallest of them.
    pub smallest: Example,
}

/// What a campaign found (so far).
#[derive(Clone, Debug)]
pub struct CampaignSummary {
    /// The campaign seed.
    pub seed: u64,
    /// Cases run (by this shard, over every session).
    pub programs: u64,
    /// The bound on the whole campaign's cases, if any.
    pub programs_limit: Option<u64>,
    /// The time bound, if any.
    pub duration: Option<Duration>,
    /// The part of the campaign run.
    pub shard: Shard,
    /// The tier.
    pub tier: Tier,
    /// Backends, reference first.
    pub backends: Vec<String>,
    /// Threads used.
    pub jobs: usize,
    /// Wall-clock time (over every session).
    pub elapsed: Duration,
    /// Cases where every compared backend agreed.
    pub agree: u64,
    /// Cases with a difference no rule explains.
    pub diverge_new: u64,
    /// Cases whose differences are all explained by rules.
    pub diverge_known: u64,
    /// Cases that could not be compared.
    pub inconclusive: u64,
    /// Why cases were inconclusive (numbers replaced by `N`).
    pub inconclusive_reasons: BTreeMap<String, u64>,
    /// Verdicts per backend.
    pub verdicts: BTreeMap<String, VerdictStats>,
    /// Outcome kinds per backend (`rejected`, `returned`, `fault`, ...).
    pub outcome_kinds: BTreeMap<String, BTreeMap<String, u64>>,
    /// Verdict agreement per pair of backends, by their positions in
    /// `backends` (first < second).
    pub confusion: BTreeMap<(usize, usize), Confusion>,
    /// Cases no backend refused.
    pub accepted_by_all: u64,
    /// New divergences by (backend, aspect).
    pub new: BTreeMap<(String, String), DivergenceGroup>,
    /// Differences by signature (canonical form).
    pub signatures: BTreeMap<String, SignatureCount>,
    /// Differences whose signature was not kept ([`MAX_SIGNATURES`]).
    pub signatures_dropped: u64,
    /// Signatures kept: new ones, known ones.
    pub signatures_kept: [usize; 2],
    /// Instructions generated per row of [`OPCODES`].
    pub coverage: Vec<u64>,
    /// The rules (their definitions; matches are in `rule_hits`).
    pub rules: KnownRules,
    /// Matches per rule, in rule order.
    pub rule_hits: Vec<u64>,
    /// Ambiguous matches of the sessions before a resume.
    pub ambiguous_before: Vec<Ambiguity>,
    /// Ambiguous matches of this session.
    pub ambiguous_session: Vec<Ambiguity>,
    /// Progress over time.
    pub timeline: Timeline,
    /// The shard position of the next case to run.
    pub next_position: u64,
    /// True when this session continued a checkpoint.
    pub resumed: bool,
    /// Files written for `save`.
    pub saved: Vec<PathBuf>,
    /// Where the campaign ran.
    pub environment: Option<Environment>,
    /// The engine verifier's verdicts against the kernel's.
    pub verdict_matrix: crate::verdict_matrix::VerdictMatrix,
    /// The sampled kernel-states check.
    pub kernel_states: super::kernel_states::KernelStatesTally,
}

impl CampaignSummary {
    /// The empty summary of `config`.
    pub fn new(config: &CampaignConfig) -> CampaignSummary {
        CampaignSummary {
            seed: config.seed,
            programs: 0,
            programs_limit: config.programs,
            duration: config.duration,
            shard: config.shard,
            tier: config.tier,
            backends: config.backends.clone(),
            jobs: config.jobs.max(1),
            elapsed: Duration::ZERO,
            agree: 0,
            diverge_new: 0,
            diverge_known: 0,
            inconclusive: 0,
            inconclusive_reasons: BTreeMap::new(),
            verdicts: BTreeMap::new(),
            outcome_kinds: BTreeMap::new(),
            confusion: BTreeMap::new(),
            accepted_by_all: 0,
            new: BTreeMap::new(),
            signatures: BTreeMap::new(),
            signatures_dropped: 0,
            signatures_kept: [0, 0],
            coverage: vec![0; OPCODES.len()],
            rules: config.rules.clone(),
            rule_hits: vec![0; config.rules.rules().len()],
            ambiguous_before: Vec::new(),
            ambiguous_session: Vec::new(),
            timeline: Timeline::default(),
            verdict_matrix: Default::default(),
            kernel_states: super::kernel_states::KernelStatesTally::new(config.kernel_states),
            next_position: 0,
            resumed: false,
            saved: Vec::new(),
            environment: None,
        }
    }

    /// The backends that ran none of the programs (every verdict unknown:
    /// not run, e.g. no permission for `bpf()`), in the order given.
    pub fn backends_that_ran_nothing(&self) -> Vec<String> {
        self.backends
            .iter()
            .filter(|b| {
                self.verdicts
                    .get(b.as_str())
                    .is_none_or(|v| v.accepted + v.rejected == 0)
            })
            .cloned()
            .collect()
    }

    /// True when no case was compared: none agreed and none diverged.
    pub fn compared_nothing(&self) -> bool {
        self.agree + self.diverge_new + self.diverge_known == 0
    }

    /// Rows of [`OPCODES`] seen in the generated programs.
    pub fn rows_hit(&self) -> u64 {
        self.coverage.iter().filter(|&&n| n > 0).count() as u64
    }

    /// Every ambiguous match, over every session.
    pub fn ambiguous(&self) -> Vec<Ambiguity> {
        let mut all = self.ambiguous_before.clone();
        for a in &self.ambiguous_session {
            match all
                .iter_mut()
                .find(|b| b.rules == a.rules && b.backend == a.backend && b.aspect == a.aspect)
            {
                Some(b) => b.count += a.count,
                None => all.push(Ambiguity {
                    backend: a.backend.clone(),
                    aspect: a.aspect.clone(),
                    rules: a.rules.clone(),
                    count: a.count,
                }),
            }
        }
        all
    }

    /// For summaries: every rule that matched, with its count and reason,
    /// then how many rules did not match ([`KnownRules::summary`] with this
    /// campaign's counts).
    pub fn rules_summary(&self) -> String {
        self.rules.summary_with(&self.rule_hits, &self.ambiguous())
    }
}

/// Adds one case to the summary (cases must come in position order):
/// applies the rules, counts, and saves a new or smaller example of a new
/// divergence group.
pub(crate) fn fold(
    s: &mut CampaignSummary,
    rules: &mut KnownRules,
    r: CaseResult,
    saver: &mut Findings,
) -> Result<(), CampaignError> {
    s.programs += 1;
    s.verdict_matrix.record(&r.outcomes);
    if let Some(check) = &r.kernel_states {
        s.kernel_states.record(check);
    }
    for &row in &r.rows {
        if let Some(n) = s.coverage.get_mut(row as usize) {
            *n += 1;
        }
    }
    let mut refused = false;
    for (o, reason) in r.outcomes.iter().zip(&r.reasons) {
        if !s.verdicts.contains_key(&o.backend) {
            s.verdicts
                .insert(o.backend.clone(), VerdictStats::default());
        }
        let stats = s.verdicts.get_mut(&o.backend).expect("just inserted");
        let kind = match (&o.verdict, reason) {
            (Verdict::Accepted, _) => {
                stats.accepted += 1;
                o.execution.kind_name()
            }
            (Verdict::Rejected { .. }, Some(reason)) => {
                stats.rejected += 1;
                refused = true;
                match stats.reasons.get_mut(reason) {
                    Some(n) => *n += 1,
                    None => {
                        stats.reasons.insert(reason.clone(), 1);
                    }
                }
                "rejected"
            }
            _ => o.execution.kind_name(),
        };
        if !s.outcome_kinds.contains_key(&o.backend) {
            s.outcome_kinds.insert(o.backend.clone(), BTreeMap::new());
        }
        let kinds = s.outcome_kinds.get_mut(&o.backend).expect("just inserted");
        match kinds.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                kinds.insert(kind.to_string(), 1);
            }
        }
    }
    if !refused && !r.outcomes.is_empty() {
        s.accepted_by_all += 1;
    }
    for (i, a) in r.outcomes.iter().enumerate() {
        for (j, b) in r.outcomes.iter().enumerate().skip(i + 1) {
            let verdicts = (&a.verdict, &b.verdict);
            let (a_ok, b_ok) = match verdicts {
                (Verdict::Unknown, _) | (_, Verdict::Unknown) => continue,
                (x, y) => (
                    matches!(x, Verdict::Accepted),
                    matches!(y, Verdict::Accepted),
                ),
            };
            let c = s.confusion.entry((i, j)).or_default();
            match (a_ok, b_ok) {
                (true, true) => c.both_accept += 1,
                (false, false) => c.both_refuse += 1,
                (true, false) => c.only_a_accepts += 1,
                (false, true) => c.only_b_accepts += 1,
            }
        }
    }
    let mut comparison = r.comparison;
    if let Some(case) = &r.case {
        rules.apply(&case.program, &case.input, &mut comparison);
    }
    match &comparison {
        Comparison::Agree { .. } => s.agree += 1,
        Comparison::Inconclusive { why } => {
            s.inconclusive += 1;
            for w in why {
                *s.inconclusive_reasons
                    .entry(super::normalize_reason(w))
                    .or_default() += 1;
            }
        }
        Comparison::Diverge { differences } => {
            let case = r.case.expect("diverging cases are kept");
            for d in differences {
                if let Some(name) = &d.known {
                    if let Some(i) = s.rules.rules().iter().position(|x| &x.name == name) {
                        s.rule_hits[i] += 1;
                    }
                }
                let signature =
                    Signature::of_type(case.prog_type, &case.program, &r.outcomes, d).canonical();
                let known = d.known.is_some();
                if let Some(c) = s.signatures.get_mut(&signature) {
                    c.count += 1;
                } else if s.signatures_kept[usize::from(known)] < MAX_SIGNATURES {
                    s.signatures_kept[usize::from(known)] += 1;
                    s.signatures.insert(
                        signature,
                        SignatureCount {
                            count: 1,
                            known,
                            rule: d.known.clone(),
                        },
                    );
                } else {
                    s.signatures_dropped += 1;
                }
            }
            if differences.iter().all(|d| d.known.is_some()) {
                s.diverge_known += 1;
                return Ok(());
            }
            s.diverge_new += 1;
            let size = |c: &Case| (c.program.len(), c.input.len());
            for d in differences.iter().filter(|d| d.known.is_none()) {
                let key = (d.backend.clone(), d.aspect.name().to_string());
                let smaller = s
                    .new
                    .get(&key)
                    .is_none_or(|g| size(&case) < size(&g.smallest.case));
                let example = smaller.then(|| Example {
                    index: r.index,
                    case: case.clone(),
                    outcomes: r.outcomes.clone(),
                    detail: d.to_string(),
                });
                let g = match s.new.get_mut(&key) {
                    Some(g) => g,
                    None => s.new.entry(key.clone()).or_insert(DivergenceGroup {
                        count: 0,
                        details: BTreeMap::new(),
                        smallest: example.clone().expect("a first example is smaller"),
                    }),
                };
                g.count += 1;
                *g.details
                    .entry(super::normalize_reason(&d.detail))
                    .or_default() += 1;
                if let Some(example) = example {
                    g.smallest = example;
                    saver.found(&key, &g.smallest, s.seed, s.tier)?;
                }
            }
        }
    }
    Ok(())
}
