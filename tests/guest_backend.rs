//! The guest backend end to end: boots one qemu guest of the kernel matrix
//! (docs/kernel-matrix.md) and runs programs through it. Needs qemu and the
//! images of `scripts/kernels.sh`; without them each test prints
//! `SKIPPED: <reason>` and returns.

use bpfdiff_engine::asm::kernel::assemble;
use bpfdiff_oracle::backend::guest::{GuestBackend, GuestSpec};
use bpfdiff_oracle::{Backend, Execution, Verdict};
use std::time::Duration;

/// The series the tests boot (`BPFDIFF_GUEST_TEST_KERNEL`, default 6.12).
fn backend(mode: &str) -> Option<GuestBackend> {
    std::env::set_var("BPFDIFF_GUEST_AGENT", env!("CARGO_BIN_EXE_bpfdiff-agent"));
    let series = std::env::var("BPFDIFF_GUEST_TEST_KERNEL").unwrap_or_else(|_| "6.12".into());
    let name = format!("kernel@{series}{mode}");
    let b = GuestBackend::new(GuestSpec::parse(&name).expect("a guest name"));
    if let Some(why) = b.unavailable() {
        eprintln!("SKIPPED: {name} unavailable: {why}");
        return None;
    }
    Some(b)
}

/// The kernel's interpreter (`bpf_jit_enable=0`) runs a program, writes the
/// input memory back, refuses a read of an unwritten register with the
/// verifier's reason, and gives its log on demand.
#[test]
fn a_guest_boots_and_runs_programs_through_its_interpreter() {
    let Some(mut guest) = backend("-interp") else {
        return;
    };
    let store = assemble("r0 = 0x1122334455667788 ll\n*(u32 *)(r1 + 0) = r2\nexit\n").unwrap();
    let out = guest.run(&store, &[0xaa; 8]);
    assert_eq!(out.backend, "kernel@6.12-interp".replace("6.12", &series()));
    assert_eq!(out.verdict, Verdict::Accepted, "{out:?}");
    match &out.execution {
        Execution::Returned { r0, mem, .. } => {
            // RFC 9669: lddw loads the full 64-bit immediate; the wrapper
            // reports r0 in full.
            assert_eq!(r0.bits, 0x1122334455667788);
            // r2 = the input length (8), stored as 32 bits, little-endian.
            assert_eq!(mem, &[8, 0, 0, 0, 0xaa, 0xaa, 0xaa, 0xaa]);
        }
        other => panic!("expected a return, got {other}"),
    }
    let boot = guest.last_boot_time().expect("booted");
    eprintln!(
        "boot to first program: {:.1} s ({})",
        boot.as_secs_f64(),
        guest.kernel_version().unwrap_or("?")
    );
    assert!(guest.kernel_version().unwrap().contains(&series()));

    // Reading a register never written: the verifier refuses it (EACCES,
    // `R5 !read_ok`; a subprogram gets r1-r5 as arguments, the wrapper
    // passes only r1 and r2).
    let unwritten = assemble("r0 = r5\nexit\n").unwrap();
    let out = guest.run(&unwritten, &[0; 8]);
    match &out.verdict {
        Verdict::Rejected { errno, reason, .. } => {
            assert_eq!(*errno, 13, "{reason}");
            assert!(reason.contains("R5 !read_ok"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let (accepted, log) = guest.raw_verifier_log(&unwritten, 8, 2).unwrap();
    assert!(!accepted);
    assert!(log.contains("R5 !read_ok"), "{log}");
}

/// A guest that stops answering is an outcome (`crashed`, with the console
/// text), and the backend boots a fresh guest for the next program.
#[test]
fn a_silent_guest_is_a_crash_and_the_next_program_gets_a_new_guest() {
    let Some(mut guest) = backend("") else {
        return;
    };
    let prog = assemble("r0 = 7\nexit\n").unwrap();
    guest.boot().expect("boots");
    guest.set_timeout(Duration::from_millis(0));
    let out = guest.run(&prog, &[]);
    match &out.execution {
        Execution::Crashed { what } => assert!(what.contains("stopped answering"), "{what}"),
        other => panic!("expected a crash, got {other}"),
    }
    guest.set_timeout(Duration::from_secs(60));
    let out = guest.run(&prog, &[]);
    match &out.execution {
        Execution::Returned { r0, .. } => assert_eq!(r0.bits, 7),
        other => panic!("expected a return after the reboot, got {other}"),
    }
}

fn series() -> String {
    std::env::var("BPFDIFF_GUEST_TEST_KERNEL").unwrap_or_else(|_| "6.12".into())
}
