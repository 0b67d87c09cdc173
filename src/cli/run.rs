//! `bpfdiff run FILE`: run a program once on the engine's interpreter.

use super::mem::MemArgs;
use super::output;
use super::{Budget, FormatArg};
use anyhow::anyhow;
use bpfdiff::input::read_program;
use bpfdiff::run_report::{render_text, RunReport};
use bpfdiff_engine::interp::Interpreter;
use bpfdiff_engine::jit::{JitProgram, Mode};
use bpfdiff_engine::verifier::{verify, RejectClass, Verdict, VerifyOptions};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The program: `.data`, raw bytecode (`.bin`/`.raw`/`.bpf`), kernel
    /// assembly (`.s`/`.asm`/`.txt`) or dialect assembly (`.casm`).
    pub file: PathBuf,
    /// The input memory.
    #[command(flatten)]
    pub memory: MemArgs,
    /// The instruction budget (see `Budget`).
    #[command(flatten)]
    pub budget: Budget,
    /// Print a JSON object instead of one line of text.
    #[arg(long)]
    pub json: bool,
    /// The input format, when the extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Which of the engine's executors runs it (the JIT in checked mode).
    #[arg(long, value_enum, default_value = "interp")]
    pub backend: Executor,
    /// Run the engine's verifier first: a program it refuses is not run
    /// (exit 1, with the verifier's message); one it cannot judge is bad
    /// input (exit 2).
    #[arg(long)]
    pub verify: bool,
}

/// The engine's executors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// The checking interpreter (the reference).
    Interp,
    /// The x86-64 JIT, checked mode.
    Jit,
}

/// Runs the program; exit 0 whenever it ran, whatever it returned.
pub fn execute(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let input = read_program(&args.file, args.format.map(Into::into))?;
    let mut mem = args.memory.resolve(input.mem)?;
    if args.verify {
        let opts = VerifyOptions {
            privileged: true,
            input_len: Some(mem.len()),
            log_level: 0,
        };
        match verify(&input.program, &opts).verdict {
            Verdict::Accepted => {}
            Verdict::Rejected {
                pc,
                class: RejectClass::Unsupported,
                message,
            } => {
                return Err(anyhow!(
                    "{}: instruction {pc}: not supported by the engine's verifier: {message}",
                    args.file.display()
                ))
            }
            Verdict::Rejected { pc, class, message } => {
                output::println(&format!(
                    "refused by the verifier: insn {pc}: {message} ({class})"
                ))?;
                return Ok(ExitCode::from(1));
            }
        }
    }
    let budget = args.budget.budget;
    let place = |e| anyhow!("{}: {e}", args.file.display());
    let execution = match args.backend {
        Executor::Interp => Interpreter::new(&input.program)
            .map_err(place)?
            .run(&mut mem, budget),
        Executor::Jit => JitProgram::compile(&input.program, Mode::Checked)
            .map_err(place)?
            .run(&mut mem, budget),
    };
    if args.json {
        output::println(&RunReport::new(&execution, &mem).to_json())?;
    } else {
        output::println(&render_text(&execution))?;
    }
    Ok(ExitCode::SUCCESS)
}
