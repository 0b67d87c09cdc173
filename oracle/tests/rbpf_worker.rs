//! The rbpf backends through the worker process: results, faults, panics,
//! hangs and crashes all come back as outcomes.

use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::rbpf_vm::with_prologue;
use bpfdiff_oracle::backend::worker::{WorkerClient, WorkerFailure, WorkerReply, WorkerVm};
use bpfdiff_oracle::registry;
use bpfdiff_oracle::{Execution, Verdict};
use std::path::PathBuf;
use std::time::Duration;

fn worker_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bpfdiff-worker"))
}

fn setup() {
    std::env::set_var(bpfdiff_oracle::backend::worker::WORKER_ENV, worker_exe());
}

const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

#[test]
fn rbpf_interp_sees_r2_as_length_through_the_prologue() {
    setup();
    let mut b = registry::create("rbpf").unwrap();
    let p = Program::new(vec![Insn::new(0xbf, 0, 2, 0, 0), EXIT]);
    let o = b.run(&p, &[9, 9, 9, 9]);
    assert_eq!(o.verdict, Verdict::Accepted);
    match o.execution {
        Execution::Returned { r0, .. } => assert_eq!(r0.bits, 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rbpf_faults_carry_the_program_pc() {
    setup();
    for name in ["rbpf", "rbpf-jit"] {
        let mut b = registry::create(name).unwrap();
        // insn 1 loads 8 bytes past a 4-byte input.
        let p = Program::new(vec![
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(0x79, 0, 1, 8, 0),
            EXIT,
        ]);
        let o = b.run(&p, &[0; 4]);
        if name == "rbpf" {
            match o.execution {
                Execution::Fault { kind, pc, .. } => {
                    assert_eq!(kind, "out-of-bounds");
                    assert_eq!(pc, Some(1));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

#[test]
fn an_endless_loop_times_out_and_the_worker_recovers() {
    let mut w = WorkerClient::new(worker_exe(), Duration::from_millis(300));
    // rbpf's verifier refuses `ja -1`; a two-insn loop passes it.
    let spin = Program::new(vec![
        Insn::new(0x07, 0, 0, 0, 1),
        Insn::new(0x05, 0, 0, -2, 0),
    ]);
    let r = w.run(WorkerVm::RbpfInterp, &with_prologue(&spin, 0), &[]);
    assert_eq!(r, Err(WorkerFailure::TimedOut(300)));
    let ok = Program::new(vec![Insn::new(0xb7, 0, 0, 0, 7), EXIT]);
    let r = w.run(WorkerVm::RbpfInterp, &with_prologue(&ok, 0), &[]);
    assert_eq!(r, Ok(WorkerReply::Returned { r0: 7, mem: vec![] }));
}

#[test]
fn an_endless_loop_hits_the_cpu_limit_and_the_worker_recovers() {
    // A wall-clock timeout far away: only the CPU-time limit can end it.
    let mut w = WorkerClient::new(worker_exe(), Duration::from_secs(120))
        .with_cpu_limit(Duration::from_millis(50));
    let spin = Program::new(vec![
        Insn::new(0x07, 0, 0, 0, 1),
        Insn::new(0x05, 0, 0, -2, 0),
    ]);
    let ok = Program::new(vec![Insn::new(0xb7, 0, 0, 0, 7), EXIT]);
    for vm in [WorkerVm::RbpfInterp, WorkerVm::RbpfJit] {
        let r = w.run(vm, &with_prologue(&spin, 0), &[]);
        assert_eq!(r, Err(WorkerFailure::CpuLimit(50)), "{vm:?}");
        let r = w.run(vm, &with_prologue(&ok, 0), &[]);
        assert_eq!(
            r,
            Ok(WorkerReply::Returned { r0: 7, mem: vec![] }),
            "{vm:?}"
        );
    }
    // In a batch, the loop is pinned on its own request; the others run.
    let (spin, ok) = (with_prologue(&spin, 0), with_prologue(&ok, 0));
    let replies = w.run_many(
        WorkerVm::RbpfInterp,
        &[(&ok, &[]), (&spin, &[]), (&ok, &[])],
    );
    let returned = Ok(WorkerReply::Returned { r0: 7, mem: vec![] });
    assert_eq!(
        replies,
        vec![returned.clone(), Err(WorkerFailure::CpuLimit(50)), returned]
    );
}

#[test]
fn the_default_cpu_limit_leaves_room_for_a_campaigns_budget() {
    // 100,000 instructions (the engine's budget in campaigns, DIFF_BUDGET)
    // end within the default CPU-time limit, in this (debug) build too.
    setup();
    let count = Program::new(vec![
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x07, 0, 0, 0, 1),
        Insn::new(0xa5, 0, 0, -2, 50_000),
        EXIT,
    ]);
    for name in ["rbpf", "rbpf-jit"] {
        let mut b = registry::create(name).unwrap();
        match b.run(&count, &[]).execution {
            Execution::Returned { r0, .. } => assert_eq!(r0.bits, 50_000, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_crash_in_jitted_code_kills_only_the_worker() {
    let mut w = WorkerClient::new(worker_exe(), Duration::from_millis(2000));
    // The JIT does not check memory: load from address 0 (r1 = 0 without input).
    let wild = Program::new(vec![Insn::new(0x79, 0, 1, 0, 0), EXIT]);
    let r = w.run(WorkerVm::RbpfJit, &with_prologue(&wild, 0), &[]);
    match r {
        Err(WorkerFailure::Died(what)) => assert!(what.contains("SIGSEGV"), "{what}"),
        other => panic!("expected a crash, got {other:?}"),
    }
    let ok = Program::new(vec![Insn::new(0xb7, 0, 0, 0, 7), EXIT]);
    let r = w.run(WorkerVm::RbpfJit, &with_prologue(&ok, 0), &[]);
    assert_eq!(r, Ok(WorkerReply::Returned { r0: 7, mem: vec![] }));
}

#[test]
fn without_a_worker_the_backend_says_not_run() {
    let mut w = WorkerClient::new(
        PathBuf::from("/nonexistent/bpfdiff"),
        Duration::from_millis(100),
    );
    let p = Program::new(vec![EXIT]);
    assert!(matches!(
        w.run(WorkerVm::RbpfInterp, &p.to_bytes(), &[]),
        Err(WorkerFailure::Spawn { .. })
    ));
}

#[test]
fn rbpf_provides_the_engine_helper_get_smp_processor_id() {
    // The engine provides helper 8 (bpf_get_smp_processor_id, an opaque
    // result); the rbpf backends register it too, so a program calling it
    // runs everywhere instead of faulting on rbpf alone.
    setup();
    for name in ["rbpf", "rbpf-jit"] {
        let mut b = registry::create(name).unwrap();
        let p = Program::new(vec![Insn::new(0x85, 0, 0, 0, 8), EXIT]);
        let o = b.run(&p, &[0; 4]);
        assert!(
            matches!(o.execution, Execution::Returned { .. }),
            "{name}: {:?}",
            o.execution
        );
    }
}

#[test]
fn a_batch_gives_the_replies_of_lone_runs_even_with_a_crash_and_a_hang_inside() {
    let ok = |r0: i32| Program::new(vec![Insn::new(0xb7, 0, 0, 0, r0), EXIT]);
    let wild = Program::new(vec![Insn::new(0x79, 0, 1, 0, 0), EXIT]);
    let spin = Program::new(vec![
        Insn::new(0x07, 0, 0, 0, 1),
        Insn::new(0x05, 0, 0, -2, 0),
    ]);
    // r0 = the input's first byte, to show each reply is its own request's.
    let echo = Program::new(vec![Insn::new(0x71, 0, 1, 0, 0), EXIT]);
    let cases: Vec<(WorkerVm, Program, Vec<u8>)> = vec![
        (WorkerVm::RbpfJit, ok(1), vec![]),
        (WorkerVm::RbpfJit, echo.clone(), vec![5]),
        (WorkerVm::RbpfJit, wild, vec![]),
        (WorkerVm::RbpfJit, echo.clone(), vec![6]),
        (WorkerVm::RbpfInterp, ok(2), vec![]),
        (WorkerVm::RbpfInterp, spin, vec![]),
        (WorkerVm::RbpfInterp, echo, vec![7]),
    ];
    let lone: Vec<_> = cases
        .iter()
        .map(|(vm, p, mem)| {
            WorkerClient::new(worker_exe(), Duration::from_millis(300)).run(
                *vm,
                &with_prologue(p, mem.len()),
                mem,
            )
        })
        .collect();
    assert!(matches!(&lone[2], Err(WorkerFailure::Died(w)) if w.contains("SIGSEGV")));
    assert_eq!(lone[5], Err(WorkerFailure::TimedOut(300)));
    let mut w = WorkerClient::new(worker_exe(), Duration::from_millis(300));
    let mut batched = Vec::new();
    for vm in [WorkerVm::RbpfJit, WorkerVm::RbpfInterp] {
        let bytes: Vec<(Vec<u8>, &[u8])> = cases
            .iter()
            .filter(|(v, _, _)| *v == vm)
            .map(|(_, p, mem)| (with_prologue(p, mem.len()), &mem[..]))
            .collect();
        let requests: Vec<(&[u8], &[u8])> = bytes.iter().map(|(b, m)| (&b[..], *m)).collect();
        batched.extend(w.run_many(vm, &requests));
    }
    assert_eq!(batched, lone);
}

#[test]
fn a_retired_worker_is_replaced_and_keeps_answering() {
    let mut w = WorkerClient::new(worker_exe(), Duration::from_millis(2000));
    let ok = Program::new(vec![Insn::new(0xb7, 0, 0, 0, 7), EXIT]);
    let wild = Program::new(vec![Insn::new(0x79, 0, 1, 0, 0), EXIT]);
    for vm in [WorkerVm::RbpfInterp, WorkerVm::RbpfJit] {
        assert_eq!(
            w.run(vm, &with_prologue(&ok, 0), &[]),
            Ok(WorkerReply::Returned { r0: 7, mem: vec![] })
        );
        w.retire();
        w.retire();
        assert_eq!(
            w.run(vm, &with_prologue(&ok, 0), &[]),
            Ok(WorkerReply::Returned { r0: 7, mem: vec![] })
        );
    }
    // A crash after a retire still names the signal (the keeper ends as its
    // server did).
    w.retire();
    match w.run(WorkerVm::RbpfJit, &with_prologue(&wild, 0), &[]) {
        Err(WorkerFailure::Died(what)) => assert!(what.contains("SIGSEGV"), "{what}"),
        other => panic!("expected a crash, got {other:?}"),
    }
}
