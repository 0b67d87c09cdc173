//! The JSON form of a campaign summary (`bpfdiff campaign --json`) and its
//! text form.

use super::case_seed;
use super::tally::{CampaignSummary, Confusion, SignatureCount};
use super::timeline::Sample;
use crate::environment::Environment;
use crate::fuzz_glue::program_text;
use bpfdiff_engine::opcode::OPCODES;
use bpfdiff_oracle::Outcome;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// The version of the JSON summary's shape.
pub const SCHEMA: u32 = 1;

/// A reason (or detail) and how many cases had it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The text, numbers replaced by `N` ([`super::normalize_reason`]).
    pub reason: String,
    /// Cases.
    pub count: u64,
}

/// Counts by text, most frequent first (ties by text), as summaries list them.
fn by_count(counts: &BTreeMap<String, u64>) -> Vec<ReasonCount> {
    let mut list: Vec<ReasonCount> = counts
        .iter()
        .map(|(reason, &count)| ReasonCount {
            reason: reason.clone(),
            count,
        })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    list
}

/// One backend's verdicts in the JSON form of a summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerdictReport {
    /// Programs loaded.
    pub accepted: u64,
    /// Programs refused.
    pub rejected: u64,
    /// Programs with a verdict (accepted + rejected).
    pub total: u64,
    /// Every refusal reason, most frequent first.
    pub reasons: Vec<ReasonCount>,
}

/// The smallest example of a divergence group in the JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExampleReport {
    /// The case's index in the campaign.
    pub case: u64,
    /// The seed the case was generated from (`"0x…"`, see [`case_seed`]).
    #[serde(with = "bpfdiff_oracle::hex_u64")]
    pub case_seed: u64,
    /// The difference, in words (`rbpf: r0: 0x1 vs 0x0`).
    pub detail: String,
    /// Instruction slots.
    pub slots: usize,
    /// The program's bytes as hex (8 bytes per slot, no separators).
    pub program_hex: String,
    /// The program in kernel syntax (or its slots in hex when it does not
    /// decode), one instruction per line.
    pub program: String,
    /// The input memory as hex.
    pub input: String,
    /// Every backend's outcome (the shape of `diff --json`'s `outcomes`).
    pub outcomes: Vec<Outcome>,
}

/// New divergences of one (backend, aspect) in the JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupReport {
    /// The backend that differs from the reference.
    pub backend: String,
    /// The aspect that differs.
    pub aspect: String,
    /// Cases with such a difference.
    pub count: u64,
    /// Every detail (numbers replaced by `N`), most frequent first.
    pub details: Vec<ReasonCount>,
    /// The smallest of them.
    pub smallest: ExampleReport,
}

/// The known-divergence rules in the JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RulesReport {
    /// Where the rules came from.
    pub sources: Vec<String>,
    /// How many rules applied.
    pub rules: usize,
    /// The rules that matched, with their match counts.
    pub matched: BTreeMap<String, u64>,
    /// How many rules did not match.
    pub without_match: usize,
}

