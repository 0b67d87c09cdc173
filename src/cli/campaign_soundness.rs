//! `bpfdiff campaign --verifier-soundness`: the engine verifier's
//! self-soundness over generated programs ([`bpfdiff::campaign::soundness`]).

use super::campaign::{check_writable_file, plain_every, stop_on_signals, CampaignArgs, SIGNALLED};
use super::{output, EXIT_NOTHING_TESTED, EXIT_TESTS_FAILED};
use bpfdiff::campaign::findings::write_atomic;
use bpfdiff::campaign::soundness::{self, SoundnessConfig, SoundnessProgress};
use bpfdiff::campaign::Shard;
use bpfdiff::gen::Knobs;
use bpfdiff_engine::verifier::containment::CheckLimits;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Runs the check; exit 1 on a violation, 3 when no program was checked.
pub fn execute(args: &CampaignArgs) -> anyhow::Result<ExitCode> {
    let json = args.json.as_ref().filter(|p| p.as_os_str() != "-");
    let json_stdout = args.json.is_some() && json.is_none();
    if let Some(p) = json {
        check_writable_file(p, "--json")?;
    }
    let programs = match (args.programs, args.duration) {
        (None, None) => Some(1000),
        (p, _) => p,
    };
    let config = SoundnessConfig {
        seed: args.seed.unwrap_or(0),
        programs,
        duration: args.duration,
        shard: args.shard.unwrap_or(Shard::WHOLE),
        jobs: args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        knobs: Knobs::from_env()?,
        limits: CheckLimits::default(),
    };
    stop_on_signals();
    let progress = SoundnessProgress::default();
    let finished = AtomicBool::new(false);
    let every = plain_every();
    let summary = std::thread::scope(|scope| {
        let ticker = scope.spawn(|| {
            let started = Instant::now();
            let mut last = Instant::now();
            while !finished.load(Ordering::Relaxed) {
                if SIGNALLED.load(Ordering::Relaxed) {
                    progress.stop.store(true, Ordering::Relaxed);
                }
                if last.elapsed() >= every {
                    let done = progress.done.load(Ordering::Relaxed);
                    let _ = writeln!(
                        std::io::stderr(),
                        "verifier-soundness: {done} programs, {} accepted, {} violation(s), {:.0} programs/s",
                        progress.accepted.load(Ordering::Relaxed),
                        progress.violations.load(Ordering::Relaxed),
                        done as f64 / started.elapsed().as_secs_f64().max(1e-9)
                    );
                    last = Instant::now();
                }
                std::thread::park_timeout(Duration::from_millis(100));
            }
        });
        let summary = soundness::run(&config, &progress);
        finished.store(true, Ordering::Relaxed);
        ticker.thread().unpark();
        summary
    });
    if SIGNALLED.load(Ordering::Relaxed) {
        let _ = writeln!(
            std::io::stderr(),
            "bpfdiff: campaign stopped by a signal after {} programs",
            summary.programs
        );
    }
    if json_stdout {
        output::println(&serde_json::to_string_pretty(&summary)?)?;
    } else {
        output::println(summary.to_string().trim_end())?;
    }
    if let Some(p) = json {
        let text = serde_json::to_string_pretty(&summary)? + "\n";
        write_atomic(p, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: cannot write --json: {e}", p.display()))?;
    }
    if summary.total.violations > 0 {
        return Ok(ExitCode::from(EXIT_TESTS_FAILED));
    }
    if summary.nothing_checked() {
        let _ = writeln!(
            std::io::stderr(),
            "bpfdiff: nothing was tested: the verifier accepted no program that could be run"
        );
        return Ok(ExitCode::from(EXIT_NOTHING_TESTED));
    }
    Ok(ExitCode::SUCCESS)
}
