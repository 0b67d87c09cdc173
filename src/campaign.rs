//! Campaigns: many generated cases from deterministic seeds, run on every
//! selected backend in parallel, summarised.
//!
//! Case `i` of campaign seed `N` is [`seeded::case`] with seed
//! [`case_seed`]`(N, i)`, so any case of any campaign can be regenerated.
//! Work is spread over a rayon pool; each pool thread owns one set of
//! backends (backends are not `Sync`, and the rbpf ones own a worker
//! process). Known rules are applied afterwards, in case order, so the
//! counts are the same whatever the number of threads.

use crate::fuzz_glue::{program_text, regression_data, DiffHarness};
use crate::gen::{seeded, Case, Knobs, Tier};
use bpfdiff_oracle::registry::RegistryError;
use bpfdiff_oracle::{Comparison, KnownRules, Outcome, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The seed of case `index` of campaign `seed`.
pub const fn case_seed(seed: u64, index: u64) -> u64 {
    (seed << 32) ^ index
}

/// What to run.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    /// The campaign seed.
    pub seed: u64,
    /// How many cases.
    pub programs: u64,
    /// The generator tier.
    pub tier: Tier,
    /// Backend names, reference first.
    pub backends: Vec<String>,
    /// Worker threads (each with its own backends).
    pub jobs: usize,
    /// Generator settings.
    pub knobs: Knobs,
    /// Known-divergence rules.
    pub rules: KnownRules,
    /// Fetch the kernel verifier's reason for each refusal (slower).
    pub kernel_reasons: bool,
    /// Where to write one `.data` file per new divergence group.
    pub save: Option<PathBuf>,
}

