//! Pointer arithmetic and pointer comparisons, modeled on Linux 6.18
//! `kernel/bpf/verifier.c`: `adjust_reg_min_max_vals` (which operand kinds
//! may be combined), `adjust_ptr_min_max_vals` (what may be added to which
//! pointer, how fixed and variable offsets move), `check_reg_sane_offset`,
//! and the pointer half of `is_branch_taken`, for a privileged loader
//! (`allow_ptr_leaks`: pointer - pointer and 32-bit subtraction give
//! unknown scalars).

use super::mem::MAX_VAR_OFF;
use crate::opcode::Operation;
use crate::verifier::scalar::ScalarBounds;
use crate::verifier::state::{Pointer, PtrKind, Reg};
use crate::verifier::verdict::{RejectClass, Rejection};

/// The kernel's `bpf_alu_string` for an operation.
pub fn alu_string(op: Operation) -> &'static str {
    match op {
        Operation::Add => "+=",
        Operation::Sub => "-=",
        Operation::Mul => "*=",
        Operation::Div | Operation::SDiv => "/=",
        Operation::Or => "|=",
        Operation::And => "&=",
        Operation::Lsh => "<<=",
        Operation::Rsh => ">>=",
        Operation::Neg => "neg",
        Operation::Mod | Operation::SMod => "%=",
        Operation::Xor => "^=",
        Operation::Mov | Operation::MovSx => "=",
        Operation::Arsh => "s>>=",
        _ => "endian",
    }
}

fn err(pc: usize, msg: String) -> Rejection {
    Rejection::new(pc, RejectClass::InvalidPointerArithmetic, msg)
}

/// `dst op= src` where at least one of them is a pointer (both already
/// readable). Models `adjust_reg_min_max_vals` for that case and
/// `adjust_ptr_min_max_vals`. `src_is_imm` tells the K form. Returns the
/// new `dst`.
pub fn pointer_alu(
    pc: usize,
    op: Operation,
    alu64: bool,
    dst_regno: u8,
    dst: &Reg,
    src: &Reg,
) -> Result<Reg, Rejection> {
    let (ptr, off_reg, dst_is_off) = match (dst, src) {
        (Reg::Ptr(_), Reg::Ptr(_)) => {
            // Combining two pointers: only subtraction (any width), which
            // gives an unknown scalar to a privileged loader.
            if op == Operation::Sub {
                return Ok(Reg::unknown());
            }
            return Err(err(
                pc,
                format!("R{dst_regno} pointer {} pointer prohibited", alu_string(op)),
            ));
        }
        (Reg::Ptr(p), Reg::Scalar(s)) => (*p, *s, false),
        (Reg::Scalar(s), Reg::Ptr(p)) => (*p, *s, true),
        _ => unreachable!("pointer_alu needs a pointer"),
    };
    // adjust_ptr_min_max_vals: a maybe-null pointer takes no arithmetic,
    // a map pointer none but `+= 0` (checked after the 32-bit rule).
    let map_rule = match ptr.kind {
        PtrKind::MapValueOrNull { .. } => Some(format!(
            "R{dst_regno} pointer arithmetic on map_value_or_null prohibited, null-check it first"
        )),
        PtrKind::MapPtr { .. }
            if !(off_reg.var_off.is_const() && off_reg.smin == 0 && op == Operation::Add) =>
        {
            Some(format!(
                "R{dst_regno} pointer arithmetic on map_ptr prohibited"
            ))
        }
        _ => None,
    };
    // Invalid bounds (from dead branches) taint dst.
    let known = off_reg.var_off.is_const();
    if (known && (off_reg.smin != off_reg.smax || off_reg.umin != off_reg.umax))
        || off_reg.smin > off_reg.smax
        || off_reg.umin > off_reg.umax
    {
        return Ok(Reg::unknown());
    }
    if !alu64 {
        if op == Operation::Sub {
            return Ok(Reg::unknown());
        }
        return Err(err(
            pc,
            format!("R{dst_regno} 32-bit pointer arithmetic prohibited"),
        ));
    }
    if let Some(msg) = map_rule {
        return Err(err(pc, msg));
    }
    super::pkt::check_arithmetic(pc, dst_regno, &ptr)?;
    let tname = ptr.type_name();
    sane_offset_scalar(pc, &off_reg, tname)?;
    sane_offset_ptr(pc, &ptr, tname)?;
    let (smin_val, smax_val, umin_val, umax_val) =
        (off_reg.smin, off_reg.smax, off_reg.umin, off_reg.umax);
    let v = ptr.var;
    let mut out = ptr;
    match op {
        Operation::Add => {
            let fixed = ptr.off as i64 + smin_val;
            if known && fixed == fixed as i32 as i64 {
                out.off = fixed as i32;
            } else {
                let mut nv = v;
                match (v.smin.checked_add(smin_val), v.smax.checked_add(smax_val)) {
                    (Some(a), Some(b)) => (nv.smin, nv.smax) = (a, b),
                    _ => (nv.smin, nv.smax) = (i64::MIN, i64::MAX),
                }
                match (v.umin.checked_add(umin_val), v.umax.checked_add(umax_val)) {
                    (Some(a), Some(b)) => (nv.umin, nv.umax) = (a, b),
                    _ => (nv.umin, nv.umax) = (0, u64::MAX),
                }
                nv.var_off = v.var_off.add(off_reg.var_off);
                out.var = nv;
            }
        }
        Operation::Sub => {
            if dst_is_off {
                return Err(err(
                    pc,
                    format!("R{dst_regno} tried to subtract pointer from scalar"),
                ));
            }
            if matches!(ptr.kind, crate::verifier::state::PtrKind::Stack { .. }) {
                return Err(err(
                    pc,
                    format!("R{dst_regno} subtraction from stack pointer prohibited"),
                ));
            }
            let fixed = ptr.off as i64 - smin_val;
            if known && fixed == fixed as i32 as i64 {
                out.off = fixed as i32;
            } else {
                let mut nv = v;
                match (v.smin.checked_sub(smax_val), v.smax.checked_sub(smin_val)) {
                    (Some(a), Some(b)) => (nv.smin, nv.smax) = (a, b),
                    _ => (nv.smin, nv.smax) = (i64::MIN, i64::MAX),
                }
                if v.umin < umax_val {
                    (nv.umin, nv.umax) = (0, u64::MAX);
                } else {
                    (nv.umin, nv.umax) = (v.umin - umax_val, v.umax - umin_val);
                }
                nv.var_off = v.var_off.sub(off_reg.var_off);
                out.var = nv;
            }
        }
        Operation::And | Operation::Or | Operation::Xor => {
            return Err(err(
                pc,
                format!(
                    "R{dst_regno} bitwise operator {} on pointer prohibited",
                    alu_string(op)
                ),
            ))
        }
        _ => {
            return Err(err(
                pc,
                format!(
                    "R{dst_regno} pointer arithmetic with {} operator prohibited",
                    alu_string(op)
                ),
            ))
        }
    }
    let constant_path = known && out.var == v;
    super::pkt::after_arithmetic(&mut out, op, constant_path, smin_val);
    out.var.mark32_unbounded();
    sane_offset_ptr(pc, &out, tname)?;
    out.var.sync();
    Ok(Reg::Ptr(out))
}

