//! The checkpoint of a campaign: its configuration, the position of the
//! next case and the summary of every case before it. It is written to the
//! save folder every few seconds ([`EVERY`]) and at the end; `bpfdiff
//! campaign --resume DIR` reads it and continues exactly there.

use super::tally::{
    CampaignSummary, Confusion, DivergenceGroup, Example, SignatureCount, VerdictStats,
};
use super::timeline::Timeline;
use super::{case_seed, CampaignConfig, Shard};
use crate::gen::{seeded, Knobs, Tier};
use bpfdiff_oracle::known::Ambiguity;
use bpfdiff_oracle::{KnownRule, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

/// The checkpoint's file name in the save folder (not a case format, so
/// `bpfdiff triage` does not read it).
pub const CHECKPOINT_FILE: &str = "campaign.checkpoint";

/// How often a checkpoint is written.
pub const EVERY: Duration = Duration::from_secs(2);

/// The checkpoint format.
pub const FORMAT: u32 = 1;

/// Why a checkpoint could not be read.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// The file could not be read.
    #[error("{path}: cannot read the campaign checkpoint: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a checkpoint of this format.
    #[error("{path}:{line}: not a campaign checkpoint: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The line.
        line: usize,
        /// What was wrong.
        message: String,
    },
}

/// The configuration a campaign was started with (what must not change on
/// a resume).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedConfig {
    /// The campaign seed.
    #[serde(with = "bpfdiff_oracle::hex_u64")]
    pub seed: u64,
    /// The bound on cases.
    pub programs: Option<u64>,
    /// The time bound, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The shard.
    pub shard: Shard,
    /// The tier.
    pub tier: String,
    /// Backends, reference first.
    pub backends: Vec<String>,
    /// The generator settings (their debug form; they come from the
    /// environment and must be the same on a resume).
    pub knobs: String,
    /// The known rules.
    pub rules: Vec<KnownRule>,
    /// Where they came from.
    pub rule_sources: Vec<String>,
    /// Whether the kernel's refusal reasons were fetched.
    pub kernel_reasons: bool,
    /// The fraction of cases checked against the kernel's level-2 states.
    #[serde(default)]
    pub kernel_states: Option<f64>,
    /// [`generator_fingerprint`] of the campaign's tier, knobs and seed
    /// (absent in checkpoints written before it existed).
    #[serde(default)]
    pub generator: Option<String>,
}

impl SavedConfig {
    /// The saved form of `config`.
    pub fn of(config: &CampaignConfig) -> SavedConfig {
        SavedConfig {
            seed: config.seed,
            programs: config.programs,
            duration_ms: config.duration.map(|d| d.as_millis() as u64),
            shard: config.shard,
            tier: config.tier.to_string(),
            backends: config.backends.clone(),
            knobs: knobs_text(&config.knobs),
            rules: config.rules.rules().to_vec(),
            rule_sources: config.rules.sources().to_vec(),
            kernel_reasons: config.kernel_reasons,
            kernel_states: config.kernel_states,
            generator: Some(generator_fingerprint(
                config.tier,
                &config.knobs,
                config.seed,
            )),
        }
    }

    /// The tier.
    pub fn tier(&self) -> Option<Tier> {
        self.tier.parse().ok()
    }
}

/// How many cases [`generator_fingerprint`] hashes.
const FINGERPRINT_CASES: u64 = 64;

/// A hash of the first cases the generator makes for (`tier`, `knobs`,
/// `seed`): the program bytes, the input and the program type. A resume
/// compares it with the checkpoint's, so that a bpfdiff whose generators
/// make other programs (another version) cannot continue a campaign as if
/// its cases were the same.
pub fn generator_fingerprint(tier: Tier, knobs: &Knobs, seed: u64) -> String {
    let mut h: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = super::mix64(h ^ u64::from_le_bytes(word)).rotate_left(17) ^ chunk.len() as u64;
        }
        h = super::mix64(h ^ bytes.len() as u64);
    };
    for index in 0..FINGERPRINT_CASES {
        let case = seeded::case(tier, knobs, case_seed(seed, index));
        add(&case.program.to_bytes());
        add(&case.input);
        add(case.prog_type.to_string().as_bytes());
    }
    format!("{h:016x}")
}

/// The generator settings in the form a checkpoint compares.
pub fn knobs_text(knobs: &Knobs) -> String {
    format!("{knobs:?}")
}

/// A new divergence group, its example named by case index (the case is
/// generated again on a resume).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SavedGroup {
    backend: String,
    aspect: String,
    count: u64,
    details: BTreeMap<String, u64>,
    index: u64,
    outcomes: Vec<Outcome>,
    detail: String,
}

/// Everything folded so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SavedState {
    next_position: u64,
    programs: u64,
    elapsed_ms: u64,
    agree: u64,
    diverge_new: u64,
    diverge_known: u64,
    inconclusive: u64,
    inconclusive_reasons: BTreeMap<String, u64>,
    verdicts: BTreeMap<String, VerdictStats>,
    outcome_kinds: BTreeMap<String, BTreeMap<String, u64>>,
    confusion: Vec<(usize, usize, Confusion)>,
    accepted_by_all: u64,
    new: Vec<SavedGroup>,
    signatures: BTreeMap<String, SignatureCount>,
    signatures_dropped: u64,
    coverage: Vec<u64>,
    rule_hits: Vec<u64>,
    ambiguous: Vec<Ambiguity>,
    timeline: Timeline,
    #[serde(default)]
    verdict_matrix: crate::verdict_matrix::VerdictMatrix,
    #[serde(default)]
    kernel_states: super::kernel_states::KernelStatesTally,
}

