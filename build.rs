//! Build script: records which bpfdiff commit and which rbpf version this
//! binary was built from, for the environment that reports and replays
//! print (src/environment.rs).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The version of `name` that Cargo.lock pins.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            let next = lines.next()?;
            return next
                .trim()
                .strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_string);
        }
    }
    None
}

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["describe", "--always", "--dirty", "--tags"]);
    if commit.is_some() {
        // A new commit or checkout moves HEAD's log; rebuild then.
        for path in ["HEAD", "logs/HEAD"] {
            if let Some(p) = git(&["rev-parse", "--git-path", path]) {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    let commit = commit.unwrap_or_else(|| {
        format!(
            "{} (not built from a git checkout)",
            std::env::var("CARGO_PKG_VERSION").unwrap_or_default()
        )
    });
    println!("cargo:rustc-env=BPFDIFF_BUILD_COMMIT={commit}");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let rbpf = locked_version(&lock, "rbpf").unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=BPFDIFF_RBPF_VERSION={rbpf}");
}
