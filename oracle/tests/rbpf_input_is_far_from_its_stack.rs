//! rbpf 0.4.1's interpreter accepts a memory access that lands in any of
//! its regions (input or stack: `check_mem`), whatever pointer it came
//! from. With the input and rbpf's per-run stack both on the worker's heap,
//! `*(u16 *)(r1 +740) = r0` on 52 input bytes faulted when run alone but
//! returned in a campaign (seed 777, grammar tier, case 115040): the heap's
//! history had put the stack 742–1252 bytes after the input. The worker now
//! keeps the input in a mapping of its own, so the distance never comes
//! within reach of a 16-bit offset, and the outcome never depends on what
//! ran before.

use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::rbpf_vm::with_prologue;
use bpfdiff_oracle::backend::worker::{WorkerClient, WorkerReply, WorkerVm};
use std::path::PathBuf;
use std::time::Duration;

/// Farther than any `r1 + off` or `r10 + off` (16-bit `off`) reaches, with
/// the input and the 512-byte stack in between.
const OUT_OF_REACH: i64 = (1 << 16) + 4096;

#[test]
fn the_input_never_lies_within_reach_of_rbpfs_stack() {
    let mut w = WorkerClient::new(
        PathBuf::from(env!("CARGO_BIN_EXE_bpfdiff-worker")),
        Duration::from_secs(10),
    );
    // r0 = r10; r0 -= r1; exit: how far rbpf's stack top is from the input.
    let distance = Program::new(vec![
        Insn::new(0xbf, 0, 10, 0, 0),
        Insn::new(0x1f, 0, 1, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    // The campaign's case: *(u16 *)(r1 +740) = r0; r6 += 11; exit.
    let store = Program::new(vec![
        Insn::new(0x6b, 1, 0, 740, 0),
        Insn::new(0x07, 6, 0, 0, 11),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let input = [0u8; 52];
    for round in 0..400usize {
        // A varied history of allocations in the worker, as in a campaign.
        let n = 1 + (round * 7919) % 200;
        let mut filler = vec![Insn::new(0xb7, 0, 0, 0, 1); n];
        filler.push(Insn::new(0x95, 0, 0, 0, 0));
        let len = (round * 31) % 300;
        w.run(
            WorkerVm::RbpfInterp,
            &with_prologue(&Program::new(filler), len),
            &vec![1u8; len],
        )
        .unwrap();
        match w
            .run(WorkerVm::RbpfInterp, &with_prologue(&distance, 52), &input)
            .unwrap()
        {
            WorkerReply::Returned { r0, .. } => assert!(
                (r0 as i64).abs() > OUT_OF_REACH,
                "round {round}: rbpf's stack top is {} bytes from the input",
                r0 as i64
            ),
            other => panic!("{other:?}"),
        }
        match w
            .run(WorkerVm::RbpfInterp, &with_prologue(&store, 52), &input)
            .unwrap()
        {
            WorkerReply::Error { message } => {
                assert!(message.contains("out of bounds memory store"), "{message}")
            }
            other => panic!("round {round}: the out-of-bounds store did not fault: {other:?}"),
        }
    }
}
