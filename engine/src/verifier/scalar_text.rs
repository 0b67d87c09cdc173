//! A scalar's text in the kernel's verifier log, both ways: printed
//! exactly as Linux 6.18's `kernel/bpf/log.c` prints a `SCALAR_VALUE`
//! register (`print_reg_state`, `print_scalar_ranges`, `tnum_strn`), and
//! parsed back.
//!
//! The kernel's rules, as facts:
//! - a scalar whose tnum is constant prints as the bare number (`7`, `-1`,
//!   `0xffffffff`), nothing else;
//! - otherwise `scalar(` + `id=N` (with `+K` when the id carries a
//!   constant offset) + the bounds that are not their defaults, in the
//!   order smin, smax, umin, umax, smin32, smax32, umin32, umax32 + the
//!   tnum as `var_off=(0xV; 0xM)` unless it is fully unknown + `)`;
//! - a bound is merged into an earlier one of the same parity in that
//!   order (`smin=umin=smin32=umin32=4`) when their values are equal and
//!   not one negative signed bound with a non-negative one;
//! - numbers are decimal when small (unsigned ≤ 65535, signed within
//!   −32768..=32767) and `0x…` hex otherwise; a 32-bit signed bound printed
//!   in hex is its 32-bit pattern (`smin32=0xf8000000`), not sign-extended;
//! - the precise mark is a `P` before the whole text.

use super::scalar::ScalarBounds;
use super::tnum::Tnum;
use std::fmt::Write as _;
use thiserror::Error;

/// What the kernel prints about a scalar besides its value set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScalarTag {
    /// The `P` mark: the verifier tracks this value precisely.
    pub precise: bool,
    /// The scalar's id (0: none), shared by registers known to be equal.
    pub id: u32,
    /// The constant offset from the scalar with `id` (`id=2+42`), if any.
    pub id_off: Option<i32>,
}

/// A scalar's text could not be parsed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("not a kernel scalar: `{text}`: {why}")]
pub struct ScalarTextError {
    /// The text.
    pub text: String,
    /// What is wrong with it.
    pub why: String,
}

fn unum_decimal(v: u64) -> bool {
    v <= u16::MAX as u64
}

fn snum_decimal(v: i64) -> bool {
    (i16::MIN as i64..=i16::MAX as i64).contains(&v)
}

/// Appends an unsigned number as the kernel's `verbose_unum` prints it.
pub fn write_unum(out: &mut String, v: u64) {
    if unum_decimal(v) {
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, "{v:#x}");
    }
}

/// Appends a signed number as the kernel's `verbose_snum` prints it.
pub fn write_snum(out: &mut String, v: i64) {
    if snum_decimal(v) {
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, "{:#x}", v as u64);
    }
}

