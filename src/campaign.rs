//! Campaigns: many generated cases from deterministic seeds, run on every
//! selected backend in parallel, summarised as they stream by.
//!
//! Case `i` of campaign seed `N` is [`seeded::case`] with seed
//! [`case_seed`]`(N, i)`, so any case of any campaign can be regenerated.
//! Worker threads (each owns one set of backends: backends are not `Sync`,
//! and the rbpf ones own a worker process) take case positions from a shared
//! counter and send their results to the calling thread, which folds them
//! into the summary strictly in case order ([`tally`]): known rules are
//! applied in that order, so every count is the same whatever the number of
//! threads, and a campaign stopped after `k` cases has exactly the summary
//! of the first `k`. Workers may run at most [`WINDOW`] cases ahead of the
//! fold, so memory is bounded by the number of distinct findings, not by the
//! number of programs.
//!
//! With a save folder, findings are written as they are found (atomically,
//! [`findings`]) and a [`checkpoint`] is written every few seconds, from
//! which `--resume` continues exactly where the campaign stopped.

pub mod checkpoint;
pub mod findings;
pub mod junit;
pub mod kernel_states;
pub mod report;
pub mod soundness;
pub mod tally;
pub mod timeline;

pub use report::{
    CampaignReport, ExampleReport, GroupReport, ReasonCount, RulesReport, VerdictReport,
};
pub use tally::{CampaignSummary, DivergenceGroup, Example, VerdictStats};

use crate::environment::Environment;
use crate::fuzz_glue::{DiffCheck, DiffHarness};
use crate::gen::{seeded, Case, Knobs, Tier};
use bpfdiff_engine::opcode::{OpcodeRow, OPCODES};
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::registry::RegistryError;
use bpfdiff_oracle::{Comparison, KnownRules, Outcome};
use checkpoint::Checkpoint;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The seed of case `index` of campaign `seed`: both are hashed together
/// with the splitmix64 finalizer, so campaigns do not share cases (no
/// `seed << 32` aliasing: seed 2^32 and seed 0 give unrelated cases), and
/// for one campaign the map from index to seed is a bijection.
pub const fn case_seed(seed: u64, index: u64) -> u64 {
    mix64(mix64(seed ^ 0x6a09_e667_f3bc_c909) ^ index)
}

