//! `bpfdiff minimize CASE`: shrink a diverging case while its divergence
//! stays the same.

use super::{output, EXIT_TESTS_FAILED};
use bpfdiff::fuzz_glue::{program_text, DiffHarness};
use bpfdiff::hex::to_hex;
use bpfdiff::input::InputFormat;
use bpfdiff::minimize::case_file::{read_case, write_case, CaseFormat, OutputFormat};
use bpfdiff::minimize::predicate::PredicateError;
use bpfdiff::minimize::{minimize, Case, DiffPredicate, Progress};
use bpfdiff_oracle::registry;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff minimize`.
#[derive(Debug, Args)]
pub struct MinimizeArgs {
    /// The diverging case: `.data`, raw bytecode (`.bin`/`.raw`/`.bpf`),
    /// kernel assembly (`.s`/`.asm`/`.txt`), dialect assembly (`.casm`),
    /// `case.json`, or a fuzz artifact (any file under `fuzz/artifacts/`).
    pub case: PathBuf,
    /// The input memory (replaces the case's).
    #[command(flatten)]
    pub memory: super::mem::MemArgs,
    /// Backends to run, reference first (default: `BPFDIFF_BACKENDS`, else all).
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// Which known-divergence rules apply (a match must stay the same rule).
    #[command(flatten)]
    pub known: super::known::KnownArgs,
    /// Write the minimized case here, in the format the extension names:
    /// `.data` (program, memory, the engine's result), `.bin` (raw
    /// bytecode), `.s` (kernel syntax) or `.json` (case.json with the
    /// outcomes). Without it the program is printed in kernel syntax.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The case's format, when its name does not say it.
    #[arg(long, value_enum)]
    pub format: Option<CaseFormatArg>,
}

/// A case format on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaseFormatArg {
    /// bpf_conformance test file (`.data`).
    Data,
    /// Raw bytecode, 8 bytes per slot.
    Raw,
    /// Kernel (bpftool) syntax.
    Asm,
    /// bpf_conformance assembly dialect.
    ConformanceAsm,
    /// `case.json` (`program` as hex slots, `mem` as hex).
    Json,
    /// A fuzz target's input bytes (the `diff`, `kernel` and
    /// `interp_vs_jit` targets share the format).
    FuzzDiff,
}

impl From<CaseFormatArg> for CaseFormat {
    fn from(f: CaseFormatArg) -> CaseFormat {
        match f {
            CaseFormatArg::Data => CaseFormat::Program(InputFormat::Data),
            CaseFormatArg::Raw => CaseFormat::Program(InputFormat::Raw),
            CaseFormatArg::Asm => CaseFormat::Program(InputFormat::KernelAsm),
            CaseFormatArg::ConformanceAsm => CaseFormat::Program(InputFormat::ConformanceAsm),
            CaseFormatArg::Json => CaseFormat::Json,
            CaseFormatArg::FuzzDiff => CaseFormat::Fuzz,
        }
    }
}

/// Progress on standard error: a spinner on a terminal, else one line per
/// pass that changed the case.
fn progress_printer() -> impl FnMut(&Progress) {
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()));
    move |p: &Progress| {
        let line = format!(
            "minimize: round {} {:<11} {} slots, {} input bytes, {} tests, {:.2} s",
            p.round,
            p.pass,
            p.slots,
            p.input_len,
            p.tests,
            p.elapsed.as_secs_f64()
        );
        match &bar {
            Some(bar) if p.pass == "done" => bar.finish_and_clear(),
            Some(bar) => bar.set_message(line),
            None => eprintln!("{line}"),
        }
    }
}

/// Minimizes; exit 0 with the result, 1 when the case does not diverge.
pub fn execute(args: &MinimizeArgs) -> anyhow::Result<ExitCode> {
    // Check the output's name before spending time on the case.
    let out_format = args
        .output
        .as_deref()
        .map(OutputFormat::from_path)
        .transpose()?;
    let mut case = read_case(&args.case, args.format.map(Into::into))?;
    case.input = args.memory.resolve(Some(case.input))?;
    let names = registry::select(args.backends.as_deref())?;
    let rules = args.known.rules()?;
    let (mut predicate, _) = match DiffPredicate::new(&names, rules, &case) {
        Ok(p) => p,
        Err(PredicateError::NoDivergence {
            backends,
            comparison,
        }) => {
            eprintln!(
                "bpfdiff: {}: nothing to minimize: the case does not diverge on {backends} ({comparison})",
                args.case.display()
            );
            return Ok(ExitCode::from(EXIT_TESTS_FAILED));
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "minimize: {}: {} slots, {} input bytes; keeping: {}",
        args.case.display(),
        case.program.len(),
        case.input.len(),
        predicate.target()
    );
    let original = case.clone();
    let mut progress = progress_printer();
    let result = minimize(case, &mut predicate, &mut progress);
    let stages = predicate.stages();
    eprintln!(
        "minimize: {} → {} slots, {} → {} input bytes in {:.2} s: {} rounds, {} tests \
         ({} refused on the engine's outcome, {} on the other backends before the kernel), \
         {} kernel loads ({} saved by the cache), {} cache hits, {} invalid candidates skipped",
        original.program.len(),
        result.case.program.len(),
        original.input.len(),
        result.case.input.len(),
        result.elapsed.as_secs_f64(),
        result.rounds,
        result.tests,
        stages.engine_refused,
        stages.others_refused,
        stages.kernel_runs,
        stages.kernel_cached,
        result.cache_hits,
        result.invalid
    );
    match (&args.output, out_format) {
        (Some(path), Some(format)) => {
            let mut extra = serde_json::Map::new();
            extra.insert("backends".into(), names.clone().into());
            extra.insert("divergence".into(), predicate.target().to_string().into());
            extra.insert(
                "minimized_from".into(),
                serde_json::json!({
                    "file": args.case.display().to_string(),
                    "slots": original.program.len(),
                    "input_len": original.input.len(),
                }),
            );
            if format == OutputFormat::Json {
                // What each backend does with the minimized case.
                let mut harness = DiffHarness::new(&names, args.known.rules()?, false)?;
                let check = harness.check(&result.case);
                extra.insert("outcomes".into(), serde_json::to_value(&check.outcomes)?);
                extra.insert(
                    "comparison".into(),
                    serde_json::to_value(&check.comparison)?,
                );
            }
            write_case(&result.case, path, extra)?;
            if !format.keeps_memory() && !result.case.input.is_empty() {
                eprintln!(
                    "minimize: note: {} holds no input memory; run it with --mem {}",
                    path.display(),
                    to_hex(&result.case.input)
                );
            }
            eprintln!("minimize: wrote {}", path.display());
        }
        _ => output::print(&render(&result.case))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The case as kernel syntax, the input as a comment line (`;` starts a
/// comment in kernel syntax, so the text assembles as it is).
fn render(case: &Case) -> String {
    let mut text = String::new();
    if !case.input.is_empty() {
        text.push_str(&format!("; input: {}\n", to_hex(&case.input)));
    }
    text.push_str(&program_text(&case.program));
    text
}
