//! `bpfdiff plugin [MEMORY] [--backend NAME]`: the bpf_conformance plugin
//! protocol. The upstream runner puts the memory argument first, so the
//! standalone `bpfdiff-plugin` binary takes the same arguments without the
//! subcommand: `bpf_conformance_runner --plugin_path target/release/bpfdiff-plugin
//! --plugin_options "--backend kernel"`.

use anyhow::Context;
use bpfdiff::plugin::serve_request;
use bpfdiff_oracle::registry;
use clap::Args;
use std::io::{Read, Write};
use std::process::ExitCode;

/// Arguments of `bpfdiff plugin`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// The input memory as hex bytes (as the upstream runner passes it).
    pub memory: Option<String>,
    /// The backend that runs the program.
    #[arg(long, default_value = "interp")]
    pub backend: String,
    /// Accepted for compatibility; ELF input is not supported.
    #[arg(long)]
    pub elf: bool,
    /// Accepted for compatibility with the upstream runner's option.
    #[arg(long)]
    pub debug: bool,
}

/// Serves one request: r0 in hex on stdout, or the error on stderr and exit 1.
pub fn execute(args: &PluginArgs) -> anyhow::Result<ExitCode> {
    if args.elf {
        anyhow::bail!(
            "--elf: ELF input is not supported by bpfdiff's plugin; send raw instructions"
        );
    }
    let mut backend = registry::create(&args.backend)?;
    let mut program = String::new();
    std::io::stdin()
        .read_to_string(&mut program)
        .context("cannot read the program from standard input")?;
    match serve_request(backend.as_mut(), &program, args.memory.as_deref()) {
        Ok(r0) => {
            super::output::println(&format!("{r0:x}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            Ok(ExitCode::from(1))
        }
    }
}