/// The splitmix64 finalizer: a bijective 64-bit mixer in which every input
/// bit affects every output bit.
pub const fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One of `count` deterministic parts of a campaign: shard `index` runs the
/// cases whose index `i` has `i % count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// The whole campaign.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The campaign index of this shard's `position`-th case (`None` past
    /// the 64-bit index space).
    pub fn case_index(self, position: u64) -> Option<u64> {
        position.checked_mul(self.count)?.checked_add(self.index)
    }

    /// How many of the first `programs` cases belong to this shard.
    pub fn positions_below(self, programs: u64) -> u64 {
        if programs <= self.index {
            0
        } else {
            (programs - self.index - 1) / self.count + 1
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("bad shard `{s}`: expected I/N with 0 <= I < N (e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u64>().map_err(|_| bad())?,
            n.trim().parse::<u64>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    /// The campaign seed.
    pub seed: u64,
    /// How many cases of the whole campaign (this shard runs its part of
    /// them); `None`: until `duration` is over.
    pub programs: Option<u64>,
    /// Stop after this much time (whichever of this and `programs` comes
    /// first; counted over every session of a resumed campaign).
    pub duration: Option<Duration>,
    /// The part of the campaign to run.
    pub shard: Shard,
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
    /// Where to write one `.data` file per new divergence group, as found,
    /// and the checkpoint.
    pub save: Option<PathBuf>,
    /// How often to write the checkpoint (when saving).
    pub checkpoint_every: Duration,
    /// The fraction of cases whose concrete run is also checked against
    /// the kernel verifier's level-2 states (`None`: off).
    pub kernel_states: Option<f64>,
}

impl CampaignConfig {
    /// A configuration with the defaults of `bpfdiff campaign`.
    pub fn new(seed: u64, programs: u64, tier: Tier, backends: Vec<String>) -> CampaignConfig {
        CampaignConfig {
            seed,
            programs: Some(programs),
            duration: None,
            shard: Shard::WHOLE,
            tier,
            backends,
            jobs: 1,
            knobs: Knobs::default(),
            rules: KnownRules::default(),
            kernel_reasons: false,
            save: None,
            checkpoint_every: checkpoint::EVERY,
            kernel_states: None,
        }
    }

    /// How many cases this shard runs (`None`: unbounded).
    pub fn positions(&self) -> Option<u64> {
        self.programs.map(|p| self.shard.positions_below(p))
    }
}

/// Why a campaign could not run.
#[derive(Debug, Error)]
pub enum CampaignError {
    /// A bad backend selection.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The worker threads could not be started.
    #[error("cannot start {jobs} worker threads: {message}")]
    Pool {
        /// Threads asked for.
        jobs: usize,
        /// The error.
        message: String,
    },
    /// A finding or the checkpoint could not be saved.
    #[error("{path}: cannot write: {source}")]
    Save {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
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
/// folding thread sets them after each case, and any thread may read them
/// while the campaign runs.
#[derive(Debug, Default)]
pub struct CampaignProgress {
    done: AtomicU64,
    accepted: AtomicU64,
    diverge_new: AtomicU64,
    diverge_known: AtomicU64,
    rows_hit: AtomicU64,
    stop: AtomicBool,
}

impl CampaignProgress {
    /// Asks the campaign to stop early (e.g. on SIGTERM): it folds the
    /// cases already run, writes its checkpoint and returns its summary.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// True once [`CampaignProgress::request_stop`] was called.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Cases run so far (this session and the sessions before a resume).
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Cases no backend refused.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Cases with a difference no rule explains (at the end, equal to
    /// [`CampaignSummary::diverge_new`]).
    pub fn diverge_new(&self) -> u64 {
        self.diverge_new.load(Ordering::Relaxed)
    }

    /// Cases whose differences are all explained by rules.
    pub fn diverge_known(&self) -> u64 {
        self.diverge_known.load(Ordering::Relaxed)
    }

    /// Opcode-table rows seen in the generated programs so far.
    pub fn rows_hit(&self) -> u64 {
        self.rows_hit.load(Ordering::Relaxed)
    }

    fn publish(&self, s: &CampaignSummary) {
        self.done.store(s.programs, Ordering::Relaxed);
        self.accepted.store(s.accepted_by_all, Ordering::Relaxed);
        self.diverge_new.store(s.diverge_new, Ordering::Relaxed);
        self.diverge_known.store(s.diverge_known, Ordering::Relaxed);
        self.rows_hit.store(s.rows_hit(), Ordering::Relaxed);
    }
}

/// How far (in cases) the workers may run ahead of the in-order fold.
pub const WINDOW: u64 = 8192;

/// How often the fold takes the results that have arrived.
const FOLD_PERIOD: Duration = Duration::from_millis(5);

/// How many consecutive cases a campaign thread takes at a time: they are
/// run together, so that rbpf's workers answer several per round trip.
pub const CHUNK: u64 = 16;

/// What a worker sends back for one case. The case itself is kept only
/// when it diverged (the fold needs its program for the rules).
pub(crate) struct CaseResult {
    pub(crate) position: u64,
    pub(crate) index: u64,
    pub(crate) case: Option<Case>,
    pub(crate) comparison: Comparison,
    pub(crate) outcomes: Vec<Outcome>,
    /// Rejection reasons, normalized, in outcome order (`None`: not refused).
    pub(crate) reasons: Vec<Option<String>>,
    /// The opcode-table rows of the program's instructions.
    pub(crate) rows: Vec<u16>,
    /// The kernel-states check, when this case was sampled for it.
    pub(crate) kernel_states: Option<kernel_states::CaseCheck>,
}

/// The index of `row` in [`OPCODES`].
fn row_index(row: &'static OpcodeRow) -> u16 {
    let offset = row as *const OpcodeRow as usize - OPCODES.as_ptr() as usize;
    (offset / std::mem::size_of::<OpcodeRow>()) as u16
}

/// Runs the cases at `positions` (consecutive; all before the end of the
/// campaign), together so that backends with a round trip per program
/// (rbpf's workers) take several at once; the results are what one case
/// at a time gives.
fn run_chunk(
    harness: &mut DiffHarness,
    mut states_kernel: Option<&mut KernelBackend>,
    config: &CampaignConfig,
    positions: std::ops::Range<u64>,
) -> Vec<CaseResult> {
    let planned: Vec<(u64, u64, u64)> = positions
        .map(|position| {
            let index = config
                .shard
                .case_index(position)
                .expect("positions stop before the index space ends");
            (position, index, case_seed(config.seed, index))
        })
        .collect();
    let cases: Vec<Case> = planned
        .iter()
        .map(|&(_, _, seed)| seeded::case(config.tier, &config.knobs, seed))
        .collect();
    let checks = harness.check_many_without_rules(&cases);
    planned
        .into_iter()
        .zip(cases)
        .zip(checks)
        .map(|(((position, index, seed), case), check)| {
            finish_case(
                states_kernel.as_deref_mut(),
                config,
                (position, index, seed),
                case,
                check,
            )
        })
        .collect()
}

/// The result of one case from its check: the sampled kernel-states check,
/// the refusal reasons and the opcode rows.
fn finish_case(
    states_kernel: Option<&mut KernelBackend>,
    config: &CampaignConfig,
    (position, index, seed): (u64, u64, u64),
    case: Case,
    mut check: DiffCheck,
) -> CaseResult {
    let rows = case
        .program
        .decode()
        .map(|d| d.iter().map(|(_, i)| row_index(i.row)).collect())
        .unwrap_or_default();
    let kernel_states = match (states_kernel, config.kernel_states) {
        // The kernel-states check runs the input model's wrapper: native
        // cases (the packet tiers) are not sampled.
        (Some(kernel), Some(fraction))
            if case.prog_type == bpfdiff_engine::prog_type::ProgType::Input
                && kernel_states::sampled(seed, fraction) =>
        {
            Some(
                match bpfdiff_oracle::kernel_log::kernel_states(kernel, &case.program, &case.input)
                {
                    Ok(states) => {
                        if let Some(d) = states.difference() {
                            check.comparison = with_difference(check.comparison, d);
                        }
                        kernel_states::CaseCheck::Checked(Box::new(states))
                    }
                    Err(e) => kernel_states::CaseCheck::Failed(e),
                },
            )
        }
        _ => None,
    };
    let reasons = check
        .outcomes
        .iter()
        .map(|o| match &o.verdict {
            bpfdiff_oracle::Verdict::Rejected { reason, .. } => Some(normalize_reason(reason)),
            _ => None,
        })
        .collect();
    let diverged = matches!(check.comparison, Comparison::Diverge { .. });
    CaseResult {
        position,
        index,
        case: diverged.then_some(case),
        comparison: check.comparison,
        outcomes: check.outcomes,
        reasons,
        rows,
        kernel_states,
    }
}

/// `comparison` with `d` added: a kernel-states finding makes an agreeing
/// or inconclusive case diverge (the finding stands on its own).
fn with_difference(comparison: Comparison, d: bpfdiff_oracle::Difference) -> Comparison {
    match comparison {
        Comparison::Diverge { mut differences } => {
            differences.push(d);
            Comparison::Diverge { differences }
        }
        Comparison::Agree { .. } | Comparison::Inconclusive { .. } => Comparison::Diverge {
            differences: vec![d],
        },
    }
}

/// Runs a campaign.
pub fn run(config: CampaignConfig) -> Result<CampaignSummary, CampaignError> {
    run_with_progress(config, None, &CampaignProgress::default())
}

/// Runs a campaign (continuing `resume` when given), publishing its counters
/// in `progress` as it goes (read them from another thread to show
/// progress).
pub fn run_with_progress(
    config: CampaignConfig,
    resume: Option<Checkpoint>,
    progress: &CampaignProgress,
) -> Result<CampaignSummary, CampaignError> {
    let start = Instant::now();
    let environment = Environment::detect();
    let mut summary = match resume {
        Some(c) => c.into_summary(&config),
        None => CampaignSummary::new(&config),
    };
    summary.environment = Some(environment);
    let before = summary.elapsed;
    let mut saver = findings::Findings::new(config.save.clone(), &summary)?;
    let positions = config.positions();
    let remaining_time = config.duration.map(|d| d.saturating_sub(before));
    let first = summary.next_position;
    let done = |p: u64| positions.is_some_and(|n| p >= n) || config.shard.case_index(p).is_none();
    progress.publish(&summary);
    if done(first) || remaining_time == Some(Duration::ZERO) {
        summary.elapsed = before + start.elapsed();
        saver.checkpoint(&config, &summary)?;
        return Ok(summary);
    }

    let jobs = config.jobs.max(1);
    let next = AtomicU64::new(first);
    let folded = AtomicU64::new(first);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<RegistryError>> = Mutex::new(None);
    // Whole chunks go through the channel: a send per case cost a futex
    // wake-up per case, a fifth of an interpreter-only campaign.
    let (tx, rx) = mpsc::sync_channel::<Vec<CaseResult>>((WINDOW / CHUNK) as usize);
    let mut rules = config.rules.clone();
    let outcome = std::thread::scope(|scope| -> Result<(), CampaignError> {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, folded, stop, failure, config) = (&next, &folded, &stop, &failure, &config);
            let spawned = std::thread::Builder::new()
                .name("campaign".into())
                .spawn_scoped(scope, move || {
                    let mut harness = match DiffHarness::new(
                        &config.backends,
                        KnownRules::default(),
                        config.kernel_reasons,
                    ) {
                        Ok(h) => h,
                        Err(e) => {
                            *failure.lock().expect("no panics while locked") = Some(e);
                            stop.store(true, Ordering::Relaxed);
                            return;
                        }
                    };
                    let mut states_kernel = config
                        .kernel_states
                        .map(|_| KernelBackend::new(KernelOptions::default()));
                    loop {
                        let first = next.fetch_add(CHUNK, Ordering::Relaxed);
                        if done(first) {
                            return;
                        }
                        // `done` only turns true once: the chunk ends at
                        // the first position past the campaign.
                        let last = first.saturating_add(CHUNK);
                        let end = (first + 1..last).find(|&p| done(p)).unwrap_or(last);
                        while end > folded.load(Ordering::Relaxed) + WINDOW {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            std::thread::sleep(Duration::from_micros(200));
                        }
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let results =
                            run_chunk(&mut harness, states_kernel.as_mut(), config, first..end);
                        if tx.send(results).is_err() {
                            return;
                        }
                    }
                });
            if let Err(e) = spawned {
                stop.store(true, Ordering::Relaxed);
                return Err(CampaignError::Pool {
                    jobs,
                    message: e.to_string(),
                });
            }
        }
        drop(tx);
        // The fold: in position order, whatever order the chunks arrive in
        // (each holds consecutive positions, keyed here by its first).
        let mut pending: std::collections::BTreeMap<u64, Vec<CaseResult>> = Default::default();
        let mut expected = first;
        let mut last_checkpoint = Instant::now();
        let mut result = Ok(());
        loop {
            // The fold wakes on a timer and takes whatever has arrived:
            // blocking in `recv` made every send a wake-up (a futex call and
            // a context switch per chunk).
            std::thread::sleep(FOLD_PERIOD);
            let finished = loop {
                match rx.try_recv() {
                    Ok(chunk) => {
                        if let Some(r) = chunk.first() {
                            pending.insert(r.position, chunk);
                        }
                    }
                    Err(mpsc::TryRecvError::Empty) => break false,
                    Err(mpsc::TryRecvError::Disconnected) => break true,
                }
            };
            'fold: while result.is_ok() {
                let Some(chunk) = pending.remove(&expected) else {
                    break;
                };
                for r in chunk {
                    debug_assert_eq!(r.position, expected, "a chunk holds consecutive positions");
                    if let Err(e) = tally::fold(&mut summary, &mut rules, r, &mut saver) {
                        stop.store(true, Ordering::Relaxed);
                        result = Err(e);
                        break 'fold;
                    }
                    expected += 1;
                }
            }
            summary.next_position = expected;
            folded.store(expected, Ordering::Relaxed);
            let elapsed = start.elapsed();
            summary.elapsed = before + elapsed;
            summary.timeline.sample(timeline::Sample::of(&summary));
            progress.publish(&summary);
            if remaining_time.is_some_and(|t| elapsed >= t) || progress.stop_requested() {
                stop.store(true, Ordering::Relaxed);
            }
            if result.is_ok() && last_checkpoint.elapsed() >= config.checkpoint_every {
                summary.ambiguous_session = rules.ambiguous().to_vec();
                if let Err(e) = saver.checkpoint(&config, &summary) {
                    stop.store(true, Ordering::Relaxed);
                    result = Err(e);
                }
                last_checkpoint = Instant::now();
            }
            if finished {
                break;
            }
        }
        result
    });
    if let Some(e) = failure.into_inner().expect("no panics while locked") {
        return Err(e.into());
    }
    outcome?;
    summary.ambiguous_session = rules.ambiguous().to_vec();
    summary.elapsed = before + start.elapsed();
    summary.timeline.sample_now(timeline::Sample::of(&summary));
    saver.checkpoint(&config, &summary)?;
    summary.saved = saver.saved();
    Ok(summary)
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
    fn a_kernel_states_finding_makes_any_case_diverge() {
        use bpfdiff_oracle::{Aspect, Difference};
        let finding = Difference {
            backend: "kernel".into(),
            aspect: Aspect::KernelState,
            detail: "insn 3: r2 = 0x5 (5) is outside the kernel's R2=0".into(),
            known: None,
        };
        let other = Difference {
            aspect: Aspect::R0,
            detail: "0x1 vs 0x2".into(),
            ..finding.clone()
        };
        for (before, expected) in [
            (Comparison::Agree { skipped: vec![] }, vec![finding.clone()]),
            (
                Comparison::Inconclusive {
                    why: vec!["rbpf: not compared".into()],
                },
                vec![finding.clone()],
            ),
            (
                Comparison::Diverge {
                    differences: vec![other.clone()],
                },
                vec![other.clone(), finding.clone()],
            ),
        ] {
            match with_difference(before, finding.clone()) {
                Comparison::Diverge { differences } => assert_eq!(differences, expected),
                c => panic!("{c:?}"),
            }
        }
    }

    #[test]
    fn case_seeds_of_different_campaigns_do_not_collide() {
        // The old `(seed << 32) ^ index` gave campaign 2^32 the cases of
        // campaign 0, and campaign 1's case 0 was campaign 0's case 2^32.
        let n = 50_000u64;
        let mut seen = std::collections::HashSet::new();
        for seed in [0u64, 1, 2, 1 << 32, (1 << 32) + 1, u64::MAX] {
            for i in 0..n {
                assert!(seen.insert(case_seed(seed, i)), "seed {seed} case {i}");
            }
        }
        assert_ne!(case_seed(1 << 32, 0), case_seed(0, 0));
        assert_ne!(case_seed(0, 1 << 32), case_seed(1, 0));
    }

    #[test]
    fn shards_partition_the_cases() {
        let programs = 103;
        let mut all: Vec<u64> = Vec::new();
        for index in 0..4 {
            let s = Shard { index, count: 4 };
            let n = s.positions_below(programs);
            all.extend((0..n).map(|p| s.case_index(p).unwrap()));
        }
        all.sort_unstable();
        assert_eq!(all, (0..programs).collect::<Vec<_>>());
        assert_eq!("3/4".parse(), Ok(Shard { index: 3, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
    }

    #[test]
    fn an_interpreter_only_campaign_agrees_with_itself() {
        let mut config = CampaignConfig::new(
            1,
            40,
            Tier::Verifier,
            vec!["interp".into(), "interp".into()],
        );
        config.jobs = 2;
        let progress = CampaignProgress::default();
        let s = run_with_progress(config, None, &progress).unwrap();
        assert_eq!(s.programs, 40);
        assert_eq!(s.agree, 40, "{s}");
        assert_eq!((progress.done(), progress.diverge_new()), (40, 0));
        assert!(s.rows_hit() > 0);
        assert!(s.to_string().contains("new divergences: none"));
    }

    #[test]
    fn counts_do_not_depend_on_the_number_of_threads() {
        let run_with = |jobs| {
            let mut config =
                CampaignConfig::new(5, 300, Tier::Raw, vec!["interp".into(), "jit".into()]);
            config.jobs = jobs;
            let s = run(config).unwrap();
            s.to_report().deterministic()
        };
        assert_eq!(run_with(1), run_with(3));
    }
}
