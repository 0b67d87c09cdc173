//! `bpfdiff jit-dump FILE`: the JIT's machine code, disassembled, each block
//! under the eBPF instruction it comes from (as `bpftool prog dump jited`).

use super::{output, FormatArg};
use anyhow::anyhow;
use bpfdiff::input::read_program;
use bpfdiff_engine::jit::{dump, Mode, Verified};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff jit-dump`.
#[derive(Debug, Args)]
pub struct JitDumpArgs {
    /// The program (same formats as `run`).
    pub file: PathBuf,
    /// Show the unchecked code (no bounds checks, no budget) instead of the
    /// checked code.
    #[arg(long)]
    pub unchecked: bool,
    /// The input format, when the extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

/// Prints the listing.
pub fn execute(args: &JitDumpArgs) -> anyhow::Result<ExitCode> {
    let input = read_program(&args.file, args.format.map(Into::into))?;
    let mode = if args.unchecked {
        // SAFETY: the code is only compiled and printed, never run.
        Mode::Unchecked(unsafe { Verified::assume() })
    } else {
        Mode::Checked
    };
    let listing =
        dump(&input.program, mode).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    output::print(&listing)?;
    Ok(ExitCode::SUCCESS)
}
