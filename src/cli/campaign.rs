//! `bpfdiff campaign`: many generated programs on several backends.

use super::{output, progress, EXIT_NOTHING_TESTED, EXIT_TESTS_FAILED};
use bpfdiff::campaign::checkpoint::{knobs_text, Checkpoint, SavedConfig};
use bpfdiff::campaign::findings::write_atomic;
use bpfdiff::campaign::{self, junit, CampaignConfig, CampaignProgress, CampaignSummary, Shard};
use bpfdiff::gen::{Knobs, Tier};
use bpfdiff_engine::opcode::OPCODES;
use bpfdiff_oracle::registry;
use bpfdiff_oracle::KnownRules;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
    /// Verifier-tier programs with one or two instruction fields changed.
    Mutated,
    /// Native xdp, tc and socket-filter programs with a packet, meant to
    /// pass the kernel verifier (engine vs kernel BPF_PROG_TEST_RUN).
    Packet,
    /// Native packet programs with one near-miss defect (off-by-one
    /// bounds checks, refused ctx accesses) the kernel should refuse.
    PacketEdge,
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Tier {
        match t {
            TierArg::Verifier => Tier::Verifier,
            TierArg::Grammar => Tier::Grammar,
            TierArg::Raw => Tier::Raw,
            TierArg::Boundary => Tier::Boundary,
            TierArg::Mutated => Tier::Mutated,
            TierArg::Mix => Tier::Mix,
            TierArg::Packet => Tier::Packet,
            TierArg::PacketEdge => Tier::PacketEdge,
        }
    }
}

/// Arguments of `bpfdiff campaign`.
#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// The campaign seed (default 0): case i is generated from a 64-bit hash
    /// of (seed, i).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How many programs the whole campaign has (default 1000; unbounded
    /// with --duration alone).
    #[arg(long)]
    pub programs: Option<u64>,
    /// Stop after this long (`90s`, `10m`, `1h30m`); with --programs,
    /// whichever comes first.
    #[arg(long, value_name = "TIME", value_parser = super::duration::parse)]
    pub duration: Option<Duration>,
    /// Run only part I of N of the campaign: the cases whose index i has
    /// i % N == I (`--shard 0/4` ... `--shard 3/4` together are the campaign).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// The generator tier (default: mix).
    #[arg(long, value_enum)]
    pub tier: Option<TierArg>,
    /// Backends to run, reference first (default: `BPFDIFF_BACKENDS`, else all).
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// Worker threads, each with its own backends (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Which known-divergence rules apply.
    #[command(flatten)]
    pub known: super::known::KnownArgs,
    /// Write the smallest example of each new divergence as a `.data` file
    /// here as it is found, and a checkpoint every 2 seconds.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Continue the campaign whose --save folder is DIR from its checkpoint,
    /// with its configuration (the summary is that of an uninterrupted run).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Do not fetch the kernel verifier's reason for each refusal (faster).
    #[arg(long)]
    pub no_kernel_reasons: bool,
    /// Also check this fraction of the cases (0 < F <= 1, chosen by case
    /// seed) against the kernel verifier's own abstract states: load with a
    /// level-2 log, parse it, and check the engine's concrete run against
    /// it (as `diff --kernel-states`). A value outside them is a new
    /// divergence of aspect `kernel-state`. A level-2 load costs several
    /// plain loads, so sample (e.g. 0.02).
    #[arg(long, value_name = "F", value_parser = parse_fraction)]
    pub kernel_states: Option<f64>,
    /// Exit 0 even when a backend ran none of the programs (could not run
    /// here) or no case was compared, instead of 3.
    #[arg(long)]
    pub allow_skip: bool,
    /// Write the summary as one JSON object to FILE (no FILE, or `-`:
    /// standard output, instead of the text summary). The exit code is the
    /// same.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML summary to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Check the engine's verifier instead of comparing backends: every
    /// accepted program runs inside the states it explored
    /// (docs/verifier.md, self-soundness). Takes --seed, --programs,
    /// --duration, --shard, --jobs and --json.
    #[arg(long, conflicts_with_all = ["tier", "backends", "save", "resume", "junit", "no_kernel_reasons", "kernel_states", "allow_skip"])]
    pub verifier_soundness: bool,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(format!(
            "`{s}` is not a fraction in (0, 1] (e.g. 0.02 for 2 % of the cases)"
        )),
    }
}

