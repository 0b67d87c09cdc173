//! Conditional-jump transfer functions over scalars, modeled on Linux
//! 6.18's `is_scalar_branch_taken`, `regs_refine_cond_op` and
//! `reg_set_min_max` in `kernel/bpf/verifier.c`.
//!
//! `reg1` is the `dst` register and `reg2` the `src` register or, for the
//! `K` form, the immediate's state ([`super::alu::imm_operand`]: the kernel
//! sign-extends the imm for both JMP and JMP32). `jmp32` compares the low
//! 32 bits. The two states are treated as two registers; a jump comparing
//! a register with itself is the caller's to special-case.

use crate::opcode::Operation;
use crate::verifier::scalar::ScalarBounds;
use crate::verifier::tnum::Tnum;

/// A condition, including the negation of JSET that the kernel spells
/// `BPF_JSET | BPF_X` in `rev_opcode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    Eq,
    Ne,
    Set,
    NotSet,
    Gt,
    Ge,
    Lt,
    Le,
    Sgt,
    Sge,
    Slt,
    Sle,
}

impl Cond {
    fn of(op: Operation) -> Option<Cond> {
        Some(match op {
            Operation::Jeq => Cond::Eq,
            Operation::Jne => Cond::Ne,
            Operation::Jset => Cond::Set,
            Operation::Jgt => Cond::Gt,
            Operation::Jge => Cond::Ge,
            Operation::Jlt => Cond::Lt,
            Operation::Jle => Cond::Le,
            Operation::Jsgt => Cond::Sgt,
            Operation::Jsge => Cond::Sge,
            Operation::Jslt => Cond::Slt,
            Operation::Jsle => Cond::Sle,
            _ => return None,
        })
    }

    /// The false-branch condition; models `rev_opcode`.
    fn rev(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Set => Cond::NotSet,
            Cond::NotSet => Cond::Set,
            Cond::Ge => Cond::Lt,
            Cond::Gt => Cond::Le,
            Cond::Le => Cond::Gt,
            Cond::Lt => Cond::Ge,
            Cond::Sge => Cond::Slt,
            Cond::Sgt => Cond::Sle,
            Cond::Sle => Cond::Sgt,
            Cond::Slt => Cond::Sge,
        }
    }

    /// `b op a` for `a op b`; models `flip_opcode`.
    fn flip(self) -> Cond {
        match self {
            Cond::Ge => Cond::Le,
            Cond::Gt => Cond::Lt,
            Cond::Le => Cond::Ge,
            Cond::Lt => Cond::Gt,
            Cond::Sge => Cond::Sle,
            Cond::Sgt => Cond::Slt,
            Cond::Sle => Cond::Sge,
            Cond::Slt => Cond::Sgt,
            c => c,
        }
    }
}

/// Models `is_reg_const`.
fn is_const(r: &ScalarBounds, jmp32: bool) -> bool {
    if jmp32 {
        r.var_off.subreg_is_const()
    } else {
        r.var_off.is_const()
    }
}

/// Models `reg_const_value`.
fn const_value(r: &ScalarBounds, jmp32: bool) -> u64 {
    if jmp32 {
        r.var_off.subreg().value
    } else {
        r.var_off.value
    }
}

