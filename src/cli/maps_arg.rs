//! `--maps FILE`: map definitions as JSON (docs/program-types.md, "Maps"),
//! the command-line form of a `.data` file's `-- maps`:
//!
//! ```json
//! [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 4,
//!   "elements": [{"key": "01000000", "value": "2a00000000000000"}]}]
//! ```
//!
//! Map `i` is `ld_imm64 src=1 imm=i`. Keys and values are hex bytes; a
//! `prog_array` element's value is `"self"` (the program itself).

use anyhow::anyhow;
use bpfdiff::hex::parse_hex_bytes;
use bpfdiff_engine::maps::text::{SELF, SELF_INDEX};
use bpfdiff_engine::maps::{MapDef, MapType};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonElement {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonMap {
    #[serde(rename = "type")]
    map_type: String,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    #[serde(default)]
    elements: Vec<JsonElement>,
}

/// Reads the maps of `path`; every error names the file (and, for JSON
/// syntax, the line and column).
pub fn read_maps_file(path: &Path) -> anyhow::Result<Vec<MapDef>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
    parse_maps_json(&text).map_err(|e| {
        // A JSON syntax error starts with its `line:column:`.
        let sep = if e.to_string().starts_with(|c: char| c.is_ascii_digit()) {
            ":"
        } else {
            ": "
        };
        anyhow!("{}{sep}{e}", path.display())
    })
}

/// Parses the JSON form; errors name the JSON line or the map.
pub fn parse_maps_json(text: &str) -> anyhow::Result<Vec<MapDef>> {
    let maps: Vec<JsonMap> = serde_json::from_str(text)
        .map_err(|e| anyhow!("{}:{}: invalid maps: {e}", e.line(), e.column()))?;
    if maps.len() > bpfdiff_engine::maps::def::MAX_MAPS {
        return Err(anyhow!(
            "more than {} maps (the kernel's MAX_USED_MAPS)",
            bpfdiff_engine::maps::def::MAX_MAPS
        ));
    }
    let mut out = Vec::new();
    for (i, m) in maps.into_iter().enumerate() {
        let map_type = MapType::parse(&m.map_type).ok_or_else(|| {
            anyhow!(
                "map {i}: unknown map type `{}` (known: array, hash, percpu_array, lru_hash, prog_array)",
                m.map_type
            )
        })?;
        let mut def = MapDef::new(map_type, m.key_size, m.value_size, m.max_entries);
        for (j, e) in m.elements.iter().enumerate() {
            let hex = |t: &str, what: &str| {
                parse_hex_bytes(t).map_err(|h| {
                    anyhow!(
                        "map {i} element {j}: {what}: column {}: {}",
                        h.column,
                        h.kind
                    )
                })
            };
            // A prog_array's value is the test's program (`self`).
            let value = if map_type == MapType::ProgArray {
                if e.value.trim() != SELF {
                    return Err(anyhow!(
                        "map {i} element {j}: a prog_array element's value is `{SELF}` (the program), not `{}`",
                        e.value
                    ));
                }
                SELF_INDEX.to_le_bytes().to_vec()
            } else {
                hex(&e.value, "value")?
            };
            def.elements.push((hex(&e.key, "key")?, value));
        }
        def.validate().map_err(|e| anyhow!("map {i}: {e}"))?;
        out.push(def);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_json_form() {
        let maps = parse_maps_json(
            r#"[{"type": "array", "key_size": 4, "value_size": 2, "max_entries": 2,
                "elements": [{"key": "01000000", "value": "aabb"}]}]"#,
        )
        .unwrap();
        assert_eq!(maps[0].elements, vec![(vec![1, 0, 0, 0], vec![0xaa, 0xbb])]);
    }

    #[test]
    fn bad_maps_are_one_line_errors() {
        let e = parse_maps_json("[{\"type\": \"array\",\n \"key_size\": 4}]").unwrap_err();
        assert!(e.to_string().starts_with("2:"), "{e}");
        let e = parse_maps_json(
            r#"[{"type": "ringbuf", "key_size": 4, "value_size": 2, "max_entries": 2}]"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown map type"), "{e}");
        let e = parse_maps_json(
            r#"[{"type": "array", "key_size": 8, "value_size": 2, "max_entries": 2}]"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("key_size must be 4"), "{e}");
        let e = parse_maps_json(
            r#"[{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 2,
                "elements": [{"key": "00000000", "value": "00000000"}]}]"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`self`"), "{e}");
    }

    #[test]
    fn a_prog_array_slot_holds_self() {
        let maps = parse_maps_json(
            r#"[{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 2,
                "elements": [{"key": "01000000", "value": "self"}]}]"#,
        )
        .unwrap();
        assert_eq!(maps[0].map_type, MapType::ProgArray);
        assert_eq!(maps[0].elements, vec![(vec![1, 0, 0, 0], vec![0; 4])]);
    }
}
