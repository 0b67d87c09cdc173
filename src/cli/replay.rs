//! `bpfdiff replay [PATHS]`: replay reports and regression cases against
//! their recorded outcomes.

use super::output;
use bpfdiff::environment::Environment;
use bpfdiff::replay::{self, junit, CaseResult, Replayer, Status};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Case files (`.data`, `case.json`) or folders to search for them
    /// (default: `reports/` and `corpus/regressions/`).
    pub paths: Vec<PathBuf>,
    /// Backends to run, `interp` (the reference) first (default: all; the
    /// kernel is left out, with the reason, where bpf() is not permitted).
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// Which known-divergence rules apply.
    #[command(flatten)]
    pub known: super::known::KnownArgs,
    /// Print one JSON object: the environment, one object per case (path,
    /// status, reasons, recorded and observed differences, outcomes), the
    /// stale rules and the summary.
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report to FILE (`changed` and `fixed` are
    /// failures, `not-run` is skipped).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

fn text(replayer: &Replayer, results: &[CaseResult], stale: &[replay::StaleRule]) -> String {
    let env = replayer.environment();
    let mut s = format!("bpfdiff replay on {}\n", env.header());
    s.push_str(&format!("backends: {}\n", replayer.running().join(", ")));
    for (name, why) in replayer.unavailable() {
        s.push_str(&format!("not available: {name}: {why}\n"));
    }
    for r in results {
        let status = match r.status {
            Status::Fixed => "FIXED".to_string(),
            Status::Changed => "CHANGED".to_string(),
            other => other.name().to_string(),
        };
        s.push_str(&format!("{status:12} {}\n", r.path));
        for why in &r.reasons {
            s.push_str(&format!("             {why}\n"));
        }
    }
    if !stale.is_empty() {
        s.push_str(&format!(
            "stale rules: {} rule(s) on the backends that ran matched no case here\n",
            stale.len()
        ));
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for r in stale {
            match groups.iter_mut().find(|(w, _)| *w == r.why) {
                Some((_, names)) => names.push(&r.name),
                None => groups.push((&r.why, vec![&r.name])),
            }
        }
        for (why, names) in groups {
            s.push_str(&format!("  {why}: {}\n", names.join(", ")));
        }
    }
    for a in replayer.rules().ambiguous() {
        s.push_str(&format!(
            "AMBIGUOUS: {} difference(s) on {} ({}) matched {} rules: {}\n",
            a.count,
            a.backend,
            a.aspect,
            a.rules.len(),
            a.rules.join(", ")
        ));
    }
    s.push_str(&format!("summary: {}", replay::summary_line(results)));
    s
}

/// Replays; see [`replay::exit_code`] for the exit codes.
pub fn execute(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        replay::DEFAULT_PATHS.iter().map(PathBuf::from).collect()
    } else {
        args.paths.clone()
    };
    let files = replay::discover(&paths)?;
    let cases = files
        .iter()
        .map(|f| replay::load(f))
        .collect::<Result<Vec<_>, _>>()?;
    let rules = args.known.rules()?;
    let mut replayer = Replayer::new(args.backends.as_deref(), rules, Environment::detect())?;
    let results: Vec<CaseResult> = cases.iter().map(|c| replayer.replay(c)).collect();
    let stale = replayer.stale_rules();
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::junit(&results, replayer.environment())).map_err(|e| {
            anyhow::anyhow!("{}: cannot write the JUnit report: {e}", path.display())
        })?;
    }
    let code = replay::exit_code(&results);
    if args.json {
        let ambiguous: Vec<serde_json::Value> = replayer
            .rules()
            .ambiguous()
            .iter()
            .map(|a| {
                serde_json::json!({
                    "backend": a.backend, "aspect": a.aspect, "rules": a.rules, "count": a.count,
                })
            })
            .collect();
        let json = serde_json::json!({
            "environment": replayer.environment(),
            "backends": replayer.running(),
            "unavailable": replayer.unavailable().iter()
                .map(|(n, w)| serde_json::json!({"backend": n, "why": w}))
                .collect::<Vec<_>>(),
            "cases": results,
            "stale_rules": stale,
            "ambiguous_rules": ambiguous,
            "summary": replay::summary_line(&results),
            "exit_code": code,
        });
        output::println(&serde_json::to_string_pretty(&json)?)?;
    } else {
        output::println(&text(&replayer, &results, &stale))?;
    }
    Ok(ExitCode::from(code))
}
