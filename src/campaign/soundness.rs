//! The self-soundness campaign of the engine's verifier
//! (`bpfdiff campaign --verifier-soundness`): generated programs are
//! verified with their states recorded, and every accepted one is run on
//! the checking interpreter, each step checked against those states
//! ([`bpfdiff_engine::verifier::containment`]). No backend runs.
//!
//! Case `i` of seed `N` comes from one of three sources, by `i % 3`: the
//! grammar tier, the verifier-aware tier, and a single-field mutation of a
//! verifier-aware program (the mutations reach the refusal boundary, where
//! verifier bugs live), each generated from [`case_seed`]`(N, i)`. The
//! counts are sums over cases, the same whatever the number of threads.

use super::{case_seed, Shard};
use crate::gen::{seeded, Knobs, Tier};
use bpfdiff_engine::verifier::containment::{self, CheckLimits, Outcome};
use bpfdiff_engine::Program;
use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a case's program comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The grammar tier.
    Grammar,
    /// The verifier-aware tier.
    VerifierAware,
    /// A verifier-aware program with one or two fields changed.
    Mutated,
}

impl Source {
    /// The three sources, in case order.
    pub const ALL: [Source; 3] = [Source::Grammar, Source::VerifierAware, Source::Mutated];

    /// The source's name in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Source::Grammar => "grammar",
            Source::VerifierAware => "verifier-aware",
            Source::Mutated => "mutated",
        }
    }
}

/// One field of one or two instructions changed, deterministically from
/// `seed`: a register, an offset or an immediate nudged, or an offset
/// replaced by a stack offset (most land just inside or outside what the
/// verifier allows).
pub fn mutate(mut p: Program, seed: u64) -> Program {
    if p.insns.is_empty() {
        return p;
    }
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..1 + next() % 2 {
        let slot = (next() % p.insns.len() as u64) as usize;
        let ins = &mut p.insns[slot];
        match next() % 5 {
            0 => ins.dst = (next() % 11) as u8,
            1 => ins.src = (next() % 11) as u8,
            2 => ins.off = (ins.off as i64 + (next() % 17) as i64 - 8) as i16,
            3 => ins.imm = ins.imm.wrapping_add((next() % 33) as i32 - 16),
            _ => ins.off = -((next() % 520) as i16),
        }
    }
    p
}

/// Case `index` of campaign `seed`: its source, program and input.
pub fn case(knobs: &Knobs, seed: u64, index: u64) -> (Source, Program, Vec<u8>) {
    let source = Source::ALL[(index % 3) as usize];
    let s = case_seed(seed, index);
    let tier = match source {
        Source::Grammar => Tier::Grammar,
        _ => Tier::Verifier,
    };
    let c = seeded::case(tier, knobs, s);
    let program = match source {
        Source::Mutated => mutate(c.program, s),
        _ => c.program,
    };
    (source, program, c.input)
}

/// What to run.
#[derive(Clone, Debug)]
pub struct SoundnessConfig {
    /// The campaign seed.
    pub seed: u64,
    /// How many cases (`None`: until `duration`).
    pub programs: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// The part of the campaign to run.
    pub shard: Shard,
    /// Worker threads.
    pub jobs: usize,
    /// Generator knobs.
    pub knobs: Knobs,
    /// Limits of each check.
    pub limits: CheckLimits,
}

/// Counts of one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceCounts {
    /// Programs generated.
    pub programs: u64,
    /// Accepted by the verifier.
    pub accepted: u64,
    /// Accepted and run with every recorded step checked.
    pub checked: u64,
    /// Steps checked.
    pub steps: u64,
    /// Checked runs that went on past the step limit (the rest unchecked).
    pub truncated: u64,
    /// Checked runs that ran out of budget (allowed).
    pub out_of_budget: u64,
    /// Accepted but not checked: more states than the record limit.
    pub too_many_states: u64,
    /// Accepted but not run: the interpreter's loader refuses the encoding.
    pub not_runnable: u64,
    /// Self-soundness violations.
    pub violations: u64,
}

impl SourceCounts {
    fn add(&mut self, o: &SourceCounts) {
        self.programs += o.programs;
        self.accepted += o.accepted;
        self.checked += o.checked;
        self.steps += o.steps;
        self.truncated += o.truncated;
        self.out_of_budget += o.out_of_budget;
        self.too_many_states += o.too_many_states;
        self.not_runnable += o.not_runnable;
        self.violations += o.violations;
    }

    fn count(&mut self, outcome: &Outcome) {
        self.programs += 1;
        match outcome {
            Outcome::Rejected => {}
            Outcome::NotRunnable => {
                self.accepted += 1;
                self.not_runnable += 1;
            }
            Outcome::TooManyStates => {
                self.accepted += 1;
                self.too_many_states += 1;
            }
            Outcome::Sound {
                steps,
                truncated,
                out_of_budget,
            } => {
                self.accepted += 1;
                self.checked += 1;
                self.steps += *steps as u64;
                self.truncated += u64::from(*truncated);
                self.out_of_budget += u64::from(*out_of_budget);
            }
            Outcome::Violation(_) => {
                self.accepted += 1;
                self.violations += 1;
            }
        }
    }
}

/// The counts of one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SourceRow {
    /// The source.
    pub source: Source,
    /// Its counts.
    #[serde(flatten)]
    pub counts: SourceCounts,
}

