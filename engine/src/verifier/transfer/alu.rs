//! ALU transfer functions over scalars, modeled on Linux 6.18's
//! `adjust_scalar_min_max_vals`, `is_safe_to_compute_dst_reg_range` and
//! the MOV/NEG/END paths of `check_alu_op` in `kernel/bpf/verifier.c`.
//!
//! What 6.18 does (and so what this module does):
//! - ADD, SUB, MUL, AND, OR, XOR, NEG: tnum and both bound views are
//!   computed; a 32-bit op then zero-extends and every result is synced.
//! - LSH, RSH, ARSH: computed only when the shift amount is a known
//!   constant below the width (the 64-bit `umax` of the source is what is
//!   compared, also for 32-bit ops); otherwise the result is unknown.
//! - DIV, SDIV, MOD, SMOD: the result is completely unknown (bounds tracking
//!   for division arrived after 6.18).
//! - END (`le`, `be`, `bswap`): `scalar_byte_swap` (the 6.18 stable
//!   series carries the upstream "bitwise tracking for BPF_END"; measured
//!   on 6.18.44: `be64` of a constant stays a constant): the tnum's bytes
//!   are swapped when the op swaps on a little-endian host, the bounds are
//!   re-derived from it, and 16/32-bit widths truncate.
//! - MOV copies; MOVSX sign-extends with `coerce_reg_to_size_sx` or
//!   `coerce_subreg_to_size_sx`.
//!
//! Operations are named with the engine's [`Operation`]; `alu64` tells
//! ALU64 from ALU (32-bit) instructions. The `K` form's operand is
//! [`imm_operand`].

use crate::opcode::Operation;
use crate::verifier::scalar::ScalarBounds;

/// The abstract value of an immediate operand: the kernel builds it with
/// `__mark_reg_known(&off_reg, insn->imm)`, i.e. the sign-extended imm (a
/// 32-bit op reads its low half).
pub fn imm_operand(imm: i32) -> ScalarBounds {
    ScalarBounds::constant(imm as i64 as u64)
}

/// True when 6.18 computes a result range for `op` with this source;
/// models `is_safe_to_compute_dst_reg_range`.
pub fn is_safe_to_compute(op: Operation, alu64: bool, src: &ScalarBounds) -> bool {
    let bitness: u64 = if alu64 { 64 } else { 32 };
    let src_is_const = if alu64 {
        src.var_off.is_const() && src.smin == src.smax && src.umin == src.umax
    } else {
        src.var_off.subreg_is_const() && src.s32_min == src.s32_max && src.u32_min == src.u32_max
    };
    match op {
        Operation::Add
        | Operation::Sub
        | Operation::Neg
        | Operation::And
        | Operation::Xor
        | Operation::Or
        | Operation::Mul => true,
        Operation::Lsh | Operation::Rsh | Operation::Arsh => src_is_const && src.umax < bitness,
        _ => false,
    }
}

/// The kernel's abstract `dst = dst op src` for the arithmetic and bitwise
/// operations (ADD … ARSH, DIV/SDIV/MOD/SMOD, and NEG, whose `src` is
/// ignored); models `adjust_scalar_min_max_vals`. MOV, MOVSX and END go
/// through [`mov`], [`movsx`] and [`endian`].
pub fn adjust_scalar_min_max_vals(
    op: Operation,
    alu64: bool,
    dst: &ScalarBounds,
    src: &ScalarBounds,
) -> ScalarBounds {
    // NEG reads dst as its own source (check_alu_op passes regs[dst] twice).
    let src = if op == Operation::Neg { dst } else { src };
    if !is_safe_to_compute(op, alu64, src) {
        return ScalarBounds::unknown();
    }
    let mut d = *dst;
    let s = *src;
    match op {
        Operation::Add => {
            scalar32_add(&mut d, &s);
            scalar64_add(&mut d, &s);
            d.var_off = d.var_off.add(s.var_off);
        }
        Operation::Sub => {
            scalar32_sub(&mut d, &s);
            scalar64_sub(&mut d, &s);
            d.var_off = d.var_off.sub(s.var_off);
        }
        Operation::Neg => {
            let fake = d;
            d = ScalarBounds::constant(0);
            scalar32_sub(&mut d, &fake);
            scalar64_sub(&mut d, &fake);
            d.var_off = fake.var_off.neg();
        }
        Operation::Mul => {
            d.var_off = d.var_off.mul(s.var_off);
            scalar32_mul(&mut d, &s);
            scalar64_mul(&mut d, &s);
        }
        Operation::And => {
            d.var_off = d.var_off.and(s.var_off);
            scalar32_and(&mut d, &s);
            scalar64_and(&mut d, &s);
        }
        Operation::Or => {
            d.var_off = d.var_off.or(s.var_off);
            scalar32_or(&mut d, &s);
            scalar64_or(&mut d, &s);
        }
        Operation::Xor => {
            d.var_off = d.var_off.xor(s.var_off);
            scalar32_xor(&mut d, &s);
            scalar64_xor(&mut d, &s);
        }
        Operation::Lsh if alu64 => scalar64_lsh(&mut d, &s),
        Operation::Lsh => scalar32_lsh(&mut d, &s),
        Operation::Rsh if alu64 => scalar64_rsh(&mut d, &s),
        Operation::Rsh => scalar32_rsh(&mut d, &s),
        Operation::Arsh if alu64 => scalar64_arsh(&mut d, &s),
        Operation::Arsh => scalar32_arsh(&mut d, &s),
        _ => {}
    }
    if !alu64 {
        d.zext_32_to_64();
    }
    d.sync();
    d
}

