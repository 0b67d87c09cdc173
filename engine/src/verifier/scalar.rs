//! A scalar register's abstract state: a [`Tnum`] and unsigned/signed
//! bounds in the 64-bit and 32-bit views, as in the kernel's
//! `struct bpf_reg_state` for `SCALAR_VALUE`. Models the bounds helpers of
//! Linux 6.18's `kernel/bpf/verifier.c`.
//!
//! The state stands for every `u64` that the tnum contains and that lies
//! within all eight bounds ([`ScalarBounds::contains`], the membership
//! used by the Agni soundness checks).

use super::tnum::Tnum;

/// The abstract value of a scalar register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScalarBounds {
    /// Known and unknown bits.
    pub var_off: Tnum,
    /// Unsigned 64-bit minimum.
    pub umin: u64,
    /// Unsigned 64-bit maximum.
    pub umax: u64,
    /// Signed 64-bit minimum.
    pub smin: i64,
    /// Signed 64-bit maximum.
    pub smax: i64,
    /// Unsigned minimum of the low 32 bits.
    pub u32_min: u32,
    /// Unsigned maximum of the low 32 bits.
    pub u32_max: u32,
    /// Signed minimum of the low 32 bits.
    pub s32_min: i32,
    /// Signed maximum of the low 32 bits.
    pub s32_max: i32,
    /// The kernel's scalar `id` (0: none): registers and spilled slots with
    /// the same id hold the same value, so what a conditional jump learns
    /// about one holds for all (`sync_linked_regs`). Set by moves and
    /// spills (`assign_scalar_id_before_mov`), cleared by every other ALU
    /// operation; never part of the value's bounds. `r1 = r0; r1 += K`
    /// keeps the link with [`ADD_CONST64`] (`w1 += K`: [`ADD_CONST32`])
    /// set and K in `link_off`.
    pub id: u32,
    /// The constant a linked copy differs by from the id's base value
    /// (`reg->off` of a scalar with `BPF_ADD_CONST`); 0 otherwise.
    pub link_off: i32,
}

/// `BPF_ADD_CONST64`: the scalar is its id's value plus `link_off` (64-bit).
pub const ADD_CONST64: u32 = 1 << 31;
/// `BPF_ADD_CONST32`: the same, computed by a 32-bit addition.
pub const ADD_CONST32: u32 = 1 << 30;
/// Both flags.
pub const ADD_CONST: u32 = ADD_CONST64 | ADD_CONST32;

impl ScalarBounds {
    /// A completely unknown scalar; models `__mark_reg_unknown_imprecise`.
    pub fn unknown() -> ScalarBounds {
        let mut r = ScalarBounds {
            var_off: Tnum::UNKNOWN,
            umin: 0,
            umax: 0,
            smin: 0,
            smax: 0,
            u32_min: 0,
            u32_max: 0,
            s32_min: 0,
            s32_max: 0,
            id: 0,
            link_off: 0,
        };
        r.mark_unbounded();
        r
    }

    /// The constant `v`; models `___mark_reg_known`.
    pub fn constant(v: u64) -> ScalarBounds {
        ScalarBounds {
            var_off: Tnum::constant(v),
            umin: v,
            umax: v,
            smin: v as i64,
            smax: v as i64,
            u32_min: v as u32,
            u32_max: v as u32,
            s32_min: v as i32,
            s32_max: v as i32,
            id: 0,
            link_off: 0,
        }
    }

    /// `get_reg_width`: the bits the value may use (`fls64(umax)`).
    pub fn width(&self) -> u32 {
        64 - self.umax.leading_zeros()
    }

    /// True when `v` lies in the tnum and within all eight bounds.
    pub fn contains(&self, v: u64) -> bool {
        let (s, w, sw) = (v as i64, v as u32, v as i32);
        self.var_off.contains(v)
            && self.umin <= v
            && v <= self.umax
            && self.smin <= s
            && s <= self.smax
            && self.u32_min <= w
            && w <= self.u32_max
            && self.s32_min <= sw
            && sw <= self.s32_max
    }

