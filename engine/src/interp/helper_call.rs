//! The helpers the engine provides, by kernel helper id.
//!
//! Only helpers whose results can be modelled are provided; their results
//! are marked pointer-derived (opaque) because another implementation
//! returns a different number (a real clock, a real random source).
//! Every helper call leaves r1..r5 undefined, as the kernel's calling
//! convention does (RFC 9669 §4.3.1, kernel ABI: r1-r5 are clobbered).

use super::FaultKind;

/// Kernel helper id of `bpf_ktime_get_ns`.
pub const HELPER_KTIME_GET_NS: u64 = 5;
/// Kernel helper id of `bpf_get_prandom_u32`.
pub const HELPER_GET_PRANDOM_U32: u64 = 7;
/// Kernel helper id of `bpf_get_smp_processor_id`.
pub const HELPER_GET_SMP_PROCESSOR_ID: u64 = 8;

/// Calls helper `id` and returns its r0; the caller clobbers r1..r5.
pub(crate) fn call(id: u64, executed: u64) -> Result<u64, FaultKind> {
    Ok(match id {
        // A virtual clock: the number of instructions executed so far.
        HELPER_KTIME_GET_NS => executed,
        // A deterministic sequence seeded by the clock.
        HELPER_GET_PRANDOM_U32 => {
            (executed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32 as u64
        }
        // The engine has one CPU, number 0 (opaque like every result here:
        // the kernel runs on whichever CPU the test run lands on).
        HELPER_GET_SMP_PROCESSOR_ID => 0,
        _ => return Err(FaultKind::UnknownHelper),
    })
}
