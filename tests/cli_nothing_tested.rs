//! A run that tests nothing must not pass: every test skipped (a backend
//! that cannot run here), a campaign where a backend ran nothing, a
//! directory without tests, and `*.data` entries that are not test files.

mod common;

use common::{assert_input_error, bpfdiff, stderr, stdout, Scratch};
use std::path::Path;
use std::process::{Command, Output};

const TEST: &str = "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n";

/// Runs the built `bpfdiff` without permission for `bpf()`: as `nobody`
/// with no capabilities when we are root, else as ourselves (unprivileged).
fn bpfdiff_unprivileged(args: &[&str]) -> Output {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let bin = env!("CARGO_BIN_EXE_bpfdiff");
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            bin,
        ]);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args).current_dir("/");
    cmd.output().expect("start bpfdiff")
}

/// A scratch directory `nobody` can read.
fn readable_scratch(label: &str) -> Scratch {
    let dir = Scratch::new(label);
    let mut p = dir.path().to_path_buf();
    loop {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
        if !p.pop() || p == Path::new("/tmp") || p == std::env::temp_dir() {
            break;
        }
    }
    dir
}

#[test]
fn conformance_on_a_denied_kernel_says_so_once_and_exits_3() {
    let dir = readable_scratch("denied-conformance");
    for name in ["a.data", "b.data", "c.data"] {
        dir.write(name, TEST);
    }
    let d = dir.path().to_str().unwrap();
    let out = bpfdiff_unprivileged(&["conformance", d, "--backend", "kernel"]);
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(3), "stdout: {text}\nstderr: {err}");
    // Once on stdout (the skip line), once on stderr (the backend's notice).
    assert_eq!(text.matches("bpf() is not permitted").count(), 1, "{text}");
    assert_eq!(err.matches("bpf() is not permitted").count(), 1, "{err}");
    assert!(
        text.contains("skip all 3 tests: backend kernel cannot run here: bpf() is not permitted"),
        "{text}"
    );
    assert!(text.ends_with("0 passed, 0 failed, 3 skipped\n"), "{text}");
    assert!(err.contains("nothing was tested"), "{err}");
    let out = bpfdiff_unprivileged(&["conformance", d, "--backend", "kernel", "--allow-skip"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn campaign_with_a_denied_kernel_exits_3() {
    let known = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/known-divergences.json");
    let args = [
        "campaign",
        "--backends",
        "interp,kernel",
        "--programs",
        "4",
        "--jobs",
        "1",
        "--known",
        known,
    ];
    let out = bpfdiff_unprivileged(&args);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout: {}\nstderr: {err}",
        stdout(&out)
    );
    assert!(
        err.contains("backend kernel ran none of the programs"),
        "{err}"
    );
    let mut allowed = args.to_vec();
    allowed.push("--allow-skip");
    let out = bpfdiff_unprivileged(&allowed);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_directory_without_tests_is_bad_input_naming_it() {
    let dir = Scratch::new("no-tests");
    dir.write("README.md", "no tests here\n");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    dir.write("sub/a.data", TEST);
    let out = bpfdiff(&[&"conformance", &dir.path()]);
    assert_input_error(&out, &format!("{}: no *.data tests", dir.path().display()));
}

#[test]
fn entries_named_data_that_are_not_files_fail_by_name() {
    let dir = Scratch::new("odd-entries");
    dir.write("a.data", TEST);
    std::os::unix::fs::symlink(dir.path().join("missing"), dir.path().join("b.data")).unwrap();
    std::fs::create_dir(dir.path().join("c.data")).unwrap();
    let out = bpfdiff(&[&"conformance", &dir.path()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("FAIL b.data: invalid test file: "), "{text}");
    assert!(text.contains("broken symbolic link"), "{text}");
    assert!(
        text.contains("c.data: a directory, not a test file"),
        "{text}"
    );
    assert!(text.ends_with("1 passed, 2 failed\n"), "{text}");
}