/// `reg = known + delta` as `sync_linked_regs` computes it for a linked
/// copy: `scalar32_min_max_add`, `scalar_min_max_add` and `tnum_add`
/// (the caller zero-extends and syncs).
pub fn add_constant_for_link(known: &ScalarBounds, delta: &ScalarBounds) -> ScalarBounds {
    adjust_scalar_min_max_vals(Operation::Add, true, known, delta)
}

/// `dst = src` (register form); models the MOV X paths of `check_alu_op`:
/// ALU64 copies the state, ALU copies, zero-extends and syncs.
pub fn mov(alu64: bool, src: &ScalarBounds) -> ScalarBounds {
    let mut d = *src;
    if !alu64 {
        d.zext_32_to_64();
        d.sync();
    }
    d
}

/// `dst = imm`; models the MOV K path of `check_alu_op` (ALU64: the
/// sign-extended imm, ALU: the imm as `u32`).
pub fn mov_imm(alu64: bool, imm: i32) -> ScalarBounds {
    if alu64 {
        ScalarBounds::constant(imm as i64 as u64)
    } else {
        ScalarBounds::constant(imm as u32 as u64)
    }
}

/// `dst = (sN) src` with `bits` 8, 16 or 32 (ALU64) or 8, 16 (ALU); models
/// the MOVSX paths of `check_alu_op` (`coerce_reg_to_size_sx`, or
/// `coerce_subreg_to_size_sx` then zero-extension and sync).
pub fn movsx(alu64: bool, bits: u32, src: &ScalarBounds) -> ScalarBounds {
    let mut d = *src;
    if alu64 {
        d.coerce_to_size_sx(bits / 8);
    } else {
        d.coerce_subreg_to_size_sx(bits / 8);
        d.zext_32_to_64();
        d.sync();
    }
    d
}

/// `le`/`be`/`bswap` of width `bits` (16, 32 or 64) on a scalar; models
/// `scalar_byte_swap` as `adjust_scalar_min_max_vals` runs it on this
/// little-endian host. `bswap` (ALU64) and `be` swap: the tnum's bytes
/// are reversed (`tnum_bswap16/32/64`) and every bound reset
/// (`__mark_reg_unbounded`); `le` does not swap. Widths 16 and 32 then
/// truncate (`coerce_reg_to_size`); no 32-bit zero-extension follows (the
/// kernel skips it for `BPF_END`), then `reg_bounds_sync`.
pub fn endian(op: Operation, bits: u32, dst: &ScalarBounds) -> ScalarBounds {
    let mut d = *dst;
    if matches!(op, Operation::Be | Operation::Bswap) {
        d.var_off = d.var_off.bswap(bits);
        d.mark_unbounded();
    }
    if bits == 16 || bits == 32 {
        d.coerce_to_size(bits / 8);
    }
    d.sync();
    d
}

