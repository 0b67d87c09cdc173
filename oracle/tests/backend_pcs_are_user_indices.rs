//! Every instruction number a backend reports (refusal reason, verifier
//! log, fault pc, fault text) is the index in the user's program, not in
//! the code the harness really loads (the kernel's wrapper, rbpf's
//! `r2 = len` prologue).

use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::backend::rbpf::RbpfBackend;
use bpfdiff_oracle::backend::worker::{WorkerVm, WORKER_ENV};
use bpfdiff_oracle::{Backend, Execution, Verdict};
use std::time::Duration;

fn kernel() -> Option<KernelBackend> {
    let k = KernelBackend::new(KernelOptions::default());
    if let Some(why) = k.unavailable() {
        eprintln!("SKIPPED: kernel backend unavailable: {why}");
        return None;
    }
    Some(k)
}

fn rbpf() -> RbpfBackend {
    std::env::set_var(WORKER_ENV, env!("CARGO_BIN_EXE_bpfdiff-worker"));
    RbpfBackend::new(WorkerVm::RbpfInterp, Duration::from_secs(5))
}

/// r0 = 0; goto +10 (user insn 1, target 12 in a 3-insn program); exit.
fn jump_out_of_range_at_1() -> Program {
    Program::new(vec![
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x05, 0, 0, 10, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ])
}

/// r0 = 0; r0 += 1; exit; r0 = 1 (user insn 3, never reached); exit.
fn unreachable_at_3() -> Program {
    Program::new(vec![
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x07, 0, 0, 0, 1),
        Insn::new(0x95, 0, 0, 0, 0),
        Insn::new(0xb7, 0, 0, 0, 1),
        Insn::new(0x95, 0, 0, 0, 0),
    ])
}

fn rejection(o: &bpfdiff_oracle::Outcome) -> (String, String) {
    match &o.verdict {
        Verdict::Rejected { reason, log, .. } => (reason.clone(), log.clone().unwrap_or_default()),
        other => panic!("expected a refusal, got {other:?}: {o:?}"),
    }
}

#[test]
fn kernel_jump_out_of_range_names_the_users_instruction() {
    let Some(mut k) = kernel() else { return };
    // With and without input: the wrapper is 8 or 7 slots long.
    for input in [vec![], vec![0u8; 4]] {
        let o = k.run(&jump_out_of_range_at_1(), &input);
        let (reason, log) = rejection(&o);
        assert_eq!(reason, "jump out of range from insn 1 to 12", "{o:?}");
        assert!(log.contains("jump out of range from insn 1 to 12"), "{log}");
    }
}

#[test]
fn kernel_unreachable_insn_names_the_users_instruction() {
    let Some(mut k) = kernel() else { return };
    for input in [vec![], vec![0u8; 4]] {
        let o = k.run(&unreachable_at_3(), &input);
        let (reason, _) = rejection(&o);
        assert_eq!(reason, "unreachable insn 3", "{o:?}");
    }
}

#[test]
fn kernel_verifier_log_lines_are_numbered_as_the_user_numbers_them() {
    let Some(mut k) = kernel() else { return };
    // r0 = 0; r2 = *(u8 *)(r1 +0); if r2 == 0 goto +1;
    // r0 = *(u32 *)(r1 +100) (out of the 4-byte input: refused); exit
    let p = Program::new(vec![
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x71, 2, 1, 0, 0),
        Insn::new(0x15, 2, 0, 1, 0),
        Insn::new(0x61, 0, 1, 100, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let o = k.run(&p, &[0u8; 4]);
    let (_, log) = rejection(&o);
    assert!(
        log.lines()
            .any(|l| l.starts_with("3: (61) r0 = *(u32 *)(r1 +100)")),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l.starts_with("0: (b7) r0 = 0")),
        "{log}"
    );
    // The wrapper's own instructions are marked, never given a user index.
    assert!(
        log.lines()
            .any(|l| l.starts_with("4 (harness prologue): (85) call pc+3")),
        "{log}"
    );
    let level2 = k.verifier_log(&p, 4, 2).unwrap();
    assert!(level2.contains("func#1 @0"), "{level2}");
    assert!(
        level2
            .lines()
            .any(|l| l.trim_start().starts_with("3: .1........ (61)")),
        "{level2}"
    );
}

#[test]
fn rbpf_refusal_names_the_users_instruction() {
    let mut r = rbpf();
    let o = r.run(&jump_out_of_range_at_1(), &[]);
    let (reason, _) = rejection(&o);
    assert!(
        reason.contains("jump out of code to #12 (insn #1)"),
        "{reason}"
    );
}

#[test]
fn rbpf_memory_fault_names_the_users_instruction() {
    let mut r = rbpf();
    // r0 = 0; r0 = *(u32 *)(r1 +100) (out of the 4-byte input); exit
    let p = Program::new(vec![
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x61, 0, 1, 100, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let o = r.run(&p, &[0u8; 4]);
    match &o.execution {
        Execution::Fault { kind, pc, detail } => {
            assert_eq!(kind, "out-of-bounds");
            assert_eq!(*pc, Some(1));
            assert!(detail.contains("(insn #1)"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}