    /// True when some bound pair is inverted or the tnum is malformed: the
    /// state stands for no value at all (the kernel's
    /// `reg_bounds_sanity_check` "range bounds violation").
    pub fn is_contradictory(&self) -> bool {
        self.umin > self.umax
            || self.smin > self.smax
            || self.u32_min > self.u32_max
            || self.s32_min > self.s32_max
            || self.var_off.value & self.var_off.mask != 0
    }

    /// True when the value is one known constant in the 64-bit view
    /// (`tnum_is_const` on the whole register).
    pub fn is_const(&self) -> bool {
        self.var_off.is_const()
    }

    /// Sets the low 32 bits to the constant `v`, keeping the high tnum
    /// bits; models `__mark_reg32_known`.
    pub fn mark32_known(&mut self, v: u64) {
        self.var_off = self.var_off.const_subreg(v as u32);
        self.s32_min = v as i32;
        self.s32_max = v as i32;
        self.u32_min = v as u32;
        self.u32_max = v as u32;
    }

    /// Resets all eight bounds; models `__mark_reg_unbounded`.
    pub fn mark_unbounded(&mut self) {
        self.mark64_unbounded();
        self.mark32_unbounded();
    }

    /// Resets the 64-bit bounds; models `__mark_reg64_unbounded`.
    pub fn mark64_unbounded(&mut self) {
        self.smin = i64::MIN;
        self.smax = i64::MAX;
        self.umin = 0;
        self.umax = u64::MAX;
    }

    /// Resets the 32-bit bounds; models `__mark_reg32_unbounded`.
    pub fn mark32_unbounded(&mut self) {
        self.s32_min = i32::MIN;
        self.s32_max = i32::MAX;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
    }

    /// Tightens the 32-bit bounds from the low half of the tnum; models
    /// `__update_reg32_bounds`.
    pub fn update_reg32_bounds(&mut self) {
        let t = self.var_off.subreg();
        let (v, m) = (t.value as u32, t.mask as u32);
        self.s32_min = self.s32_min.max((v | (m & i32::MIN as u32)) as i32);
        self.s32_max = self.s32_max.min((v | (m & i32::MAX as u32)) as i32);
        self.u32_min = self.u32_min.max(v);
        self.u32_max = self.u32_max.min(v | m);
    }

    /// Tightens the 64-bit bounds from the tnum; models
    /// `__update_reg64_bounds`.
    pub fn update_reg64_bounds(&mut self) {
        let (v, m) = (self.var_off.value, self.var_off.mask);
        self.smin = self.smin.max((v | (m & i64::MIN as u64)) as i64);
        self.smax = self.smax.min((v | (m & i64::MAX as u64)) as i64);
        self.umin = self.umin.max(v);
        self.umax = self.umax.min(v | m);
    }

    /// Models `__update_reg_bounds`: both of the above.
    pub fn update_reg_bounds(&mut self) {
        self.update_reg32_bounds();
        self.update_reg64_bounds();
    }

