//! `bpfdiff report CASE`: write the report folder of one divergence.

use super::{output, EXIT_TESTS_FAILED};
use bpfdiff::report::{self, index, ReportError, Written};
use bpfdiff_oracle::registry;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The case: `.data` (its `#@` record is kept), raw, assembly,
    /// `case.json` (its `recorded` is kept) or a fuzz artifact.
    pub case: PathBuf,
    /// The reports folder; the report goes to DIR/<signature-slug>/ and
    /// DIR/README.md's generated index is refreshed.
    #[arg(short, long, value_name = "DIR", default_value = "reports")]
    pub output: PathBuf,
    /// Backends to run, reference first (default: `BPFDIFF_BACKENDS`, else all).
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// The folder name instead of the signature's slug (for a report that
    /// already has a name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Which known-divergence rules apply.
    #[command(flatten)]
    pub known: super::known::KnownArgs,
}

/// Writes the report; exit 0, or 1 when there is nothing to report.
pub fn execute(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let (case, record) = report::read_case_with_record(&args.case)?;
    let names = registry::select(args.backends.as_deref())?;
    let rules = args.known.rules()?;
    let r = match report::build(
        case,
        record,
        &names,
        rules,
        None,
        args.name.clone(),
        &args.output,
    ) {
        Ok(r) => r,
        Err(e @ ReportError::NothingToReport { .. }) => {
            eprintln!("bpfdiff: {}: {e}", args.case.display());
            return Ok(ExitCode::from(EXIT_TESTS_FAILED));
        }
        Err(e) => return Err(e.into()),
    };
    let written = report::write(&r, &args.output)?;
    index::regenerate(&args.output)?;
    let what = match written {
        Written::New => "written",
        Written::Updated => "updated",
        Written::Unchanged => "unchanged",
    };
    output::print(&format!(
        "{}: {} ({}; {})\n",
        args.output.join(&r.name).display(),
        what,
        r.signature,
        if r.diverges_now {
            "diverges here"
        } else {
            "recorded; does not diverge here"
        }
    ))?;
    Ok(ExitCode::SUCCESS)
}
