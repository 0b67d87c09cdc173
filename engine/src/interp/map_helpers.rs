//! The map helpers (`bpf_map_lookup_elem`, `bpf_map_update_elem`,
//! `bpf_map_delete_elem`) over the run's maps, with the kernel's
//! semantics (crate::maps::store). Arguments are read through the
//! registers' provenance like any load, so a key pointer outside every
//! region faults as an out-of-bounds access would.

use super::memory::Memory;
use super::provenance::{Tag, MAP, OPAQUE};
use super::{FaultKind, MAP_VALUE_BASE};

/// A helper's failure: the fault, the address (or helper id) and size.
pub(super) type HelperFault = (FaultKind, u64, usize);

/// Reads `len` bytes at `addr` through a base of tag `regions`.
fn read_bytes(
    mem: &mut Memory<'_>,
    addr: u64,
    len: usize,
    pc: usize,
    regions: Tag,
) -> Result<(Vec<u8>, Vec<Tag>), HelperFault> {
    let mut bytes = Vec::with_capacity(len);
    let mut tags = Vec::with_capacity(len);
    for i in 0..len {
        let a = addr.wrapping_add(i as u64);
        let (b, t) = mem
            .load(a, 1, pc, regions)
            .ok_or((FaultKind::OutOfBounds, addr, len))?;
        bytes.push(b as u8);
        tags.push(t);
    }
    Ok((bytes, tags))
}

/// True when `id` is a map helper.
pub(super) fn is_map_helper(id: u64) -> bool {
    matches!(id, 1..=3)
}

/// Runs map helper `id` with r1..r4 (`regs`, tags `derived`); returns r0
/// and its tag. r1 must be a map pointer (`ld_imm64` src 1), else the
/// call faults as unsupported (the kernel's verifier refuses it).
pub(super) fn call(
    mem: &mut Memory<'_>,
    pc: usize,
    id: u64,
    regs: &[u64],
    derived: &[Tag],
) -> Result<(u64, Tag), HelperFault> {
    let m = match mem.map_index(regs[1]) {
        Some(m) if derived[1] == OPAQUE => m,
        _ => return Err((FaultKind::Unsupported, id, 0)),
    };
    let def = mem.maps().expect("a map index has maps").maps[m]
        .def
        .clone();
    // A prog_array only goes to bpf_tail_call (the verifier's
    // check_map_func_compatibility refuses the rest).
    if def.map_type == crate::maps::MapType::ProgArray {
        return Err((FaultKind::Unsupported, id, 0));
    }
    let (key, _) = read_bytes(mem, regs[2], def.key_size as usize, pc, derived[2])?;
    let maps = mem.maps().expect("a map index has maps");
    let map = &mut maps.maps[m];
    let errno = |r: Result<(), i64>| (r.err().unwrap_or(0) as u64, 0);
    Ok(match id {
        1 => match map.lookup(&key) {
            Some(slot) => (
                MAP_VALUE_BASE + ((m as u64) << 32) + ((slot as u64) << 16),
                MAP,
            ),
            None => (0, 0),
        },
        3 => errno(map.delete(&key)),
        _ => {
            let (value, tags) = read_bytes(mem, regs[3], def.value_size as usize, pc, derived[3])?;
            let map = &mut mem.maps().expect("a map index has maps").maps[m];
            let r = map.update(&key, &value, regs[4]);
            if r.is_ok() {
                // The slot now holding the key takes the value's marks.
                if let Some(slot) = map.slots.iter_mut().find(|s| s.live && s.key == key) {
                    slot.marks.copy_from_slice(&tags);
                }
            }
            errno(r)
        }
    })
}
