//! `check_ld_abs` (Linux 6.18 `kernel/bpf/verifier.c`): the legacy packet
//! loads of socket filters and tc programs. R6 must hold the ctx; r1–r5
//! are clobbered and r0 gets an unknown value.

use crate::decode::Instruction;
use crate::opcode::{Operation, Size};
use crate::verifier::state::{PtrKind, Reg, State};
use crate::verifier::verdict::{RejectClass, Rejection};

/// Checks `ins` (`LD_ABS`/`LD_IND`) at `pc` for a type that may access
/// the skb, and applies its effect to `state`.
pub fn check(state: &mut State, pc: usize, ins: &Instruction) -> Result<(), Rejection> {
    let ind = ins.row.operation == Operation::LdInd;
    if ins.dst != 0 || ins.off != 0 || ins.row.size == Some(Size::DW) || (!ind && ins.src != 0) {
        return Err(Rejection::new(
            pc,
            RejectClass::ReservedFields,
            "BPF_LD_[ABS|IND] uses reserved fields",
        ));
    }
    let not_read = |r: u8| {
        Rejection::new(
            pc,
            RejectClass::RegisterNotReadable,
            format!("R{r} !read_ok"),
        )
    };
    let regs = &state.cur().regs;
    let r6 = regs[6];
    if r6 == Reg::NotInit {
        return Err(not_read(6));
    }
    let Reg::Ptr(p) = r6 else {
        return Err(not_skb(pc));
    };
    if !matches!(p.kind, PtrKind::Ctx(_)) {
        return Err(not_skb(pc));
    }
    if ind && regs[ins.src as usize] == Reg::NotInit {
        return Err(not_read(ins.src));
    }
    if p.off < 0 {
        return Err(Rejection::new(
            pc,
            RejectClass::InvalidMemoryAccess,
            format!("negative offset ctx ptr R6 off={} disallowed", p.off),
        ));
    }
    if p.off != 0 {
        return Err(Rejection::new(
            pc,
            RejectClass::InvalidMemoryAccess,
            format!(
                "dereference of modified ctx ptr R6 off={} disallowed",
                p.off
            ),
        ));
    }
    if !p.var.var_off.is_const() || p.var.var_off.value != 0 {
        return Err(Rejection::new(
            pc,
            RejectClass::InvalidMemoryAccess,
            format!(
                "variable ctx access var_off={} disallowed",
                super::mem::tnum_str(p.var.var_off)
            ),
        ));
    }
    let regs = &mut state.cur_mut().regs;
    for r in regs.iter_mut().take(6).skip(1) {
        *r = Reg::NotInit;
    }
    regs[0] = Reg::unknown();
    Ok(())
}

fn not_skb(pc: usize) -> Rejection {
    Rejection::new(
        pc,
        RejectClass::InvalidMemoryAccess,
        "at the time of BPF_LD_ABS|IND R6 != pointer to skb",
    )
}
