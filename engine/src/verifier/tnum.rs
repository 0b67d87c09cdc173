//! Tracked numbers ("tnums"): for each of the 64 bits, known 0, known 1 or
//! unknown. Models `kernel/bpf/tnum.c` of Linux 6.18.
//!
//! A tnum `(value; mask)` stands for every `x` with `x & !mask == value`.
//! Well-formed tnums have `value & mask == 0`; every operation here keeps
//! that property for well-formed inputs.

/// A tracked number: bits set in `mask` are unknown, the other bits equal
/// the corresponding bits of `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tnum {
    /// The known bits' values (zero where `mask` is set).
    pub value: u64,
    /// The unknown bits.
    pub mask: u64,
}

/// Shift that gives 0 instead of overflowing for amounts ≥ 64 (the kernel
/// never shifts that far; this keeps callers from panicking).
fn shl(v: u64, s: u32) -> u64 {
    v.checked_shl(s).unwrap_or(0)
}

fn shr(v: u64, s: u32) -> u64 {
    v.checked_shr(s).unwrap_or(0)
}

// The method names follow the kernel's tnum_add/tnum_sub/tnum_neg/tnum_mul;
// they are abstract operations, not the arithmetic `std::ops` traits.
#[allow(clippy::should_implement_trait)]
impl Tnum {
    /// The completely unknown value; models `tnum_unknown`.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// A tnum from its two words.
    pub const fn new(value: u64, mask: u64) -> Tnum {
        Tnum { value, mask }
    }

    /// The exactly known value `v`; models `tnum_const`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The completely unknown value; models `tnum_unknown`.
    pub const fn unknown() -> Tnum {
        Tnum::UNKNOWN
    }

