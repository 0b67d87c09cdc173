//! `bpfdiff conformance DIR`: run a directory of `.data` tests.

use super::{output, EXIT_TESTS_FAILED};
use bpfdiff::backend_run::conformance_backend;
use bpfdiff::conformance::{engine_interpreter, run_dir, DynBackend, Verdict};
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
    /// Also print passing tests.
    #[arg(long)]
    pub verbose: bool,
    /// The backend that runs the tests: `interp` (the engine, default),
    /// `rbpf`, `rbpf-jit` or `kernel`. Tests a backend declines (the kernel
    /// verifier's refusals) are listed as skipped with the reason.
    #[arg(long, default_value = "interp")]
    pub backend: String,
}

/// Runs the tests; prints failures and the closing `N passed, N failed` line.
pub fn execute(args: &ConformanceArgs) -> anyhow::Result<ExitCode> {
    let backend: Box<DynBackend> = if args.backend == "interp" {
        Box::new(engine_interpreter(args.budget))
    } else {
        Box::new(conformance_backend(&args.backend)?)
    };
    let mut write_error = None;
    let summary = run_dir(&args.dir, backend.as_ref(), |result| {
        let skipped = matches!(result.verdict, Verdict::Skipped { .. });
        let show = args.verbose || skipped || result.verdict.is_failure();
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
