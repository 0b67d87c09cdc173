//! Executable memory for compiled programs.
//!
//! Code is assembled into an ordinary vector, then copied into a slot of
//! this thread's code pool (`code_pool`) through the slot's read+write
//! view, and runs from its read+execute view: the two views map the same
//! memory, so W^X holds (no page is ever writable and executable) without
//! a system call per program. The slot belongs to the [`CodeMemory`]: it
//! goes back to its pool only when the program is dropped, so code is
//! never rewritten while it can still run, and every reuse overwrites the
//! whole slot (the new code, then `int3` to its end), so nothing of the
//! previous program survives.

use std::ops::Deref;
use std::sync::Arc;

use dynasmrt::AssemblyOffset;

use super::code_pool::{self, Pool, Slot};

/// `int3`: fills the rest of a slot.
const TRAP: u8 = 0xcc;

/// One program's code, read+execute, owned until dropped.
pub(super) struct CodeMemory {
    slot: Option<Slot>,
    home: Option<Arc<Pool>>,
    len: usize,
}

impl CodeMemory {
    /// Copies `bytes` into a (possibly reused) slot.
    pub fn new(bytes: &[u8]) -> CodeMemory {
        let (slot, home) = code_pool::take(bytes.len()).expect("cannot map memory for JIT code");
        // SAFETY: the slot is this value's alone (nothing runs from it: its
        // previous owner was dropped before it was returned) and holds
        // `capacity` bytes at `rw`, which do not overlap `bytes`.
        unsafe {
            let rw = slot.rw();
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), rw, bytes.len());
            std::ptr::write_bytes(rw.add(bytes.len()), TRAP, slot.capacity() - bytes.len());
        }
        let code = CodeMemory {
            slot: Some(slot),
            home,
            len: bytes.len(),
        };
        // A no-op on x86-64, whose instruction fetch sees stores (also
        // through another mapping of the same physical page).
        dynasmrt::cache_control::prepare_for_execution(&code);
        code
    }

    /// The executable address of `offset`.
    pub fn ptr(&self, offset: AssemblyOffset) -> *const u8 {
        debug_assert!(offset.0 <= self.len);
        self.slot().rx().wrapping_add(offset.0)
    }

    fn slot(&self) -> &Slot {
        self.slot.as_ref().expect("present until dropped")
    }
}

impl Deref for CodeMemory {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the executable view is readable and holds `len` bytes of
        // this program's code, which nobody writes while it is owned.
        unsafe { std::slice::from_raw_parts(self.slot().rx(), self.len) }
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        if let (Some(slot), Some(home)) = (self.slot.take(), &self.home) {
            home.give(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mov eax, imm32; ret`.
    fn returning(value: u32) -> Vec<u8> {
        let mut code = vec![0xb8];
        code.extend(value.to_le_bytes());
        code.push(0xc3);
        code
    }

    fn call(code: &CodeMemory) -> u32 {
        // SAFETY: `code` holds `mov eax, imm32; ret`, a complete sysv64
        // function without arguments.
        let f: extern "sysv64" fn() -> u32 =
            unsafe { std::mem::transmute(code.ptr(AssemblyOffset(0))) };
        f()
    }

    #[test]
    fn a_reused_slot_runs_the_new_code_only() {
        // A program's slot is reused after it is dropped (this thread's
        // pool, last in first out); the stale code must never run again.
        let a = CodeMemory::new(&returning(1));
        assert_eq!(call(&a), 1);
        let addr = a.ptr(AssemblyOffset(0));
        drop(a);
        let b = CodeMemory::new(&returning(2));
        assert_eq!(b.ptr(AssemblyOffset(0)), addr, "same slot");
        assert_eq!(call(&b), 2);
        assert_eq!(&b[..], &returning(2)[..]);
    }

    #[test]
    fn live_code_is_never_handed_out_again() {
        let codes: Vec<CodeMemory> = (0..600).map(|i| CodeMemory::new(&returning(i))).collect();
        let mut addrs: Vec<_> = codes.iter().map(|c| c.ptr(AssemblyOffset(0))).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), codes.len());
        for (i, code) in codes.iter().enumerate() {
            assert_eq!(call(code), i as u32);
        }
    }

    #[test]
    fn code_dropped_on_another_thread_goes_back_to_its_pool() {
        let a = CodeMemory::new(&returning(7));
        let addr = a.ptr(AssemblyOffset(0));
        std::thread::spawn(move || assert_eq!(call(&a), 7))
            .join()
            .unwrap();
        let b = CodeMemory::new(&returning(8));
        assert_eq!(b.ptr(AssemblyOffset(0)), addr);
        assert_eq!(call(&b), 8);
    }

    #[test]
    fn large_code_runs_from_a_mapping_of_its_own() {
        let mut bytes = vec![0x90; 100_000];
        bytes.extend(returning(9));
        let big = CodeMemory::new(&bytes);
        assert_eq!(big.len(), bytes.len());
        assert_eq!(call(&big), 9);
    }
}
