//! `bpfdiff disasm FILE`: print a program in kernel syntax or the dialect.

use super::{output, FormatArg, SyntaxArg};
use anyhow::anyhow;
use bpfdiff::input::read_program;
use bpfdiff_engine::asm;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff disasm`.
#[derive(Debug, Args)]
pub struct DisasmArgs {
    /// The program, in any input format (raw bytecode, `.data`, assembly).
    pub file: PathBuf,
    /// The output syntax: `kernel` prints `0: (b7) r1 = 33` as bpftool
    /// does; `conformance` prints the bpf_conformance dialect.
    #[arg(long, value_enum, default_value = "kernel")]
    pub syntax: SyntaxArg,
    /// The input format, when the extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

/// Prints the disassembly.
pub fn execute(args: &DisasmArgs) -> anyhow::Result<ExitCode> {
    let input = read_program(&args.file, args.format.map(Into::into))?;
    let text = match args.syntax {
        SyntaxArg::Kernel => asm::kernel::disassemble(&input.program),
        SyntaxArg::Conformance => asm::conformance::disassemble(&input.program),
    }
    .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
