//! Operand values biased to the boundaries where implementations differ:
//! 0, ±1, the signed and unsigned extremes of 32 and 64 bits, the sign bit
//! alone, shift widths and their masked neighbours, small and page-sized
//! offsets.

use arbitrary::{Result, Unstructured};

/// 32-bit immediates worth trying (RFC 9669 §4.1 sign extension, SEMANTICS.md
/// shift masking and division corner cases).
pub const IMM32: &[i32] = &[
    0,
    1,
    -1,
    2,
    -2,
    7,
    8,
    16,
    31,
    32,
    33,
    63,
    64,
    65,
    255,
    256,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    i32::MAX,
    i32::MIN,
    i32::MIN + 1,
    0x7fff_fffe,
];

/// 64-bit values worth trying (for `ld_imm64`).
pub const IMM64: &[u64] = &[
    0,
    1,
    u64::MAX,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0xffff_ffff_0000_0000,
    0xffff_ffff_8000_0000,
    0x8000_0000_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0001,
    0x0000_0001_0000_0001,
    0x1234_5678_9abc_def0,
    0xffff_ffff_ffff_fffe,
];

/// Memory and jump offsets worth trying.
pub const OFF16: &[i16] = &[
    0,
    1,
    -1,
    2,
    4,
    7,
    8,
    -8,
    -16,
    -511,
    -512,
    -513,
    511,
    512,
    i16::MAX,
    i16::MIN,
];

/// A 32-bit immediate: a boundary value, a small number or any value.
pub fn imm32(u: &mut Unstructured) -> Result<i32> {
    Ok(match u.int_in_range(0u8..=9)? {
        0..=4 => *u.choose(IMM32)?,
        5..=6 => u.int_in_range(-16i32..=16)?,
        7 => {
            // a power of two, or one below / above it
            let shift = u.int_in_range(0u32..=31)?;
            let p = 1i64 << shift;
            (p + u.int_in_range(-1i64..=1)?) as i32
        }
        _ => u.arbitrary::<i32>()?,
    })
}

/// A 64-bit value: a boundary value, a sign-extended 32-bit boundary or any value.
pub fn imm64(u: &mut Unstructured) -> Result<u64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=3 => *u.choose(IMM64)?,
        4..=5 => imm32(u)? as i64 as u64,
        _ => u.arbitrary::<u64>()?,
    })
}

/// A 16-bit offset: a boundary value, a small number or any value.
pub fn off16(u: &mut Unstructured) -> Result<i16> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=3 => *u.choose(OFF16)?,
        4..=5 => u.int_in_range(-16i16..=16)?,
        _ => u.arbitrary::<i16>()?,
    })
}

/// An immediate shift amount for a `width`-bit shift that every verifier
/// accepts: below the width, biased to 0, 1, width - 1 and half the width.
pub fn valid_shift(u: &mut Unstructured, width: u32) -> Result<i32> {
    let max = width as i32 - 1;
    Ok(match u.int_in_range(0u8..=5)? {
        0 => 0,
        1 => 1,
        2 => max,
        3 => max / 2 + 1,
        _ => u.int_in_range(0..=max)?,
    })
}

/// Any shift amount, including the ones that are masked (31/32/33, 63/64/65)
/// and those a verifier refuses as immediates.
pub fn any_shift(u: &mut Unstructured) -> Result<i32> {
    const SHIFTS: &[i32] = &[0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, -1];
    Ok(if u.ratio(3u8, 4)? {
        *u.choose(SHIFTS)?
    } else {
        u.arbitrary()?
    })
}

/// A register number 0..=10.
pub fn reg(u: &mut Unstructured) -> Result<u8> {
    u.int_in_range(0u8..=10)
}

/// A nonzero divisor immediate, biased to ±1, 2, the extremes and small values.
pub fn nonzero_divisor(u: &mut Unstructured) -> Result<i32> {
    const DIVISORS: &[i32] = &[1, -1, 2, -2, 3, 7, 10, 16, 255, i32::MAX, i32::MIN, -7];
    Ok(if u.ratio(2u8, 3)? {
        *u.choose(DIVISORS)?
    } else {
        match u.arbitrary::<i32>()? {
            0 => 1,
            d => d,
        }
    })
}

/// Input memory bytes: patterns that make loaded values interesting (all
/// ones, sign bits, zeros) or arbitrary bytes.
pub fn memory(u: &mut Unstructured, len: usize) -> Result<Vec<u8>> {
    let mut mem = vec![0u8; len];
    match u.int_in_range(0u8..=7)? {
        0 => mem.fill(0xff),
        1 => {
            for (i, b) in mem.iter_mut().enumerate() {
                *b = if i % 4 == 3 { 0x80 } else { 0 };
            }
        }
        2 => {
            for (i, b) in mem.iter_mut().enumerate() {
                *b = i as u8;
            }
        }
        _ => {
            for b in mem.iter_mut() {
                *b = u.arbitrary()?;
            }
        }
    }
    Ok(mem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_shifts_stay_below_the_width() {
        // SEMANTICS.md: an immediate shift >= width is refused by the kernel.
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut u = Unstructured::new(&data);
        for _ in 0..500 {
            let s32 = valid_shift(&mut u, 32).unwrap();
            let s64 = valid_shift(&mut u, 64).unwrap();
            assert!((0..32).contains(&s32) && (0..64).contains(&s64));
        }
    }

    #[test]
    fn divisors_are_never_zero_even_without_data() {
        let mut u = Unstructured::new(&[]);
        assert_ne!(nonzero_divisor(&mut u).unwrap(), 0);
        let data = [0u8; 64];
        let mut u = Unstructured::new(&data);
        for _ in 0..10 {
            assert_ne!(nonzero_divisor(&mut u).unwrap(), 0);
        }
    }
}
