//! `bpf_probe_read_kernel` (helper 113) for the native program types:
//! copies `size` (r2) bytes from the kernel address r3 to `dst` (r1);
//! r0 = 0, or a negative errno with `dst` zeroed
//! (kernel/trace/bpf_trace.c `bpf_probe_read_kernel_common`:
//! `copy_from_kernel_nofault`, then `memset(dst, 0, size)` on error).
//!
//! The engine's addresses are its own. A source derived from one of the
//! engine's regions (stack, input or packet, ctx, map value), with every
//! byte in that region, is the kernel reading its own memory: the bytes
//! are copied (with their provenance) and r0 = 0. Any other source is a
//! kernel address the engine cannot know: the kernel returns -EFAULT or
//! -ERANGE, or copies whatever is mapped there, so r0 and the destination
//! bytes are marked opaque and never compared.
//!
//! Only native program types run it (a ctx is present): the input model is
//! shared with the engine's JIT, which calls no such helper.

use super::map_helpers::HelperFault;
use super::memory::Memory;
use super::provenance::{Tag, CTX, INPUT, MAP, OPAQUE, STACK};
use super::FaultKind;

/// Helper id of `bpf_probe_read_kernel`.
pub(super) const HELPER_PROBE_READ_KERNEL: u64 = 113;

/// Runs `bpf_probe_read_kernel` with r1..r3 (`regs`, tags `derived`,
/// indexed by register number): r0 and its tag, or the fault of a
/// destination outside every region.
pub(super) fn probe_read_kernel(
    mem: &mut Memory<'_>,
    pc: usize,
    regs: &[u64],
    derived: &[Tag],
) -> Result<(u64, Tag), HelperFault> {
    let (dst, size, src) = (regs[1], regs[2] as u32 as usize, regs[3]);
    let regions = derived[3] & (STACK | INPUT | CTX | MAP);
    let engine_address = regions != 0 && derived[3] & OPAQUE == 0;
    let mut bytes = Vec::with_capacity(size);
    if engine_address {
        for i in 0..size {
            match mem.load(src.wrapping_add(i as u64), 1, pc, regions) {
                Some(byte) => bytes.push(byte),
                None => {
                    bytes.clear();
                    break;
                }
            }
        }
    }
    // Even a read of 0 bytes fails in the kernel for a source outside its
    // own memory (-ERANGE for a user address).
    let copied = engine_address && bytes.len() == size;
    for (i, &(value, tag)) in bytes
        .iter()
        .chain(std::iter::repeat(&(0, OPAQUE)))
        .take(size)
        .enumerate()
    {
        let (value, tag) = if copied { (value, tag) } else { (0, OPAQUE) };
        mem.store(dst.wrapping_add(i as u64), 1, value, tag, derived[1])
            .ok_or((FaultKind::OutOfBounds, dst, size))?;
    }
    Ok(if copied { (0, 0) } else { (0, OPAQUE) })
}