/// Whether the jump is taken for every value pair in the two states:
/// `Some(true)` always taken, `Some(false)` never, `None` unknown. `op` is
/// one of the conditional jumps (JEQ … JSLE, JSET); other operations give
/// `None`. Models `is_scalar_branch_taken` (6.18, with the tnum overlap
/// check for JEQ/JNE).
pub fn is_branch_taken(
    op: Operation,
    jmp32: bool,
    reg1: &ScalarBounds,
    reg2: &ScalarBounds,
) -> Option<bool> {
    let cond = Cond::of(op)?;
    let view = |r: &ScalarBounds| -> (Tnum, u64, u64, i64, i64) {
        if jmp32 {
            (
                r.var_off.subreg(),
                r.u32_min as u64,
                r.u32_max as u64,
                r.s32_min as i64,
                r.s32_max as i64,
            )
        } else {
            (r.var_off, r.umin, r.umax, r.smin, r.smax)
        }
    };
    let (mut t1, umin1, umax1, smin1, smax1) = view(reg1);
    let (mut t2, umin2, umax2, smin2, smax2) = view(reg2);
    match cond {
        Cond::Eq | Cond::Ne => {
            let eq = cond == Cond::Eq;
            if t1.is_const() && t2.is_const() {
                return Some((t1.value == t2.value) == eq);
            }
            let differ = !t1.overlap(t2)
                || umin1 > umax2
                || umax1 < umin2
                || smin1 > smax2
                || smax1 < smin2
                || (!jmp32
                    && (reg1.u32_min > reg2.u32_max
                        || reg1.u32_max < reg2.u32_min
                        || reg1.s32_min > reg2.s32_max
                        || reg1.s32_max < reg2.s32_min));
            if differ {
                return Some(!eq);
            }
        }
        Cond::Set => {
            let (mut r1, mut r2) = (reg1, reg2);
            if !is_const(r2, jmp32) {
                std::mem::swap(&mut r1, &mut r2);
                std::mem::swap(&mut t1, &mut t2);
            }
            if !is_const(r2, jmp32) {
                return None;
            }
            if (!t1.mask & t1.value) & t2.value != 0 {
                return Some(true);
            }
            if (t1.mask | t1.value) & t2.value == 0 {
                return Some(false);
            }
        }
        Cond::Gt if umin1 > umax2 => return Some(true),
        Cond::Gt if umax1 <= umin2 => return Some(false),
        Cond::Sgt if smin1 > smax2 => return Some(true),
        Cond::Sgt if smax1 <= smin2 => return Some(false),
        Cond::Lt if umax1 < umin2 => return Some(true),
        Cond::Lt if umin1 >= umax2 => return Some(false),
        Cond::Slt if smax1 < smin2 => return Some(true),
        Cond::Slt if smin1 >= smax2 => return Some(false),
        Cond::Ge if umin1 >= umax2 => return Some(true),
        Cond::Ge if umax1 < umin2 => return Some(false),
        Cond::Sge if smin1 >= smax2 => return Some(true),
        Cond::Sge if smax1 < smin2 => return Some(false),
        Cond::Le if umax1 <= umin2 => return Some(true),
        Cond::Le if umin1 > umax2 => return Some(false),
        Cond::Sle if smax1 <= smin2 => return Some(true),
        Cond::Sle if smin1 > smax2 => return Some(false),
        _ => {}
    }
    None
}

/// Refines both states assuming `reg1 cond reg2` holds; models
/// `regs_refine_cond_op` (no sync: the caller syncs).
fn refine(cond: Cond, jmp32: bool, a: &mut ScalarBounds, b: &mut ScalarBounds) {
    let (cond, reg1, reg2) = match cond {
        Cond::Ge | Cond::Gt | Cond::Sge | Cond::Sgt => (cond.flip(), b, a),
        _ => (cond, a, b),
    };
    match cond {
        Cond::Eq => {
            if jmp32 {
                reg1.u32_min = reg1.u32_min.max(reg2.u32_min);
                reg1.u32_max = reg1.u32_max.min(reg2.u32_max);
                reg1.s32_min = reg1.s32_min.max(reg2.s32_min);
                reg1.s32_max = reg1.s32_max.min(reg2.s32_max);
                reg2.u32_min = reg1.u32_min;
                reg2.u32_max = reg1.u32_max;
                reg2.s32_min = reg1.s32_min;
                reg2.s32_max = reg1.s32_max;
                let t = reg1.var_off.subreg().intersect(reg2.var_off.subreg());
                reg1.var_off = reg1.var_off.with_subreg(t);
                reg2.var_off = reg2.var_off.with_subreg(t);
            } else {
                reg1.umin = reg1.umin.max(reg2.umin);
                reg1.umax = reg1.umax.min(reg2.umax);
                reg1.smin = reg1.smin.max(reg2.smin);
                reg1.smax = reg1.smax.min(reg2.smax);
                reg2.umin = reg1.umin;
                reg2.umax = reg1.umax;
                reg2.smin = reg1.smin;
                reg2.smax = reg1.smax;
                reg1.var_off = reg1.var_off.intersect(reg2.var_off);
                reg2.var_off = reg1.var_off;
            }
        }
        Cond::Ne | Cond::Set | Cond::NotSet => {
            let (reg1, reg2) = if is_const(reg2, jmp32) {
                (reg1, reg2)
            } else {
                (reg2, reg1)
            };
            if !is_const(reg2, jmp32) {
                return;
            }
            let val = const_value(reg2, jmp32);
            match cond {
                Cond::Ne if jmp32 => {
                    // Only the edges of a range can be cut off.
                    if reg1.u32_min == val as u32 {
                        reg1.u32_min = reg1.u32_min.wrapping_add(1);
                    }
                    if reg1.u32_max == val as u32 {
                        reg1.u32_max = reg1.u32_max.wrapping_sub(1);
                    }
                    if reg1.s32_min == val as i32 {
                        reg1.s32_min = reg1.s32_min.wrapping_add(1);
                    }
                    if reg1.s32_max == val as i32 {
                        reg1.s32_max = reg1.s32_max.wrapping_sub(1);
                    }
                }
                Cond::Ne => {
                    if reg1.umin == val {
                        reg1.umin = reg1.umin.wrapping_add(1);
                    }
                    if reg1.umax == val {
                        reg1.umax = reg1.umax.wrapping_sub(1);
                    }
                    if reg1.smin == val as i64 {
                        reg1.smin = reg1.smin.wrapping_add(1);
                    }
                    if reg1.smax == val as i64 {
                        reg1.smax = reg1.smax.wrapping_sub(1);
                    }
                }
                Cond::Set => {
                    // Only a single-bit mask says which bit is set.
                    if !val.is_power_of_two() {
                        return;
                    }
                    if jmp32 {
                        let t = reg1.var_off.subreg().or(Tnum::constant(val));
                        reg1.var_off = reg1.var_off.with_subreg(t);
                    } else {
                        reg1.var_off = reg1.var_off.or(Tnum::constant(val));
                    }
                }
                _ => {
                    // NotSet: every bit of val is clear.
                    if jmp32 {
                        let t = reg1.var_off.subreg().and(Tnum::constant(!val));
                        reg1.var_off = reg1.var_off.with_subreg(t);
                    } else {
                        reg1.var_off = reg1.var_off.and(Tnum::constant(!val));
                    }
                }
            }
        }
        Cond::Le => {
            if jmp32 {
                reg1.u32_max = reg1.u32_max.min(reg2.u32_max);
                reg2.u32_min = reg1.u32_min.max(reg2.u32_min);
            } else {
                reg1.umax = reg1.umax.min(reg2.umax);
                reg2.umin = reg1.umin.max(reg2.umin);
            }
        }
        Cond::Lt => {
            if jmp32 {
                reg1.u32_max = reg1.u32_max.min(reg2.u32_max.wrapping_sub(1));
                reg2.u32_min = reg1.u32_min.wrapping_add(1).max(reg2.u32_min);
            } else {
                reg1.umax = reg1.umax.min(reg2.umax.wrapping_sub(1));
                reg2.umin = reg1.umin.wrapping_add(1).max(reg2.umin);
            }
        }
        Cond::Sle => {
            if jmp32 {
                reg1.s32_max = reg1.s32_max.min(reg2.s32_max);
                reg2.s32_min = reg1.s32_min.max(reg2.s32_min);
            } else {
                reg1.smax = reg1.smax.min(reg2.smax);
                reg2.smin = reg1.smin.max(reg2.smin);
            }
        }
        Cond::Slt => {
            if jmp32 {
                reg1.s32_max = reg1.s32_max.min(reg2.s32_max.wrapping_sub(1));
                reg2.s32_min = reg1.s32_min.wrapping_add(1).max(reg2.s32_min);
            } else {
                reg1.smax = reg1.smax.min(reg2.smax.wrapping_sub(1));
                reg2.smin = reg1.smin.wrapping_add(1).max(reg2.smin);
            }
        }
        Cond::Ge | Cond::Gt | Cond::Sge | Cond::Sgt => unreachable!("flipped above"),
    }
}

