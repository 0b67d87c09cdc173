//! Command-line interface: argument definitions and dispatch. Each
//! subcommand lives in its own file; the work itself is in the library.

mod asm;
mod campaign;
mod campaign_soundness;
mod conformance;
mod diff;
mod diff_prog_type;
mod disasm;
mod duration;
mod html;
mod jit_dump;
mod known;
mod maps_arg;
mod mem;
mod minimize;
mod output;
pub mod plugin;
mod prog_type_args;
mod progress;
mod replay;
mod report;
mod run;
mod triage;
mod verify;

use bpfdiff::input::InputFormat;
use bpfdiff_engine::interp::DEFAULT_BUDGET;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// Exit code for bad input: a missing or malformed file, bad arguments.
pub const EXIT_INPUT_ERROR: u8 = 2;
/// Exit code of `conformance` when some test failed.
pub const EXIT_TESTS_FAILED: u8 = 1;
/// Exit code when the run tested nothing: every test was skipped, or a
/// backend could not run any program (`--allow-skip` turns it into 0).
pub const EXIT_NOTHING_TESTED: u8 = 3;

/// `--budget N`, shared by the commands that run the engine.
#[derive(Debug, Args)]
pub struct Budget {
    /// Instruction budget: how many instructions may execute before the run
    /// stops as "out of budget". Every instruction counts, but the count is
    /// checked only at taken backward jumps and local calls, so straight-line
    /// code always runs to its end (at most the program's length past the
    /// budget). At least 1.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_BUDGET,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub budget: u64,
}

/// Differential testing and fuzzing harness for eBPF implementations.
#[derive(Debug, Parser)]
#[command(name = "bpfdiff", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a program on the engine's checking interpreter (or its JIT) and
    /// print r0, the fault, or "out of budget". Exits 0 whenever the program
    /// ran, 2 on bad input.
    Run(run::RunArgs),
    /// Assemble kernel-syntax or bpf_conformance-dialect assembly into raw
    /// bytecode (8 bytes per instruction slot).
    Asm(asm::AsmArgs),
    /// Print a program as `bpftool prog dump xlated` does, or in the
    /// bpf_conformance dialect.
    Disasm(disasm::DisasmArgs),
    /// Run every `*.data` test in a directory on one backend (the engine's
    /// interpreter by default). Exits 0 when all pass, 1 when some fail, 2
    /// when the directory is unreadable or holds no tests, 3 when every test
    /// was skipped (unless --allow-skip).
    Conformance(conformance::ConformanceArgs),
    /// Run one program on several backends (engine interpreter, rbpf, rbpf's
    /// JIT, the kernel) and compare. Exits 0 when they agree, 1 on a new
    /// divergence, 2 on bad input.
    Diff(diff::DiffArgs),
    /// Print the JIT's machine code, each block under its eBPF instruction.
    /// Exits 0, or 2 on bad input.
    JitDump(jit_dump::JitDumpArgs),
    /// Serve the bpf_conformance plugin protocol: program hex on stdin,
    /// memory hex as the argument, r0 in hex on stdout. Exits 0 with r0, 1
    /// when the program did not return, 2 on bad arguments.
    Plugin(plugin::PluginArgs),
    /// Generate programs from deterministic seeds, run them on several
    /// backends in parallel and summarise agreement, divergences and
    /// verifier verdicts. Exits 1 when a new divergence was found, 2 on bad
    /// arguments, 3 when a backend ran none of the programs or nothing was
    /// compared (unless --allow-skip).
    Campaign(campaign::CampaignArgs),
    /// Shrink a diverging case (`.data`, raw, asm, case.json or fuzz
    /// artifact) while its divergence stays the same, with BPF-aware passes
    /// run to a fixpoint. Exits 0 with the minimized case, 1 when the case
    /// does not diverge, 2 on bad input.
    Minimize(minimize::MinimizeArgs),
    /// Replay every report and regression case (default: `reports/` and
    /// `corpus/regressions/`) on every available backend and compare with
    /// its recorded outcome. Exits 0 when every case ran as recorded, 1 when
    /// one changed (or a case recorded as fixed diverges again), 4 when a
    /// recorded divergence is fixed here (update the record), 3 when no case
    /// could run, 2 on bad input.
    Replay(replay::ReplayArgs),
    /// Check a program with the engine's verifier (a model of Linux 6.18's)
    /// as the kernel backend would load it. Exits 0 when accepted, 1 when
    /// refused, 2 on bad input or an instruction the verifier does not
    /// model (it says which).
    Verify(verify::VerifyArgs),
    /// Write the report folder of one divergence (`report.md`, `case.json`,
    /// `repro.data`, and for kernel findings `selftest.c` and
    /// `verifier.log`) under DIR/<signature-slug>/ and refresh DIR's index.
    /// A case that no longer diverges but carries a record is reported as
    /// recorded. Exits 0, 1 when there is nothing to report, 2 on bad input.
    Report(report::ReportArgs),
    /// Run saved cases (campaign --save output, fuzz artifacts, crash
    /// files), group them by signature, minimize one per group, match known
    /// rules and write one report per new signature; print a table.
    /// Idempotent. Exits 0, or 2 on bad input.
    Triage(triage::TriageArgs),
    /// Write the HTML page of a campaign JSON summary: programs/s over
    /// time, findings by signature and opcode-row coverage, drawn as SVG by
    /// an inline script (no network). Exits 0, or 2 when the summary is not
    /// JSON or not a campaign summary (it names the file, line and column).
    Html(html::HtmlArgs),
}

