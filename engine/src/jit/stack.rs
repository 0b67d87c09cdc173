//! The eBPF stack of a run: [`MAX_FRAMES`] frames of [`STACK_SIZE`] bytes,
//! surrounded by padding so that no other allocation lies within reach of a
//! 16-bit offset from it. In the interpreter the input memory and the stack
//! are gigabytes apart; the padding keeps "pointer plus offset" from one
//! region from landing in the other in the JIT too.

use std::cell::Cell;

use crate::interp::{MAX_FRAMES, STACK_SIZE};

/// Bytes of padding below and above the frames.
const PADDING: usize = 48 * 1024;
/// Bytes of all frames.
const FRAMES_BYTES: usize = MAX_FRAMES * STACK_SIZE;
/// 16-byte units of the whole allocation.
const UNITS: usize = (2 * PADDING + FRAMES_BYTES) / 16;

/// Stack memory, reused by the runs of one thread.
pub(super) struct StackMemory {
    bytes: Box<[u128]>,
}

impl StackMemory {
    fn new() -> StackMemory {
        StackMemory {
            bytes: vec![0u128; UNITS].into_boxed_slice(),
        }
    }

    /// Host address one past frame 0 (frame 0's r10), with frame 0 zeroed.
    pub fn top_with_zeroed_frame0(&mut self) -> u64 {
        let base = self.bytes.as_mut_ptr() as *mut u8;
        let top_index = PADDING + FRAMES_BYTES;
        // SAFETY: `top_index - STACK_SIZE .. top_index` lies inside the
        // allocation of `UNITS * 16` bytes.
        unsafe {
            std::ptr::write_bytes(base.add(top_index - STACK_SIZE), 0, STACK_SIZE);
            base.add(top_index) as u64
        }
    }
}

thread_local! {
    static CACHED: Cell<Option<StackMemory>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's stack memory (allocated on first use).
pub(super) fn with_stack<R>(f: impl FnOnce(&mut StackMemory) -> R) -> R {
    let mut stack = CACHED.with(Cell::take).unwrap_or_else(StackMemory::new);
    let r = f(&mut stack);
    CACHED.with(|c| c.set(Some(stack)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_is_aligned_and_padded() {
        with_stack(|s| {
            let top = s.top_with_zeroed_frame0();
            let base = s.bytes.as_ptr() as u64;
            assert_eq!(top % 16, 0);
            assert_eq!(top - base, (PADDING + FRAMES_BYTES) as u64);
            assert_eq!(base + (UNITS * 16) as u64 - top, PADDING as u64);
        });
    }
}
