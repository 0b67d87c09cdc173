//! `bpfdiff conformance DIR`: run a directory of `.data` tests.

use super::{output, progress, Budget, EXIT_NOTHING_TESTED, EXIT_TESTS_FAILED};
use bpfdiff::backend_run::conformance_backend;
use bpfdiff::conformance::{engine_interpreter, list_tests, run_dir, DynBackend, Verdict};
use bpfdiff::conformance_verdicts;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff conformance`.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// The directory holding the `*.data` tests (not searched recursively).
    pub dir: PathBuf,
    /// The instruction budget of each test on `interp` (see `run --budget`).
    #[command(flatten)]
    pub budget: Budget,
    /// Also print passing tests.
    #[arg(long)]
    pub verbose: bool,
    /// The backend that runs the tests: `interp` (the engine, default),
    /// `jit`, `rbpf`, `rbpf-jit` or `kernel`. Tests a backend declines (the
    /// kernel verifier's refusals) are listed as skipped with the reason.
    /// `verifier` checks the engine verifier's verdict on each test against
    /// its `-- verdict` (accepted when absent) instead of running it.
    #[arg(long, default_value = "interp")]
    pub backend: String,
    /// Exit 0 even when every test was skipped (the backend could not run
    /// here), instead of 3.
    #[arg(long)]
    pub allow_skip: bool,
    /// Print one JSON object (the counts and every test's result) instead
    /// of text. The exit code is the same.
    #[arg(long)]
    pub json: bool,
}

/// Runs the tests; prints failures and the closing `N passed, N failed`
/// line, or with `--json` one JSON object.
pub fn execute(args: &ConformanceArgs) -> anyhow::Result<ExitCode> {
    // The bar counts tests done; it shows only on a terminal (stderr).
    let total = list_tests(&args.dir).map_or(0, |t| t.len() as u64);
    let bar = progress::bar(total, "{wide_bar} {pos}/{len} tests ({elapsed})");
    let mut write_error = None;
    let on_result = |result: &bpfdiff::conformance::TestResult| {
        bar.inc(1);
        let skipped = matches!(result.verdict, Verdict::Skipped { .. });
        let show = args.verbose || skipped || result.verdict.is_failure();
        if show && !args.json && write_error.is_none() {
            write_error = bar.suspend(|| output::println(&result.to_string())).err();
        }
    };
    let summary = if args.backend == "verifier" {
        conformance_verdicts::run_dir(&args.dir, on_result)
    } else {
        let backend: Box<DynBackend> = if args.backend == "interp" {
            Box::new(engine_interpreter(args.budget.budget))
        } else {
            Box::new(conformance_backend(&args.backend)?)
        };
        run_dir(&args.dir, backend.as_ref(), on_result)
    };
    bar.finish_and_clear();
    let summary = summary?;
    if let Some(e) = write_error {
        return Err(e);
    }
    if args.json {
        let report = summary.to_report(&args.backend);
        output::println(&serde_json::to_string_pretty(&report)?)?;
    } else {
        if let Some(why) = &summary.unavailable {
            output::println(&format!(
                "skip all {} tests: backend {} cannot run here: {why}",
                summary.results.len(),
                args.backend
            ))?;
        }
        output::println(&summary.to_string())?;
    }
    if summary.failed() > 0 {
        return Ok(ExitCode::from(EXIT_TESTS_FAILED));
    }
    if summary.tested_nothing() && !args.allow_skip {
        let _ = writeln!(
            std::io::stderr(),
            "bpfdiff: nothing was tested: all {} tests were skipped on backend {} \
             (--allow-skip accepts this)",
            summary.results.len(),
            args.backend
        );
        return Ok(ExitCode::from(EXIT_NOTHING_TESTED));
    }
    Ok(ExitCode::SUCCESS)
}
