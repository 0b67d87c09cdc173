//! `bpfdiff campaign`: many generated programs on several backends.

use super::{output, progress, EXIT_NOTHING_TESTED, EXIT_TESTS_FAILED};
use bpfdiff::campaign::{self, CampaignConfig, CampaignProgress, CampaignSummary};
use bpfdiff::gen::{Knobs, Tier};
use bpfdiff_oracle::registry;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The generator tier on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TierArg {
    /// The default mix of tiers (verifier, boundary, grammar, raw; see docs/fuzzing.md).
    Mix,
    /// Programs the kernel verifier accepts and the engine runs cleanly.
    Verifier,
    /// Valid encodings of every opcode-table row, unsafe programs included.
    Grammar,
    /// Any 8-byte slots, invalid ones included.
    Raw,
    /// Valid programs that access memory at the edges of the stack and input.
    Boundary,
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Tier {
        match t {
            TierArg::Verifier => Tier::Verifier,
            TierArg::Grammar => Tier::Grammar,
            TierArg::Raw => Tier::Raw,
            TierArg::Boundary => Tier::Boundary,
            TierArg::Mix => Tier::Mix,
        }
    }
}

/// Arguments of `bpfdiff campaign`.
#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// The campaign seed: case i is generated from (seed << 32) ^ i.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How many programs to generate and run.
    #[arg(long, default_value_t = 1000)]
    pub programs: u64,
    /// The generator tier.
    #[arg(long, value_enum, default_value_t = TierArg::Mix)]
    pub tier: TierArg,
    /// Backends to run, reference first (default: `BPFDIFF_BACKENDS`, else all).
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// Worker threads, each with its own backends (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Which known-divergence rules apply.
    #[command(flatten)]
    pub known: super::known::KnownArgs,
    /// Write the smallest example of each new divergence as a `.data` file here.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Do not fetch the kernel verifier's reason for each refusal (faster).
    #[arg(long)]
    pub no_kernel_reasons: bool,
    /// Exit 0 even when a backend ran none of the programs (could not run
    /// here) or no case was compared, instead of 3.
    #[arg(long)]
    pub allow_skip: bool,
    /// Print one JSON object (every figure of the summary, the new
    /// divergences with their programs) instead of text. The exit code is
    /// the same.
    #[arg(long)]
    pub json: bool,
}

/// How often the progress bar reads the campaign's counters.
const TICK: Duration = Duration::from_millis(100);

/// Runs the campaign with a progress bar on standard error when it is a
/// terminal. The workers only add to two atomic counters; a separate thread
/// reads them every [`TICK`] and redraws, so the bar costs the campaign
/// nothing measurable (and nothing at all when hidden: no thread starts).
fn run_with_bar(config: CampaignConfig) -> anyhow::Result<CampaignSummary> {
    let bar = progress::bar(
        config.programs,
        "{wide_bar} {pos}/{len} programs, {rate} programs/s, {msg} ({elapsed}, eta {eta})",
    );
    if bar.is_hidden() {
        return Ok(campaign::run(config)?);
    }
    let counters = CampaignProgress::default();
    let finished = AtomicBool::new(false);
    let summary = std::thread::scope(|scope| {
        let ticker = scope.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                bar.set_position(counters.done());
                bar.set_message(format!("{} new divergence(s)", counters.diverge_new()));
                std::thread::park_timeout(TICK);
            }
        });
        let summary = campaign::run_with_progress(config, &counters);
        finished.store(true, Ordering::Relaxed);
        ticker.thread().unpark();
        summary
    });
    bar.finish_and_clear();
    Ok(summary?)
}

/// Runs the campaign and prints its summary; exit 1 on a new divergence.
pub fn execute(args: &CampaignArgs) -> anyhow::Result<ExitCode> {
    let backends = registry::select(args.backends.as_deref())?;
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let summary = run_with_bar(CampaignConfig {
        seed: args.seed,
        programs: args.programs,
        tier: args.tier.into(),
        backends,
        jobs,
        knobs: Knobs::from_env()?,
        rules: args.known.rules()?,
        kernel_reasons: !args.no_kernel_reasons,
        save: args.save.clone(),
    })?;
    if args.json {
        output::println(&serde_json::to_string_pretty(&summary.to_report())?)?;
    } else {
        output::println(&summary.to_string())?;
    }
    if summary.diverge_new > 0 {
        return Ok(ExitCode::from(EXIT_TESTS_FAILED));
    }
    let idle = summary.backends_that_ran_nothing();
    if (!idle.is_empty() || summary.compared_nothing()) && !args.allow_skip {
        let why = if idle.is_empty() {
            "no case was compared".to_string()
        } else {
            format!("backend {} ran none of the programs", idle.join(", "))
        };
        let _ = writeln!(
            std::io::stderr(),
            "bpfdiff: nothing was tested: {why} (see the reasons above; --allow-skip accepts this)"
        );
        return Ok(ExitCode::from(EXIT_NOTHING_TESTED));
    }
    Ok(ExitCode::SUCCESS)
}