    /// The smallest tnum of the form "common high bits, unknown low bits"
    /// holding every value in `min..=max`; models `tnum_range`.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum::new(min & !delta, delta)
    }

    /// Logical left shift by a known amount; models `tnum_lshift`.
    pub fn lshift(self, shift: u32) -> Tnum {
        Tnum::new(shl(self.value, shift), shl(self.mask, shift))
    }

    /// Logical right shift by a known amount; models `tnum_rshift`.
    pub fn rshift(self, shift: u32) -> Tnum {
        Tnum::new(shr(self.value, shift), shr(self.mask, shift))
    }

    /// Arithmetic right shift by `min_shift` in a 32- or 64-bit register;
    /// the 32-bit form shifts the low half as `s32` and zero-extends.
    /// Models `tnum_arshift(a, min_shift, insn_bitness)`.
    pub fn arshift(self, min_shift: u32, bitness: u32) -> Tnum {
        let s = min_shift.min(bitness - 1);
        if bitness == 32 {
            Tnum::new(
                ((self.value as u32 as i32) >> s) as u32 as u64,
                ((self.mask as u32 as i32) >> s) as u32 as u64,
            )
        } else {
            Tnum::new(
                ((self.value as i64) >> s) as u64,
                ((self.mask as i64) >> s) as u64,
            )
        }
    }

    /// Addition; models `tnum_add`.
    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let carries = sm.wrapping_add(sv) ^ sv;
        let mu = carries | self.mask | b.mask;
        Tnum::new(sv & !mu, mu)
    }

    /// Subtraction `self - b`; models `tnum_sub`.
    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let mu = (alpha ^ beta) | self.mask | b.mask;
        Tnum::new(dv & !mu, mu)
    }

    /// Negation `0 - self`; models `tnum_neg`.
    pub fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// Bitwise AND; models `tnum_and`.
    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum::new(v, alpha & beta & !v)
    }

    /// Bitwise OR; models `tnum_or`.
    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum::new(v, mu & !v)
    }

    /// Bitwise XOR; models `tnum_xor`.
    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// Multiplication by long multiplication over the trits of `self`:
    /// a known-1 trit adds the shifted multiplicand, an unknown trit joins
    /// "added" and "not added". Models the 6.18 `tnum_mul` (the
    /// union-based algorithm merged in 2025).
    pub fn mul(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let mut acc = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc = acc.add(b);
            } else if a.mask & 1 != 0 {
                acc = acc.union(acc.add(b));
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        acc
    }

    /// True when the known bits of both tnums agree, i.e. the two may hold
    /// the same value; models `tnum_overlap` as added for 6.18's
    /// `is_scalar_branch_taken`.
    pub fn overlap(self, b: Tnum) -> bool {
        let mu = !self.mask & !b.mask;
        (self.value & mu) == (b.value & mu)
    }

    /// The values satisfying both tnums (a known-1 wins where they
    /// disagree); models `tnum_intersect`.
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// The smallest tnum holding both tnums' values; models `tnum_union`.
    pub fn union(self, b: Tnum) -> Tnum {
        let v = self.value & b.value;
        let mu = (self.value ^ b.value) | self.mask | b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// Keeps the low `size` bytes and clears the rest; models `tnum_cast`.
    pub fn cast(self, size: u32) -> Tnum {
        let keep = if size >= 8 {
            u64::MAX
        } else {
            (1u64 << (size * 8)) - 1
        };
        Tnum::new(self.value & keep, self.mask & keep)
    }

    /// Reverses the byte order of the low `bits` (16, 32 or 64) bits of
    /// value and mask alike, clearing the rest; models `tnum_bswap16`,
    /// `tnum_bswap32` and `tnum_bswap64` (each bit's knowledge moves with
    /// the bit).
    pub fn bswap(self, bits: u32) -> Tnum {
        let swap = |v: u64| match bits {
            16 => (v as u16).swap_bytes() as u64,
            32 => (v as u32).swap_bytes() as u64,
            _ => v.swap_bytes(),
        };
        Tnum::new(swap(self.value), swap(self.mask))
    }

    /// True when every value of `b` is a value of `self`; models `tnum_in`.
    pub fn includes(self, b: Tnum) -> bool {
        if b.mask & !self.mask != 0 {
            return false;
        }
        self.value == b.value & !self.mask
    }

    /// True when the tnum holds exactly one value; models `tnum_is_const`.
    pub fn is_const(self) -> bool {
        self.mask == 0
    }

    /// True when the tnum is the constant `v`; models `tnum_equals_const`.
    pub fn equals_const(self, v: u64) -> bool {
        self.is_const() && self.value == v
    }

    /// True when the tnum holds every value; models `tnum_is_unknown`.
    pub fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    /// True when `v` is one of the tnum's values (`v & !mask == value`).
    pub fn contains(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// The low 32 bits, zero-extended; models `tnum_subreg`.
    pub fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// The high 32 bits with the low 32 cleared; models
    /// `tnum_clear_subreg`.
    pub fn clear_subreg(self) -> Tnum {
        self.rshift(32).lshift(32)
    }

    /// `self`'s high 32 bits with `subreg`'s low 32 bits; models
    /// `tnum_with_subreg`.
    pub fn with_subreg(self, subreg: Tnum) -> Tnum {
        self.clear_subreg().or(subreg.subreg())
    }

    /// `self`'s high 32 bits with the known low 32 bits `v`; models
    /// `tnum_const_subreg`.
    pub fn const_subreg(self, v: u32) -> Tnum {
        self.with_subreg(Tnum::constant(v as u64))
    }

    /// True when the low 32 bits are known; models `tnum_subreg_is_const`.
    pub fn subreg_is_const(self) -> bool {
        self.subreg().is_const()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: u64, m: u64) -> Tnum {
        Tnum::new(v, m)
    }

    #[test]
    fn range_models_tnum_range() {
        // models tnum_range in kernel/bpf/tnum.c: chi = 4 ^ 7 = 3 → 2 bits unknown.
        assert_eq!(Tnum::range(4, 7), t(4, 3));
        // min == max gives the constant.
        assert_eq!(Tnum::range(9, 9), Tnum::constant(9));
        // chi = 0x10 → 5 bits unknown above the common prefix 0.
        assert_eq!(Tnum::range(0x0f, 0x10), t(0, 0x1f));
        // top bit differs → fully unknown.
        assert_eq!(Tnum::range(0, u64::MAX), Tnum::UNKNOWN);
    }

    #[test]
    fn add_models_tnum_add() {
        // models tnum_add in kernel/bpf/tnum.c: 1x0 + 001 = 1x1 (no carry possible).
        assert_eq!(t(0b100, 0b010).add(Tnum::constant(1)), t(0b101, 0b010));
        // x + 1: bit 0 unknown, carry into bit 1 unknown.
        assert_eq!(t(0, 1).add(Tnum::constant(1)), t(0, 0b11));
        // constants add exactly.
        assert_eq!(Tnum::constant(5).add(Tnum::constant(7)), Tnum::constant(12));
    }

    #[test]
    fn sub_and_neg_model_tnum_sub_tnum_neg() {
        // models tnum_sub in kernel/bpf/tnum.c: 8 - 3 = 5 exactly.
        assert_eq!(Tnum::constant(8).sub(Tnum::constant(3)), Tnum::constant(5));
        // 4 - x (x in {0,1}): {4, 3} = 0b1xx.
        let r = Tnum::constant(4).sub(t(0, 1));
        assert!(r.contains(4) && r.contains(3));
        // models tnum_neg: -1 exactly.
        assert_eq!(Tnum::constant(1).neg(), Tnum::constant(u64::MAX));
    }

    #[test]
    fn bitwise_models_tnum_and_or_xor() {
        // models tnum_and/tnum_or/tnum_xor in kernel/bpf/tnum.c.
        let a = t(0b1000, 0b0011); // 10xx
        let b = t(0b0001, 0b0100); // 0x01
        assert_eq!(a.and(b), t(0b0000, 0b0001)); // 000x
        assert_eq!(a.or(b), t(0b1001, 0b0110)); // 1xx1
        assert_eq!(a.xor(b), t(0b1000, 0b0111)); // 1xxx
    }

    #[test]
    fn mul_models_tnum_mul_union_algorithm() {
        // models tnum_mul in kernel/bpf/tnum.c (6.18): the worked example in
        // the kernel's comment: the multiplier's trits are iterated, so
        // tnum_mul(x1, 11) = union(0011, 1001) = x0x1.
        assert_eq!(t(1, 2).mul(Tnum::constant(3)), t(0b0001, 0b1010));
        // The other order adds 11 and x1 << 1 and is less precise: xxx1.
        assert_eq!(Tnum::constant(3).mul(t(1, 2)), t(0b0001, 0b1110));
        assert_eq!(Tnum::constant(6).mul(Tnum::constant(7)), Tnum::constant(42));
        assert_eq!(Tnum::constant(0).mul(Tnum::UNKNOWN), Tnum::constant(0));
    }

    #[test]
    fn shifts_model_tnum_shifts() {
        // models tnum_lshift/tnum_rshift/tnum_arshift in kernel/bpf/tnum.c.
        assert_eq!(t(1, 2).lshift(4), t(0x10, 0x20));
        assert_eq!(t(0x10, 0x20).rshift(4), t(1, 2));
        // 64-bit arshift replicates a known sign bit and an unknown one.
        assert_eq!(t(1 << 63, 0).arshift(4, 64), t(0xf8 << 56, 0));
        assert_eq!(t(0, 1 << 63).arshift(1, 64), t(0, 0xc0 << 56));
        // 32-bit arshift works on the low half and zero-extends.
        assert_eq!(t(0x8000_0000, 0).arshift(4, 32), t(0xf800_0000, 0));
    }

    #[test]
    fn intersect_union_in_model_kernel() {
        // models tnum_intersect, tnum_union and tnum_in in kernel/bpf/tnum.c.
        assert_eq!(t(0b100, 0b011).intersect(t(0b001, 0b110)), t(0b101, 0b010));
        assert_eq!(
            Tnum::constant(0b1010).union(Tnum::constant(0b0101)),
            t(0, 0b1111)
        );
        assert!(t(0, 0xff).includes(Tnum::constant(0x7f)));
        assert!(!t(0, 0xff).includes(Tnum::constant(0x100)));
        assert!(!Tnum::constant(1).includes(t(0, 1)));
    }

    #[test]
    fn overlap_models_tnum_overlap() {
        // models tnum_overlap (6.18): known bits must agree.
        assert!(!t(0x400, 0xc000_0000).overlap(t(0, 0xc000_0000)));
        assert!(t(0, 1).overlap(Tnum::constant(1)));
    }

    #[test]
    fn subreg_helpers_model_kernel() {
        // models tnum_subreg/tnum_clear_subreg/tnum_with_subreg/tnum_const_subreg
        // and tnum_cast in kernel/bpf/tnum.c.
        let a = t(0x1_0000_0002, 0xf0_0000_00f0);
        assert_eq!(a.subreg(), t(2, 0xf0));
        assert_eq!(a.clear_subreg(), t(0x1_0000_0000, 0xf0_0000_0000));
        assert_eq!(
            a.with_subreg(Tnum::constant(7)),
            t(0x1_0000_0007, 0xf0_0000_0000)
        );
        assert_eq!(a.const_subreg(9), t(0x1_0000_0009, 0xf0_0000_0000));
        assert_eq!(t(0x1234, 0xff0000).cast(2), t(0x1234, 0));
        assert!(t(5, 0xffff_ffff_0000_0000).subreg_is_const());
    }
}
