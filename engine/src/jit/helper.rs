//! Helper calls from generated code: one `extern "sysv64"` entry point that
//! dispatches by helper id to the interpreter's own helper table, so both
//! compute every helper's result with the same code.

use crate::interp::helper_call;

/// A helper's result as the generated code receives it (in rax:rdx).
#[repr(C)]
pub(super) struct HelperReturn {
    /// The helper's r0.
    pub value: u64,
    /// 1 when the helper exists, 0 for an unknown helper id.
    pub ok: u64,
}

/// Calls helper `id` with the instruction count so far (the call included)
/// through the interpreter's helper dispatch.
pub(super) extern "sysv64" fn call_helper(id: u64, executed: u64) -> HelperReturn {
    match helper_call::call(id, executed) {
        Ok(value) => HelperReturn { value, ok: 1 },
        Err(_) => HelperReturn { value: 0, ok: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::{HELPER_GET_PRANDOM_U32, HELPER_KTIME_GET_NS};

    #[test]
    fn known_and_unknown_helpers() {
        // interp/helper_call.rs: ktime_get_ns is the instruction count,
        // get_prandom_u32 a 32-bit value, other ids are unknown.
        let r = call_helper(HELPER_KTIME_GET_NS, 42);
        assert_eq!((r.value, r.ok), (42, 1));
        let r = call_helper(HELPER_GET_PRANDOM_U32, 42);
        assert_eq!(r.ok, 1);
        assert_eq!(Ok(r.value), helper_call::call(HELPER_GET_PRANDOM_U32, 42));
        assert!(r.value <= u32::MAX as u64);
        assert_eq!(call_helper(6, 1).ok, 0);
    }
}
