//! Serde support for 64-bit values as hex strings (`"0xffffffffffffffff"`).
//!
//! JSON numbers are IEEE doubles for most readers (JavaScript, `jq`,
//! Python's `json` with floats), so integers above 2^53 come back rounded.
//! Every 64-bit value bpfdiff writes as JSON (r0, registers, addresses) goes
//! through this module: `#[serde(with = "bpfdiff_oracle::hex_u64")]`.
//! Reading accepts the hex string, a decimal string, or a plain JSON number
//! (files written before values were hex).

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;

/// The hex text of `value`: `0x` and lower-case digits, no padding.
pub fn to_text(value: u64) -> String {
    format!("0x{value:x}")
}

/// Parses `0x…` hex or decimal text.
pub fn from_text(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// Writes `value` as a hex string.
pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&to_text(*value))
}

/// Reads a hex string, a decimal string or a non-negative integer.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(U64Visitor)
}

struct U64Visitor;

impl Visitor<'_> for U64Visitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 64-bit value as a \"0x…\" string or an integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        from_text(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct V {
        #[serde(with = "super")]
        x: u64,
    }

    #[test]
    fn writes_hex_and_reads_hex_decimal_and_numbers() {
        let max = V { x: u64::MAX };
        assert_eq!(
            serde_json::to_string(&max).unwrap(),
            r#"{"x":"0xffffffffffffffff"}"#
        );
        for text in [
            r#"{"x":"0xffffffffffffffff"}"#,
            r#"{"x":"18446744073709551615"}"#,
            r#"{"x":18446744073709551615}"#,
        ] {
            assert_eq!(serde_json::from_str::<V>(text).unwrap(), max, "{text}");
        }
        assert!(serde_json::from_str::<V>(r#"{"x":"0xg"}"#).is_err());
        assert!(serde_json::from_str::<V>(r#"{"x":-1}"#).is_err());
    }
}
