//! Map contents during a run, with the kernel's helper semantics.
//!
//! Each map keeps its elements in slots whose index never changes while
//! the element lives (an array's slot is its index), so a value pointer
//! the program holds stays valid, as the kernel's preallocated elements
//! do. A deleted hash element's slot is reused by a later insert.

use super::def::{MapDef, MapType};

/// `BPF_ANY`: create or update.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create only.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update only.
pub const BPF_EXIST: u64 = 2;

/// `ENOENT`.
pub const ENOENT: i64 = 2;
/// `E2BIG`.
pub const E2BIG: i64 = 7;
/// `EEXIST`.
pub const EEXIST: i64 = 17;
/// `EINVAL`.
pub const EINVAL: i64 = 22;

/// One element slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The key.
    pub key: Vec<u8>,
    /// The value bytes.
    pub value: Vec<u8>,
    /// Per value byte: the interpreter's provenance tag of a
    /// pointer-derived byte (0: a number).
    pub marks: Vec<u8>,
    /// True while the element is in the map.
    pub live: bool,
    /// When the element was last used (LRU order).
    used: u64,
}

/// One map during a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapState {
    /// Its definition (the initial contents as given).
    pub def: MapDef,
    /// The element slots.
    pub slots: Vec<Slot>,
    /// True once an LRU map evicted an element: which one the kernel's
    /// approximate LRU (per-CPU lists, reference bits) evicts is not
    /// modeled, so the keys are then opaque.
    pub evicted: bool,
    clock: u64,
}

impl MapState {
    /// The map at the start of a run (`def` must be valid).
    pub fn new(def: &MapDef) -> MapState {
        let vs = def.value_size as usize;
        let mut m = MapState {
            def: def.clone(),
            slots: Vec::new(),
            evicted: false,
            clock: 0,
        };
        if def.map_type.is_array() {
            m.slots = (0..def.max_entries)
                .map(|i| Slot {
                    key: i.to_le_bytes().to_vec(),
                    value: vec![0; vs],
                    marks: vec![0; vs],
                    live: true,
                    used: 0,
                })
                .collect();
        }
        for (k, v) in &def.elements {
            let r = m.update(k, v, BPF_ANY);
            debug_assert_eq!(r, Ok(()), "a validated definition fits");
        }
        m
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The live slot holding `key`.
    fn find(&self, key: &[u8]) -> Option<usize> {
        if self.def.map_type.is_array() {
            let i = u32::from_le_bytes(key.get(..4)?.try_into().ok()?);
            return (i < self.def.max_entries).then_some(i as usize);
        }
        self.slots.iter().position(|s| s.live && s.key == key)
    }

    /// `bpf_map_lookup_elem`: the slot of `key`'s value, `None` (NULL)
    /// when absent or (arrays) when the index is not below `max_entries`.
    pub fn lookup(&mut self, key: &[u8]) -> Option<usize> {
        let slot = self.find(key)?;
        let t = self.tick();
        self.slots[slot].used = t;
        Some(slot)
    }

    /// `bpf_map_update_elem` (`array_map_update_elem`,
    /// `htab_map_update_elem`, `htab_lru_map_update_elem`): 0 or a
    /// negative errno. Flags above `BPF_EXIST` are -EINVAL (no map here
    /// has a spin lock for `BPF_F_LOCK`); arrays: an index not below
    /// `max_entries` is -E2BIG, `BPF_NOEXIST` -EEXIST; hashes:
    /// `BPF_NOEXIST` on a present key -EEXIST, `BPF_EXIST` on an absent
    /// one -ENOENT, a new key in a full map -E2BIG (LRU: evicts instead).
    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64) -> Result<(), i64> {
        if flags > BPF_EXIST {
            return Err(-EINVAL);
        }
        let vs = self.def.value_size as usize;
        if self.def.map_type.is_array() {
            let i = u32::from_le_bytes(key[..4].try_into().map_err(|_| -EINVAL)?);
            if i >= self.def.max_entries {
                return Err(-E2BIG);
            }
            if flags == BPF_NOEXIST {
                return Err(-EEXIST);
            }
            let s = &mut self.slots[i as usize];
            s.value.copy_from_slice(&value[..vs]);
            s.marks.fill(0);
            return Ok(());
        }
        let t = self.tick();
        if let Some(i) = self.find(key) {
            if flags == BPF_NOEXIST {
                return Err(-EEXIST);
            }
            let s = &mut self.slots[i];
            s.value.copy_from_slice(&value[..vs]);
            s.marks.fill(0);
            s.used = t;
            return Ok(());
        }
        if flags == BPF_EXIST {
            return Err(-ENOENT);
        }
        let live = self.slots.iter().filter(|s| s.live).count();
        let at = if live >= self.def.max_entries as usize {
            if self.def.map_type != MapType::LruHash {
                return Err(-E2BIG);
            }
            self.evicted = true;
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.live)
                .min_by_key(|(_, s)| s.used)
                .map(|(i, _)| i)
                .expect("a full map has a live element")
        } else if let Some(free) = self.slots.iter().position(|s| !s.live) {
            free
        } else {
            self.slots.push(Slot {
                key: Vec::new(),
                value: Vec::new(),
                marks: Vec::new(),
                live: false,
                used: 0,
            });
            self.slots.len() - 1
        };
        self.slots[at] = Slot {
            key: key.to_vec(),
            value: value[..vs].to_vec(),
            marks: vec![0; vs],
            live: true,
            used: t,
        };
        Ok(())
    }

    /// `bpf_map_delete_elem`: arrays -EINVAL (`array_map_delete_elem`),
    /// hashes -ENOENT for an absent key.
    pub fn delete(&mut self, key: &[u8]) -> Result<(), i64> {
        if self.def.map_type.is_array() {
            return Err(-EINVAL);
        }
        let i = self.find(key).ok_or(-ENOENT)?;
        self.slots[i].live = false;
        Ok(())
    }

    /// `bpf_tail_call`'s read of a prog_array: the index of the program
    /// in slot `index` (see `text::SELF_INDEX`), `None` when the slot is
    /// empty or `index` is not below `max_entries`.
    pub fn prog_at(&self, index: u32) -> Option<u32> {
        if self.def.map_type != MapType::ProgArray || index >= self.def.max_entries {
            return None;
        }
        let slot = self.find(&index.to_le_bytes())?;
        let v = &self.slots[slot].value;
        Some(u32::from_le_bytes(v.get(..4)?.try_into().ok()?))
    }

    /// The live elements as `(key, value, marks)`, sorted by key.
    pub fn contents(&self) -> Vec<(&[u8], &[u8], &[u8])> {
        let mut out: Vec<_> = self
            .slots
            .iter()
            .filter(|s| s.live)
            .map(|s| (s.key.as_slice(), s.value.as_slice(), s.marks.as_slice()))
            .collect();
        out.sort();
        out
    }
}

