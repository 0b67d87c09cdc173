//! Helper calls from generated code: one `extern "sysv64"` entry point that
//! dispatches by helper id, with the interpreter's helpers and results.

use crate::interp::{HELPER_GET_PRANDOM_U32, HELPER_KTIME_GET_NS};

/// A helper's result as the generated code receives it (in rax:rdx).
#[repr(C)]
pub(super) struct HelperReturn {
    /// The helper's r0.
    pub value: u64,
    /// 1 when the helper exists, 0 for an unknown helper id.
    pub ok: u64,
}

/// Calls helper `id` with the instruction count so far (the call included),
/// exactly as the interpreter's helper dispatch does: `ktime_get_ns` is a
/// virtual clock (the count), `get_prandom_u32` a deterministic sequence
/// seeded by it.
pub(super) extern "sysv64" fn call_helper(id: u64, executed: u64) -> HelperReturn {
    // Mirrors interp/helper_call.rs; the shared conformance and property
    // tests run both on the same programs and compare r0.
    let value = match id {
        HELPER_KTIME_GET_NS => executed,
        HELPER_GET_PRANDOM_U32 => {
            (executed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32 as u64
        }
        _ => return HelperReturn { value: 0, ok: 0 },
    };
    HelperReturn { value, ok: 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_helpers() {
        let r = call_helper(HELPER_KTIME_GET_NS, 42);
        assert_eq!((r.value, r.ok), (42, 1));
        let r = call_helper(HELPER_GET_PRANDOM_U32, 42);
        assert_eq!(r.ok, 1);
        assert!(r.value <= u32::MAX as u64);
        assert_eq!(call_helper(6, 1).ok, 0);
    }
}
