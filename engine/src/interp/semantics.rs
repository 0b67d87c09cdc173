//! The arithmetic rules of RFC 9669 §4 with the kernel's answers where the
//! RFC leaves a choice (see SEMANTICS.md). Pure functions over `u64`
//! register values; 32-bit forms return the zero-extended result.

/// Unsigned 64-bit division; division by zero gives 0 (RFC 9669 §4.1).
#[inline(always)]
pub fn div64(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(0)
}

/// Unsigned 32-bit division, zero-extended; by zero gives 0.
#[inline(always)]
pub fn div32(a: u64, b: u64) -> u64 {
    (a as u32).checked_div(b as u32).unwrap_or(0) as u64
}

/// Unsigned 64-bit modulo; by zero leaves the dividend (RFC 9669 §4.1).
#[inline(always)]
pub fn mod64(a: u64, b: u64) -> u64 {
    a.checked_rem(b).unwrap_or(a)
}

/// Unsigned 32-bit modulo; by zero gives the dividend's low 32 bits
/// zero-extended (SEMANTICS.md: 0xffffffff00001234 % 0 → 0x1234).
#[inline(always)]
pub fn mod32(a: u64, b: u64) -> u64 {
    (a as u32).checked_rem(b as u32).unwrap_or(a as u32) as u64
}

/// Signed truncating 64-bit division: by zero gives 0, INT_MIN / -1 gives
/// INT_MIN (SEMANTICS.md).
#[inline(always)]
pub fn sdiv64(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

/// Signed truncating 32-bit division, zero-extended.
#[inline(always)]
pub fn sdiv32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        0
    } else {
        (a as i32).wrapping_div(b as i32) as u32 as u64
    }
}

/// Signed 64-bit remainder (sign of the dividend): by zero leaves the
/// dividend, INT_MIN % -1 gives 0.
#[inline(always)]
pub fn smod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

/// Signed 32-bit remainder, zero-extended; by zero gives the dividend's low
/// 32 bits.
#[inline(always)]
pub fn smod32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        a as u32 as u64
    } else {
        (a as i32).wrapping_rem(b as i32) as u32 as u64
    }
}

/// 64-bit left shift; the amount is masked to 6 bits (SEMANTICS.md).
#[inline(always)]
pub fn lsh64(a: u64, b: u64) -> u64 {
    a << (b & 63)
}

/// 32-bit left shift, amount masked to 5 bits, zero-extended.
#[inline(always)]
pub fn lsh32(a: u64, b: u64) -> u64 {
    ((a as u32) << (b & 31)) as u64
}

/// 64-bit logical right shift, amount masked to 6 bits.
#[inline(always)]
pub fn rsh64(a: u64, b: u64) -> u64 {
    a >> (b & 63)
}

/// 32-bit logical right shift, amount masked to 5 bits, zero-extended.
#[inline(always)]
pub fn rsh32(a: u64, b: u64) -> u64 {
    ((a as u32) >> (b & 31)) as u64
}

/// 64-bit arithmetic right shift, amount masked to 6 bits.
#[inline(always)]
pub fn arsh64(a: u64, b: u64) -> u64 {
    ((a as i64) >> (b & 63)) as u64
}

/// 32-bit arithmetic right shift, amount masked to 5 bits, zero-extended.
#[inline(always)]
pub fn arsh32(a: u64, b: u64) -> u64 {
    ((a as i32) >> (b & 31)) as u32 as u64
}

/// Sign-extends the low `bits` bits of `v` to 64 bits.
#[inline(always)]
pub fn sign_extend(v: u64, bits: u32) -> u64 {
    let shift = 64 - bits;
    (((v << shift) as i64) >> shift) as u64
}

/// `le16/le32/le64` on a little-endian host: truncation to the width
/// (le64 is a no-op) (RFC 9669 §4.2, SEMANTICS.md).
#[inline(always)]
pub fn to_le(v: u64, bits: u32) -> u64 {
    match bits {
        16 => v as u16 as u64,
        32 => v as u32 as u64,
        _ => v,
    }
}

