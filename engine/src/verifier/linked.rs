//! Linked scalars (Linux 6.18 `kernel/bpf/verifier.c`): registers and
//! spilled slots that share a scalar id hold the same value, or the same
//! value plus a constant (`BPF_ADD_CONST64/32`), so what a conditional
//! jump learns about one reaches the others (`sync_linked_regs`); state
//! pruning maps ids one-to-one (`check_scalar_ids`). Ids are given by
//! moves and spills in [`super::explore`].

use super::scalar::{ScalarBounds, ADD_CONST, ADD_CONST32, ADD_CONST64};
use super::state::{Reg, State};
use super::transfer::alu;
use crate::opcode::Operation;

/// The link `dst op= src` leaves on the destination (`adjust_reg_min_max_vals`,
/// 6.18 with the stable backport of negative, `BPF_SUB` and alu32 deltas):
/// adding or subtracting a constant (|K| within s32; a 32-bit operation
/// only on a value that fits 32 bits) to a linked scalar keeps the link
/// with the delta, once; anything else breaks it. `(id, link_off)`.
pub(super) fn add_const_link(
    op: Operation,
    alu64: bool,
    dst: &ScalarBounds,
    src: &Reg,
    same: bool,
) -> (u32, i32) {
    let Reg::Scalar(src) = src else {
        return (0, 0);
    };
    if dst.id == 0 || same || !matches!(op, Operation::Add | Operation::Sub) {
        return (0, 0);
    }
    let val = if alu64 {
        if !src.var_off.is_const() {
            return (0, 0);
        }
        let v = src.var_off.value as i64;
        if v < i32::MIN as i64 || v > i32::MAX as i64 {
            return (0, 0);
        }
        v as i32
    } else {
        // Not modeled: the kernel's 32-bit deltas (BPF_ADD_CONST32). With
        // them, the self-soundness campaign found runs outside the
        // explored states (2 of 1,000,000: `w1 -= 5` in a subprogram, then
        // a branch on r1 refined the caller's linked register wrongly).
        // Breaking the link is sound; it only loses precision.
        return (0, 0);
    };
    let off = if op == Operation::Sub {
        if val == i32::MIN {
            return (0, 0);
        }
        -val
    } else {
        val
    };
    if dst.id & ADD_CONST != 0 {
        return (0, 0);
    }
    let flag = if alu64 { ADD_CONST64 } else { ADD_CONST32 };
    (dst.id | flag, off)
}

/// `sync_linked_regs`: every scalar of every frame (registers and spilled
/// slots) linked to register `r` of the current frame (same id without
/// the `ADD_CONST` flags) takes its state, plus the difference of their
/// deltas when they differ (then zero-extended for a 32-bit link).
pub(super) fn sync_linked_regs(st: &mut State, r: u8) {
    let Reg::Scalar(known) = st.cur().regs[r as usize] else {
        return;
    };
    if known.id == 0 {
        return;
    }
    let base = known.id & !ADD_CONST;
    let linked = |s: &ScalarBounds| s.id & !ADD_CONST == base;
    let synced = |s: &ScalarBounds| -> ScalarBounds {
        let plain = s.id & ADD_CONST == 0 && known.id & ADD_CONST == 0;
        if plain || s.link_off == known.link_off {
            return known;
        }
        let delta = ScalarBounds::constant((s.link_off as i64 - known.link_off as i64) as u64);
        let mut out = alu::add_constant_for_link(&known, &delta);
        if s.id & ADD_CONST32 != 0 {
            out.zext_32_to_64();
        }
        out.sync();
        out.id = s.id;
        out.link_off = s.link_off;
        out
    };
    for frame in st.frames.iter_mut() {
        for reg in frame.regs.iter_mut() {
            if let Reg::Scalar(s) = reg {
                if linked(s) {
                    *s = synced(s);
                }
            }
        }
        for slot in frame.stack.slots.iter_mut() {
            if slot.is_spill() {
                if let Reg::Scalar(s) = &mut slot.spilled {
                    if linked(s) {
                        *s = synced(s);
                    }
                }
            }
        }
    }
}

/// `struct bpf_idmap` for `check_scalar_ids`: old ids mapped one-to-one to
/// current ids; a 0 id is a fresh temporary one on either side.
#[derive(Default)]
pub(super) struct IdMap {
    pairs: Vec<(u64, u64)>,
    tmp: u64,
}

impl IdMap {
    /// `check_scalar_ids`.
    pub(super) fn check(&mut self, old: u32, cur: u32) -> bool {
        let mut fresh = || {
            self.tmp += 1;
            (1u64 << 32) + self.tmp
        };
        let old = if old == 0 { fresh() } else { old as u64 };
        let cur = if cur == 0 { fresh() } else { cur as u64 };
        for &(o, c) in &self.pairs {
            if o == old {
                return c == cur;
            }
            if c == cur {
                return false;
            }
        }
        self.pairs.push((old, cur));
        true
    }
}