/// Why a campaign could not run.
#[derive(Debug, Error)]
pub enum CampaignError {
    /// A bad backend selection.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The thread pool could not be built.
    #[error("cannot start {jobs} worker threads: {message}")]
    Pool {
        /// Threads asked for.
        jobs: usize,
        /// The error.
        message: String,
    },
    /// An example could not be saved.
    #[error("{path}: cannot write: {source}")]
    Save {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Verdict counts of one backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerdictStats {
    /// Programs loaded.
    pub accepted: u64,
    /// Programs refused.
    pub rejected: u64,
    /// Refusals by reason (numbers replaced by `N`).
    pub reasons: BTreeMap<String, u64>,
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

/// What a campaign found.
#[derive(Clone, Debug)]
pub struct CampaignSummary {
    /// The campaign seed.
    pub seed: u64,
    /// Cases run.
    pub programs: u64,
    /// The tier.
    pub tier: Tier,
    /// Backends, reference first.
    pub backends: Vec<String>,
    /// Threads used.
    pub jobs: usize,
    /// Wall-clock time.
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
    /// New divergences by (backend, aspect).
    pub new: BTreeMap<(String, String), DivergenceGroup>,
    /// The rules with their match counts.
    pub rules: KnownRules,
    /// Files written for `save`.
    pub saved: Vec<PathBuf>,
    /// The engine verifier's verdicts against the kernel's.
    pub verdict_matrix: crate::verdict_matrix::VerdictMatrix,
}

impl CampaignSummary {
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
}

/// A reason with its numbers replaced by `N`, so that reasons group. Only
/// numbers that stand alone are replaced (decimal with an optional `-`, or
/// `0x` hex, with a token boundary on both sides): `insn 12`, `off=-8` and
/// `0xdc` lose their number, `be16`, `r10` and `u64` keep theirs.
pub fn normalize_reason(reason: &str) -> String {
    let chars: Vec<char> = reason.chars().collect();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(reason.len());
    let mut i = 0;
    while i < chars.len() {
        let at_boundary = i == 0 || !word(chars[i - 1]);
        let end = at_boundary
            .then(|| standalone_number_end(&chars, i))
            .flatten();
        match end {
            Some(end) => {
                out.push('N');
                i = end;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out.chars().take(120).collect()
}

/// The end of the number token starting at `start` (`-12`, `12`, `0xdc`),
/// if one starts there and is followed by a token boundary.
fn standalone_number_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start;
    if chars.get(i) == Some(&'-') {
        i += 1;
    }
    let hex = chars.get(i) == Some(&'0') && matches!(chars.get(i + 1), Some('x' | 'X'));
    let digits_start = if hex { i + 2 } else { i };
    let is_digit = |c: &char| {
        if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
        }
    };
    let digits = chars[digits_start.min(chars.len())..]
        .iter()
        .take_while(|c| is_digit(c))
        .count();
    let end = digits_start + digits;
    let boundary = chars
        .get(end)
        .is_none_or(|&c| !(c.is_ascii_alphanumeric() || c == '_'));
    (digits > 0 && boundary).then_some(end)
}

/// Live counters of a running campaign, for a progress display: the
/// worker threads add to them (relaxed atomics, one add per case), and any
/// thread may read them while the campaign runs.
#[derive(Debug, Default)]
pub struct CampaignProgress {
    done: AtomicU64,
    diverge_new: AtomicU64,
}

impl CampaignProgress {
    /// Cases run so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Cases so far with a difference no rule explains (at the end, equal
    /// to [`CampaignSummary::diverge_new`]).
    pub fn diverge_new(&self) -> u64 {
        self.diverge_new.load(Ordering::Relaxed)
    }
}

struct CaseResult {
    index: u64,
    case: Case,
    comparison: Comparison,
    outcomes: Vec<Outcome>,
}

fn run_cases(
    config: &CampaignConfig,
    progress: &CampaignProgress,
) -> Result<Vec<CaseResult>, CampaignError> {
    let jobs = config.jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| CampaignError::Pool {
            jobs,
            message: e.to_string(),
        })?;
    let next = AtomicU64::new(0);
    let results = Mutex::new(Vec::with_capacity(config.programs as usize));
    let failure: Mutex<Option<RegistryError>> = Mutex::new(None);
    pool.broadcast(|_| {
        let mut harness = match DiffHarness::new(
            &config.backends,
            KnownRules::default(),
            config.kernel_reasons,
        ) {
            Ok(h) => h,
            Err(e) => {
                *failure.lock().expect("no panics while locked") = Some(e);
                return;
            }
        };
        // Each thread judges its own cases against a copy of the rules, for
        // the running count of new divergences only: the summary applies
        // the rules again in case order, counting matches once.
        let mut rules = config.rules.clone();
        let mut mine = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= config.programs {
                break;
            }
            let case = seeded::case(config.tier, &config.knobs, case_seed(config.seed, index));
            let check = harness.check_without_rules(&case);
            if matches!(check.comparison, Comparison::Diverge { .. }) {
                let mut judged = check.comparison.clone();
                rules.apply(&case.program, &mut judged);
                if judged.has_new_divergence() {
                    progress.diverge_new.fetch_add(1, Ordering::Relaxed);
                }
            }
            progress.done.fetch_add(1, Ordering::Relaxed);
            mine.push(CaseResult {
                index,
                case,
                comparison: check.comparison,
                outcomes: check.outcomes,
            });
        }
        results.lock().expect("no panics while locked").extend(mine);
    });
    if let Some(e) = failure.into_inner().expect("no panics while locked") {
        return Err(e.into());
    }
    let mut results = results.into_inner().expect("no panics while locked");
    results.sort_by_key(|r| r.index);
    Ok(results)
}

/// Runs a campaign.
pub fn run(config: CampaignConfig) -> Result<CampaignSummary, CampaignError> {
    run_with_progress(config, &CampaignProgress::default())
}

/// Runs a campaign, counting cases done and new divergences in `progress`
/// as it goes (read it from another thread to show progress).
pub fn run_with_progress(
    config: CampaignConfig,
    progress: &CampaignProgress,
) -> Result<CampaignSummary, CampaignError> {
    let start = Instant::now();
    let results = run_cases(&config, progress)?;
    let mut rules = config.rules.clone();
    let mut s = CampaignSummary {
        seed: config.seed,
        programs: results.len() as u64,
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
        new: BTreeMap::new(),
        rules: KnownRules::default(),
        saved: Vec::new(),
        verdict_matrix: Default::default(),
    };
    for mut r in results {
        s.verdict_matrix.record(&r.outcomes);
        for o in &r.outcomes {
            let stats = s.verdicts.entry(o.backend.clone()).or_default();
            match &o.verdict {
                Verdict::Accepted => stats.accepted += 1,
                Verdict::Rejected { reason, .. } => {
                    stats.rejected += 1;
                    *stats.reasons.entry(normalize_reason(reason)).or_default() += 1;
                }
                Verdict::Unknown => {}
            }
        }
        rules.apply(&r.case.program, &mut r.comparison);
        match &r.comparison {
            Comparison::Agree { .. } => s.agree += 1,
            Comparison::Inconclusive { why } => {
                s.inconclusive += 1;
                for w in why {
                    *s.inconclusive_reasons
                        .entry(normalize_reason(w))
                        .or_default() += 1;
                }
            }
            Comparison::Diverge { differences } => {
                if differences.iter().all(|d| d.known.is_some()) {
                    s.diverge_known += 1;
                    continue;
                }
                s.diverge_new += 1;
                for d in differences.iter().filter(|d| d.known.is_none()) {
                    let key = (d.backend.clone(), d.aspect.name().to_string());
                    let example = Example {
                        index: r.index,
                        case: r.case.clone(),
                        outcomes: r.outcomes.clone(),
                        detail: d.to_string(),
                    };
                    let size = |e: &Example| (e.case.program.len(), e.case.input.len());
                    let g = s.new.entry(key).or_insert_with(|| DivergenceGroup {
                        count: 0,
                        details: BTreeMap::new(),
                        smallest: example.clone(),
                    });
                    g.count += 1;
                    *g.details.entry(normalize_reason(&d.detail)).or_default() += 1;
                    if size(&example) < size(&g.smallest) {
                        g.smallest = example;
                    }
                }
            }
        }
    }
    s.rules = rules;
    if let Some(dir) = &config.save {
        s.saved = save_examples(dir, &s)?;
    }
    s.elapsed = start.elapsed();
    Ok(s)
}

fn save_examples(
    dir: &std::path::Path,
    s: &CampaignSummary,
) -> Result<Vec<PathBuf>, CampaignError> {
    let err = |path: &std::path::Path, source| CampaignError::Save {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let mut saved = Vec::new();
    for ((backend, aspect), g) in &s.new {
        let e = &g.smallest;
        let path = dir.join(format!(
            "{backend}-{aspect}-seed{}-{}-case{}.data",
            s.seed, s.tier, e.index
        ));
        let header = format!(
            "# bpfdiff campaign --seed {} --tier {} case {}: {}\n",
            s.seed,
            s.tier,
            e.index,
            e.detail.replace("--", "- -")
        );
        // An empty program has no `.data` form; generators never make one.
        let Some(data) = regression_data(&e.case) else {
            continue;
        };
        std::fs::write(&path, header + &data).map_err(|x| err(&path, x))?;
        saved.push(path);
    }
    Ok(saved)
}

/// A reason (or detail) and how many cases had it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The text, numbers replaced by `N` ([`normalize_reason`]).
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
    /// The engine verifier's verdicts against the kernel's (absent unless
    /// both ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict_matrix: Option<crate::verdict_matrix::VerdictMatrix>,
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
            .zip(self.rules.hits())
            .filter(|(_, &n)| n > 0)
            .map(|(r, &n)| (r.name.clone(), n))
            .collect();
        CampaignReport {
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
            verdict_matrix: (!self.verdict_matrix.is_empty()).then_some(self.verdict_matrix),
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
        write!(f, "{}", self.rules.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_group_without_their_standalone_numbers() {
        assert_eq!(
            normalize_reason("R3 !read_ok at insn 12"),
            "R3 !read_ok at insn N"
        );
        for (reason, grouped) in [
            ("unknown opcode 0xdc", "unknown opcode N"),
            ("be16 of 0x10 bytes", "be16 of N bytes"),
            (
                "frame pointer r10 is read only",
                "frame pointer r10 is read only",
            ),
            ("invalid stack off=-8 size=8", "invalid stack off=N size=N"),
            (
                "jump pc+3 out of range (insn #6)",
                "jump pc+N out of range (insn #N)",
            ),
            ("*(u64 *)(r10 -8) at 0x1f2", "*(u64 *)(r10 N) at N"),
            ("0x12g and 12b stay", "0x12g and 12b stay"),
        ] {
            assert_eq!(normalize_reason(reason), grouped, "{reason}");
        }
    }

    #[test]
    fn case_seeds_of_different_campaigns_do_not_collide() {
        assert_ne!(case_seed(0, 1), case_seed(1, 0));
        assert_eq!(case_seed(0, 7), 7);
    }

    #[test]
    fn an_interpreter_only_campaign_agrees_with_itself() {
        let config = CampaignConfig {
            seed: 1,
            programs: 40,
            tier: Tier::Verifier,
            backends: vec!["interp".into(), "interp".into()],
            jobs: 2,
            knobs: Knobs::default(),
            rules: KnownRules::default(),
            kernel_reasons: false,
            save: None,
        };
        let progress = CampaignProgress::default();
        let s = run_with_progress(config, &progress).unwrap();
        assert_eq!(s.programs, 40);
        assert_eq!(s.agree, 40, "{s}");
        assert_eq!((progress.done(), progress.diverge_new()), (40, 0));
        assert!(s.to_string().contains("new divergences: none"));
    }
}
