//! `bpfdiff run FILE`: run a program once on the engine's interpreter.

use super::output;
use super::FormatArg;
use anyhow::anyhow;
use bpfdiff::hex::{parse_hex_bytes, HexError};
use bpfdiff::input::read_program;
use bpfdiff::run_report::{render_text, RunReport};
use bpfdiff_engine::interp::{Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::jit::{JitProgram, Mode};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `bpfdiff run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The program: `.data`, raw bytecode (`.bin`/`.raw`/`.bpf`), kernel
    /// assembly (`.s`/`.asm`/`.txt`) or dialect assembly (`.casm`).
    pub file: PathBuf,
    /// Input memory as hex bytes (`aabb11` or "aa bb 11"); replaces a `.data`
    /// file's `-- mem`. r1 points to it and r2 holds its length.
    #[arg(long, value_name = "HEX", conflicts_with = "mem_file")]
    pub mem: Option<String>,
    /// Read the input memory as hex text from a file (the layout of a
    /// `-- mem` section; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub mem_file: Option<PathBuf>,
    /// Maximum number of instructions to execute.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BUDGET)]
    pub budget: u64,
    /// Print a JSON object instead of one line of text.
    #[arg(long)]
    pub json: bool,
    /// The input format, when the extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Which of the engine's executors runs it (the JIT in checked mode).
    #[arg(long, value_enum, default_value = "interp")]
    pub backend: Executor,
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
    let mut mem = match (&args.mem, &args.mem_file) {
        (Some(hex), _) => parse_hex_bytes(hex).map_err(|e| mem_arg_error(hex, &e))?,
        (None, Some(file)) => read_mem_file(file)?,
        (None, None) => input.mem.unwrap_or_default(),
    };
    let place = |e| anyhow!("{}: {e}", args.file.display());
    let execution = match args.backend {
        Executor::Interp => Interpreter::new(&input.program)
            .map_err(place)?
            .run(&mut mem, args.budget),
        Executor::Jit => JitProgram::compile(&input.program, Mode::Checked)
            .map_err(place)?
            .run(&mut mem, args.budget),
    };
    if args.json {
        output::println(&RunReport::new(&execution, &mem).to_json())?;
    } else {
        output::println(&render_text(&execution))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--mem: column 5: ...` (the line too when the argument spans lines).
fn mem_arg_error(text: &str, e: &HexError) -> anyhow::Error {
    if text.lines().count() > 1 {
        anyhow!("--mem: line {}, column {}: {}", e.line, e.column, e.kind)
    } else {
        anyhow!("--mem: column {}: {}", e.column, e.kind)
    }
}

fn read_mem_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
    parse_hex_bytes(&text)
        .map_err(|e| anyhow!("{}:{}:{}: {}", path.display(), e.line, e.column, e.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_errors_name_the_column() {
        let e = parse_hex_bytes("00 1z").unwrap_err();
        assert_eq!(
            mem_arg_error("00 1z", &e).to_string(),
            "--mem: column 5: `z` is not a hex digit"
        );
        let e = parse_hex_bytes("00\n1z").unwrap_err();
        assert_eq!(
            mem_arg_error("00\n1z", &e).to_string(),
            "--mem: line 2, column 2: `z` is not a hex digit"
        );
    }
}
