//! The `-- maps` section of `.data` tests: one header line per map, in
//! index order, then its initial elements, one per line:
//!
//! ```text
//! -- maps
//! array key=4 value=8 entries=2
//! 01 00 00 00 = 2a 00 00 00 00 00 00 00
//! hash key=4 value=4 entries=8
//! 07 00 00 00 = 01 02 03 04
//! ```
//!
//! A header is a map type (`array`, `hash`, `percpu_array`, `lru_hash`,
//! `prog_array`) and `key=`, `value=`, `entries=` (decimal); an element
//! is the key's hex bytes, `=`, the value's hex bytes. Array keys are the
//! u32 index little-endian.
//!
//! A `prog_array` (key and value 4 bytes) holds programs: its element's
//! value is `self`, the test's own program (a `.data` test has one), so
//! `00 00 00 00 = self` puts the program in slot 0 for `bpf_tail_call`;
//! the slots not listed are empty. (The engine keeps `self` as the value
//! bytes `00 00 00 00`, the index of the test's only program.)

use super::def::{MapDef, MapType};
use crate::hex::{parse_hex_bytes, to_hex};

/// A `prog_array` element's value: the test's own program.
pub const SELF: &str = "self";
/// The program index `self` stands for (a test's only program).
pub const SELF_INDEX: u32 = 0;

/// A malformed line: its number (as given) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MapTextError {
    /// The line's number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

fn err(line: usize, reason: impl Into<String>) -> MapTextError {
    MapTextError {
        line,
        reason: reason.into(),
    }
}

fn parse_header(line: usize, text: &str) -> Result<Option<MapDef>, MapTextError> {
    let mut words = text.split_whitespace();
    let Some(first) = words.next() else {
        return Ok(None);
    };
    let Some(map_type) = MapType::parse(first) else {
        return Ok(None);
    };
    let (mut key, mut value, mut entries) = (None, None, None);
    for w in words {
        let (name, v) = w
            .split_once('=')
            .ok_or_else(|| err(line, format!("`{w}`: expected key=N, value=N or entries=N")))?;
        let n: u32 = v
            .parse()
            .map_err(|_| err(line, format!("`{w}`: `{v}` is not a decimal u32")))?;
        let slot = match name {
            "key" => &mut key,
            "value" => &mut value,
            "entries" => &mut entries,
            _ => {
                return Err(err(
                    line,
                    format!("`{name}`: expected key, value or entries"),
                ))
            }
        };
        if slot.replace(n).is_some() {
            return Err(err(line, format!("`{name}` given twice")));
        }
    }
    let need = |v: Option<u32>, what: &str| {
        v.ok_or_else(|| err(line, format!("{map_type} map without `{what}=`")))
    };
    Ok(Some(MapDef::new(
        map_type,
        need(key, "key")?,
        need(value, "value")?,
        need(entries, "entries")?,
    )))
}

/// Parses the numbered lines of a `-- maps` section; every error names
/// its line.
pub fn parse_maps(lines: &[(usize, &str)]) -> Result<Vec<MapDef>, MapTextError> {
    let mut maps: Vec<MapDef> = Vec::new();
    let mut header_lines = Vec::new();
    let mut element_lines: Vec<Vec<usize>> = Vec::new();
    for &(line, text) in lines {
        if let Some(def) = parse_header(line, text)? {
            maps.push(def);
            header_lines.push(line);
            element_lines.push(Vec::new());
            continue;
        }
        let Some(map) = maps.last_mut() else {
            return Err(err(
                line,
                format!(
                    "expected a map header (`array|hash|percpu_array|lru_hash|prog_array key=N value=N entries=N`), found `{}`",
                    text.trim()
                ),
            ));
        };
        let (k, v) = text
            .split_once('=')
            .ok_or_else(|| err(line, "expected an element `KEY HEX = VALUE HEX`"))?;
        let hex = |t: &str, what: &str| {
            parse_hex_bytes(t)
                .map_err(|e| err(line, format!("{what}: column {}: {}", e.column, e.kind)))
        };
        let value = if map.map_type == MapType::ProgArray {
            if v.trim() != SELF {
                return Err(err(
                    line,
                    format!(
                        "a prog_array element's value is `{SELF}` (the test's program), not `{}`",
                        v.trim()
                    ),
                ));
            }
            SELF_INDEX.to_le_bytes().to_vec()
        } else {
            hex(v, "value")?
        };
        map.elements.push((hex(k, "key")?, value));
        element_lines.last_mut().expect("a map").push(line);
    }
    if maps.len() > super::def::MAX_MAPS {
        return Err(err(
            header_lines[super::def::MAX_MAPS],
            format!(
                "more than {} maps (the kernel's MAX_USED_MAPS)",
                super::def::MAX_MAPS
            ),
        ));
    }
    for (i, m) in maps.iter().enumerate() {
        if let Err(e) = m.validate() {
            let line = match e {
                super::def::MapDefError::ElementSize { index, .. }
                | super::def::MapDefError::IndexOutOfRange { index, .. }
                | super::def::MapDefError::Element { index, .. } => element_lines[i][index],
                _ => header_lines[i],
            };
            return Err(err(line, format!("map {i}: {e}")));
        }
    }
    Ok(maps)
}

