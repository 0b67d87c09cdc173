//! Where the guest's pieces are, and the initramfs a guest boots: the base
//! archive of `scripts/kernels.sh` (busybox, `/init`) followed by an archive
//! with the running build's agent and the shared libraries it needs.

use super::cpio::Archive;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable naming the kernel cache of `scripts/kernels.sh`.
pub const KERNELS_ENV: &str = "BPFDIFF_KERNELS";
/// The kernel cache when [`KERNELS_ENV`] is unset.
pub const DEFAULT_KERNELS: &str = "/var/cache/bpfdiff/kernels";
/// The environment variable naming the agent executable.
pub const AGENT_ENV: &str = "BPFDIFF_GUEST_AGENT";
/// The agent's file name (a binary of the `bpfdiff` package).
pub const AGENT_NAME: &str = "bpfdiff-agent";
/// The environment variable naming the qemu executable.
pub const QEMU_ENV: &str = "BPFDIFF_QEMU";
/// Where the agent is put in the guest (the base archive's `/init` runs it).
pub const AGENT_IN_GUEST: &str = "/agent/bpfdiff-agent";

/// The kernel cache folder.
pub fn kernels_dir() -> PathBuf {
    std::env::var_os(KERNELS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_KERNELS))
}

/// The qemu executable: [`QEMU_ENV`], else `qemu-system-x86_64` on `PATH`.
pub fn qemu() -> Result<PathBuf, String> {
    if let Some(q) = std::env::var_os(QEMU_ENV) {
        return Ok(PathBuf::from(q));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "qemu-system-x86_64 is not installed (scripts/kernels.sh installs it)".to_string()
        })
}

/// The agent executable: [`AGENT_ENV`], else `bpfdiff-agent` next to the
/// running executable or one folder up (test binaries live in `deps/`).
pub fn agent() -> Result<PathBuf, String> {
    if let Some(a) = std::env::var_os(AGENT_ENV) {
        return Ok(PathBuf::from(a));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the agent: {e}"))?;
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|d| d.join(AGENT_NAME))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no {AGENT_NAME} next to {} (build it with `cargo build --bins`, or set {AGENT_ENV})",
                exe.display()
            )
        })
}

/// The shared libraries `ldd` lists for `exe`, the loader included; none
/// for a static executable.
fn shared_libraries(exe: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|e| format!("cannot run ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(PathBuf::from)
        })
        .collect())
}

fn build_overlay(agent: &Path) -> Result<Vec<u8>, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let mut archive = Archive::default();
    archive.file(AGENT_IN_GUEST, 0o755, &read(agent)?);
    for lib in shared_libraries(agent)? {
        let bytes = read(&lib)?;
        archive.file(&lib.to_string_lossy(), 0o755, &bytes);
        // The loader is named by its canonical path too on merged-/usr systems.
        if let Ok(real) = lib.canonicalize() {
            if real != lib {
                archive.file(&real.to_string_lossy(), 0o755, &bytes);
            }
        }
    }
    Ok(archive.finish())
}

/// The archive with the agent and its libraries; built once per process.
pub fn overlay() -> Result<&'static [u8], String> {
    static OVERLAY: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    OVERLAY
        .get_or_init(|| build_overlay(&agent()?))
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// The files of one kernel series in the cache.
#[derive(Clone, Debug)]
pub struct KernelImage {
    /// The kernel to boot: `vmlinux` (uncompressed, booted through PVH,
    /// no decompression under TCG) when the cache has it, else `vmlinuz`.
    pub vmlinuz: PathBuf,
    /// The base initramfs.
    pub initramfs: PathBuf,
}

impl KernelImage {
    /// The series' files, or why they are not there.
    pub fn find(series: &str) -> Result<KernelImage, String> {
        let dir = kernels_dir().join(series);
        let vmlinux = dir.join("vmlinux");
        let image = KernelImage {
            vmlinuz: if vmlinux.is_file() {
                vmlinux
            } else {
                dir.join("vmlinuz")
            },
            initramfs: dir.join("initramfs.cpio"),
        };
        for f in [&image.vmlinuz, &image.initramfs] {
            if !f.is_file() {
                return Err(format!(
                    "{} is missing (run scripts/kernels.sh {series})",
                    f.display()
                ));
            }
        }
        Ok(image)
    }

    /// Writes the initramfs to boot (base + agent overlay) to `path`.
    pub fn write_initrd(&self, path: &Path) -> Result<(), String> {
        let mut bytes = std::fs::read(&self.initramfs)
            .map_err(|e| format!("cannot read {}: {e}", self.initramfs.display()))?;
        while bytes.len() % 4 != 0 {
            bytes.push(0);
        }
        bytes.extend_from_slice(overlay()?);
        std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// The `uname -r` of the cached kernel of `series` (`6.1`, `6.12`): the name
/// of its one folder under `modules/`, as `scripts/kernels.sh` unpacks the
/// Debian package. `None` when the cache has no such kernel.
pub fn cached_release(series: &str) -> Option<String> {
    let mut names = std::fs::read_dir(kernels_dir().join(series).join("modules"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok());
    let first = names.next()?;
    names.next().is_none().then_some(first)
}