    /// Models `__reg32_deduce_bounds`: learns 32-bit bounds from the 64-bit
    /// ones and from each other (6.18, with the "s32 range crosses the sign
    /// boundary" cases).
    pub fn reg32_deduce_bounds(&mut self) {
        // Same high 32 bits across the u64 range: the low halves form a range.
        if self.umin >> 32 == self.umax >> 32 {
            self.u32_min = self.u32_min.max(self.umin as u32);
            self.u32_max = self.u32_max.min(self.umax as u32);
            if (self.umin as i32) <= (self.umax as i32) {
                self.s32_min = self.s32_min.max(self.umin as i32);
                self.s32_max = self.s32_max.min(self.umax as i32);
            }
        }
        if self.smin >> 32 == self.smax >> 32 {
            if (self.smin as u32) <= (self.smax as u32) {
                self.u32_min = self.u32_min.max(self.smin as u32);
                self.u32_max = self.u32_max.min(self.smax as u32);
            }
            if (self.smin as i32) <= (self.smax as i32) {
                self.s32_min = self.s32_min.max(self.smin as i32);
                self.s32_max = self.s32_max.min(self.smax as i32);
            }
        }
        // High halves are two consecutive numbers and the low halves go from
        // negative to non-negative: still one s32 range.
        if ((self.umin >> 32) as u32).wrapping_add(1) == (self.umax >> 32) as u32
            && (self.umin as i32) < 0
            && (self.umax as i32) >= 0
        {
            self.s32_min = self.s32_min.max(self.umin as i32);
            self.s32_max = self.s32_max.min(self.umax as i32);
        }
        if ((self.smin >> 32) as u32).wrapping_add(1) == (self.smax >> 32) as u32
            && (self.smin as i32) < 0
            && (self.smax as i32) >= 0
        {
            self.s32_min = self.s32_min.max(self.smin as i32);
            self.s32_max = self.s32_max.min(self.smax as i32);
        }
        // u32 range not crossing the s32 sign boundary informs s32.
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.s32_min.max(self.u32_min as i32);
            self.s32_max = self.s32_max.min(self.u32_max as i32);
        }
        // s32 range not crossing the u32 wrap informs u32.
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            self.u32_min = self.u32_min.max(self.s32_min as u32);
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if self.u32_max < self.s32_min as u32 {
            // The s32 range crosses the sign boundary (6.18): the u32 range
            // meets only its non-negative part.
            self.s32_min = self.u32_min as i32;
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if (self.s32_max as u32) < self.u32_min {
            // ... or only its negative part.
            self.s32_max = self.u32_max as i32;
            self.u32_min = self.u32_min.max(self.s32_min as u32);
        }
    }

