//! Map contents after a run, as an aspect of the comparison
//! (docs/program-types.md, "Maps"): key by key, value byte by value byte.
//!
//! What is never compared: value bytes the engine marks pointer-derived
//! (a program stored an address there), and which keys an LRU map holds
//! once it evicted (the kernel's LRU is approximate: per-CPU free lists
//! and reference bits); then only the number of elements is compared.
//! A `prog_array`'s slots are not an aspect at all: a program cannot
//! change them (the verifier lets only `bpf_tail_call` take one), and the
//! kernel reads a slot back to user space as a program id, not as the
//! program the test named; both sides give it no elements.

use bpfdiff_engine::hex::to_hex;
use bpfdiff_engine::maps::{MapSet, MapState, MapType};

/// One element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Per value byte: pointer-derived (never compared). Empty: none is.
    pub derived: Vec<bool>,
}

/// One map's contents after a run, elements sorted by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapContents {
    /// The elements.
    pub elements: Vec<Element>,
    /// True when which keys are present is not comparable (LRU eviction).
    pub keys_opaque: bool,
}

impl MapContents {
    /// The engine's view of `map`.
    pub fn of_engine(map: &MapState) -> MapContents {
        if map.def.map_type == MapType::ProgArray {
            return MapContents::default();
        }
        MapContents {
            elements: map
                .contents()
                .into_iter()
                .map(|(k, v, marks)| Element {
                    key: k.to_vec(),
                    value: v.to_vec(),
                    derived: if marks.iter().any(|&m| m != 0) {
                        marks.iter().map(|&m| m != 0).collect()
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
            keys_opaque: map.evicted,
        }
    }

    /// The engine's view of every map of `set`.
    pub fn of_engine_set(set: &MapSet) -> Vec<MapContents> {
        set.maps.iter().map(MapContents::of_engine).collect()
    }
}

/// The differences between two runs' maps, one line per difference
/// (`map 0 key 01000000: value 2a00… vs 0700…`); empty when they agree.
pub fn diff_maps(a: &[MapContents], b: &[MapContents]) -> Vec<String> {
    let mut out = Vec::new();
    if a.len() != b.len() {
        out.push(format!("{} maps vs {}", a.len(), b.len()));
        return out;
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x.keys_opaque || y.keys_opaque {
            if x.elements.len() != y.elements.len() {
                out.push(format!(
                    "map {i}: {} elements vs {} (keys opaque after LRU eviction)",
                    x.elements.len(),
                    y.elements.len()
                ));
            }
            continue;
        }
        for e in &x.elements {
            match y.elements.iter().find(|f| f.key == e.key) {
                None => out.push(format!("map {i} key {}: only in the first", to_hex(&e.key))),
                Some(f) => {
                    let differs = e.value.len() != f.value.len()
                        || e.value.iter().zip(&f.value).enumerate().any(|(j, (p, q))| {
                            p != q
                                && !e.derived.get(j).copied().unwrap_or(false)
                                && !f.derived.get(j).copied().unwrap_or(false)
                        });
                    if differs {
                        out.push(format!(
                            "map {i} key {}: value {} vs {}",
                            to_hex(&e.key),
                            to_hex(&e.value),
                            to_hex(&f.value)
                        ));
                    }
                }
            }
        }
        for f in &y.elements {
            if !x.elements.iter().any(|e| e.key == f.key) {
                out.push(format!(
                    "map {i} key {}: only in the second",
                    to_hex(&f.key)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(k: u8, v: &[u8], derived: Vec<bool>) -> Element {
        Element {
            key: vec![k],
            value: v.to_vec(),
            derived,
        }
    }

    #[test]
    fn compares_key_by_key_skipping_derived_bytes() {
        let a = vec![MapContents {
            elements: vec![el(1, &[1, 2], vec![]), el(2, &[3, 4], vec![true, false])],
            keys_opaque: false,
        }];
        let mut b = a.clone();
        b[0].elements[1].value[0] = 9;
        b[0].elements[1].derived.clear();
        assert!(
            diff_maps(&a, &b).is_empty(),
            "a derived byte is not compared"
        );
        b[0].elements[0].value[1] = 7;
        assert_eq!(diff_maps(&a, &b), vec!["map 0 key 01: value 0102 vs 0107"]);
        b[0].elements.pop();
        assert_eq!(diff_maps(&a, &b).len(), 2);
        b[0].keys_opaque = true;
        assert_eq!(diff_maps(&a, &b).len(), 1, "only the count");
    }
}
