//! `bpfdiff diff FILE`: run one program on several backends and compare.

use super::{output, FormatArg, EXIT_TESTS_FAILED};
use bpfdiff::fuzz_glue::DiffHarness;
use bpfdiff::gen::case::Case;
use bpfdiff::input::read_program_for_comparison;
use bpfdiff::replay::record::parse_data_record;
use bpfdiff_engine::interp::DEFAULT_BUDGET;
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::kernel_log::kernel_states;
use bpfdiff_oracle::{registry, Comparison, KnownRules, Outcome};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The program (same formats as `run`). A slot that does not decode
    /// (unknown opcode, reserved field) is compared, not refused: the engine
    /// refuses it and every other backend must too.
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
    /// A native program type (docs/program-types.md): compared on the
    /// engine and the kernel only.
    #[command(flatten)]
    pub prog_type: super::prog_type_args::ProgTypeArgs,
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

/// The rules a `.data` file's record (`#@` lines) names that matched no
/// difference of this run on a backend that ran, each with why: the
/// regression no longer shows what its rule describes.
fn stale_rules(
    args: &DiffArgs,
    names: &[String],
    rules: &KnownRules,
    comparison: &Comparison,
) -> anyhow::Result<Vec<String>> {
    if args.file.extension().is_none_or(|e| e != "data") {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&args.file)?;
    let record = parse_data_record(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}: {}", args.file.display(), e.line, e.message))?;
    let Some(record) = record else {
        return Ok(Vec::new());
    };
    let differences = match comparison {
        Comparison::Diverge { differences } => differences.as_slice(),
        _ => &[],
    };
    let matched: Vec<&str> = differences
        .iter()
        .filter_map(|d| d.known.as_deref())
        .collect();
    let mut stale = Vec::new();
    for entry in record
        .differences
        .iter()
        .filter(|e| names.contains(&e.backend))
    {
        // The record allows this backend to agree, and it did: its rule
        // describes what another build does (rbpf's debug build panics
        // where its release build wraps), so matching nothing is expected.
        if entry.may_agree() && !differences.iter().any(|d| d.backend == entry.backend) {
            continue;
        }
        let forms: Vec<&str> = entry.rules().collect();
        if forms.is_empty() || forms.iter().any(|f| matched.contains(f)) {
            continue;
        }
        for form in forms {
            let why = match rules.rules().iter().find(|r| r.name == form) {
                Some(r) if !r.applies_on_kernel(rules.kernel_release()) => format!(
                    "does not apply on this kernel ({}): recorded as not seen there or fixed",
                    rules.kernel_release().unwrap_or("unknown")
                ),
                Some(_) => "matched nothing in this run".to_string(),
                None => "is not among the rules in use".to_string(),
            };
            stale.push(format!(
                "stale rule: {form} ({} {}, named by this file's record) {why}",
                entry.backend, entry.aspect
            ));
        }
    }
    Ok(stale)
}

/// Runs and compares; exit 0 on agreement, 1 on a new divergence (or,
/// with `--kernel-states`, a value outside the kernel's states).
pub fn execute(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let (input, undecodable) =
        read_program_for_comparison(&args.file, args.format.map(Into::into))?;
    if let Some(why) = &undecodable {
        eprintln!("bpfdiff: note: {why}; comparing how each backend handles it");
    }
    let resolved = args.prog_type.resolve(&input, &args.memory)?;
    let names = registry::select(args.backends.as_deref())?;
    if resolved.prog_type != bpfdiff_engine::prog_type::ProgType::Input {
        return super::diff_prog_type::execute(
            &input.program,
            &resolved.env,
            &resolved.maps,
            &names,
        );
    }
    if !resolved.maps.is_empty() {
        return Err(anyhow::anyhow!(
            "{}: maps are compared only for a native program type (--prog-type \
             socket_filter|sched_cls|xdp|syscall): the input model's kernel wrapper \
             does not patch map fds",
            args.file.display()
        ));
    }
    let mem = resolved.env.mem;
    // The campaigns' and the replay's harness, so that one program gets the
    // verdict it gets there: a difference that depends on where each
    // implementation puts memory (a branch on an address, an access
    // through a forged one), or on state rbpf's JIT leaves unzeroed, is
    // inconclusive, with the reason. The engine's own budget is the screen.
    let mut harness =
        DiffHarness::new(&names, args.known.rules()?, true)?.with_screen_budget(DEFAULT_BUDGET);
    let result = harness.check(&Case::new(input.program.clone(), mem.clone()));
    let rules = harness.rules();
    let states = if args.kernel_states {
        let mut kernel = KernelBackend::new(KernelOptions::default());
        Some(kernel_states(&mut kernel, &input.program, &mem)?)
    } else {
        None
    };
    let unsound = states
        .as_ref()
        .is_some_and(|s| !s.report.violations.is_empty());
    let stale = stale_rules(args, &names, rules, &result.comparison)?;
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
            "stale_rules": stale,
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
        for line in &stale {
            text.push_str(&format!("{line}\n"));
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