/// The input file format, when the extension does not say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// bpf_conformance test file (`.data`).
    Data,
    /// Raw bytecode, 8 bytes per slot (`.bin`, `.raw`, `.bpf`).
    Raw,
    /// Kernel (bpftool) syntax (`.s`, `.asm`, `.txt`).
    Asm,
    /// bpf_conformance assembly dialect (`.casm`).
    ConformanceAsm,
}

impl From<FormatArg> for InputFormat {
    fn from(f: FormatArg) -> InputFormat {
        match f {
            FormatArg::Data => InputFormat::Data,
            FormatArg::Raw => InputFormat::Raw,
            FormatArg::Asm => InputFormat::KernelAsm,
            FormatArg::ConformanceAsm => InputFormat::ConformanceAsm,
        }
    }
}

/// An assembly syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SyntaxArg {
    /// Kernel (bpftool) syntax: `r0 = 42`, `if r1 > r2 goto pc+3`.
    Kernel,
    /// bpf_conformance dialect: `mov %r0, 42`, `jgt %r1, %r2, +3`.
    Conformance,
}

impl From<SyntaxArg> for InputFormat {
    fn from(s: SyntaxArg) -> InputFormat {
        match s {
            SyntaxArg::Kernel => InputFormat::KernelAsm,
            SyntaxArg::Conformance => InputFormat::ConformanceAsm,
        }
    }
}

/// Runs the chosen subcommand; an error means bad input (exit code 2).
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::execute(&args),
        Command::Asm(args) => asm::execute(&args),
        Command::Disasm(args) => disasm::execute(&args),
        Command::Conformance(args) => conformance::execute(&args),
        Command::Diff(args) => diff::execute(&args),
        Command::Plugin(args) => plugin::execute(&args),
        Command::JitDump(args) => jit_dump::execute(&args),
        Command::Campaign(args) => campaign::execute(&args),
        Command::Minimize(args) => minimize::execute(&args),
        Command::Replay(args) => replay::execute(&args),
        Command::Verify(args) => verify::execute(&args),
        Command::Report(args) => report::execute(&args),
        Command::Triage(args) => triage::execute(&args),
        Command::Html(args) => html::execute(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bpfdiff").chain(args.iter().copied()))
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_arguments() {
        let cli = parse(&[
            "run", "p.bin", "--mem", "aabb", "--budget", "10", "--json", "--format", "raw",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.file.to_str(), Some("p.bin"));
        assert_eq!(args.memory.mem.as_deref(), Some("aabb"));
        assert_eq!(args.budget.budget, 10);
        assert!(args.json);
        assert_eq!(args.format, Some(FormatArg::Raw));
        let cli = parse(&["run", "p.casm", "--format", "conformance-asm"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.format, Some(FormatArg::ConformanceAsm));
        assert_eq!(args.budget.budget, bpfdiff_engine::interp::DEFAULT_BUDGET);
        let e = parse(&["run", "p.s", "--budget", "0"]).unwrap_err();
        assert_eq!(e.exit_code(), i32::from(EXIT_INPUT_ERROR));
    }

    #[test]
    fn mem_and_mem_file_exclude_each_other() {
        let e = parse(&["run", "p.bin", "--mem", "00", "--mem-file", "m.hex"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert_eq!(e.exit_code(), i32::from(EXIT_INPUT_ERROR));
    }

    #[test]
    fn asm_needs_an_output_and_takes_a_syntax() {
        assert!(parse(&["asm", "p.s"]).is_err());
        let cli = parse(&["asm", "p.txt", "-o", "p.bin", "--syntax", "conformance"]).unwrap();
        let Command::Asm(args) = cli.command else {
            panic!("not asm")
        };
        assert_eq!(args.syntax, Some(SyntaxArg::Conformance));
        assert_eq!(args.output.to_str(), Some("p.bin"));
    }

    #[test]
    fn conformance_arguments() {
        let cli = parse(&["conformance", "dir", "--verbose", "--budget", "5"]).unwrap();
        let Command::Conformance(args) = cli.command else {
            panic!("not conformance")
        };
        assert!(args.verbose);
        assert_eq!(args.budget.budget, 5);
        assert!(parse(&["conformance"]).is_err());
    }

    #[test]
    fn syntax_and_format_map_to_input_formats() {
        assert_eq!(InputFormat::from(SyntaxArg::Kernel), InputFormat::KernelAsm);
        assert_eq!(InputFormat::from(FormatArg::Data), InputFormat::Data);
        for f in InputFormat::ALL {
            let arg = FormatArg::from_str(f.name(), false).unwrap();
            assert_eq!(InputFormat::from(arg), f, "--format {}", f.name());
        }
    }
}