/// `be16/be32/be64` and `bswap16/32/64`: byte swap of the low width bytes,
/// zero-extended.
#[inline(always)]
pub fn byte_swap(v: u64, bits: u32) -> u64 {
    match bits {
        16 => (v as u16).swap_bytes() as u64,
        32 => (v as u32).swap_bytes() as u64,
        _ => v.swap_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INT64_MIN: u64 = i64::MIN as u64;
    const NEG1: u64 = u64::MAX;

    #[test]
    fn division_by_zero_semantics_md() {
        // SEMANTICS.md "Division by zero: dst = 0".
        assert_eq!(div64(7, 0), 0);
        assert_eq!(
            div32(7, 0xffff_ffff_0000_0000),
            0,
            "32-bit divisor is the low half"
        );
        assert_eq!(sdiv64(7, 0), 0);
        assert_eq!(sdiv32(7, 0), 0);
        // "Modulo by zero: dst unchanged for 64-bit; for 32-bit the low 32 bits".
        assert_eq!(mod64(0xffff_ffff_0000_1234, 0), 0xffff_ffff_0000_1234);
        assert_eq!(mod32(0xffff_ffff_0000_1234, 0), 0x1234);
        assert_eq!(smod64(NEG1, 0), NEG1);
        assert_eq!(smod32(0xffff_ffff_ffff_fff9, 0), 0xffff_fff9);
    }

    #[test]
    fn unsigned_division_by_sign_extended_imm() {
        // SEMANTICS.md: 64-bit DIV by an immediate -1 is unsigned: 5 / -1 = 0.
        assert_eq!(div64(5, -1i32 as i64 as u64), 0);
        assert_eq!(mod64(5, -1i32 as i64 as u64), 5);
    }

    #[test]
    fn signed_division_semantics_md() {
        // Truncated division: -7 s/ 2 = -3, -7 s% 2 = -1.
        assert_eq!(sdiv64(-7i64 as u64, 2), -3i64 as u64);
        assert_eq!(smod64(-7i64 as u64, 2), -1i64 as u64);
        assert_eq!(sdiv32(-7i32 as u32 as u64, 2), -3i32 as u32 as u64);
        assert_eq!(smod32(-7i32 as u32 as u64, 2), -1i32 as u32 as u64);
        // INT_MIN s/ -1 = INT_MIN, INT_MIN s% -1 = 0.
        assert_eq!(sdiv64(INT64_MIN, NEG1), INT64_MIN);
        assert_eq!(smod64(INT64_MIN, NEG1), 0);
        assert_eq!(sdiv32(0x8000_0000, 0xffff_ffff), 0x8000_0000);
        assert_eq!(smod32(0x8000_0000, 0xffff_ffff), 0);
    }

    #[test]
    fn shifts_mask_the_amount_semantics_md() {
        // "Shifts mask the amount: 63 for 64-bit, 31 for 32-bit (65 → 1, 33 → 1)".
        assert_eq!(lsh64(1, 65), 2);
        assert_eq!(lsh32(1, 33), 2);
        assert_eq!(rsh64(4, 65), 2);
        assert_eq!(rsh32(0xffff_ffff_0000_0004, 33), 2);
        assert_eq!(arsh64(INT64_MIN, 65), 0xc000_0000_0000_0000);
        assert_eq!(arsh32(0x8000_0000, 33), 0xc000_0000);
    }

    #[test]
    fn swaps_rfc9669_section_4_2() {
        assert_eq!(to_le(0x1122_3344_5566_7788, 16), 0x7788);
        assert_eq!(to_le(0x1122_3344_5566_7788, 32), 0x5566_7788);
        assert_eq!(to_le(0x1122_3344_5566_7788, 64), 0x1122_3344_5566_7788);
        assert_eq!(byte_swap(0x1122_3344_5566_7788, 16), 0x8877);
        assert_eq!(byte_swap(0x1122_3344_5566_7788, 32), 0x8877_6655);
        assert_eq!(byte_swap(0x1122_3344_5566_7788, 64), 0x8877_6655_4433_2211);
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend(0x80, 8), 0xffff_ffff_ffff_ff80);
        assert_eq!(sign_extend(0x7fff, 16), 0x7fff);
        assert_eq!(sign_extend(0x8000_0000, 32), 0xffff_ffff_8000_0000);
    }
}