/// A campaign checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`FORMAT`].
    pub format: u32,
    /// The campaign's configuration.
    pub config: SavedConfig,
    state: SavedState,
}

impl Checkpoint {
    /// The checkpoint of `summary`.
    pub fn of(config: &CampaignConfig, s: &CampaignSummary) -> Checkpoint {
        let state = SavedState {
            next_position: s.next_position,
            programs: s.programs,
            elapsed_ms: s.elapsed.as_millis() as u64,
            agree: s.agree,
            diverge_new: s.diverge_new,
            diverge_known: s.diverge_known,
            inconclusive: s.inconclusive,
            inconclusive_reasons: s.inconclusive_reasons.clone(),
            verdicts: s.verdicts.clone(),
            outcome_kinds: s.outcome_kinds.clone(),
            confusion: s.confusion.iter().map(|(&(a, b), c)| (a, b, *c)).collect(),
            accepted_by_all: s.accepted_by_all,
            new: s
                .new
                .iter()
                .map(|((backend, aspect), g)| SavedGroup {
                    backend: backend.clone(),
                    aspect: aspect.clone(),
                    count: g.count,
                    details: g.details.clone(),
                    index: g.smallest.index,
                    outcomes: g.smallest.outcomes.clone(),
                    detail: g.smallest.detail.clone(),
                })
                .collect(),
            signatures: s.signatures.clone(),
            signatures_dropped: s.signatures_dropped,
            coverage: s.coverage.clone(),
            rule_hits: s.rule_hits.clone(),
            ambiguous: s.ambiguous(),
            timeline: s.timeline.clone(),
            verdict_matrix: s.verdict_matrix,
            kernel_states: s.kernel_states.clone(),
        };
        Checkpoint {
            format: FORMAT,
            config: SavedConfig::of(config),
            state,
        }
    }

    /// Reads the checkpoint in folder `dir`.
    pub fn load(dir: &Path) -> Result<Checkpoint, CheckpointError> {
        let path = dir.join(CHECKPOINT_FILE);
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| CheckpointError::Io {
            path: shown.clone(),
            source,
        })?;
        let c: Checkpoint = serde_json::from_str(&text).map_err(|e| CheckpointError::Parse {
            path: shown.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        let parse = |message: String| CheckpointError::Parse {
            path: shown.clone(),
            line: 1,
            message,
        };
        if c.format != FORMAT {
            return Err(parse(format!(
                "format {} (this bpfdiff reads {FORMAT})",
                c.format
            )));
        }
        if c.config.tier().is_none() {
            return Err(parse(format!("unknown tier `{}`", c.config.tier)));
        }
        if c.state.rule_hits.len() != c.config.rules.len() {
            return Err(parse("rule counts do not match the rules".into()));
        }
        Ok(c)
    }

    /// The position of the next case.
    pub fn next_position(&self) -> u64 {
        self.state.next_position
    }

    /// Wall-clock time so far.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.state.elapsed_ms)
    }

    /// Cases run so far.
    pub fn programs(&self) -> u64 {
        self.state.programs
    }

    /// The summary to continue from, under `config` (the checkpoint's own).
    pub fn into_summary(self, config: &CampaignConfig) -> CampaignSummary {
        let st = self.state;
        let mut s = CampaignSummary::new(config);
        s.next_position = st.next_position;
        s.programs = st.programs;
        s.elapsed = Duration::from_millis(st.elapsed_ms);
        s.agree = st.agree;
        s.diverge_new = st.diverge_new;
        s.diverge_known = st.diverge_known;
        s.inconclusive = st.inconclusive;
        s.inconclusive_reasons = st.inconclusive_reasons;
        s.verdicts = st.verdicts;
        s.outcome_kinds = st.outcome_kinds;
        s.confusion = st
            .confusion
            .into_iter()
            .map(|(a, b, c)| ((a, b), c))
            .collect();
        s.accepted_by_all = st.accepted_by_all;
        for g in st.new {
            let case = seeded::case(config.tier, &config.knobs, case_seed(config.seed, g.index));
            s.new.insert(
                (g.backend, g.aspect),
                DivergenceGroup {
                    count: g.count,
                    details: g.details,
                    smallest: Example {
                        index: g.index,
                        case,
                        outcomes: g.outcomes,
                        detail: g.detail,
                    },
                },
            );
        }
        s.signatures = st.signatures;
        for c in s.signatures.values() {
            s.signatures_kept[usize::from(c.known)] += 1;
        }
        s.signatures_dropped = st.signatures_dropped;
        if st.coverage.len() == s.coverage.len() {
            s.coverage = st.coverage;
        }
        s.rule_hits = st.rule_hits;
        s.ambiguous_before = st.ambiguous;
        s.timeline = st.timeline;
        s.verdict_matrix = st.verdict_matrix;
        if st.kernel_states.is_on() {
            s.kernel_states = st.kernel_states;
        }
        s.resumed = true;
        s
    }
}