/// A campaign summary in the shape `bpfdiff campaign --json` prints: every
/// figure of the text summary, lists complete (the text shows the most
/// frequent reasons only).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignReport {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The campaign seed (`"0x…"`).
    #[serde(with = "bpfdiff_oracle::hex_u64")]
    pub seed: u64,
    /// The generator tier.
    pub tier: String,
    /// Backends, reference first.
    pub backends: Vec<String>,
    /// Threads used.
    pub jobs: usize,
    /// Cases run.
    pub programs: u64,
    /// Wall-clock seconds.
    pub elapsed_s: f64,
    /// Cases per second.
    pub programs_per_s: f64,
    /// Cases where every compared backend agreed.
    pub agree: u64,
    /// Cases with a difference (`diverge_new + diverge_known`).
    pub diverge: u64,
    /// Cases with a difference no rule explains.
    pub diverge_new: u64,
    /// Cases whose differences are all explained by rules.
    pub diverge_known: u64,
    /// Cases that could not be compared.
    pub inconclusive: u64,
    /// Why cases were inconclusive, most frequent first.
    pub inconclusive_reasons: Vec<ReasonCount>,
    /// Verdicts per backend.
    pub verdicts: BTreeMap<String, VerdictReport>,
    /// New divergences by (backend, aspect).
    pub new_divergences: Vec<GroupReport>,
    /// Files written for `--save`.
    pub saved: Vec<String>,
    /// The known-divergence rules and their matches.
    pub known_rules: RulesReport,
    /// The shard run (`"I/N"`; `"0/1"` for a whole campaign).
    pub shard: String,
    /// The bound on the whole campaign's cases (`"0x…"`, as it may exceed
    /// 2^53; `null`: none).
    #[serde(serialize_with = "optional_hex")]
    pub programs_limit: Option<u64>,
    /// The time bound in seconds (`null`: none).
    pub duration_s: Option<f64>,
    /// The campaign index of the next case this shard would run (`"0x…"`).
    #[serde(with = "bpfdiff_oracle::hex_u64")]
    pub next_case: u64,
    /// True when this run continued a checkpoint.
    pub resumed: bool,
    /// Outcome kinds per backend: `rejected`, `returned`, `fault`,
    /// `out-of-budget`, `timed-out`, `crashed`, `withheld`, `not-run`.
    pub outcomes: BTreeMap<String, BTreeMap<String, u64>>,
    /// Cases no backend refused.
    pub accepted_by_all: u64,
    /// Verdicts of each pair of backends that gave verdicts (in backend
    /// order; only pairs where some backend refused something).
    pub verdict_confusion: Vec<ConfusionReport>,
    /// The engine verifier's verdicts against the kernel's, with the
    /// refusal classes compared (absent unless both ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict_matrix: Option<crate::verdict_matrix::VerdictMatrix>,
    /// The sampled kernel-states check (absent unless `--kernel-states`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_states: Option<super::kernel_states::KernelStatesTally>,
    /// Differences by signature (of the unminimized program), most frequent first.
    pub signatures: Vec<SignatureReport>,
    /// Differences whose signature was not kept (too many distinct ones).
    pub signatures_dropped: u64,
    /// Opcode-table rows seen in the generated programs.
    pub coverage: CoverageReport,
    /// Progress over time (about one sample a second, at most 2000).
    pub timeline: Vec<Sample>,
    /// Where the campaign ran.
    pub environment: Option<Environment>,
}

/// An optional u64 as a `"0x…"` string, or `null`.
fn optional_hex<S: serde::Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.serialize_str(&bpfdiff_oracle::hex_u64::to_text(*v)),
        None => s.serialize_none(),
    }
}

/// Verdicts of two backends over the cases both gave a verdict for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfusionReport {
    /// The first backend (the earlier in the backend list).
    pub a: String,
    /// The second.
    pub b: String,
    /// The counts.
    #[serde(flatten)]
    pub counts: Confusion,
}

/// One signature's count.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignatureReport {
    /// The signature's canonical form ([`crate::signature::Signature::canonical`]).
    pub signature: String,
    /// Differences with it.
    pub count: u64,
    /// True when a known rule explained them.
    pub known: bool,
    /// The rule.
    pub rule: Option<String>,
}

/// Opcode-row coverage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageReport {
    /// Rows in the opcode table.
    pub rows_total: u64,
    /// Rows seen at least once.
    pub rows_hit: u64,
    /// Instructions generated per row, in table order.
    pub rows: Vec<RowCount>,
}

/// Instructions of one opcode-table row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowCount {
    /// The row's name (`OpcodeRow::name`).
    pub row: String,
    /// Instructions generated.
    pub count: u64,
}