/// The maps of one run, indexed like their definitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapSet {
    /// The maps.
    pub maps: Vec<MapState>,
}

impl MapSet {
    /// The maps of `defs` at the start of a run (each must be valid).
    pub fn new(defs: &[MapDef]) -> MapSet {
        MapSet {
            maps: defs.iter().map(MapState::new).collect(),
        }
    }

    /// True when there are no maps.
    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(t: MapType, max: u32) -> MapState {
        MapState::new(&MapDef::new(t, 4, 4, max))
    }

    #[test]
    fn array_semantics() {
        // kernel/bpf/arraymap.c: array_map_update_elem, array_map_delete_elem.
        let mut a = MapState::new(&MapDef::new(MapType::Array, 4, 4, 2));
        assert_eq!(a.lookup(&1u32.to_le_bytes()), Some(1));
        assert_eq!(a.lookup(&2u32.to_le_bytes()), None);
        assert_eq!(a.update(&1u32.to_le_bytes(), &[9; 4], BPF_ANY), Ok(()));
        assert_eq!(a.slots[1].value, vec![9; 4]);
        assert_eq!(a.update(&2u32.to_le_bytes(), &[9; 4], BPF_ANY), Err(-E2BIG));
        assert_eq!(
            a.update(&0u32.to_le_bytes(), &[9; 4], BPF_NOEXIST),
            Err(-EEXIST)
        );
        assert_eq!(a.update(&0u32.to_le_bytes(), &[9; 4], 3), Err(-EINVAL));
        assert_eq!(a.delete(&0u32.to_le_bytes()), Err(-EINVAL));
    }

    #[test]
    fn hash_semantics() {
        // kernel/bpf/hashtab.c: check_flags, alloc_htab_elem (-E2BIG when full).
        let mut h = hash(MapType::Hash, 1);
        assert_eq!(h.lookup(&[1; 4]), None);
        assert_eq!(h.update(&[1; 4], &[7; 4], BPF_EXIST), Err(-ENOENT));
        assert_eq!(h.update(&[1; 4], &[7; 4], BPF_NOEXIST), Ok(()));
        assert_eq!(h.update(&[1; 4], &[8; 4], BPF_NOEXIST), Err(-EEXIST));
        assert_eq!(h.update(&[1; 4], &[8; 4], BPF_EXIST), Ok(()));
        assert_eq!(h.update(&[2; 4], &[8; 4], BPF_ANY), Err(-E2BIG));
        assert_eq!(h.delete(&[2; 4]), Err(-ENOENT));
        assert_eq!(h.delete(&[1; 4]), Ok(()));
        assert_eq!(h.update(&[2; 4], &[8; 4], BPF_ANY), Ok(()));
        assert_eq!(h.contents().len(), 1);
    }

    #[test]
    fn prog_array_slots() {
        // kernel/bpf/core.c ___bpf_prog_run JMP_TAIL_CALL: an index not
        // below max_entries or an empty slot has no program.
        let mut d = MapDef::new(MapType::ProgArray, 4, 4, 3);
        d.elements.push((1u32.to_le_bytes().to_vec(), vec![0; 4]));
        let p = MapState::new(&d);
        assert_eq!(p.prog_at(1), Some(0));
        assert_eq!(p.prog_at(0), None);
        assert_eq!(p.prog_at(3), None);
        assert_eq!(p.prog_at(u32::MAX), None);
        assert_eq!(p.contents().len(), 1);
    }

    #[test]
    fn lru_evicts_instead_of_failing() {
        let mut h = hash(MapType::LruHash, 2);
        h.update(&[1; 4], &[1; 4], BPF_ANY).unwrap();
        h.update(&[2; 4], &[2; 4], BPF_ANY).unwrap();
        h.lookup(&[1; 4]);
        assert_eq!(h.update(&[3; 4], &[3; 4], BPF_ANY), Ok(()));
        assert!(h.evicted);
        assert_eq!(h.contents().len(), 2);
        assert_eq!(h.lookup(&[2; 4]), None, "the least recently used went");
    }
}
