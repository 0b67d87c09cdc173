//! The fuzz targets' dictionaries (`fuzz/dict/`) and minimized corpora
//! (`corpus/fuzz/`), which `scripts/fuzz.sh` passes to libFuzzer.

use bpfdiff_engine::opcode;
use std::path::Path;

const TARGETS: [&str; 5] = [
    "diff",
    "interp_vs_jit",
    "kernel",
    "parsers",
    "verifier_soundness",
];

/// The values of a libFuzzer dictionary: `[name=]"value"` lines with `\\`,
/// `\"` and `\xAB` escapes, `#` comments and blank lines; anything else is
/// an error naming the line.
fn dict_entries(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |m: &str| format!("line {}: {m}: {line}", i + 1);
        let (name, quoted) = match line.find('"') {
            Some(0) => ("", line),
            Some(q) if line[..q].ends_with('=') => (&line[..q - 1], &line[q..]),
            _ => return Err(err("expected [name=]\"value\"")),
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err("bad name"));
        }
        let body = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .ok_or_else(|| err("unterminated value"))?;
        let mut bytes = Vec::new();
        let mut it = body.bytes();
        while let Some(b) = it.next() {
            if b != b'\\' {
                bytes.push(b);
                continue;
            }
            match it.next() {
                Some(b'\\') => bytes.push(b'\\'),
                Some(b'"') => bytes.push(b'"'),
                Some(b'x') => {
                    let hex: Vec<u8> = it.by_ref().take(2).collect();
                    let hex = std::str::from_utf8(&hex).map_err(|_| err("bad \\x"))?;
                    bytes.push(u8::from_str_radix(hex, 16).map_err(|_| err("bad \\x"))?);
                }
                _ => return Err(err("unknown escape")),
            }
        }
        out.push((name.to_string(), bytes));
    }
    Ok(out)
}

#[test]
fn every_target_has_a_dictionary_libfuzzer_can_read() {
    for t in TARGETS {
        let path = format!("fuzz/dict/{t}.dict");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let entries = dict_entries(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            entries.len() >= 20,
            "{path}: only {} entries",
            entries.len()
        );
    }
}

/// Every `slot_*` entry of the case targets' dictionaries is one 8-byte
/// instruction slot (RFC 9669 §3: opcode, dst|src<<4, off, imm) that names a
/// row of the opcode table (the second half of `ld_imm64`, `*_hi`, is data).
#[test]
fn dictionary_slots_are_rows_of_the_opcode_table() {
    for t in ["diff", "interp_vs_jit", "kernel", "verifier_soundness"] {
        let path = format!("fuzz/dict/{t}.dict");
        let text = std::fs::read_to_string(&path).expect("dictionary");
        let entries = dict_entries(&text).expect("readable");
        let slots: Vec<_> = entries
            .iter()
            .filter(|(n, _)| n.starts_with("slot_") && !n.ends_with("_hi"))
            .collect();
        assert!(slots.len() >= 30, "{path}: {} slots", slots.len());
        for (name, b) in slots {
            assert_eq!(b.len(), 8, "{path}: {name} is not one slot");
            let off = i16::from_le_bytes([b[2], b[3]]);
            let imm = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            assert!(
                opcode::lookup(b[0], b[1] >> 4, off, imm).is_some(),
                "{path}: {name} ({b:02x?}) is no row of the opcode table"
            );
        }
    }
}

/// The committed corpora are minimized (`cargo fuzz cmin`) and small.
#[test]
fn committed_corpora_are_small() {
    for t in TARGETS {
        let dir = Path::new("corpus/fuzz").join(t);
        let mut files = 0;
        let mut bytes = 0;
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let meta = e.expect("entry").metadata().expect("metadata");
            assert!(meta.is_file(), "{}: only files", dir.display());
            files += 1;
            bytes += meta.len();
        }
        assert!(files > 0, "{}: empty", dir.display());
        assert!(bytes < 1 << 20, "{}: {bytes} bytes", dir.display());
    }
}