/// Writes maps in the `-- maps` format (without the header line).
pub fn write_maps(maps: &[MapDef]) -> String {
    let mut out = String::new();
    for m in maps {
        out.push_str(&format!(
            "{} key={} value={} entries={}\n",
            m.map_type, m.key_size, m.value_size, m.max_entries
        ));
        for (k, v) in &m.elements {
            let value = if m.map_type == MapType::ProgArray {
                SELF.to_string()
            } else {
                to_hex(v)
            };
            out.push_str(&format!("{} = {value}\n", to_hex(k)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(text: &str) -> Vec<(usize, &str)> {
        text.lines().enumerate().map(|(i, l)| (i + 10, l)).collect()
    }

    #[test]
    fn reads_and_writes_maps() {
        let text = "array key=4 value=2 entries=3\n01 00 00 00 = aa bb\nlru_hash key=1 value=1 entries=1\n";
        let maps = parse_maps(&numbered(text)).unwrap();
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[0].elements, vec![(vec![1, 0, 0, 0], vec![0xaa, 0xbb])]);
        assert_eq!(maps[1].map_type, MapType::LruHash);
        let again = write_maps(&maps);
        assert_eq!(parse_maps(&numbered(&again)).unwrap(), maps);
    }

    #[test]
    fn prog_array_slots_hold_self() {
        let text = "prog_array key=4 value=4 entries=4\n02 00 00 00 = self\n";
        let maps = parse_maps(&numbered(text)).unwrap();
        assert_eq!(maps[0].map_type, MapType::ProgArray);
        assert_eq!(maps[0].elements, vec![(vec![2, 0, 0, 0], vec![0; 4])]);
        let again = write_maps(&maps);
        assert!(again.ends_with(" = self\n"), "{again}");
        assert_eq!(parse_maps(&numbered(&again)).unwrap(), maps);
    }

    #[test]
    fn errors_name_their_line() {
        let e = parse_maps(&numbered("01 = 02\n")).unwrap_err();
        assert_eq!(e.line, 10);
        let e = parse_maps(&numbered("hash key=4 value=4\n")).unwrap_err();
        assert!(e.reason.contains("entries"), "{e}");
        let e = parse_maps(&numbered(
            "array key=4 value=1 entries=1\n00 00 00 00 = 01 02\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, 11, "{e}");
        let e = parse_maps(&numbered("array key=8 value=1 entries=1\n")).unwrap_err();
        assert_eq!(e.line, 10);
        assert!(e.reason.contains("key_size must be 4"), "{e}");
        let e = parse_maps(&numbered("hash key=4 value=4 entries=x\n")).unwrap_err();
        assert!(e.reason.contains("decimal"), "{e}");
        let e = parse_maps(&numbered(
            "prog_array key=4 value=4 entries=2\n00 00 00 00 = 01 00 00 00\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, 11, "{e}");
        assert!(e.reason.contains("`self`"), "{e}");
        let e = parse_maps(&numbered("prog_array key=4 value=8 entries=2\n")).unwrap_err();
        assert!(e.reason.contains("value_size must be 4"), "{e}");
        let many = "hash key=4 value=4 entries=1\n".repeat(65);
        let e = parse_maps(&numbered(&many)).unwrap_err();
        assert_eq!(e.line, 74, "{e}");
    }
}