    /// Models `__reg64_deduce_bounds` (6.18, with the "s64 range crosses
    /// the sign boundary" cases added in 2025).
    pub fn reg64_deduce_bounds(&mut self) {
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        } else if self.umax < self.smin as u64 {
            // The u64 range meets only the non-negative part of the s64 range.
            self.smin = self.umin as i64;
            self.umax = self.umax.min(self.smax as u64);
        } else if (self.smax as u64) < self.umin {
            // The u64 range meets only the negative part of the s64 range.
            self.smax = self.umax as i64;
            self.umin = self.umin.max(self.smin as u64);
        }
    }

    /// Models `__reg_deduce_mixed_bounds` (6.18: the s32 → 64-bit block was
    /// removed in 2025 as redundant).
    pub fn reg_deduce_mixed_bounds(&mut self) {
        const HI: u64 = !0xffff_ffffu64;
        let new_umin = (self.umin & HI) | self.u32_min as u64;
        let new_umax = (self.umax & HI) | self.u32_max as u64;
        self.umin = self.umin.max(new_umin);
        self.umax = self.umax.min(new_umax);
        let new_smin = ((self.smin as u64 & HI) | self.u32_min as u64) as i64;
        let new_smax = ((self.smax as u64 & HI) | self.u32_max as u64) as i64;
        self.smin = self.smin.max(new_smin);
        self.smax = self.smax.min(new_smax);
        // After a sign-extending load: a non-negative s32 half with s64 in
        // [S32_MIN, S32_MAX] rules out the all-ones upper half.
        if self.s32_min >= 0 && self.smin >= i32::MIN as i64 && self.smax <= i32::MAX as i64 {
            self.smin = self.s32_min as i64;
            self.smax = self.s32_max as i64;
            self.umin = self.s32_min as u64;
            self.umax = self.s32_max as u64;
            self.var_off = self
                .var_off
                .intersect(Tnum::range(self.smin as u64, self.smax as u64));
        }
    }

    /// Models `__reg_deduce_bounds`: 32-bit, 64-bit, then mixed deductions.
    pub fn reg_deduce_bounds(&mut self) {
        self.reg32_deduce_bounds();
        self.reg64_deduce_bounds();
        self.reg_deduce_mixed_bounds();
    }

    /// Improves the tnum from the unsigned bounds in both views; models
    /// `__reg_bound_offset`.
    pub fn reg_bound_offset(&mut self) {
        let var64 = self.var_off.intersect(Tnum::range(self.umin, self.umax));
        let var32 = var64
            .subreg()
            .intersect(Tnum::range(self.u32_min as u64, self.u32_max as u64));
        self.var_off = var64.clear_subreg().or(var32);
    }

    /// Models `reg_bounds_sync` (6.18): update from the tnum, deduce three
    /// times, improve the tnum, update again.
    pub fn sync(&mut self) {
        self.update_reg_bounds();
        self.reg_deduce_bounds();
        self.reg_deduce_bounds();
        self.reg_deduce_bounds();
        self.reg_bound_offset();
        self.update_reg_bounds();
    }

    /// Copies the 32-bit bounds into the 64-bit ones for a zero-extended
    /// value; models `__reg_assign_32_into_64`.
    pub fn assign_32_into_64(&mut self) {
        self.umin = self.u32_min as u64;
        self.umax = self.u32_max as u64;
        if self.s32_min >= 0 && self.s32_max >= 0 {
            self.smin = self.s32_min as i64;
            self.smax = self.s32_max as i64;
        } else {
            self.smin = 0;
            self.smax = u32::MAX as i64;
        }
    }

    /// Zero-extends the low 32 bits (the result of a 32-bit ALU op); models
    /// `zext_32_to_64`.
    pub fn zext_32_to_64(&mut self) {
        self.var_off = self.var_off.subreg();
        self.assign_32_into_64();
    }

    /// Truncates to the low `size` bytes (1, 2 or 4), as for a
    /// zero-extending load; models `coerce_reg_to_size`. The kernel never
    /// coerces to 8 bytes (its mask would be `1 << 64`), so other sizes
    /// leave the state unchanged.
    pub fn coerce_to_size(&mut self, size: u32) {
        if !matches!(size, 1 | 2 | 4) {
            return;
        }
        self.var_off = self.var_off.cast(size);
        let mask = (1u64 << (size * 8)) - 1;
        if self.umin & !mask == self.umax & !mask {
            self.umin &= mask;
            self.umax &= mask;
        } else {
            self.umin = 0;
            self.umax = mask;
        }
        self.smin = self.umin as i64;
        self.smax = self.umax as i64;
        if size < 4 {
            self.mark32_unbounded();
        }
        self.sync();
    }

    /// Sign-extends the low `size` bytes (1, 2 or 4) to 64 bits, as for
    /// `movsx` (ALU64) and `ldsx`; models `coerce_reg_to_size_sx` (which
    /// falls back to `set_sext64_default_val`).
    pub fn coerce_to_size_sx(&mut self, size: u32) {
        let bits = size * 8;
        let sext = |v: u64| -> i64 { ((v << (64 - bits)) as i64) >> (64 - bits) };
        if self.var_off.is_const() {
            let c = sext(self.var_off.value) as u64;
            *self = ScalarBounds::constant(c);
            return;
        }
        let top_max = (self.smax as u64 >> bits) << bits;
        let top_min = (self.smin as u64 >> bits) << bits;
        if top_max == top_min {
            let a = sext(self.smax as u64);
            let b = sext(self.smin as u64);
            let (lo, hi) = (a.min(b), a.max(b));
            if (hi >= 0) == (lo >= 0) {
                self.smin = lo;
                self.s32_min = lo as i32;
                self.smax = hi;
                self.s32_max = hi as i32;
                self.umin = lo as u64;
                self.u32_min = lo as u32;
                self.umax = hi as u64;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(lo as u64, hi as u64);
                return;
            }
        }
        // set_sext64_default_val
        let (lo, hi) = match size {
            1 => (i8::MIN as i64, i8::MAX as i64),
            2 => (i16::MIN as i64, i16::MAX as i64),
            _ => (i32::MIN as i64, i32::MAX as i64),
        };
        self.smin = lo;
        self.s32_min = lo as i32;
        self.smax = hi;
        self.s32_max = hi as i32;
        self.umin = 0;
        self.u32_min = 0;
        self.umax = u64::MAX;
        self.u32_max = u32::MAX;
        self.var_off = Tnum::UNKNOWN;
    }

    /// Sign-extends the low `size` bytes (1 or 2) to 32 bits in the
    /// subregister, as for 32-bit `movsx`; the caller zero-extends after.
    /// Models `coerce_subreg_to_size_sx` (which falls back to
    /// `set_sext32_default_val`).
    pub fn coerce_subreg_to_size_sx(&mut self, size: u32) {
        let bits = size * 8;
        let sext = |v: u32| -> i32 { ((v << (32 - bits)) as i32) >> (32 - bits) };
        if self.var_off.is_const() {
            let c = sext(self.var_off.value as u32);
            // The kernel writes the sign-extended 64-bit constant here; the
            // zero-extension that follows in check_alu_op fixes the top half.
            self.var_off = Tnum::constant(c as i64 as u64);
            self.s32_min = c;
            self.s32_max = c;
            self.u32_min = c as u32;
            self.u32_max = c as u32;
            return;
        }
        let top_max = (self.s32_max as u32 >> bits) << bits;
        let top_min = (self.s32_min as u32 >> bits) << bits;
        if top_max == top_min {
            let a = sext(self.s32_max as u32);
            let b = sext(self.s32_min as u32);
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                self.s32_min = lo;
                self.s32_max = hi;
                self.u32_min = lo as u32;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(lo as i64 as u64, hi as i64 as u64).subreg();
                return;
            }
        }
        // set_sext32_default_val
        let (lo, hi) = if size == 1 {
            (i8::MIN as i32, i8::MAX as i32)
        } else {
            (i16::MIN as i32, i16::MAX as i32)
        };
        self.s32_min = lo;
        self.s32_max = hi;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
        self.var_off = Tnum::UNKNOWN.subreg();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_learns_bounds_from_tnum() {
        // models __update_reg_bounds / reg_bounds_sync in kernel/bpf/verifier.c:
        // var_off (0; 0x38) — the verifier log line in SEMANTICS.md for `r1 &= 56`.
        let mut r = ScalarBounds::unknown();
        r.var_off = Tnum::new(0, 0x38);
        r.sync();
        assert_eq!((r.umin, r.umax, r.smin, r.smax), (0, 56, 0, 56));
        assert_eq!((r.u32_min, r.u32_max, r.s32_min, r.s32_max), (0, 56, 0, 56));
    }

    #[test]
    fn sync_learns_tnum_from_bounds() {
        // models __reg_bound_offset: umax = 7 clears every bit above bit 2.
        let mut r = ScalarBounds::unknown();
        r.umax = 7;
        r.sync();
        assert_eq!(r.var_off, Tnum::new(0, 7));
        assert_eq!((r.smin, r.smax, r.s32_min, r.s32_max), (0, 7, 0, 7));
    }

    #[test]
    fn deduce_negative_overlap_models_kernel_selftest() {
        // models __reg64_deduce_bounds (sign-boundary case) with the kernel
        // selftest "bounds deduction cross sign boundary, negative overlap":
        // smin=-655, smax=0xeffffeee, umin=0xfffffcf1, umax=0xffff..ff6e,
        // smin32=-783, smax32=-146 → smax=-146, umin=0xffff..fd71, smin32=-655.
        let mut r = ScalarBounds::unknown();
        r.smin = -655;
        r.smax = 0xeffffeee;
        r.umin = 0xfffffcf1;
        r.umax = 0xffffffffffffff6e;
        r.s32_min = -783;
        r.s32_max = -146;
        r.u32_min = 0xfffffcf1;
        r.u32_max = 0xffffff6e;
        r.sync();
        assert_eq!((r.smin, r.smax), (-655, -146));
        assert_eq!((r.umin, r.umax), (0xfffffffffffffd71, 0xffffffffffffff6e));
        assert_eq!((r.s32_min, r.s32_max), (-655, -146));
        assert_eq!((r.u32_min, r.u32_max), (0xfffffd71, 0xffffff6e));
        assert_eq!(r.var_off, Tnum::new(0xfffffffffffffc00, 0x3ff));
    }

    #[test]
    fn zext_models_zext_32_to_64() {
        // models zext_32_to_64 / __reg_assign_32_into_64: a negative s32 range
        // becomes smin=0, smax=U32_MAX before sync.
        let mut r = ScalarBounds::constant(-5i64 as u64);
        r.zext_32_to_64();
        assert_eq!(r.var_off, Tnum::constant(0xffff_fffb));
        assert_eq!((r.umin, r.umax), (0xffff_fffb, 0xffff_fffb));
        assert_eq!((r.smin, r.smax), (0, u32::MAX as i64));
        r.sync();
        assert_eq!(r, ScalarBounds::constant(0xffff_fffb));
    }

    #[test]
    fn coerce_models_coerce_reg_to_size() {
        // models coerce_reg_to_size: [0x1_0000_0010, 0x1_0000_0020] as u8 → [0x10, 0x20].
        let mut r = ScalarBounds::unknown();
        r.umin = 0x1_0000_0010;
        r.umax = 0x1_0000_0020;
        r.sync();
        r.coerce_to_size(1);
        assert_eq!((r.umin, r.umax), (0x10, 0x20));
        // Different upper bits → the whole byte range.
        let mut r = ScalarBounds::unknown();
        r.umin = 0xf0;
        r.umax = 0x110;
        r.sync();
        r.coerce_to_size(1);
        assert_eq!((r.umin, r.umax), (0, 0xff));
    }

    #[test]
    fn sext_models_coerce_reg_to_size_sx() {
        // models coerce_reg_to_size_sx: constant 0x80 as s8 is -128.
        let mut r = ScalarBounds::constant(0x80);
        r.coerce_to_size_sx(1);
        assert_eq!(r, ScalarBounds::constant(-128i64 as u64));
        // [0x80, 0xff] as s8 is [-128, -1]: both ends negative, kept exact.
        let mut r = ScalarBounds::unknown();
        r.umin = 0x80;
        r.umax = 0xff;
        r.sync();
        r.coerce_to_size_sx(1);
        assert_eq!((r.smin, r.smax), (-128, -1));
        // [0x7f, 0x80] crosses the sign: set_sext64_default_val.
        let mut r = ScalarBounds::unknown();
        r.umin = 0x7f;
        r.umax = 0x80;
        r.sync();
        r.coerce_to_size_sx(1);
        assert_eq!((r.smin, r.smax, r.umin, r.umax), (-128, 127, 0, u64::MAX));
    }

    #[test]
    fn subreg_sext_models_coerce_subreg_to_size_sx() {
        // models coerce_subreg_to_size_sx then zext_32_to_64 (w0 = (s16)w1).
        let mut r = ScalarBounds::constant(0x1_0000_8000);
        r.coerce_subreg_to_size_sx(2);
        r.zext_32_to_64();
        r.sync();
        assert_eq!(r, ScalarBounds::constant(0xffff_8000));
    }

    #[test]
    fn contains_checks_all_nine_parts() {
        let r = ScalarBounds::constant(7);
        assert!(r.contains(7));
        assert!(!r.contains(8));
        let u = ScalarBounds::unknown();
        assert!(u.contains(0) && u.contains(u64::MAX) && u.contains(1 << 63));
        let mut s = ScalarBounds::unknown();
        s.s32_max = -1;
        assert!(!s.contains(5));
        assert!(s.contains(0xffff_ffff));
    }
}
