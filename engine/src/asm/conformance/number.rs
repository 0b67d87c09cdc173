//! Numbers in the bpf_conformance dialect: parsing with upstream's rules and
//! printing in a form that parses back to the same bits.
//!
//! Upstream's rules (`bpf_assembler.cc`): a token containing `0x` is
//! hexadecimal and read as an unsigned 64-bit number (a leading `-` negates it
//! modulo 2^64, as `strtoull` does); any other token is a signed decimal.
//! A hex immediate must fit 32 unsigned bits, a hex offset 16 unsigned bits;
//! decimal ones must fit the signed field. `lddw` takes any 64-bit hex value,
//! a negative decimal that fits `i64`, or a positive decimal that fits `u64`.
//! Unlike upstream, a token with trailing garbage (`5abc`) is refused rather
//! than read up to the garbage.

use crate::asm::AsmErrorKind;

/// A numeric token, read but not yet fitted to a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Literal {
    /// A `0x` token: its value modulo 2^64 (negated if written with `-`).
    Hex(u64),
    /// A decimal token with its sign.
    Dec(i128),
}

fn bad(token: &str, reason: impl Into<String>) -> AsmErrorKind {
    AsmErrorKind::BadNumber {
        token: token.to_string(),
        reason: reason.into(),
    }
}

fn read_literal(token: &str) -> Result<Literal, AsmErrorKind> {
    let (negative, digits) = match token.as_bytes().first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    if let Some(hex) = digits.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(token, "expected hex digits after 0x"));
        }
        let value = u64::from_str_radix(hex, 16).map_err(|_| bad(token, "does not fit 64 bits"))?;
        return Ok(Literal::Hex(if negative {
            value.wrapping_neg()
        } else {
            value
        }));
    }
    if token.contains("0x") {
        return Err(bad(token, "malformed hex number"));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(token, "not a number"));
    }
    // Anything longer than 30 digits is out of every field's range; this also
    // keeps the i128 parse from overflowing.
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 30 {
        return Err(bad(token, "too large"));
    }
    let magnitude: i128 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().map_err(|_| bad(token, "not a number"))?
    };
    Ok(Literal::Dec(if negative { -magnitude } else { magnitude }))
}

/// A 32-bit immediate (hex: unsigned, must fit 32 bits; decimal: `i32`).
pub(super) fn imm32(token: &str) -> Result<i32, AsmErrorKind> {
    match read_literal(token)? {
        Literal::Hex(v) => u32::try_from(v)
            .map(|v| v as i32)
            .map_err(|_| bad(token, "hex immediate does not fit 32 bits")),
        Literal::Dec(v) => {
            i32::try_from(v).map_err(|_| bad(token, "immediate out of the signed 32-bit range"))
        }
    }
}

/// A 16-bit offset (hex: unsigned, must fit 16 bits; decimal: `i16`).
pub(super) fn offset16(token: &str) -> Result<i16, AsmErrorKind> {
    match read_literal(token)? {
        Literal::Hex(v) => u16::try_from(v)
            .map(|v| v as i16)
            .map_err(|_| bad(token, "hex offset does not fit 16 bits")),
        Literal::Dec(v) => {
            i16::try_from(v).map_err(|_| bad(token, "offset out of the signed 16-bit range"))
        }
    }
}

/// The 64-bit value of `lddw` (hex: any u64; decimal: `i64` if negative, else `u64`).
pub(super) fn imm64(token: &str) -> Result<u64, AsmErrorKind> {
    match read_literal(token)? {
        Literal::Hex(v) => Ok(v),
        Literal::Dec(v) if v < 0 => i64::try_from(v)
            .map(|v| v as u64)
            .map_err(|_| bad(token, "out of the signed 64-bit range")),
        Literal::Dec(v) => u64::try_from(v).map_err(|_| bad(token, "does not fit 64 bits")),
    }
}

/// Prints an immediate the way upstream's disassembler does: negative and
/// small values in decimal, others as unsigned 32-bit hex. Both forms parse
/// back through [`imm32`] to the same bits.
pub(super) fn format_imm(imm: i32) -> String {
    if (-10..=10).contains(&imm) || (imm < 0 && imm != i32::MIN) {
        imm.to_string()
    } else {
        format!("0x{:x}", imm as u32)
    }
}

/// Prints a relative jump or call target: `+N` or `-N`.
pub(super) fn format_relative(rel: i64) -> String {
    if rel >= 0 {
        format!("+{rel}")
    } else {
        rel.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_unsigned_and_must_fit_the_field() {
        assert_eq!(imm32("0xffffffff"), Ok(-1));
        assert_eq!(imm32("0x80000000"), Ok(i32::MIN));
        assert!(imm32("0x100000000").is_err());
        assert!(imm32("-0x1").is_err(), "negated hex wraps past 32 bits");
        assert_eq!(imm32("-0x0"), Ok(0));
        assert_eq!(offset16("0xffff"), Ok(-1));
        assert!(offset16("0x10000").is_err());
        assert!(offset16("-0x8").is_err());
        assert_eq!(offset16("+0x8"), Ok(8));
    }

    #[test]
    fn decimal_is_signed() {
        assert_eq!(imm32("-2147483648"), Ok(i32::MIN));
        assert!(imm32("2147483648").is_err());
        assert!(imm32("4294967295").is_err());
        assert_eq!(offset16("-32768"), Ok(i16::MIN));
        assert!(offset16("32768").is_err());
        assert_eq!(imm32("+7"), Ok(7));
        assert_eq!(imm32("007"), Ok(7));
    }

    #[test]
    fn imm64_accepts_u64_hex_and_i64_or_u64_decimal() {
        assert_eq!(imm64("0xffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(imm64("-0x1"), Ok(u64::MAX), "strtoull negates modulo 2^64");
        assert_eq!(imm64("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(imm64("-1"), Ok(u64::MAX));
        assert_eq!(imm64("-9223372036854775808"), Ok(1 << 63));
        assert!(imm64("-9223372036854775809").is_err());
        assert!(imm64("18446744073709551616").is_err());
        assert!(imm64("0x10000000000000000").is_err());
    }

    #[test]
    fn garbage_is_refused() {
        for t in [
            "", "-", "+", "0x", "5abc", "1x0", "10x5", "0X10", "0xg", "--1", "1e3", "abc", "%r1",
            "0x-1",
        ] {
            assert!(imm32(t).is_err(), "{t:?}");
            assert!(imm64(t).is_err(), "{t:?}");
        }
        assert!(imm64(&"9".repeat(100)).is_err());
        assert_eq!(imm64(&format!("{}1", "0".repeat(100))), Ok(1));
    }

    #[test]
    fn formatted_immediates_parse_back() {
        for v in [
            0,
            1,
            10,
            11,
            -1,
            -10,
            -11,
            i32::MIN,
            i32::MAX,
            0x1234,
            -0x1234,
        ] {
            assert_eq!(imm32(&format_imm(v)), Ok(v), "{v}");
        }
        assert_eq!(format_imm(255), "0xff");
        assert_eq!(format_imm(-5), "-5");
        assert_eq!(format_relative(3), "+3");
        assert_eq!(format_relative(-3), "-3");
    }
}