/// Models `scalar32_min_max_add`.
fn scalar32_add(d: &mut ScalarBounds, s: &ScalarBounds) {
    match (
        d.s32_min.checked_add(s.s32_min),
        d.s32_max.checked_add(s.s32_max),
    ) {
        (Some(lo), Some(hi)) => (d.s32_min, d.s32_max) = (lo, hi),
        _ => (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX),
    }
    let (lo, min_of) = d.u32_min.overflowing_add(s.u32_min);
    let (hi, max_of) = d.u32_max.overflowing_add(s.u32_max);
    (d.u32_min, d.u32_max) = (lo, hi);
    if !min_of && max_of {
        (d.u32_min, d.u32_max) = (0, u32::MAX);
    }
}

/// Models `scalar_min_max_add`.
fn scalar64_add(d: &mut ScalarBounds, s: &ScalarBounds) {
    match (d.smin.checked_add(s.smin), d.smax.checked_add(s.smax)) {
        (Some(lo), Some(hi)) => (d.smin, d.smax) = (lo, hi),
        _ => (d.smin, d.smax) = (i64::MIN, i64::MAX),
    }
    let (lo, min_of) = d.umin.overflowing_add(s.umin);
    let (hi, max_of) = d.umax.overflowing_add(s.umax);
    (d.umin, d.umax) = (lo, hi);
    if !min_of && max_of {
        (d.umin, d.umax) = (0, u64::MAX);
    }
}

/// Models `scalar32_min_max_sub`.
fn scalar32_sub(d: &mut ScalarBounds, s: &ScalarBounds) {
    match (
        d.s32_min.checked_sub(s.s32_max),
        d.s32_max.checked_sub(s.s32_min),
    ) {
        (Some(lo), Some(hi)) => (d.s32_min, d.s32_max) = (lo, hi),
        _ => (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX),
    }
    let (lo, min_uf) = d.u32_min.overflowing_sub(s.u32_max);
    let (hi, max_uf) = d.u32_max.overflowing_sub(s.u32_min);
    (d.u32_min, d.u32_max) = (lo, hi);
    if min_uf && !max_uf {
        (d.u32_min, d.u32_max) = (0, u32::MAX);
    }
}

/// Models `scalar_min_max_sub`.
fn scalar64_sub(d: &mut ScalarBounds, s: &ScalarBounds) {
    match (d.smin.checked_sub(s.smax), d.smax.checked_sub(s.smin)) {
        (Some(lo), Some(hi)) => (d.smin, d.smax) = (lo, hi),
        _ => (d.smin, d.smax) = (i64::MIN, i64::MAX),
    }
    let (lo, min_uf) = d.umin.overflowing_sub(s.umax);
    let (hi, max_uf) = d.umax.overflowing_sub(s.umin);
    (d.umin, d.umax) = (lo, hi);
    if min_uf && !max_uf {
        (d.umin, d.umax) = (0, u64::MAX);
    }
}

/// Models `scalar32_min_max_mul`.
fn scalar32_mul(d: &mut ScalarBounds, s: &ScalarBounds) {
    match (
        d.u32_max.checked_mul(s.u32_max),
        d.u32_min.checked_mul(s.u32_min),
    ) {
        (Some(hi), Some(lo)) => (d.u32_min, d.u32_max) = (lo, hi),
        _ => (d.u32_min, d.u32_max) = (0, u32::MAX),
    }
    let prods = [
        d.s32_min.checked_mul(s.s32_min),
        d.s32_min.checked_mul(s.s32_max),
        d.s32_max.checked_mul(s.s32_min),
        d.s32_max.checked_mul(s.s32_max),
    ];
    if prods.iter().any(Option::is_none) {
        (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX);
    } else {
        let p = prods.map(Option::unwrap);
        d.s32_min = *p.iter().min().unwrap();
        d.s32_max = *p.iter().max().unwrap();
    }
}

/// Models `scalar_min_max_mul`.
fn scalar64_mul(d: &mut ScalarBounds, s: &ScalarBounds) {
    match (d.umax.checked_mul(s.umax), d.umin.checked_mul(s.umin)) {
        (Some(hi), Some(lo)) => (d.umin, d.umax) = (lo, hi),
        _ => (d.umin, d.umax) = (0, u64::MAX),
    }
    let prods = [
        d.smin.checked_mul(s.smin),
        d.smin.checked_mul(s.smax),
        d.smax.checked_mul(s.smin),
        d.smax.checked_mul(s.smax),
    ];
    if prods.iter().any(Option::is_none) {
        (d.smin, d.smax) = (i64::MIN, i64::MAX);
    } else {
        let p = prods.map(Option::unwrap);
        d.smin = *p.iter().min().unwrap();
        d.smax = *p.iter().max().unwrap();
    }
}