/// Set by the SIGINT/SIGTERM handler.
pub(super) static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    SIGNALLED.store(true, Ordering::Relaxed);
}

/// Makes SIGINT and SIGTERM stop the campaign cleanly (checkpoint written,
/// summary printed) instead of killing it.
pub(super) fn stop_on_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe; signal() has no other precondition.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// How often the progress display reads the campaign's counters.
const TICK: Duration = Duration::from_millis(100);

/// How often a plain progress line is printed when standard error is not a
/// terminal (`BPFDIFF_PROGRESS_MS` overrides it, for tests).
const PLAIN_EVERY: Duration = Duration::from_secs(10);

pub(super) fn plain_every() -> Duration {
    std::env::var("BPFDIFF_PROGRESS_MS")
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(PLAIN_EVERY, Duration::from_millis)
}

/// The progress figures, in words: rate, accepted, divergences, coverage
/// and ETA.
fn progress_text(
    c: &CampaignProgress,
    first_done: u64,
    started: Instant,
    positions: Option<u64>,
    remaining_time: Option<Duration>,
) -> String {
    let secs = started.elapsed().as_secs_f64();
    let done = c.done();
    let rate = (done - first_done.min(done)) as f64 / secs.max(1e-9);
    let by_count = positions
        .filter(|_| rate > 0.0)
        .map(|n| Duration::from_secs_f64(n.saturating_sub(done) as f64 / rate));
    let by_time = remaining_time.map(|t| t.saturating_sub(started.elapsed()));
    let eta = match (by_count, by_time) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let eta = eta.map_or("unknown".to_string(), |d| format!("{}s", d.as_secs()));
    format!(
        "{rate:.0} programs/s, accepted {}, {} new divergence(s), {} known, rows {}/{}, eta {eta}",
        c.accepted(),
        c.diverge_new(),
        c.diverge_known(),
        c.rows_hit(),
        OPCODES.len()
    )
}

/// Runs the campaign with a progress display on standard error: a bar when
/// it is a terminal, else a plain line every [`PLAIN_EVERY`]. The workers
/// never touch it; a separate thread reads the fold's counters every
/// [`TICK`].
fn run_with_progress(
    config: CampaignConfig,
    resume: Option<Checkpoint>,
) -> anyhow::Result<CampaignSummary> {
    let positions = config.positions();
    let first_done = resume.as_ref().map_or(0, |c| c.programs());
    let before = resume.as_ref().map_or(Duration::ZERO, Checkpoint::elapsed);
    let remaining_time = config.duration.map(|d| d.saturating_sub(before));
    let bar = match positions {
        Some(n) => progress::bar(n, "{wide_bar} {pos}/{len} programs, {msg} ({elapsed})"),
        None => progress::bar(0, "{pos} programs, {msg} ({elapsed})"),
    };
    let counters = CampaignProgress::default();
    let finished = AtomicBool::new(false);
    let started = Instant::now();
    let every = plain_every();
    let summary = std::thread::scope(|scope| {
        let ticker = scope.spawn(|| {
            let mut last_line = Instant::now();
            while !finished.load(Ordering::Relaxed) {
                if SIGNALLED.load(Ordering::Relaxed) {
                    counters.request_stop();
                }
                let text =
                    || progress_text(&counters, first_done, started, positions, remaining_time);
                if !bar.is_hidden() {
                    bar.set_position(counters.done());
                    bar.set_message(text());
                } else if last_line.elapsed() >= every {
                    let _ = writeln!(
                        std::io::stderr(),
                        "campaign: {} programs, {}",
                        counters.done(),
                        text()
                    );
                    last_line = Instant::now();
                }
                std::thread::park_timeout(TICK);
            }
        });
        let summary = campaign::run_with_progress(config, resume, &counters);
        finished.store(true, Ordering::Relaxed);
        ticker.thread().unpark();
        summary
    });
    bar.finish_and_clear();
    Ok(summary?)
}

