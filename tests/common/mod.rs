//! Helpers shared by the CLI integration tests: a scratch directory and a
//! way to run the built `bpfdiff` binary.
#![allow(dead_code)] // each test file uses a different subset

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed when dropped.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Creates an empty scratch directory whose name includes `label`.
    pub fn new(label: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("bpfdiff-test-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `contents` to `name` inside the directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the built `bpfdiff` with `args` (strings and paths mixed).
pub fn bpfdiff(args: &[&dyn AsRef<OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("start bpfdiff")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that the run was rejected as bad input: exit code 2, one line on
/// stderr starting with `bpfdiff: ` and containing `place`, and no panic.
pub fn assert_input_error(out: &Output, place: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.starts_with("bpfdiff: "), "prefix: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(place), "`{place}` not in: {err}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
}

/// Asserts exit code 0 and no panic; returns stdout.
pub fn assert_success(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(0), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    stdout(out)
}

/// The 8-byte encoding of one instruction slot (RFC 9669 §3).
pub fn slot(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    [opcode, dst | (src << 4), o[0], o[1], i[0], i[1], i[2], i[3]]
}
