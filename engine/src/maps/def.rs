//! A map's definition and the kernel's checks of it.

use std::fmt;

/// The map types the engine implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapType {
    /// `BPF_MAP_TYPE_ARRAY`: `max_entries` zeroed values indexed by a u32
    /// key; elements cannot be deleted.
    Array,
    /// `BPF_MAP_TYPE_HASH`: at most `max_entries` elements by key.
    Hash,
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`: an array per CPU; the engine has one
    /// CPU (the kernel backend runs on CPU 0 and compares its copy).
    PercpuArray,
    /// `BPF_MAP_TYPE_LRU_HASH`: a hash that evicts an element when full.
    LruHash,
    /// `BPF_MAP_TYPE_PROG_ARRAY`: `max_entries` slots indexed by a u32
    /// key, each empty or holding a program, for `bpf_tail_call`. A
    /// `.data` test has one program, so a filled slot holds that program
    /// itself (written `self`); a program cannot read or write the slots.
    ProgArray,
}

impl MapType {
    /// Every type.
    pub const ALL: [MapType; 5] = [
        MapType::Array,
        MapType::Hash,
        MapType::PercpuArray,
        MapType::LruHash,
        MapType::ProgArray,
    ];

    /// The kernel's name without `BPF_MAP_TYPE_`, lower case.
    pub fn name(self) -> &'static str {
        match self {
            MapType::Array => "array",
            MapType::Hash => "hash",
            MapType::PercpuArray => "percpu_array",
            MapType::LruHash => "lru_hash",
            MapType::ProgArray => "prog_array",
        }
    }

    /// Parses a name (`array`, `BPF_MAP_TYPE_ARRAY`, any case).
    pub fn parse(name: &str) -> Option<MapType> {
        let lower = name.trim().to_ascii_lowercase();
        let bare = lower.strip_prefix("bpf_map_type_").unwrap_or(&lower);
        MapType::ALL.into_iter().find(|t| t.name() == bare)
    }

    /// The `enum bpf_map_type` value (include/uapi/linux/bpf.h).
    pub fn kernel_id(self) -> u32 {
        match self {
            MapType::Hash => 1,
            MapType::Array => 2,
            MapType::PercpuArray => 6,
            MapType::LruHash => 9,
            MapType::ProgArray => 3,
        }
    }

    /// True for the array types (u32 index keys, every element exists).
    pub fn is_array(self) -> bool {
        matches!(self, MapType::Array | MapType::PercpuArray)
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The largest value size and entry count the engine accepts (its map
/// value addresses give each value 64 KiB and each map 64 Ki elements).
pub const MAX_VALUE_SIZE: u32 = 1 << 16;
/// See [`MAX_VALUE_SIZE`].
pub const MAX_ENTRIES: u32 = 1 << 16;
/// The most maps a program may use (the kernel's `MAX_USED_MAPS`).
pub const MAX_MAPS: usize = 64;

/// The largest key size (the kernel's `MAX_BPF_STACK`-bounded keys are
/// at most 512 bytes: a key must fit on the stack to be passed).
pub const MAX_KEY_SIZE: u32 = 512;

/// One map: its shape and initial contents.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapDef {
    /// The type.
    pub map_type: MapType,
    /// Key bytes.
    pub key_size: u32,
    /// Value bytes.
    pub value_size: u32,
    /// Maximum number of elements.
    pub max_entries: u32,
    /// Initial contents as `(key, value)` pairs, in order (array elements
    /// not listed are zero).
    pub elements: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A definition the kernel (or the engine) refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapDefError {
    /// An array map's key is not 4 bytes (`array_map_alloc_check`: -EINVAL).
    #[error("an {0} map's key_size must be 4 (array_map_alloc_check), not {1}")]
    ArrayKeySize(MapType, u32),
    /// A prog_array's value is not 4 bytes (`fd_array_map_alloc_check`:
    /// -EINVAL; the value user space writes is a program fd).
    #[error("a prog_array map's value_size must be 4 (fd_array_map_alloc_check), not {0}")]
    ProgArrayValueSize(u32),
    /// A size or count is 0 (the kernel's `*_alloc_check`: -EINVAL).
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// A size beyond what the engine models.
    #[error("{what} {value} is above the engine's limit {limit}")]
    TooLarge {
        /// Which field.
        what: &'static str,
        /// Its value.
        value: u32,
        /// The limit.
        limit: u32,
    },
    /// An element's key or value has the wrong length.
    #[error("element {index}: {what} has {len} bytes, the map's {what}_size is {size}")]
    ElementSize {
        /// The element's index in the list.
        index: usize,
        /// `key` or `value`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The map's size.
        size: u32,
    },
    /// An array element's index is not below `max_entries`.
    #[error("element {index}: array index {key} is not below max_entries {max}")]
    IndexOutOfRange {
        /// The element's index in the list.
        index: usize,
        /// The key.
        key: u32,
        /// The map's `max_entries`.
        max: u32,
    },
    /// More elements than `max_entries`, or a key given twice.
    #[error("element {index}: {reason}")]
    Element {
        /// The element's index in the list.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl MapDef {
    /// An empty map of `map_type`.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
        MapDef {
            map_type,
            key_size,
            value_size,
            max_entries,
            elements: Vec::new(),
        }
    }

    /// Checks the shape as the kernel's `map_alloc_check` does and the
    /// initial contents against it.
    pub fn validate(&self) -> Result<(), MapDefError> {
        let indexed = self.map_type.is_array() || self.map_type == MapType::ProgArray;
        if indexed && self.key_size != 4 {
            return Err(MapDefError::ArrayKeySize(self.map_type, self.key_size));
        }
        if self.map_type == MapType::ProgArray && self.value_size != 4 {
            return Err(MapDefError::ProgArrayValueSize(self.value_size));
        }
        for (what, v) in [
            ("key_size", self.key_size),
            ("value_size", self.value_size),
            ("max_entries", self.max_entries),
        ] {
            if v == 0 {
                return Err(MapDefError::Zero(what));
            }
        }
        for (what, value, limit) in [
            ("key_size", self.key_size, MAX_KEY_SIZE),
            ("value_size", self.value_size, MAX_VALUE_SIZE),
            ("max_entries", self.max_entries, MAX_ENTRIES),
        ] {
            if value > limit {
                return Err(MapDefError::TooLarge { what, value, limit });
            }
        }
        let mut seen: Vec<&[u8]> = Vec::new();
        for (index, (k, v)) in self.elements.iter().enumerate() {
            for (what, len, size) in [
                ("key", k.len(), self.key_size),
                ("value", v.len(), self.value_size),
            ] {
                if len != size as usize {
                    return Err(MapDefError::ElementSize {
                        index,
                        what,
                        len,
                        size,
                    });
                }
            }
            if indexed {
                let key = u32::from_le_bytes(k[..4].try_into().expect("4 bytes"));
                if key >= self.max_entries {
                    return Err(MapDefError::IndexOutOfRange {
                        index,
                        key,
                        max: self.max_entries,
                    });
                }
            }
            if seen.contains(&k.as_slice()) {
                return Err(MapDefError::Element {
                    index,
                    reason: "the key is given twice",
                });
            }
            seen.push(k);
            if seen.len() > self.max_entries as usize {
                return Err(MapDefError::Element {
                    index,
                    reason: "more elements than max_entries",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kernel_ids() {
        // include/uapi/linux/bpf.h, enum bpf_map_type.
        assert_eq!(MapType::parse("BPF_MAP_TYPE_HASH"), Some(MapType::Hash));
        assert_eq!(MapType::parse("lru_hash").unwrap().kernel_id(), 9);
        assert_eq!(MapType::Array.kernel_id(), 2);
        assert_eq!(MapType::PercpuArray.kernel_id(), 6);
        assert_eq!(MapType::parse("ringbuf"), None);
        assert_eq!(
            MapType::parse("BPF_MAP_TYPE_PROG_ARRAY")
                .unwrap()
                .kernel_id(),
            3
        );
    }

    #[test]
    fn prog_array_sizes_are_four_bytes() {
        // kernel/bpf/arraymap.c: array_map_alloc_check (key_size 4) and
        // fd_array_map_alloc_check (value_size 4) refuse with -EINVAL.
        assert!(MapDef::new(MapType::ProgArray, 4, 4, 2).validate().is_ok());
        assert_eq!(
            MapDef::new(MapType::ProgArray, 8, 4, 2).validate(),
            Err(MapDefError::ArrayKeySize(MapType::ProgArray, 8))
        );
        assert_eq!(
            MapDef::new(MapType::ProgArray, 4, 8, 2).validate(),
            Err(MapDefError::ProgArrayValueSize(8))
        );
        let mut p = MapDef::new(MapType::ProgArray, 4, 4, 2);
        p.elements.push((vec![2, 0, 0, 0], vec![0; 4]));
        assert!(matches!(
            p.validate(),
            Err(MapDefError::IndexOutOfRange { key: 2, .. })
        ));
    }

    #[test]
    fn validate_follows_the_alloc_checks() {
        assert!(MapDef::new(MapType::Array, 8, 4, 1).validate().is_err());
        assert!(MapDef::new(MapType::Hash, 8, 4, 1).validate().is_ok());
        assert_eq!(
            MapDef::new(MapType::Hash, 8, 0, 1).validate(),
            Err(MapDefError::Zero("value_size"))
        );
        let mut a = MapDef::new(MapType::Array, 4, 1, 2);
        a.elements.push((vec![2, 0, 0, 0], vec![1]));
        assert!(matches!(
            a.validate(),
            Err(MapDefError::IndexOutOfRange { key: 2, .. })
        ));
        let mut h = MapDef::new(MapType::Hash, 1, 1, 1);
        h.elements = vec![(vec![1], vec![1]), (vec![2], vec![2])];
        assert!(h.validate().is_err());
    }
}