/// Sets the s32 bounds from the u32 bounds when they do not cross the
/// sign boundary (shared by the 32-bit AND/OR/XOR transfers).
fn s32_from_u32(d: &mut ScalarBounds) {
    if (d.u32_min as i32) <= (d.u32_max as i32) {
        (d.s32_min, d.s32_max) = (d.u32_min as i32, d.u32_max as i32);
    } else {
        (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX);
    }
}

/// Sets the s64 bounds from the u64 bounds when they do not cross the
/// sign boundary (shared by the 64-bit AND/OR/XOR transfers).
fn s64_from_u64(d: &mut ScalarBounds) {
    if (d.umin as i64) <= (d.umax as i64) {
        (d.smin, d.smax) = (d.umin as i64, d.umax as i64);
    } else {
        (d.smin, d.smax) = (i64::MIN, i64::MAX);
    }
}

/// Models `scalar32_min_max_and` (dst's tnum is already `dst & src`).
fn scalar32_and(d: &mut ScalarBounds, s: &ScalarBounds) {
    let t = d.var_off.subreg();
    if s.var_off.subreg_is_const() && t.is_const() {
        d.mark32_known(t.value);
        return;
    }
    d.u32_min = t.value as u32;
    d.u32_max = d.u32_max.min(s.u32_max);
    s32_from_u32(d);
}

/// Models `scalar_min_max_and`.
fn scalar64_and(d: &mut ScalarBounds, s: &ScalarBounds) {
    if s.var_off.is_const() && d.var_off.is_const() {
        *d = ScalarBounds::constant(d.var_off.value);
        return;
    }
    d.umin = d.var_off.value;
    d.umax = d.umax.min(s.umax);
    s64_from_u64(d);
    d.update_reg_bounds();
}

/// Models `scalar32_min_max_or`.
fn scalar32_or(d: &mut ScalarBounds, s: &ScalarBounds) {
    let t = d.var_off.subreg();
    if s.var_off.subreg_is_const() && t.is_const() {
        d.mark32_known(t.value);
        return;
    }
    d.u32_min = d.u32_min.max(s.u32_min);
    d.u32_max = (t.value | t.mask) as u32;
    s32_from_u32(d);
}

/// Models `scalar_min_max_or`.
fn scalar64_or(d: &mut ScalarBounds, s: &ScalarBounds) {
    if s.var_off.is_const() && d.var_off.is_const() {
        *d = ScalarBounds::constant(d.var_off.value);
        return;
    }
    d.umin = d.umin.max(s.umin);
    d.umax = d.var_off.value | d.var_off.mask;
    s64_from_u64(d);
    d.update_reg_bounds();
}

/// Models `scalar32_min_max_xor`.
fn scalar32_xor(d: &mut ScalarBounds, s: &ScalarBounds) {
    let t = d.var_off.subreg();
    if s.var_off.subreg_is_const() && t.is_const() {
        d.mark32_known(t.value);
        return;
    }
    d.u32_min = t.value as u32;
    d.u32_max = (t.value | t.mask) as u32;
    s32_from_u32(d);
}

/// Models `scalar_min_max_xor`.
fn scalar64_xor(d: &mut ScalarBounds, s: &ScalarBounds) {
    if s.var_off.is_const() && d.var_off.is_const() {
        *d = ScalarBounds::constant(d.var_off.value);
        return;
    }
    d.umin = d.var_off.value;
    d.umax = d.var_off.value | d.var_off.mask;
    s64_from_u64(d);
    d.update_reg_bounds();
}

/// Models `__scalar32_min_max_lsh` (shift amounts as 64-bit values).
fn lsh32_bounds(d: &mut ScalarBounds, umin_val: u64, umax_val: u64) {
    (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX);
    if umax_val > 31 || d.u32_max as u64 > 1u64 << (31 - umax_val) {
        (d.u32_min, d.u32_max) = (0, u32::MAX);
    } else {
        d.u32_min <<= umin_val;
        d.u32_max <<= umax_val;
    }
}

/// Models `scalar32_min_max_lsh`.
fn scalar32_lsh(d: &mut ScalarBounds, s: &ScalarBounds) {
    let (umin_val, umax_val) = (s.u32_min as u64, s.u32_max as u64);
    let subreg = d.var_off.subreg();
    lsh32_bounds(d, umin_val, umax_val);
    d.var_off = subreg.lshift(umin_val as u32).subreg();
    d.mark64_unbounded();
    d.update_reg32_bounds();
}

