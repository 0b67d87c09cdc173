//! `bpfdiff diff FILE`: run one program on several backends and compare.

use super::{output, FormatArg, EXIT_TESTS_FAILED};
use bpfdiff::input::read_program;
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::kernel_log::kernel_states;
use bpfdiff_oracle::{diff, registry, Comparison, Outcome};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The program (same formats as `run`).
    pub file: PathBuf,
    /// The input memory.
    #[command(flatten)]
    pub memory: super::mem::MemArgs,
    /// Backends to run, reference first (default: `BPFDIFF_BACKENDS`, else all).
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// Which known-divergence rules apply.
    #[command(flatten)]
    pub known: super::known::KnownArgs,
    /// Print a JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The input format, when the extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Also check the kernel verifier's level-2 states against the engine's
    /// concrete run; a value outside them is a divergence.
    #[arg(long)]
    pub kernel_states: bool,
}

fn table(outcomes: &[Outcome]) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.backend.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut s = format!("{:width$}  {:9}  outcome\n", "backend", "verdict");
    for o in outcomes {
        let verdict = match &o.verdict {
            bpfdiff_oracle::Verdict::Accepted => "accepted",
            bpfdiff_oracle::Verdict::Rejected { .. } => "rejected",
            bpfdiff_oracle::Verdict::Unknown => "-",
        };
        s.push_str(&format!(
            "{:width$}  {verdict:9}  {}\n",
            o.backend,
            o.summary()
        ));
    }
    s
}

/// Runs and compares; exit 0 on agreement, 1 on a new divergence (or,
/// with `--kernel-states`, a value outside the kernel's states).
pub fn execute(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let input = read_program(&args.file, args.format.map(Into::into))?;
    let mem = args.memory.resolve(input.mem)?;
    let names = registry::select(args.backends.as_deref())?;
    let mut backends = names
        .iter()
        .map(|n| registry::create(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rules = args.known.rules()?;
    let result = diff(&mut backends, &input.program, &mem, &mut rules);
    let states = if args.kernel_states {
        let mut kernel = KernelBackend::new(KernelOptions::default());
        Some(kernel_states(&mut kernel, &input.program, &mem)?)
    } else {
        None
    };
    let unsound = states
        .as_ref()
        .is_some_and(|s| !s.report.violations.is_empty());
    if args.json {
        let matched: serde_json::Map<String, serde_json::Value> = rules
            .rules()
            .iter()
            .zip(rules.hits())
            .filter(|(_, &n)| n > 0)
            .map(|(r, &n)| (r.name.clone(), n.into()))
            .collect();
        let mut json = serde_json::json!({
            "outcomes": result.outcomes,
            "comparison": result.comparison,
            "known_rules": {
                "sources": rules.sources(),
                "rules": rules.rules().len(),
                "matched": matched,
            },
        });
        if let Some(s) = &states {
            json["kernel_states"] = serde_json::json!({
                "checked": s.report.checked,
                "unchecked": s.report.unchecked as u64 + s.untraced,
                "kernel_accepted": s.log.accepted,
                "violations": s.report.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            });
        }
        output::println(&serde_json::to_string_pretty(&json)?)?;
    } else {
        let mut text = table(&result.outcomes);
        match &result.comparison {
            Comparison::Agree { skipped } => {
                text.push_str("comparison: agree\n");
                for s in skipped {
                    text.push_str(&format!("  not compared: {s}\n"));
                }
            }
            Comparison::Inconclusive { why } => {
                text.push_str("comparison: inconclusive\n");
                for s in why {
                    text.push_str(&format!("  {s}\n"));
                }
            }
            Comparison::Diverge { differences } => {
                text.push_str("comparison: DIVERGE\n");
                for d in differences {
                    text.push_str(&format!("  {d}\n"));
                }
            }
        }
        text.push_str(&rules.summary());
        if let Some(s) = &states {
            text.push_str(&format!("\n{}", s.summary()));
            for v in &s.report.violations {
                text.push_str(&format!("\n  {v}"));
            }
        }
        output::println(&text)?;
    }
    Ok(if result.comparison.has_new_divergence() || unsound {
        ExitCode::from(EXIT_TESTS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