/// One violation, with what regenerates it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViolationReport {
    /// The case index.
    pub index: u64,
    /// Its source.
    pub source: Source,
    /// The program's bytes, hex.
    pub program: String,
    /// The input, hex.
    pub input: String,
    /// Where and what.
    pub message: String,
}

/// The most violations kept as examples (all are counted).
pub const MAX_EXAMPLES: usize = 20;

/// The campaign's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SoundnessSummary {
    /// The campaign seed.
    pub seed: u64,
    /// Programs generated and checked or refused.
    pub programs: u64,
    /// Per source, in [`Source::ALL`] order.
    pub sources: Vec<SourceRow>,
    /// All sources together.
    pub total: SourceCounts,
    /// The first violations, by case index.
    pub examples: Vec<ViolationReport>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl SoundnessSummary {
    /// True when no program was checked (nothing was tested).
    pub fn nothing_checked(&self) -> bool {
        self.total.checked == 0
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct SoundnessProgress {
    /// Programs done.
    pub done: AtomicU64,
    /// Programs accepted.
    pub accepted: AtomicU64,
    /// Violations found.
    pub violations: AtomicU64,
    /// Set to stop the workers early (the summary then covers what ran).
    pub stop: AtomicBool,
}

/// Runs the campaign on `config.jobs` threads.
pub fn run(config: &SoundnessConfig, progress: &SoundnessProgress) -> SoundnessSummary {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let positions = config
        .programs
        .map(|n| config.shard.positions_below(n))
        .unwrap_or(u64::MAX);
    let merged = Mutex::new((vec![SourceCounts::default(); 3], Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..config.jobs.max(1) {
            scope.spawn(|| {
                let mut counts = vec![SourceCounts::default(); 3];
                let mut examples = Vec::new();
                loop {
                    if progress.stop.load(Ordering::Relaxed)
                        || config.duration.is_some_and(|d| started.elapsed() >= d)
                    {
                        break;
                    }
                    let pos = next.fetch_add(1, Ordering::Relaxed);
                    let Some(index) = (pos < positions)
                        .then(|| config.shard.case_index(pos))
                        .flatten()
                    else {
                        break;
                    };
                    let (source, program, input) = case(&config.knobs, config.seed, index);
                    let outcome = containment::check_program(&program, &input, &config.limits);
                    counts[(index % 3) as usize].count(&outcome);
                    if !matches!(outcome, Outcome::Rejected) {
                        progress.accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Outcome::Violation(v) = outcome {
                        progress.violations.fetch_add(1, Ordering::Relaxed);
                        if examples.len() < MAX_EXAMPLES {
                            examples.push(ViolationReport {
                                index,
                                source,
                                program: hex(&program.to_bytes()),
                                input: hex(&input),
                                message: v.to_string(),
                            });
                        }
                    }
                    progress.done.fetch_add(1, Ordering::Relaxed);
                }
                let mut m = merged.lock().unwrap_or_else(|e| e.into_inner());
                for (t, c) in m.0.iter_mut().zip(&counts) {
                    t.add(c);
                }
                m.1.extend(examples);
            });
        }
    });
    let (counts, mut examples) = merged.into_inner().unwrap_or_else(|e| e.into_inner());
    examples.sort_by_key(|e: &ViolationReport| e.index);
    examples.truncate(MAX_EXAMPLES);
    let mut total = SourceCounts::default();
    for c in &counts {
        total.add(c);
    }
    SoundnessSummary {
        seed: config.seed,
        programs: total.programs,
        sources: Source::ALL
            .into_iter()
            .zip(counts)
            .map(|(source, counts)| SourceRow { source, counts })
            .collect(),
        total,
        examples,
        seconds: started.elapsed().as_secs_f64(),
    }
}

impl fmt::Display for SoundnessSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verifier self-soundness: {} programs (seed {}) in {:.1}s",
            self.programs, self.seed, self.seconds
        )?;
        let rows = self
            .sources
            .iter()
            .map(|r| (r.source.name(), &r.counts))
            .chain([("total", &self.total)]);
        for (name, c) in rows {
            writeln!(
                f,
                "  {name:<15} {} programs, {} accepted, {} checked ({} steps; {} truncated, {} out of budget), {} not checked (too many states), {} not runnable, {} violation(s)",
                c.programs,
                c.accepted,
                c.checked,
                c.steps,
                c.truncated,
                c.out_of_budget,
                c.too_many_states,
                c.not_runnable,
                c.violations
            )?;
        }
        for e in &self.examples {
            writeln!(
                f,
                "violation: case {} ({}): {}\n  program {}\n  input {}",
                e.index,
                e.source.name(),
                e.message,
                e.program,
                e.input
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_do_not_depend_on_the_number_of_threads() {
        let mut config = SoundnessConfig {
            seed: 7,
            programs: Some(60),
            duration: None,
            shard: Shard::WHOLE,
            jobs: 1,
            knobs: Knobs::default(),
            limits: CheckLimits::default(),
        };
        let one = run(&config, &SoundnessProgress::default());
        config.jobs = 3;
        let three = run(&config, &SoundnessProgress::default());
        assert_eq!(one.programs, 60);
        assert_eq!(one.sources, three.sources);
        assert_eq!(one.total.violations, 0, "{one}");
        assert!(one.total.checked > 0, "{one}");
    }
}