/// Models `__scalar64_min_max_lsh`, `__scalar32_min_max_lsh` and
/// `scalar_min_max_lsh` together.
fn scalar64_lsh(d: &mut ScalarBounds, s: &ScalarBounds) {
    let (umin_val, umax_val) = (s.umin, s.umax);
    // __scalar64_min_max_lsh uses the unshifted 32-bit bounds, so it runs first.
    if umin_val == 32 && umax_val == 32 {
        d.smax = (d.s32_max as i64) << 32;
        d.smin = (d.s32_min as i64) << 32;
    } else {
        (d.smin, d.smax) = (i64::MIN, i64::MAX);
    }
    if d.umax > 1u64 << (63 - umax_val) {
        (d.umin, d.umax) = (0, u64::MAX);
    } else {
        d.umin <<= umin_val;
        d.umax <<= umax_val;
    }
    lsh32_bounds(d, umin_val, umax_val);
    d.var_off = d.var_off.lshift(umin_val as u32);
    d.update_reg_bounds();
}

/// Models `scalar32_min_max_rsh`.
fn scalar32_rsh(d: &mut ScalarBounds, s: &ScalarBounds) {
    let subreg = d.var_off.subreg();
    let (umin_val, umax_val) = (s.u32_min, s.u32_max);
    (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX);
    d.var_off = subreg.rshift(umin_val);
    d.u32_min >>= umax_val;
    d.u32_max >>= umin_val;
    d.mark64_unbounded();
    d.update_reg32_bounds();
}

/// Models `scalar_min_max_rsh`.
fn scalar64_rsh(d: &mut ScalarBounds, s: &ScalarBounds) {
    let (umin_val, umax_val) = (s.umin, s.umax);
    (d.smin, d.smax) = (i64::MIN, i64::MAX);
    d.var_off = d.var_off.rshift(umin_val as u32);
    d.umin >>= umax_val;
    d.umax >>= umin_val;
    d.mark32_unbounded();
    d.update_reg_bounds();
}

/// Models `scalar32_min_max_arsh` (the amount is a known constant here).
fn scalar32_arsh(d: &mut ScalarBounds, s: &ScalarBounds) {
    let sh = s.u32_min;
    d.s32_min >>= sh;
    d.s32_max >>= sh;
    d.var_off = d.var_off.subreg().arshift(sh, 32);
    (d.u32_min, d.u32_max) = (0, u32::MAX);
    d.mark64_unbounded();
    d.update_reg32_bounds();
}

