//! `bpfdiff triage DIR...`: group saved cases by signature, minimize,
//! match known rules and write one report per new signature.

use super::output;
use bpfdiff::report::index;
use bpfdiff::triage;
use bpfdiff_oracle::registry;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff triage`.
#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Folders (searched recursively) or files: campaign `--save` output,
    /// fuzz artifacts and crash files, `.data`, assembly, raw, `case.json`.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Backends to run, reference first (default: `BPFDIFF_BACKENDS`, else all).
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// Where report folders go; its README.md's generated index is refreshed.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// Print the table as JSON (one object per group).
    #[arg(long)]
    pub json: bool,
    /// Which known-divergence rules apply.
    #[command(flatten)]
    pub known: super::known::KnownArgs,
}

/// Triage; exit 0, or 2 on bad input (including no case files).
pub fn execute(args: &TriageArgs) -> anyhow::Result<ExitCode> {
    let files = triage::collect(&args.paths)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.paths[0].display()))?;
    if files.is_empty() {
        anyhow::bail!(
            "no case files under {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let names = registry::select(args.backends.as_deref())?;
    let rules = args.known.rules()?;
    eprintln!("triage: {} case files on {}", files.len(), names.join(","));
    let groups = triage::triage(&files, &names, &rules, &args.reports, &mut |l| {
        eprintln!("{l}")
    })?;
    if groups.iter().any(|g| g.canonical.is_some()) {
        index::regenerate(&args.reports)?;
    }
    if args.json {
        output::print(&format!("{}\n", serde_json::to_string_pretty(&groups)?))?;
    } else {
        output::print(&triage::table(&groups))?;
    }
    Ok(ExitCode::SUCCESS)
}