/// The refined states of both registers on each branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BranchStates {
    /// `(reg1, reg2)` when the jump is taken.
    pub taken: (ScalarBounds, ScalarBounds),
    /// `(reg1, reg2)` on the fall-through.
    pub fallthrough: (ScalarBounds, ScalarBounds),
}

/// Refines both registers on the taken and the fall-through branch of a
/// conditional jump, then syncs each; models `reg_set_min_max` (the
/// fall-through uses the reversed condition, `rev_opcode`). Returns `None`
/// for operations that are not conditional jumps.
pub fn reg_set_min_max(
    op: Operation,
    jmp32: bool,
    reg1: &ScalarBounds,
    reg2: &ScalarBounds,
) -> Option<BranchStates> {
    let cond = Cond::of(op)?;
    let branch = |c: Cond| {
        let (mut a, mut b) = (*reg1, *reg2);
        refine(c, jmp32, &mut a, &mut b);
        a.sync();
        b.sync();
        (a, b)
    };
    Some(BranchStates {
        fallthrough: branch(cond.rev()),
        taken: branch(cond),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::transfer::alu::imm_operand;
    use Operation as O;

    fn range(lo: u64, hi: u64) -> ScalarBounds {
        let mut r = ScalarBounds::unknown();
        r.umin = lo;
        r.umax = hi;
        r.sync();
        r
    }

    #[test]
    fn unsigned_compares_model_is_scalar_branch_taken() {
        // models is_scalar_branch_taken (BPF_JGT/JLT/JGE/JLE) in kernel/bpf/verifier.c.
        let r = range(10, 20);
        assert_eq!(
            is_branch_taken(O::Jgt, false, &r, &imm_operand(9)),
            Some(true)
        );
        assert_eq!(
            is_branch_taken(O::Jgt, false, &r, &imm_operand(20)),
            Some(false)
        );
        assert_eq!(is_branch_taken(O::Jgt, false, &r, &imm_operand(15)), None);
        assert_eq!(
            is_branch_taken(O::Jle, false, &r, &imm_operand(20)),
            Some(true)
        );
        assert_eq!(
            is_branch_taken(O::Jlt, false, &r, &imm_operand(10)),
            Some(false)
        );
        assert_eq!(
            is_branch_taken(O::Jge, false, &r, &imm_operand(10)),
            Some(true)
        );
    }

    #[test]
    fn imm_sign_extension_semantics_md() {
        // SEMANTICS.md: `jeq r1, -1` with r1 = 0xffffffff is not taken in JMP,
        // taken in JMP32 — the kernel's fake register holds the sign-extended imm.
        let r = ScalarBounds::constant(0xffff_ffff);
        assert_eq!(
            is_branch_taken(O::Jeq, false, &r, &imm_operand(-1)),
            Some(false)
        );
        assert_eq!(
            is_branch_taken(O::Jeq, true, &r, &imm_operand(-1)),
            Some(true)
        );
    }

    #[test]
    fn jeq_uses_tnum_overlap() {
        // models the 6.18 tnum_overlap check: var_off (0x400; 0xc0000000) never
        // equals (0x0; 0xc0000000) though the ranges overlap (kernel commit message example).
        let mut a = ScalarBounds::unknown();
        a.var_off = Tnum::new(0x400, 0xc000_0000);
        a.sync();
        let mut b = ScalarBounds::unknown();
        b.var_off = Tnum::new(0, 0xc000_0000);
        b.sync();
        assert_eq!(is_branch_taken(O::Jne, false, &a, &b), Some(true));
        assert_eq!(is_branch_taken(O::Jeq, false, &a, &b), Some(false));
    }

    #[test]
    fn jset_models_is_scalar_branch_taken() {
        // models the BPF_JSET case: a known-1 bit under the mask → taken,
        // no possible bit under the mask → not taken.
        let mut r = ScalarBounds::unknown();
        r.var_off = Tnum::new(0b100, 0b011);
        r.sync();
        assert_eq!(
            is_branch_taken(O::Jset, false, &r, &imm_operand(0b100)),
            Some(true)
        );
        assert_eq!(
            is_branch_taken(O::Jset, false, &r, &imm_operand(0b1000)),
            Some(false)
        );
        assert_eq!(is_branch_taken(O::Jset, false, &r, &imm_operand(0b1)), None);
        assert_eq!(is_branch_taken(O::Jset, false, &r, &range(0, 1)), None);
    }

    #[test]
    fn signed_compares_model_is_scalar_branch_taken() {
        // models is_scalar_branch_taken (BPF_JSGT/JSLT) with a negative range.
        let mut r = ScalarBounds::unknown();
        r.smin = -10;
        r.smax = -1;
        r.sync();
        assert_eq!(
            is_branch_taken(O::Jslt, false, &r, &imm_operand(0)),
            Some(true)
        );
        assert_eq!(
            is_branch_taken(O::Jsgt, false, &r, &imm_operand(-1)),
            Some(false)
        );
        assert_eq!(
            is_branch_taken(O::Jsge, true, &r, &imm_operand(-10)),
            Some(true)
        );
    }

    #[test]
    fn refine_models_reg_set_min_max() {
        // models reg_set_min_max / regs_refine_cond_op: unknown > 5 → umin 6
        // on the taken branch, umax 5 on the fall-through.
        let s = reg_set_min_max(O::Jgt, false, &ScalarBounds::unknown(), &imm_operand(5)).unwrap();
        assert_eq!(s.taken.0.umin, 6);
        assert_eq!(s.fallthrough.0.umax, 5);
        // JEQ with a constant makes the register that constant.
        let s = reg_set_min_max(O::Jeq, false, &range(0, 100), &imm_operand(42)).unwrap();
        assert_eq!(s.taken.0, ScalarBounds::constant(42));
        // JNE cuts an edge: [0, 100] != 0 → [1, 100] on the taken branch.
        let s = reg_set_min_max(O::Jne, false, &range(0, 100), &imm_operand(0)).unwrap();
        assert_eq!((s.taken.0.umin, s.taken.0.umax), (1, 100));
        // JSET with one bit sets it on the taken branch; clears it on the fall-through.
        let s = reg_set_min_max(O::Jset, false, &range(0, 15), &imm_operand(4)).unwrap();
        assert_eq!(s.taken.0.var_off, Tnum::new(4, 0b1011));
        assert_eq!(s.fallthrough.0.var_off, Tnum::new(0, 0b1011));
        // JMP32 refines the subregister then syncs: w1 s< 0 on a u32 value.
        let s =
            reg_set_min_max(O::Jslt, true, &range(0, u32::MAX as u64), &imm_operand(0)).unwrap();
        assert_eq!(
            (s.taken.0.u32_min, s.taken.0.umin),
            (0x8000_0000, 0x8000_0000)
        );
    }
}
