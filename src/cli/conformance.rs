//! `bpfdiff conformance DIR`: run a directory of `.data` tests.

use super::{output, EXIT_TESTS_FAILED};
use bpfdiff::conformance::{engine_interpreter, run_dir};
use bpfdiff_engine::interp::DEFAULT_BUDGET;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff conformance`.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// The directory holding the `*.data` tests (not searched recursively).
    pub dir: PathBuf,
    /// Maximum number of instructions per test.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BUDGET)]
    pub budget: u64,
    /// Also print passing and skipped tests.
    #[arg(long)]
    pub verbose: bool,
}

/// Runs the tests; prints failures and the closing `N passed, N failed` line.
pub fn execute(args: &ConformanceArgs) -> anyhow::Result<ExitCode> {
    let backend = engine_interpreter(args.budget);
    let mut write_error = None;
    let summary = run_dir(&args.dir, &backend, |result| {
        let show = args.verbose || result.verdict.is_failure();
        if show && write_error.is_none() {
            write_error = output::println(&result.to_string()).err();
        }
    })?;
    if let Some(e) = write_error {
        return Err(e);
    }
    output::println(&summary.to_string())?;
    Ok(if summary.failed() > 0 {
        ExitCode::from(EXIT_TESTS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
