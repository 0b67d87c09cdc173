//! Backends by name. The CLI's `--backends` and the `BPFDIFF_BACKENDS`
//! environment variable select among them.

use crate::backend::guest::{GuestBackend, GuestSpec};
use crate::backend::interp::InterpBackend;
use crate::backend::jit::JitBackend;
use crate::backend::kernel::{KernelBackend, KernelOptions};
use crate::backend::rbpf::RbpfBackend;
use crate::backend::verifier::VerifierBackend;
use crate::backend::worker::WorkerVm;
use crate::backend::Backend;
use std::time::Duration;
use thiserror::Error;

/// Every backend name, reference first. Guest kernels
/// (`kernel@<series>[-interp|-harden]`, [`GuestSpec`]) are accepted too, but
/// only when named: they are not part of the default selection.
pub const BACKEND_NAMES: &[&str] = &["interp", "jit", "rbpf", "rbpf-jit", "kernel", "verifier"];

/// The host's kernel with JIT constant blinding: only when named, and only
/// with the opt-in of [`crate::backend::kernel::host_harden`].
pub const HOST_HARDEN: &str = "kernel-harden";

/// The host's kernel loading unprivileged socket filters: only when named,
/// with the same opt-in ([`crate::backend::kernel::unpriv`]).
pub const HOST_UNPRIV: &str = "kernel-unpriv";

/// The environment variable that selects backends (comma-separated).
pub const BACKENDS_ENV: &str = "BPFDIFF_BACKENDS";

/// The environment variable for the rbpf workers' per-program time limit.
pub const WORKER_TIMEOUT_ENV: &str = "BPFDIFF_WORKER_TIMEOUT_MS";

/// The rbpf workers' default per-program CPU-time limit in milliseconds
/// (`BPFDIFF_WORKER_CPU_MS` overrides it; 0 turns it off). What rbpf needs
/// grows with the program and with the instructions it runs: the 100,000
/// a campaign lets the engine run end well within it on both of rbpf's
/// executors in a debug build (tests/rbpf_worker.rs), and so does a
/// program of 999,999 instructions, the most rbpf takes
/// (oracle/tests/harness_slots_never_break_limits.rs, which 250 ms was too
/// short for). A program still running after this much CPU time loops for
/// ever on rbpf; the fuzz targets, whose programs are short, use 20 ms
/// (`scripts/fuzz.sh`).
pub const DEFAULT_WORKER_CPU_MS: u64 = 1000;

/// A bad backend selection.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RegistryError {
    /// A name that is not a backend.
    #[error("unknown backend `{name}` (known: {}, kernel-harden, kernel-unpriv, kernel@<6.1|6.12>[-interp|-harden])", BACKEND_NAMES.join(", "))]
    Unknown {
        /// The name given.
        name: String,
    },
    /// An empty selection.
    #[error("no backend selected")]
    Empty,
}

fn worker_timeout() -> Duration {
    let ms = std::env::var(WORKER_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    Duration::from_millis(ms)
}

/// The per-program CPU-time limit of the rbpf workers, if any.
fn worker_cpu_limit() -> Option<Duration> {
    let ms = std::env::var(crate::backend::worker::WORKER_CPU_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_WORKER_CPU_MS);
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// An rbpf backend for `vm` with the configured timeout and CPU limit.
fn rbpf_backend(vm: WorkerVm) -> RbpfBackend {
    let backend = RbpfBackend::new(vm, worker_timeout());
    match worker_cpu_limit() {
        Some(limit) => backend.with_cpu_limit(limit),
        None => backend,
    }
}

/// Creates the backend called `name`.
pub fn create(name: &str) -> Result<Box<dyn Backend>, RegistryError> {
    Ok(match name {
        "interp" => Box::new(InterpBackend::default()),
        "jit" => Box::new(JitBackend::default()),
        "rbpf" => Box::new(rbpf_backend(WorkerVm::RbpfInterp)),
        "rbpf-jit" => Box::new(rbpf_backend(WorkerVm::RbpfJit)),
        "kernel" => Box::new(KernelBackend::new(KernelOptions::default())),
        HOST_HARDEN => Box::new(KernelBackend::new(KernelOptions {
            harden: true,
            ..KernelOptions::default()
        })),
        "verifier" => Box::new(VerifierBackend),
        HOST_UNPRIV => Box::new(crate::backend::kernel::unpriv::UnprivInputModel),
        other if GuestSpec::parse(other).is_some() => {
            Box::new(GuestBackend::new(GuestSpec::parse(other).expect("checked")))
        }
        other => {
            return Err(RegistryError::Unknown {
                name: other.to_string(),
            })
        }
    })
}

/// Parses a comma-separated list of names, checking each.
pub fn parse_list(spec: &str) -> Result<Vec<String>, RegistryError> {
    let names: Vec<String> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(RegistryError::Empty);
    }
    for n in &names {
        let host_variant = n == HOST_HARDEN || n == HOST_UNPRIV;
        if !BACKEND_NAMES.contains(&n.as_str()) && !host_variant && GuestSpec::parse(n).is_none() {
            return Err(RegistryError::Unknown { name: n.clone() });
        }
    }
    Ok(names)
}

/// The selection: `explicit` if given, else `BPFDIFF_BACKENDS`, else all.
pub fn select(explicit: Option<&str>) -> Result<Vec<String>, RegistryError> {
    match explicit {
        Some(spec) => parse_list(spec),
        None => match std::env::var(BACKENDS_ENV) {
            Ok(spec) => parse_list(&spec),
            Err(_) => Ok(BACKEND_NAMES.iter().map(|s| s.to_string()).collect()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_checked() {
        assert_eq!(parse_list("interp, rbpf").unwrap(), vec!["interp", "rbpf"]);
        assert!(matches!(
            parse_list("interp,uBPF"),
            Err(RegistryError::Unknown { .. })
        ));
        assert_eq!(parse_list(" , "), Err(RegistryError::Empty));
        assert_eq!(
            parse_list("kernel,kernel@6.12-interp").unwrap(),
            vec!["kernel", "kernel@6.12-interp"]
        );
        assert!(parse_list("kernel@6.12-fast").is_err());
    }
}