/// Models `scalar_min_max_arsh` (the amount is a known constant here).
fn scalar64_arsh(d: &mut ScalarBounds, s: &ScalarBounds) {
    let sh = s.umin as u32;
    d.smin >>= sh;
    d.smax >>= sh;
    d.var_off = d.var_off.arshift(sh, 64);
    (d.umin, d.umax) = (0, u64::MAX);
    d.mark32_unbounded();
    d.update_reg_bounds();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::tnum::Tnum;
    use Operation as O;

    fn range(lo: u64, hi: u64) -> ScalarBounds {
        let mut r = ScalarBounds::unknown();
        r.umin = lo;
        r.umax = hi;
        r.sync();
        r
    }

    #[test]
    fn add_models_scalar_min_max_add() {
        // models scalar_min_max_add + tnum_add in kernel/bpf/verifier.c:
        // [0, 10] + 5 = [5, 15].
        let r = adjust_scalar_min_max_vals(O::Add, true, &range(0, 10), &imm_operand(5));
        assert_eq!((r.umin, r.umax, r.smin, r.smax), (5, 15, 5, 15));
        // Some but not all u64 sums overflow: unbounded unsigned.
        let r =
            adjust_scalar_min_max_vals(O::Add, true, &range(u64::MAX - 1, u64::MAX), &range(0, 2));
        assert_eq!((r.umin, r.umax), (0, u64::MAX));
    }

    #[test]
    fn sub_models_scalar_min_max_sub() {
        // models scalar_min_max_sub: [10, 20] - [1, 2] = [8, 19].
        let r = adjust_scalar_min_max_vals(O::Sub, true, &range(10, 20), &range(1, 2));
        assert_eq!((r.umin, r.umax), (8, 19));
        // 32-bit: [0, 1] - 1 → u32 {0xffffffff, 0}: min underflows, max does not.
        let r = adjust_scalar_min_max_vals(O::Sub, false, &range(0, 1), &imm_operand(1));
        assert_eq!((r.u32_min, r.u32_max), (0, u32::MAX));
        assert!(r.contains(0xffff_ffff) && r.contains(0) && r.umax <= u32::MAX as u64);
    }

    #[test]
    fn neg_models_bpf_neg_as_zero_minus_dst() {
        // models the BPF_NEG case of adjust_scalar_min_max_vals (6.18, Song Liu's
        // range tracking): w0 in [0, 255], w0 = -w0 → s32 in [-255, 0].
        let r = adjust_scalar_min_max_vals(O::Neg, false, &range(0, 255), &ScalarBounds::unknown());
        assert_eq!((r.s32_min, r.s32_max), (-255, 0));
        assert_eq!(r.umax, u32::MAX as u64);
        let r = adjust_scalar_min_max_vals(
            O::Neg,
            true,
            &ScalarBounds::constant(3),
            &ScalarBounds::unknown(),
        );
        assert_eq!(r, ScalarBounds::constant(-3i64 as u64));
    }

    #[test]
    fn mul_models_scalar_min_max_mul() {
        // models scalar_min_max_mul + tnum_mul: [2, 3] * [4, 5] = [8, 15].
        let r = adjust_scalar_min_max_vals(O::Mul, true, &range(2, 3), &range(4, 5));
        assert_eq!((r.umin, r.umax, r.smin, r.smax), (8, 15, 8, 15));
        // Overflow possible → unbounded.
        let r = adjust_scalar_min_max_vals(O::Mul, true, &range(0, u64::MAX / 2), &imm_operand(3));
        assert_eq!((r.umin, r.umax), (0, u64::MAX));
    }

    #[test]
    fn bitwise_models_scalar_min_max_and_or_xor() {
        // models scalar_min_max_and: unknown & 56 → var_off (0; 0x38), umax 56
        // (the log line for `r1 &= 56` in SEMANTICS.md).
        let r =
            adjust_scalar_min_max_vals(O::And, true, &ScalarBounds::unknown(), &imm_operand(56));
        assert_eq!(r.var_off, Tnum::new(0, 0x38));
        assert_eq!((r.umin, r.umax, r.smin, r.smax), (0, 56, 0, 56));
        // models scalar_min_max_or: [0, 3] | 8 = [8, 11].
        let r = adjust_scalar_min_max_vals(O::Or, true, &range(0, 3), &imm_operand(8));
        assert_eq!((r.umin, r.umax), (8, 11));
        // models scalar_min_max_xor: constants stay constants.
        let r =
            adjust_scalar_min_max_vals(O::Xor, false, &ScalarBounds::constant(6), &imm_operand(3));
        assert_eq!(r, ScalarBounds::constant(5));
    }

    #[test]
    fn shifts_model_scalar_min_max_shifts() {
        // models scalar_min_max_lsh: [1, 3] << 4 = [16, 48].
        let r = adjust_scalar_min_max_vals(O::Lsh, true, &range(1, 3), &imm_operand(4));
        assert_eq!((r.umin, r.umax), (16, 48));
        // models scalar_min_max_rsh: [16, 48] >> 4 = [1, 3].
        let r = adjust_scalar_min_max_vals(O::Rsh, true, &range(16, 48), &imm_operand(4));
        assert_eq!((r.umin, r.umax), (1, 3));
        // models scalar_min_max_arsh: -16 s>> 2 = -4.
        let r = adjust_scalar_min_max_vals(
            O::Arsh,
            true,
            &ScalarBounds::constant(-16i64 as u64),
            &imm_operand(2),
        );
        assert_eq!(r, ScalarBounds::constant(-4i64 as u64));
        // models scalar32_min_max_arsh: w = 0x80000000 s>> 4 = 0xf8000000, zero-extended.
        let r = adjust_scalar_min_max_vals(
            O::Arsh,
            false,
            &ScalarBounds::constant(0x8000_0000),
            &imm_operand(4),
        );
        assert_eq!(r, ScalarBounds::constant(0xf800_0000));
        // models is_safe_to_compute_dst_reg_range: a non-constant amount → unknown.
        let r = adjust_scalar_min_max_vals(O::Lsh, true, &ScalarBounds::constant(1), &range(0, 1));
        assert_eq!(r, ScalarBounds::unknown());
    }

    #[test]
    fn div_mod_are_unknown_in_6_18() {
        // models is_safe_to_compute_dst_reg_range (6.18): DIV/MOD are not in the
        // list, so adjust_scalar_min_max_vals marks dst unknown.
        for op in [O::Div, O::SDiv, O::Mod, O::SMod] {
            for alu64 in [true, false] {
                let r = adjust_scalar_min_max_vals(
                    op,
                    alu64,
                    &ScalarBounds::constant(10),
                    &imm_operand(3),
                );
                assert_eq!(r, ScalarBounds::unknown(), "{op:?} alu64={alu64}");
            }
        }
    }

    #[test]
    fn mov_paths_model_check_alu_op() {
        // models check_alu_op MOV K: ALU64 sign-extends imm, ALU zero-extends.
        assert_eq!(mov_imm(true, -1), ScalarBounds::constant(u64::MAX));
        assert_eq!(mov_imm(false, -1), ScalarBounds::constant(0xffff_ffff));
        // MOV X 32-bit: w1 = w2 zero-extends the state.
        let r = mov(false, &ScalarBounds::constant(0x1234_5678_9abc_def0));
        assert_eq!(r, ScalarBounds::constant(0x9abc_def0));
        // MOVSX 64 from 16: r1 = (s16)r2 with r2 = 0xffff → -1.
        assert_eq!(
            movsx(true, 16, &ScalarBounds::constant(0xffff)),
            ScalarBounds::constant(u64::MAX)
        );
        // MOVSX 32 from 8: w1 = (s8)w2 with w2 = 0x80 → 0xffffff80.
        assert_eq!(
            movsx(false, 8, &ScalarBounds::constant(0x80)),
            ScalarBounds::constant(0xffff_ff80)
        );
    }

    #[test]
    fn endian_models_scalar_byte_swap() {
        // scalar_byte_swap on a little-endian host: `be` (ALU) and `bswap`
        // (ALU64) swap the tnum (tnum_bswap16/32/64), `le` does not; 16/32
        // truncate (coerce_reg_to_size); a constant stays a constant.
        let x = ScalarBounds::constant(0x0123_4567_89ab_cdef);
        let cases: [(O, u32, u64); 9] = [
            (O::Le, 16, 0xcdef),
            (O::Le, 32, 0x89ab_cdef),
            (O::Le, 64, 0x0123_4567_89ab_cdef),
            (O::Be, 16, 0xefcd),
            (O::Be, 32, 0xefcd_ab89),
            (O::Be, 64, 0xefcd_ab89_6745_2301),
            (O::Bswap, 16, 0xefcd),
            (O::Bswap, 32, 0xefcd_ab89),
            (O::Bswap, 64, 0xefcd_ab89_6745_2301),
        ];
        for (op, bits, want) in cases {
            assert_eq!(
                endian(op, bits, &x),
                ScalarBounds::constant(want),
                "{op:?}{bits}"
            );
        }
        // A byte (var_off (0x0; 0xff)): the unknown bits move with the byte
        // and the bounds are re-derived from the swapped tnum.
        let byte = range(0, 0xff);
        for (op, bits, mask) in [
            (O::Le, 16, 0xff),
            (O::Le, 64, 0xff),
            (O::Be, 16, 0xff00),
            (O::Be, 32, 0xff00_0000),
            (O::Bswap, 64, 0xff00_0000_0000_0000),
        ] {
            let r = endian(op, bits, &byte);
            assert_eq!(r.var_off, Tnum::new(0, mask), "{op:?}{bits}");
            assert_eq!((r.umin, r.umax), (0, mask), "{op:?}{bits}");
        }
        // The old range does not survive a swap: [0x100, 0x1ff] has
        // var_off (0x100; 0xff), which be16 turns into (0x1; 0xff00).
        let r = endian(O::Be, 16, &range(0x100, 0x1ff));
        assert_eq!(r.var_off, Tnum::new(1, 0xff00));
        assert_eq!((r.umin, r.umax), (1, 0xff01));
        // le16 keeps the range, truncated to 16 bits: [0x1_0000, 0x1_00ff] → [0, 0xff].
        let r = endian(O::Le, 16, &range(0x1_0000, 0x1_00ff));
        assert_eq!((r.umin, r.umax), (0, 0xff));
    }
}
