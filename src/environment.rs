//! Where a finding was seen: the kernel release, its JIT settings, the rbpf
//! version and the bpfdiff commit. Replays print it in their header and
//! record it in their JSON; reports record it per finding.

use bpfdiff_oracle::backend::guest::{initrd, GuestSpec};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The rbpf version this binary was built with (from Cargo.lock).
pub const RBPF_VERSION: &str = env!("BPFDIFF_RBPF_VERSION");

/// The bpfdiff commit this binary was built from (`git describe --always
/// --dirty --tags` at build time), or the package version and a note when it
/// was not built from a git checkout.
pub const BPFDIFF_COMMIT: &str = env!("BPFDIFF_BUILD_COMMIT");

/// The sysctl that turns the kernel's BPF JIT on (1), off (0) or on with
/// debug output (2).
pub const JIT_ENABLE_PATH: &str = "/proc/sys/net/core/bpf_jit_enable";

/// The sysctl for JIT hardening (constant blinding): 0 off, 1 for
/// unprivileged programs, 2 for all.
pub const JIT_HARDEN_PATH: &str = "/proc/sys/net/core/bpf_jit_harden";

/// The environment of one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// `uname -r` in full, when it could be read.
    pub kernel_release: Option<String>,
    /// The value of `bpf_jit_enable`, when readable.
    pub jit_enable: Option<String>,
    /// The value of `bpf_jit_harden`, when readable.
    pub jit_harden: Option<String>,
    /// The rbpf crate's version.
    pub rbpf_version: String,
    /// bpfdiff's commit.
    pub bpfdiff_commit: String,
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(Path::new(path))
        .ok()
        .map(|s| s.trim().to_string())
}

impl Environment {
    /// The environment of this process, read now.
    pub fn detect() -> Environment {
        Environment {
            kernel_release: bpfdiff_oracle::known::running_kernel_release(),
            jit_enable: read_sysctl(JIT_ENABLE_PATH),
            jit_harden: read_sysctl(JIT_HARDEN_PATH),
            rbpf_version: RBPF_VERSION.to_string(),
            bpfdiff_commit: BPFDIFF_COMMIT.to_string(),
        }
    }

    /// The kernel release, or `unknown`.
    pub fn kernel(&self) -> &str {
        self.kernel_release.as_deref().unwrap_or("unknown")
    }

    /// The version string of `backend` in this environment: the kernel
    /// release for `kernel`, the cached image's release for a guest kernel
    /// (`6.1.0-57-amd64 (qemu guest, JIT)`), `rbpf X` for rbpf's
    /// interpreter and JIT, `bpfdiff C` for the engine's.
    pub fn backend_version(&self, backend: &str) -> String {
        match backend {
            "kernel" => self.kernel().to_string(),
            "rbpf" | "rbpf-jit" => format!("rbpf {}", self.rbpf_version),
            guest if GuestSpec::parse(guest).is_some() => {
                let spec = GuestSpec::parse(guest).expect("checked");
                match initrd::cached_release(&spec.series) {
                    Some(release) => format!("{release} (qemu guest, {})", spec.mode.describe()),
                    None => format!(
                        "Linux {} (qemu guest, {}; uname -r unknown: no cached image)",
                        spec.series,
                        spec.mode.describe()
                    ),
                }
            }
            _ => format!("bpfdiff {}", self.bpfdiff_commit),
        }
    }

    /// One line for headers: `kernel 6.18.44 (JIT 1, hardening 0), rbpf 0.4.1, bpfdiff d39bd6b`.
    pub fn header(&self) -> String {
        let jit = |v: &Option<String>| v.clone().unwrap_or_else(|| "unreadable".to_string());
        format!(
            "kernel {} (bpf_jit_enable {}, bpf_jit_harden {}), rbpf {}, bpfdiff {}",
            self.kernel(),
            jit(&self.jit_enable),
            jit(&self.jit_harden),
            self.rbpf_version,
            self.bpfdiff_commit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_the_running_kernel_in_full() {
        let env = Environment::detect();
        // The kernel's own account of its release (what `uname -r` prints).
        let proc = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .ok();
        assert_eq!(env.kernel_release, proc);
        assert_eq!(env.rbpf_version, "0.4.1", "Cargo.lock pins rbpf 0.4.1");
        assert!(!env.bpfdiff_commit.is_empty());
        let header = env.header();
        assert!(header.contains(env.kernel()), "{header}");
        assert_eq!(env.backend_version("rbpf-jit"), "rbpf 0.4.1");
        assert_eq!(env.backend_version("kernel"), env.kernel());
    }

    #[test]
    fn a_guest_kernel_is_named_by_its_own_release_not_bpfdiffs_commit() {
        // Findings record where they were seen: a report about kernel@6.1
        // must name that kernel, never the harness's commit.
        let dir = std::env::temp_dir().join(format!("bpfdiff-env-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("6.1/modules/6.1.0-57-amd64")).unwrap();
        std::env::set_var(bpfdiff_oracle::backend::guest::initrd::KERNELS_ENV, &dir);
        let env = Environment::detect();
        assert_eq!(
            env.backend_version("kernel@6.1"),
            "6.1.0-57-amd64 (qemu guest, JIT)"
        );
        let missing = env.backend_version("kernel@6.12-interp");
        assert!(
            missing.starts_with("Linux 6.12 (qemu guest, interpreter;"),
            "{missing}"
        );
        assert!(!missing.contains("bpfdiff"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