/// The kernel's `%#llx` (which prints zero as `0x0`).
fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// The eight bounds as `print_scalar_ranges` lists them: name, value as
/// the kernel holds it for printing, and whether it is the default.
fn minmaxs(s: &ScalarBounds) -> [(&'static str, u64, bool); 8] {
    let s32 = |v: i32| -> u64 {
        if snum_decimal(v as i64) {
            v as i64 as u64
        } else {
            v as u32 as u64
        }
    };
    [
        ("smin", s.smin as u64, s.smin == i64::MIN),
        ("smax", s.smax as u64, s.smax == i64::MAX),
        ("umin", s.umin, s.umin == 0),
        ("umax", s.umax, s.umax == u64::MAX),
        ("smin32", s32(s.s32_min), s.s32_min == i32::MIN),
        ("smax32", s32(s.s32_max), s.s32_max == i32::MAX),
        ("umin32", s.u32_min as u64, s.u32_min == 0),
        ("umax32", s.u32_max as u64, s.u32_max == u32::MAX),
    ]
}

/// Appends the non-default bounds and the tnum of `s` as comma-separated
/// attributes (the part of `scalar(...)` after the id; pointers with a
/// variable offset print the same list). `sep` is what goes before the
/// first attribute ("" or ",").
pub fn write_ranges(out: &mut String, s: &ScalarBounds, mut sep: &'static str) {
    let mut m = minmaxs(s);
    for i in 0..m.len() {
        let (name, val, omit) = m[i];
        if omit {
            continue;
        }
        let signed = name.starts_with('s');
        let neg1 = signed && (val as i64) < 0;
        let _ = write!(out, "{sep}{name}=");
        sep = ",";
        let mut j = i + 2;
        while j < m.len() {
            let (n2, v2, o2) = m[j];
            let neg2 = n2.starts_with('s') && (v2 as i64) < 0;
            if !o2 && v2 == val && neg2 == neg1 {
                m[j].2 = true;
                let _ = write!(out, "{n2}=");
            }
            j += 2;
        }
        if signed {
            write_snum(out, val as i64);
        } else {
            write_unum(out, val);
        }
    }
    if !s.var_off.is_unknown() {
        let _ = write!(
            out,
            "{sep}var_off=({}; {})",
            hex(s.var_off.value),
            hex(s.var_off.mask)
        );
    }
}

/// The kernel's text of a scalar register's state (after `R3=` or
/// `fp-8=`), `P` mark included.
pub fn scalar_to_string(s: &ScalarBounds, tag: &ScalarTag) -> String {
    let mut out = String::new();
    if tag.precise {
        out.push('P');
    }
    if s.var_off.is_const() {
        write_snum(&mut out, s.var_off.value as i64);
        return out;
    }
    out.push_str("scalar(");
    let mut sep = "";
    if tag.id != 0 {
        let _ = write!(out, "id={}", tag.id);
        if let Some(off) = tag.id_off {
            let _ = write!(out, "{off:+}");
        }
        sep = ",";
    }
    write_ranges(&mut out, s, sep);
    out.push(')');
    out
}

/// Parses a number as the kernel prints it: decimal (possibly negative)
/// or `0x` hex. Returns the 64-bit pattern.
pub fn parse_num(text: &str) -> Option<u64> {
    if let Some(h) = text.strip_prefix("0x") {
        return u64::from_str_radix(h, 16).ok();
    }
    if let Some(d) = text.strip_prefix('-') {
        return d
            .parse::<u64>()
            .ok()
            .filter(|v| *v <= 1u64 << 63)
            .map(|v| v.wrapping_neg());
    }
    text.parse::<u64>().ok()
}

/// Parses `(0xV; 0xM)`.
fn parse_tnum(text: &str) -> Option<Tnum> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let (v, m) = inner.split_once("; ")?;
    Some(Tnum::new(parse_num(v)?, parse_num(m)?))
}

/// Applies `name=value` (a bound or `var_off`) to `s`. 32-bit signed
/// bounds accept both the sign-extended (decimal) and the 32-bit (hex)
/// form.
fn set_bound(s: &mut ScalarBounds, name: &str, value: &str) -> Option<()> {
    if name == "var_off" {
        s.var_off = parse_tnum(value)?;
        return Some(());
    }
    let v = parse_num(value)?;
    let fits32 = |v: u64| v <= u32::MAX as u64 || (v as i64) >= i32::MIN as i64;
    match name {
        "smin" => s.smin = v as i64,
        "smax" => s.smax = v as i64,
        "umin" => s.umin = v,
        "umax" => s.umax = v,
        "smin32" if fits32(v) => s.s32_min = v as i32,
        "smax32" if fits32(v) => s.s32_max = v as i32,
        "umin32" if v <= u32::MAX as u64 => s.u32_min = v as u32,
        "umax32" if v <= u32::MAX as u64 => s.u32_max = v as u32,
        _ => return None,
    }
    Some(())
}

/// Splits `a,b(c,d),e` at top-level commas.
pub fn split_attrs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Applies one range attribute of a list like `smin=umin=4` or
/// `var_off=(0x0; 0xff)` to `s`. Returns false when `attr` is not a range
/// attribute.
pub fn apply_range_attr(s: &mut ScalarBounds, attr: &str) -> bool {
    let Some((names, value)) = attr.rsplit_once('=') else {
        return false;
    };
    if let Some(tnum) = attr.strip_prefix("var_off=") {
        return set_bound(s, "var_off", tnum).is_some();
    }
    names.split('=').all(|n| set_bound(s, n, value).is_some())
}

