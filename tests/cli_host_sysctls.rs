//! `kernel-harden` and `kernel-unpriv` on the host put
//! `net.core.bpf_jit_harden` and `kernel.unprivileged_bpf_disabled` back
//! when the run is interrupted (issue 14): SIGINT to a command that keeps
//! the signal's default action (`conformance`), and SIGTERM to campaigns,
//! which stop cleanly. Either way the sysctls read as before afterwards,
//! whether or not the signal landed during a load. And `diff` shows an
//! unprivileged refusal of what root may load without calling it a
//! divergence. Without `bpf()` (not root) the tests print `SKIPPED`.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

const SYSCTL: &str = "/proc/sys/net/core/bpf_jit_harden";
const UNPRIV_SYSCTL: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";

fn kernel_available() -> bool {
    let k = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    match k.unavailable() {
        Some(why) => {
            // SAFETY: geteuid has no preconditions.
            assert!(unsafe { libc::geteuid() } != 0, "root but: {why}");
            println!("SKIPPED: {why}");
            false
        }
        None => true,
    }
}

/// Starts bpfdiff with the opt-in, sends `signal` after `after`, waits.
fn interrupted(args: &[&str], signal: libc::c_int, after: Duration) -> std::process::ExitStatus {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .args(args)
        .env("BPFDIFF_HOST_SYSCTL", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    // SAFETY: kill on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    child.wait().unwrap()
}

#[test]
fn an_interrupted_hardened_run_leaves_the_sysctl_as_it_was() {
    if !kernel_available() {
        return;
    }
    let before = std::fs::read_to_string(SYSCTL).unwrap();
    if before.trim() == "2" {
        println!("SKIPPED: bpf_jit_harden is 2 already on this host");
        return;
    }
    for delay in [200, 450, 700] {
        let status = interrupted(
            &[
                "conformance",
                "corpus/conformance",
                "--backend",
                "kernel-harden",
            ],
            libc::SIGINT,
            Duration::from_millis(delay),
        );
        assert_eq!(
            std::fs::read_to_string(SYSCTL).unwrap(),
            before,
            "after SIGINT at {delay} ms ({status:?})"
        );
    }
    let status = interrupted(
        &[
            "campaign",
            "--tier",
            "verifier",
            "--backends",
            "interp,kernel-harden",
            "--duration",
            "30s",
            "--jobs",
            "2",
        ],
        libc::SIGTERM,
        Duration::from_millis(1500),
    );
    assert_eq!(std::fs::read_to_string(SYSCTL).unwrap(), before);
    assert!(
        status.code().is_some(),
        "the campaign stops cleanly: {status:?}"
    );
}

#[test]
fn an_interrupted_unprivileged_campaign_leaves_the_sysctl_as_it_was() {
    if !kernel_available() {
        return;
    }
    let before = std::fs::read_to_string(UNPRIV_SYSCTL).unwrap();
    if before.trim() == "1" {
        println!("SKIPPED: {UNPRIV_SYSCTL} is 1");
        return;
    }
    for delay in [800, 1500] {
        let status = interrupted(
            &[
                "campaign",
                "--tier",
                "packet",
                "--backends",
                "interp,kernel,kernel-unpriv",
                "--duration",
                "30s",
            ],
            libc::SIGTERM,
            Duration::from_millis(delay),
        );
        assert_eq!(std::fs::read_to_string(UNPRIV_SYSCTL).unwrap(), before);
        assert!(status.code().is_some(), "stops cleanly: {status:?}");
    }
}

#[test]
fn an_unprivileged_refusal_of_what_root_may_load_is_not_a_divergence() {
    if !kernel_available() {
        return;
    }
    let s = common::Scratch::new("unpriv-leak");
    let leak = s.write("leak.s", "r0 = r10\nexit\n");
    let out = Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .args([
            "diff",
            "--prog-type",
            "socket",
            "--backends",
            "interp,kernel,kernel-unpriv",
        ])
        .arg(&leak)
        .env("BPFDIFF_HOST_SYSCTL", "1")
        .output()
        .unwrap();
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    assert!(
        text.contains("rejected: R0 leaks addr as return value"),
        "{text}"
    );
    assert!(text.contains("comparison: agree"), "{text}");
}
