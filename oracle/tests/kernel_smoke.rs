//! Quick end-to-end checks of the kernel backend on the real kernel.

use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::{Backend, Execution, Verdict};

fn kernel() -> Option<KernelBackend> {
    let k = KernelBackend::new(KernelOptions::default());
    if let Some(why) = k.unavailable() {
        eprintln!("SKIPPED: kernel backend unavailable: {why}");
        return None;
    }
    Some(k)
}

#[test]
fn full_64_bit_r0_and_memory_come_back() {
    let Some(mut k) = kernel() else { return };
    // r0 = 0x1122334455667788 (ld_imm64); *(u32 *)(r1 +0) = r2; exit
    let p = Program::new(vec![
        Insn::new(0x18, 0, 0, 0, 0x5566_7788),
        Insn::new(0, 0, 0, 0, 0x1122_3344),
        Insn::new(0x63, 1, 2, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let o = k.run(&p, &[0xaa; 6]);
    assert_eq!(o.verdict, Verdict::Accepted, "{o:?}");
    match o.execution {
        Execution::Returned { r0, mem, .. } => {
            assert_eq!(r0.bits, 0x1122_3344_5566_7788);
            assert_eq!(mem, vec![6, 0, 0, 0, 0xaa, 0xaa]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rejections_carry_errno_and_reason() {
    let Some(mut k) = kernel() else { return };
    // r0 = r3 (uninitialised): R3 !read_ok
    let p = Program::new(vec![
        Insn::new(0xbf, 0, 3, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let o = k.run(&p, &[]);
    match o.verdict {
        Verdict::Rejected { errno, reason, .. } => {
            assert_eq!(errno, 13, "EACCES");
            assert!(reason.contains("R3 !read_ok"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