impl CampaignReport {
    /// The report without the fields that depend on timing, threads or
    /// the session (elapsed time, rate, jobs, timeline, environment, saved
    /// paths, resumed): what two runs of the same campaign must share.
    pub fn deterministic(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("a report serializes");
        if let Some(o) = v.as_object_mut() {
            for key in [
                "elapsed_s",
                "programs_per_s",
                "jobs",
                "timeline",
                "environment",
                "saved",
                "resumed",
            ] {
                o.remove(key);
            }
        }
        v
    }
}

impl CampaignSummary {
    /// The JSON form of the summary.
    pub fn to_report(&self) -> CampaignReport {
        let secs = self.elapsed.as_secs_f64();
        let verdicts = self
            .verdicts
            .iter()
            .map(|(backend, v)| {
                let report = VerdictReport {
                    accepted: v.accepted,
                    rejected: v.rejected,
                    total: v.accepted + v.rejected,
                    reasons: by_count(&v.reasons),
                };
                (backend.clone(), report)
            })
            .collect();
        let new_divergences = self
            .new
            .iter()
            .map(|((backend, aspect), g)| {
                let e = &g.smallest;
                GroupReport {
                    backend: backend.clone(),
                    aspect: aspect.clone(),
                    count: g.count,
                    details: by_count(&g.details),
                    smallest: ExampleReport {
                        case: e.index,
                        case_seed: case_seed(self.seed, e.index),
                        detail: e.detail.clone(),
                        slots: e.case.program.len(),
                        program_hex: crate::hex::to_hex(&e.case.program.to_bytes()),
                        program: program_text(&e.case.program),
                        input: crate::hex::to_hex(&e.case.input),
                        outcomes: e.outcomes.clone(),
                    },
                }
            })
            .collect();
        let matched: BTreeMap<String, u64> = self
            .rules
            .rules()
            .iter()
            .zip(&self.rule_hits)
            .filter(|(_, &n)| n > 0)
            .map(|(r, &n)| (r.name.clone(), n))
            .collect();
        let refuses = |b: &str| self.verdicts.get(b).is_some_and(|v| v.rejected > 0);
        let verdict_confusion = self
            .confusion
            .iter()
            .filter_map(|(&(a, b), c)| {
                let (a, b) = (self.backends.get(a)?, self.backends.get(b)?);
                (refuses(a) || refuses(b)).then(|| ConfusionReport {
                    a: a.clone(),
                    b: b.clone(),
                    counts: *c,
                })
            })
            .collect();
        let mut signatures: Vec<SignatureReport> = self
            .signatures
            .iter()
            .map(
                |(signature, SignatureCount { count, known, rule })| SignatureReport {
                    signature: signature.clone(),
                    count: *count,
                    known: *known,
                    rule: rule.clone(),
                },
            )
            .collect();
        signatures.sort_by(|a, b| b.count.cmp(&a.count).then(a.signature.cmp(&b.signature)));
        let coverage = CoverageReport {
            rows_total: OPCODES.len() as u64,
            rows_hit: self.rows_hit(),
            rows: OPCODES
                .iter()
                .zip(&self.coverage)
                .map(|(r, &count)| RowCount {
                    row: r.name().to_string(),
                    count,
                })
                .collect(),
        };
        CampaignReport {
            schema: SCHEMA,
            seed: self.seed,
            tier: self.tier.to_string(),
            backends: self.backends.clone(),
            jobs: self.jobs,
            programs: self.programs,
            elapsed_s: secs,
            programs_per_s: self.programs as f64 / secs.max(1e-9),
            agree: self.agree,
            diverge: self.diverge_new + self.diverge_known,
            diverge_new: self.diverge_new,
            diverge_known: self.diverge_known,
            inconclusive: self.inconclusive,
            inconclusive_reasons: by_count(&self.inconclusive_reasons),
            verdicts,
            new_divergences,
            saved: self.saved.iter().map(|p| p.display().to_string()).collect(),
            known_rules: RulesReport {
                sources: self.rules.sources().to_vec(),
                rules: self.rules.rules().len(),
                without_match: self.rules.rules().len() - matched.len(),
                matched,
            },
            shard: self.shard.to_string(),
            programs_limit: self.programs_limit,
            duration_s: self.duration.map(|d| d.as_secs_f64()),
            next_case: self
                .shard
                .case_index(self.next_position)
                .unwrap_or(u64::MAX),
            resumed: self.resumed,
            outcomes: self.outcome_kinds.clone(),
            accepted_by_all: self.accepted_by_all,
            verdict_confusion,
            verdict_matrix: (!self.verdict_matrix.is_empty()).then_some(self.verdict_matrix),
            kernel_states: self
                .kernel_states
                .is_on()
                .then(|| self.kernel_states.clone()),
            signatures,
            signatures_dropped: self.signatures_dropped,
            coverage,
            timeline: self.timeline.samples.clone(),
            environment: self.environment.clone(),
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

impl fmt::Display for CampaignSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "campaign: seed {}, tier {}, backends {}, {} job(s): {} programs in {:.1} s ({:.0} programs/s)",
            self.seed,
            self.tier,
            self.backends.join(","),
            self.jobs,
            self.programs,
            secs,
            self.programs as f64 / secs.max(1e-9)
        )?;
        writeln!(
            f,
            "  agree {}, diverge {} (new {}, all known {}), inconclusive {}",
            self.agree,
            self.diverge_new + self.diverge_known,
            self.diverge_new,
            self.diverge_known,
            self.inconclusive
        )?;
        if self.shard.count > 1 {
            writeln!(f, "  shard {} of the campaign", self.shard)?;
        }
        writeln!(
            f,
            "  coverage: {} of {} opcode-table rows",
            self.rows_hit(),
            OPCODES.len()
        )?;
        for (backend, v) in &self.verdicts {
            let total = v.accepted + v.rejected;
            writeln!(
                f,
                "  {backend}: accepted {} of {} ({:.1} %)",
                v.accepted,
                total,
                percent(v.accepted, total)
            )?;
            for ReasonCount { reason, count: n } in by_count(&v.reasons).into_iter().take(8) {
                writeln!(f, "    {n:6}  {reason}")?;
            }
        }
        if !self.verdict_matrix.is_empty() {
            writeln!(f, "  {}", self.verdict_matrix)?;
        }
        if self.kernel_states.is_on() {
            writeln!(f, "  {}", self.kernel_states)?;
        }
        if !self.inconclusive_reasons.is_empty() {
            writeln!(f, "inconclusive, by reason:")?;
            let reasons = by_count(&self.inconclusive_reasons);
            for ReasonCount { reason, count: n } in reasons.into_iter().take(8) {
                writeln!(f, "  {n:6}  {reason}")?;
            }
        }
        if self.new.is_empty() {
            writeln!(f, "new divergences: none")?;
        } else {
            writeln!(f, "new divergences, by backend and aspect:")?;
            for ((backend, aspect), g) in &self.new {
                let e = &g.smallest;
                writeln!(
                    f,
                    "  {backend} / {aspect}: {} case(s); smallest is case {} ({} slots, {} input bytes):",
                    g.count,
                    e.index,
                    e.case.program.len(),
                    e.case.input.len()
                )?;
                for ReasonCount { reason, count: n } in by_count(&g.details).into_iter().take(6) {
                    writeln!(f, "    {n:6}  {reason}")?;
                }
                writeln!(f, "    smallest: {}", e.detail)?;
                for line in program_text(&e.case.program).lines() {
                    writeln!(f, "      {line}")?;
                }
                writeln!(f, "    input: {}", crate::hex::to_hex(&e.case.input))?;
                for o in &e.outcomes {
                    writeln!(f, "    {:8} {}", o.backend, o.summary())?;
                }
            }
        }
        for p in &self.saved {
            writeln!(f, "saved {}", p.display())?;
        }
        write!(f, "{}", self.rules_summary())
    }
}