/// Parses a scalar as the kernel prints it (`P` mark, bare constant or
/// `scalar(...)`). Omitted bounds take their defaults, an omitted tnum is
/// unknown.
pub fn parse_scalar(text: &str) -> Result<(ScalarBounds, ScalarTag), ScalarTextError> {
    let err = |why: &str| ScalarTextError {
        text: text.to_string(),
        why: why.to_string(),
    };
    let mut tag = ScalarTag::default();
    let mut rest = text;
    if let Some(r) = rest.strip_prefix('P') {
        tag.precise = true;
        rest = r;
    }
    if let Some(v) = parse_num(rest) {
        return Ok((ScalarBounds::constant(v), tag));
    }
    let inner = rest
        .strip_prefix("scalar(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| err("expected a number or scalar(...)"))?;
    let mut s = ScalarBounds::unknown();
    for attr in split_attrs(inner) {
        if let Some(id) = attr.strip_prefix("id=") {
            let (id, off) = match id.find(['+', '-']) {
                Some(i) => (&id[..i], Some(&id[i..])),
                None => (id, None),
            };
            tag.id = id.parse().map_err(|_| err("bad id"))?;
            tag.id_off = match off {
                Some(o) => Some(o.parse().map_err(|_| err("bad id offset"))?),
                None => None,
            };
        } else if !apply_range_attr(&mut s, attr) {
            return Err(err(&format!("unknown attribute `{attr}`")));
        }
    }
    Ok((s, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) {
        let (s, tag) = parse_scalar(text).unwrap();
        assert_eq!(scalar_to_string(&s, &tag), text);
    }

    #[test]
    fn constants_print_bare_in_decimal_or_hex() {
        // log.c verbose_snum: decimal within S16_MIN..=S16_MAX, else %#llx.
        assert_eq!(
            scalar_to_string(&ScalarBounds::constant(7), &ScalarTag::default()),
            "7"
        );
        let m1 = ScalarBounds::constant(u64::MAX);
        assert_eq!(scalar_to_string(&m1, &ScalarTag::default()), "-1");
        let big = ScalarBounds::constant(0xffff_ffff);
        assert_eq!(scalar_to_string(&big, &ScalarTag::default()), "0xffffffff");
        let tag = ScalarTag {
            precise: true,
            ..Default::default()
        };
        assert_eq!(scalar_to_string(&ScalarBounds::constant(0), &tag), "P0");
    }

    #[test]
    fn unknown_scalar_prints_empty_parentheses() {
        round_trip("scalar()");
        round_trip("scalar(id=1)");
    }

    #[test]
    fn lines_seen_in_6_18_logs_round_trip() {
        for t in [
            "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))",
            "scalar(smin=smin32=0,smax=umax=smax32=umax32=0xffff,var_off=(0x0; 0xffff))",
            "scalar(smin=smin32=-7,smax=smax32=8244)",
            "scalar(smin=0,smax=umax=0xffffffff,smin32=0xf8000000,smax32=0x7ffffff,var_off=(0x0; 0xffffffff))",
            "scalar(id=2+42,smin=umin=smin32=umin32=42,smax=umax=smax32=umax32=297,var_off=(0x0; 0x1ff))",
            "scalar(smin=umin=umin32=0x80000000,smax=umax=0xffffffff,smax32=-1,var_off=(0x80000000; 0x7fffffff))",
        ] {
            round_trip(t);
        }
    }

    #[test]
    fn negative_and_positive_bounds_are_not_merged() {
        // log.c print_scalar_ranges: "don't mix negatives with positives".
        let mut s = ScalarBounds::unknown();
        s.smin = -5;
        s.smax = 5;
        s.s32_min = -5;
        s.s32_max = 5;
        s.umin = 0;
        assert_eq!(
            scalar_to_string(&s, &ScalarTag::default()),
            "scalar(smin=smin32=-5,smax=smax32=5)"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for t in [
            "scalar(",
            "scalar(foo=1)",
            "x",
            "scalar(smin=zz)",
            "scalar(umin32=0x100000000)",
        ] {
            assert!(parse_scalar(t).is_err(), "{t}");
        }
    }
}
