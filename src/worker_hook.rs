//! Lets a bpfdiff executable serve as the oracle worker process (rbpf and
//! its JIT run there, so that their crashes cannot kill the harness).

use bpfdiff_oracle::backend::worker::{serve, WORKER_ARG, WORKER_ENV};
use std::process::ExitCode;

/// Serves the worker protocol when the first argument asks for it (then
/// returns the exit code); otherwise points `BPFDIFF_WORKER` at this
/// executable, unless it is already set, and returns `None`.
pub fn serve_if_asked() -> Option<ExitCode> {
    if std::env::args_os().nth(1).is_some_and(|a| a == WORKER_ARG) {
        return Some(match serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        });
    }
    if std::env::var_os(WORKER_ENV).is_none() {
        if let Ok(exe) = std::env::current_exe() {
            // Set before any thread starts: main calls this first.
            std::env::set_var(WORKER_ENV, exe);
        }
    }
    None
}
