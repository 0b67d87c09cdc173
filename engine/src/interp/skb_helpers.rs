//! `bpf_skb_load_bytes` (helper 26) for socket filter and tc programs:
//! copies `len` packet bytes from offset `off` (from `skb->data`, the
//! engine's packet region) to `to`; 0, or -EFAULT with `to` zeroed when
//! the bytes are not all in the packet (net/core/filter.c
//! `bpf_skb_load_bytes`: `offset > INT_MAX` or `skb_header_pointer`
//! failing go to `err_clear`).

use super::memory::Memory;
use super::provenance::Tag;
use super::{FaultKind, MEM_BASE};

/// Helper id of `bpf_skb_load_bytes`.
pub(super) const HELPER_SKB_LOAD_BYTES: u64 = 26;

/// `EFAULT`.
const EFAULT: i64 = 14;

/// Runs `bpf_skb_load_bytes` with r1..r4 (`regs`, tags `derived`): r0 and
/// its tag, or the fault of a destination outside every region.
pub(super) fn skb_load_bytes(
    mem: &mut Memory<'_>,
    pc: usize,
    regs: &[u64],
    derived: &[Tag],
) -> Result<(u64, Tag), (FaultKind, u64, usize)> {
    let (off, to, len) = (regs[2] as u32, regs[3], regs[4] as u32 as usize);
    let packet_len = mem.input_len();
    let fits = off <= i32::MAX as u32
        && (off as usize)
            .checked_add(len)
            .is_some_and(|e| e <= packet_len);
    for i in 0..len {
        let (byte, tag) = if fits {
            mem.load(
                MEM_BASE + off as u64 + i as u64,
                1,
                pc,
                super::provenance::INPUT,
            )
            .expect("a checked packet byte")
        } else {
            (0, 0)
        };
        let at = to.wrapping_add(i as u64);
        mem.store(at, 1, byte, tag, derived[3])
            .ok_or((FaultKind::OutOfBounds, to, len))?;
    }
    Ok((if fits { 0 } else { (-EFAULT) as u64 }, 0))
}
