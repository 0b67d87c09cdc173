//! The `bpfdiff` command: run, assemble and disassemble eBPF programs, and
//! run bpf_conformance test directories on the engine.

mod cli;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// mimalloc instead of glibc's allocator: a campaign allocates and frees
/// small vectors for every program on every thread, and frees on the fold
/// thread what the workers allocated; with glibc's arenas that was about a
/// fifth of its time (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if let Some(code) = bpfdiff::worker_hook::serve_if_asked() {
        return code;
    }
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(error) => {
            // Only the top-level message: the library errors already include
            // their causes, with the file and line or instruction index.
            let _ = writeln!(std::io::stderr(), "bpfdiff: {error}");
            ExitCode::from(cli::EXIT_INPUT_ERROR)
        }
    }
}
