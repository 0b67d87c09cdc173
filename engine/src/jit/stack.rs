//! The eBPF stack of a run: [`MAX_FRAMES`] frames of [`STACK_SIZE`] bytes,
//! surrounded by padding so that no other allocation lies within reach of a
//! 16-bit offset from it. In the interpreter the input memory and the stack
//! are gigabytes apart; the padding keeps "pointer plus offset" from one
//! region from landing in the other in the JIT too.
//!
//! Each thread has one such memory, allocated on its first run and freed
//! when it ends. Runs on one thread never overlap (generated code calls
//! only helpers, which run no programs), so they all use it; only the
//! generated code reads and writes it, through raw pointers, and it clears
//! what each frame can read when the frame is entered.

use std::cell::Cell;
use std::ptr::NonNull;

use crate::interp::{MAX_FRAMES, STACK_SIZE};

/// Bytes of padding below and above the frames.
const PADDING: usize = 48 * 1024;
/// Bytes of all frames.
const FRAMES_BYTES: usize = MAX_FRAMES * STACK_SIZE;
/// Cache lines of the whole allocation.
const LINES: usize = (2 * PADDING + FRAMES_BYTES) / 64;

/// One cache line; frames start on one, so wide stores never straddle two.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// One thread's stack memory, owned through a raw pointer so that the
/// generated code's writes alias no Rust reference.
struct StackMemory {
    lines: NonNull<Line>,
}

impl StackMemory {
    fn new() -> StackMemory {
        let lines: Box<[Line]> = vec![Line([0; 64]); LINES].into_boxed_slice();
        let lines = NonNull::new(Box::into_raw(lines) as *mut Line).expect("Box is never null");
        StackMemory { lines }
    }

    /// Host address one past frame 0 (frame 0's r10).
    fn top(&self) -> u64 {
        self.lines.as_ptr() as u64 + (PADDING + FRAMES_BYTES) as u64
    }
}

impl Drop for StackMemory {
    fn drop(&mut self) {
        // A run during the rest of this thread's destruction allocates no
        // new memory (`STACK` is gone) and must not use the freed one.
        TOP.set(0);
        let slice = std::ptr::slice_from_raw_parts_mut(self.lines.as_ptr(), LINES);
        // SAFETY: `lines` came from `Box::into_raw` of a slice of `LINES`
        // lines in `new`, and is released only here.
        drop(unsafe { Box::from_raw(slice) });
    }
}

thread_local! {
    static STACK: StackMemory = StackMemory::new();
    /// `STACK`'s top once allocated, 0 before: reading a constant-
    /// initialised thread-local costs no lazy-initialisation check.
    static TOP: Cell<u64> = const { Cell::new(0) };
}

/// Host address one past frame 0 of this thread's stack memory (frame 0's
/// r10); 64-byte aligned.
#[inline]
pub(super) fn frame0_top() -> u64 {
    let top = TOP.get();
    if top != 0 {
        return top;
    }
    let top = STACK.with(StackMemory::top);
    TOP.set(top);
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_is_aligned_and_padded() {
        STACK.with(|s| {
            let top = s.top();
            let base = s.lines.as_ptr() as u64;
            assert_eq!(top % 64, 0);
            assert_eq!(top, frame0_top());
            assert_eq!(top - base, (PADDING + FRAMES_BYTES) as u64);
            assert_eq!(base + (LINES * 64) as u64 - top, PADDING as u64);
        });
    }

    #[test]
    fn each_thread_has_its_own() {
        let here = frame0_top();
        let there = std::thread::spawn(frame0_top).join().unwrap();
        assert_ne!(here, there);
    }
}