/// Fails, naming `path`, when a file cannot be written there. The file is
/// opened without truncation and removed again when it did not exist.
pub(super) fn check_writable_file(path: &Path, flag: &str) -> anyhow::Result<()> {
    let existed = path.exists();
    if path.is_dir() {
        anyhow::bail!("{}: cannot write {flag}: is a folder", path.display());
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot write {flag}: {e}", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Fails, naming `dir`, when findings cannot be saved there: the folder is
/// created and a hidden probe file written and removed.
fn check_writable_dir(dir: &Path, flag: &str) -> anyhow::Result<()> {
    let fail = |e: std::io::Error| anyhow::anyhow!("{}: cannot write {flag}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".bpfdiff-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The configuration of a resumed campaign: the checkpoint's, after
/// checking that no argument given now contradicts it.
fn resume_config(
    args: &CampaignArgs,
    dir: &Path,
    checkpoint: &Checkpoint,
    jobs: usize,
) -> anyhow::Result<CampaignConfig> {
    let saved: &SavedConfig = &checkpoint.config;
    let mut conflicts = Vec::new();
    let mut differs = |flag: &str, given: Option<String>, saved: String| {
        if let Some(given) = given {
            if given != saved {
                conflicts.push(format!("{flag} {given} (the checkpoint has {saved})"));
            }
        }
    };
    differs(
        "--seed",
        args.seed.map(|s| s.to_string()),
        saved.seed.to_string(),
    );
    let show = |p: Option<u64>| p.map_or("none".into(), |p| p.to_string());
    differs(
        "--programs",
        args.programs.map(Some).map(show),
        show(saved.programs),
    );
    let show_ms = |d: Option<u64>| d.map_or("none".into(), |d| format!("{d} ms"));
    differs(
        "--duration",
        args.duration.map(|d| show_ms(Some(d.as_millis() as u64))),
        show_ms(saved.duration_ms),
    );
    differs(
        "--shard",
        args.shard.map(|s| s.to_string()),
        saved.shard.to_string(),
    );
    differs(
        "--tier",
        args.tier.map(|t| Tier::from(t).to_string()),
        saved.tier.clone(),
    );
    let backends = args
        .backends
        .as_deref()
        .map(|b| registry::select(Some(b)).map(|v| v.join(",")))
        .transpose()?;
    differs("--backends", backends, saved.backends.join(","));
    if let Some(save) = &args.save {
        if save != dir {
            conflicts.push(format!(
                "--save {} (the campaign saves to {})",
                save.display(),
                dir.display()
            ));
        }
    }
    let knobs = Knobs::from_env()?;
    if knobs_text(&knobs) != saved.knobs {
        conflicts.push(format!(
            "generator settings from the environment {} (the checkpoint has {})",
            knobs_text(&knobs),
            saved.knobs
        ));
    }
    match (&saved.generator, saved.tier()) {
        (Some(theirs), Some(tier)) => {
            let ours = campaign::checkpoint::generator_fingerprint(tier, &knobs, saved.seed);
            if *theirs != ours {
                conflicts.push(format!(
                    "this bpfdiff generates other programs than the one that started the campaign (generator fingerprint {ours}, the checkpoint's {theirs}); resume it with that bpfdiff"
                ));
            }
        }
        _ => eprintln!(
            "warning: {}: the checkpoint predates generator fingerprints; the cases from here on are this bpfdiff's, which may differ from those of the bpfdiff that started the campaign",
            dir.join(campaign::checkpoint::CHECKPOINT_FILE).display()
        ),
    }
    let saved_rules = serde_json::to_string(&saved.rules)?;
    if !args.known.known.is_empty() || args.known.no_builtin_rules {
        let given = serde_json::to_string(args.known.rules()?.rules())?;
        if given != saved_rules {
            conflicts.push("--known: other rules than the checkpoint's".to_string());
        }
    }
    if args.kernel_states.is_some() && args.kernel_states != saved.kernel_states {
        conflicts.push("--kernel-states: another fraction than the checkpoint's".to_string());
    }
    if args.no_kernel_reasons && saved.kernel_reasons {
        conflicts.push("--no-kernel-reasons (the checkpoint fetched them)".to_string());
    }
    if !conflicts.is_empty() {
        anyhow::bail!(
            "{}: cannot resume: {}",
            dir.join(campaign::checkpoint::CHECKPOINT_FILE).display(),
            conflicts.join("; ")
        );
    }
    let rules = if saved.rule_sources.is_empty() {
        KnownRules::new(saved.rules.clone())
    } else {
        KnownRules::parse(&saved_rules, &saved.rule_sources.join(" + "))?
    };
    Ok(CampaignConfig {
        seed: saved.seed,
        programs: saved.programs,
        duration: saved.duration_ms.map(Duration::from_millis),
        shard: saved.shard,
        tier: saved.tier().expect("checked when loaded"),
        backends: saved.backends.clone(),
        jobs,
        knobs,
        rules,
        kernel_reasons: saved.kernel_reasons,
        save: Some(dir.to_path_buf()),
        checkpoint_every: checkpoint_every()?,
        kernel_states: saved.kernel_states,
    })
}

/// The checkpoint interval: 2 s, or `BPFDIFF_CHECKPOINT_MS` (for tests).
fn checkpoint_every() -> anyhow::Result<Duration> {
    match std::env::var("BPFDIFF_CHECKPOINT_MS") {
        Ok(ms) => Ok(Duration::from_millis(ms.trim().parse().map_err(|_| {
            anyhow::anyhow!("BPFDIFF_CHECKPOINT_MS: `{ms}` is not a number of milliseconds")
        })?)),
        Err(_) => Ok(campaign::checkpoint::EVERY),
    }
}

/// Runs the campaign and prints its summary; exit 1 on a new divergence.
pub fn execute(args: &CampaignArgs) -> anyhow::Result<ExitCode> {
    if args.verifier_soundness {
        return super::campaign_soundness::execute(args);
    }
    // Errors first: every output path is checked before the run starts.
    let json = args.json.as_ref().filter(|p| p.as_os_str() != "-");
    let json_stdout = args.json.is_some() && json.is_none();
    if let Some(p) = json {
        check_writable_file(p, "--json")?;
    }
    if let Some(p) = &args.junit {
        check_writable_file(p, "--junit")?;
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let (config, resume) = match &args.resume {
        Some(dir) => {
            let checkpoint = Checkpoint::load(dir)?;
            check_writable_dir(dir, "--resume")?;
            (
                resume_config(args, dir, &checkpoint, jobs)?,
                Some(checkpoint),
            )
        }
        None => {
            if let Some(dir) = &args.save {
                check_writable_dir(dir, "--save")?;
            }
            let programs = match (args.programs, args.duration) {
                (None, None) => Some(1000),
                (p, _) => p,
            };
            let tier: Tier = args.tier.unwrap_or(TierArg::Mix).into();
            // The packet tiers' cases run on the engine and the kernel only.
            let backends = match (&args.backends, tier.is_native()) {
                (None, true) => bpfdiff::native_diff::NATIVE_BACKENDS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                (b, _) => registry::select(b.as_deref())?,
            };
            let config = CampaignConfig {
                seed: args.seed.unwrap_or(0),
                programs,
                duration: args.duration,
                shard: args.shard.unwrap_or(Shard::WHOLE),
                tier,
                backends,
                jobs,
                knobs: Knobs::from_env()?,
                rules: args.known.rules()?,
                kernel_reasons: !args.no_kernel_reasons,
                save: args.save.clone(),
                checkpoint_every: checkpoint_every()?,
                kernel_states: args.kernel_states,
            };
            (config, None)
        }
    };
    let save_dir = config.save.clone();
    stop_on_signals();
    let summary = run_with_progress(config, resume)?;
    if SIGNALLED.load(Ordering::Relaxed) {
        let resume = save_dir.map_or(String::new(), |d| {
            format!("; continue with --resume {}", d.display())
        });
        let _ = writeln!(
            std::io::stderr(),
            "bpfdiff: campaign stopped by a signal after {} programs{resume}",
            summary.programs
        );
    }
    let report = summary.to_report();
    if json_stdout {
        output::println(&serde_json::to_string_pretty(&report)?)?;
    } else {
        output::println(&summary.to_string())?;
    }
    if let Some(p) = json {
        let text = serde_json::to_string_pretty(&report)? + "\n";
        write_atomic(p, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: cannot write --json: {e}", p.display()))?;
    }
    if let Some(p) = &args.junit {
        write_atomic(p, junit::junit(&summary).as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: cannot write --junit: {e}", p.display()))?;
    }
    if summary.diverge_new > 0 {
        return Ok(ExitCode::from(EXIT_TESTS_FAILED));
    }
    let idle = summary.backends_that_ran_nothing();
    let states_idle = summary.kernel_states.checked_nothing();
    if (!idle.is_empty() || summary.compared_nothing() || states_idle) && !args.allow_skip {
        let why = if states_idle && idle.is_empty() {
            "--kernel-states checked none of the sampled cases".to_string()
        } else if idle.is_empty() {
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