/// `check_reg_sane_offset` for the scalar operand.
fn sane_offset_scalar(pc: usize, s: &ScalarBounds, tname: &str) -> Result<(), Rejection> {
    let val = s.var_off.value as i64;
    if s.var_off.is_const() && (val >= MAX_VAR_OFF || val <= -MAX_VAR_OFF) {
        return Err(bad(
            pc,
            format!("math between {tname} pointer and {val} is not allowed"),
        ));
    }
    check_smin(pc, s.smin, tname)
}

/// `check_reg_sane_offset` for the pointer operand (and the result).
fn sane_offset_ptr(pc: usize, p: &Pointer, tname: &str) -> Result<(), Rejection> {
    let val = p.var.var_off.value as i64;
    if p.var.var_off.is_const() && (val >= MAX_VAR_OFF || val <= -MAX_VAR_OFF) {
        return Err(bad(
            pc,
            format!("math between {tname} pointer and {val} is not allowed"),
        ));
    }
    if p.off as i64 >= MAX_VAR_OFF || p.off as i64 <= -MAX_VAR_OFF {
        return Err(bad(
            pc,
            format!("{tname} pointer offset {} is not allowed", p.off),
        ));
    }
    check_smin(pc, p.var.smin, tname)
}

fn check_smin(pc: usize, smin: i64, tname: &str) -> Result<(), Rejection> {
    if smin == i64::MIN {
        return Err(bad(
            pc,
            format!(
                "math between {tname} pointer and register with unbounded min value is not allowed"
            ),
        ));
    }
    if smin >= MAX_VAR_OFF || smin <= -MAX_VAR_OFF {
        return Err(bad(
            pc,
            format!("value {smin} makes {tname} pointer be out of bounds"),
        ));
    }
    Ok(())
}

/// The kernel returns `EINVAL` for these (`check_reg_sane_offset`).
fn bad(pc: usize, msg: String) -> Rejection {
    Rejection::new(pc, RejectClass::InvalidPointerArithmetic, msg)
}

/// The pointer half of `is_branch_taken`: a pointer the kernel knows is
/// never null (`reg_not_null`: a map value here; not the stack pointer,
/// which `reg_not_null` does not list) compared with the constant 0 by
/// `==`/`!=` has a known outcome; every other comparison involving a
/// pointer is unknown, so both branches are explored. `other_const` is the
/// other operand's constant value, if it is a constant scalar.
pub fn pointer_branch_taken(op: Operation, p: &Pointer, other_const: Option<u64>) -> Option<bool> {
    if !matches!(p.kind, PtrKind::Mem { .. }) {
        return None;
    }
    match (op, other_const) {
        (Operation::Jeq, Some(0)) => Some(false),
        (Operation::Jne, Some(0)) => Some(true),
        _ => None,
    }
}
