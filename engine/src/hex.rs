//! Hex text for input memory, the one reader shared by `--mem aabb11`,
//! `--mem "aa bb 11"`, `--mem 0xaabb`, `--mem-file` files, the `-- mem`
//! section of `.data` files and the plugin protocol: bytes as pairs of hex
//! digits, in written order, grouped into tokens separated by blanks or
//! commas, over several lines, `#` starting a comment. A token may start
//! with `0x` (or `0X`); the prefix is dropped and the digits are still read
//! as bytes in written order (`0xaabb` is `aa bb`, not a number).

use std::fmt::Write as _;
use thiserror::Error;

/// What is wrong with a piece of hex text.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HexErrorKind {
    /// A character that is neither a hex digit, a blank nor a comment start.
    #[error("`{found}` is not a hex digit")]
    BadDigit {
        /// The offending character.
        found: char,
    },
    /// A run of hex digits with an odd length: one byte is missing a digit.
    #[error("`{token}` has an odd number of hex digits (each byte takes two)")]
    OddDigits {
        /// The run of digits as written.
        token: String,
    },
}

/// A hex parse error with the 1-based line and column (in characters) where
/// the problem starts.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct HexError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column of the offending character or run of digits.
    pub column: usize,
    /// What is wrong.
    pub kind: HexErrorKind,
}

/// Parses hex bytes: tokens separated by blanks or commas, each an optional
/// `0x`/`0X` prefix followed by an even number of hex digits (upper or lower
/// case), read two digits per byte in written order; `#` comments out the
/// rest of its line. Empty text gives no bytes.
pub fn parse_hex_bytes(text: &str) -> Result<Vec<u8>, HexError> {
    let mut bytes = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        let line_number = line_index + 1;
        let code = match line.find('#') {
            Some(at) => &line[..at],
            None => line,
        };
        // Columns count characters, so they are right for non-ASCII text too.
        let chars: Vec<char> = code.chars().collect();
        let mut at = 0;
        while at < chars.len() {
            if is_separator(chars[at]) {
                at += 1;
                continue;
            }
            let start = at;
            while at < chars.len() && !is_separator(chars[at]) {
                at += 1;
            }
            let token = &chars[start..at];
            let prefixed = token.len() > 2 && token[0] == '0' && matches!(token[1], 'x' | 'X');
            let digits_at = if prefixed { start + 2 } else { start };
            let digits = &chars[digits_at..at];
            if let Some(bad) = digits.iter().position(|c| !c.is_ascii_hexdigit()) {
                return Err(HexError {
                    line: line_number,
                    column: digits_at + bad + 1,
                    kind: HexErrorKind::BadDigit { found: digits[bad] },
                });
            }
            let run: String = digits.iter().collect();
            push_run(&run, line_number, start + 1, &mut bytes)?;
        }
    }
    Ok(bytes)
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == ','
}

fn push_run(run: &str, line: usize, column: usize, bytes: &mut Vec<u8>) -> Result<(), HexError> {
    if run.len() % 2 == 1 {
        return Err(HexError {
            line,
            column,
            kind: HexErrorKind::OddDigits {
                token: run.to_string(),
            },
        });
    }
    for pair in run.as_bytes().chunks_exact(2) {
        bytes.push((hex_value(pair[0]) << 4) | hex_value(pair[1]));
    }
    Ok(())
}

/// The value of an ASCII hex digit (the caller checked it is one).
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// Formats bytes as lower-case hex with no separators (`aabb11`).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_packed_and_multiline_forms() {
        assert_eq!(parse_hex_bytes("aa bb 11").unwrap(), [0xaa, 0xbb, 0x11]);
        assert_eq!(parse_hex_bytes("AABB11").unwrap(), [0xaa, 0xbb, 0x11]);
        assert_eq!(
            parse_hex_bytes("# header\n00 01 # two bytes\n\n0203\n").unwrap(),
            [0, 1, 2, 3]
        );
        assert_eq!(parse_hex_bytes("de,ad").unwrap(), [0xde, 0xad]);
        assert!(parse_hex_bytes("").unwrap().is_empty());
        assert!(parse_hex_bytes("  \n# only a comment").unwrap().is_empty());
    }

    #[test]
    fn bad_digit_names_line_and_column() {
        let e = parse_hex_bytes("aa bg").unwrap_err();
        assert_eq!(
            e,
            HexError {
                line: 1,
                column: 5,
                kind: HexErrorKind::BadDigit { found: 'g' }
            }
        );
        assert_eq!(e.to_string(), "line 1, column 5: `g` is not a hex digit");
        // `0x` alone, or in the middle of a token, is not hex.
        let e = parse_hex_bytes("00\n0x").unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
        let e = parse_hex_bytes("aa0x12").unwrap_err();
        assert_eq!((e.line, e.column), (1, 4));
        // Columns count characters, not bytes.
        let e = parse_hex_bytes("é").unwrap_err();
        assert_eq!(e.column, 1);
    }

    #[test]
    fn a_0x_prefix_is_dropped_and_bytes_keep_their_written_order() {
        assert_eq!(parse_hex_bytes("0xaabb").unwrap(), [0xaa, 0xbb]);
        assert_eq!(parse_hex_bytes("0XAA 0x11,22").unwrap(), [0xaa, 0x11, 0x22]);
        let e = parse_hex_bytes("0xabc").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        assert!(matches!(e.kind, HexErrorKind::OddDigits { .. }));
    }

    #[test]
    fn odd_run_names_its_start() {
        let e = parse_hex_bytes("aa bbc dd").unwrap_err();
        assert_eq!((e.line, e.column), (1, 4));
        assert_eq!(
            e.kind,
            HexErrorKind::OddDigits {
                token: "bbc".into()
            }
        );
    }

    #[test]
    fn to_hex_roundtrips() {
        let bytes = [0x00, 0x7f, 0x80, 0xff];
        assert_eq!(to_hex(&bytes), "007f80ff");
        assert_eq!(parse_hex_bytes(&to_hex(&bytes)).unwrap(), bytes);
    }
}
