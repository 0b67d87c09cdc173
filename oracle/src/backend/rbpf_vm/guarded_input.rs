//! The input memory rbpf runs on, in a mapping of its own, far from the heap.
//!
//! rbpf 0.4.1's interpreter accepts a memory access when the address lies
//! in *any* of its regions (input, stack; `check_mem`), not in the region
//! the pointer came from. Its 512-byte stack is a fresh heap allocation per
//! run, so with the input on the heap too, an access through r1 past the
//! end of the input lands in the stack whenever the allocator happens to
//! place the stack 0–1 KiB after the input — which depends on everything
//! the worker allocated before. The same program then faults when run
//! alone and returns when run in a campaign.
//!
//! Here the input lives at the start of its own anonymous mapping, between
//! two inaccessible guard regions of [`GUARD`] bytes, far from the heap:
//! any `r1 + off` with a 16-bit `off` stays inside the mapping, so it is
//! either in the input or out of every rbpf region, and rbpf faults every
//! time. The rest of the mapping is zeroed before each run, so rbpf's JIT
//! (which checks nothing) reads zeros just past the input and dies of
//! SIGSEGV in the guards, every time.

use std::io;
use std::ptr;

/// Inaccessible bytes on each side of the input: more than any 16-bit
/// offset reaches from inside the input.
pub const GUARD: usize = 64 << 10;

/// A reusable mapping for the input memory.
pub struct GuardedInput {
    base: *mut u8,
    /// Accessible bytes after the leading guard (a multiple of the page).
    capacity: usize,
}

impl Default for GuardedInput {
    fn default() -> Self {
        GuardedInput {
            base: ptr::null_mut(),
            capacity: 0,
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|p| *p > 0).unwrap_or(4096)
}

impl GuardedInput {
    fn unmap(&mut self) {
        if !self.base.is_null() {
            // SAFETY: base/len are exactly the mapping made in `grow`.
            unsafe { libc::munmap(self.base.cast(), self.capacity + 2 * GUARD) };
            self.base = ptr::null_mut();
            self.capacity = 0;
        }
    }

    fn grow(&mut self, len: usize) -> io::Result<()> {
        let page = page_size();
        let capacity = len.max(1).div_ceil(page) * page;
        self.unmap();
        let total = capacity + 2 * GUARD;
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // touched.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = base.cast::<u8>();
        // SAFETY: the range lies inside the mapping just made.
        let rc = unsafe {
            libc::mprotect(
                base.add(GUARD).cast(),
                capacity,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            // SAFETY: the mapping just made.
            unsafe { libc::munmap(base.cast(), total) };
            return Err(e);
        }
        self.base = base;
        self.capacity = capacity;
        Ok(())
    }

    /// The input, copied to the start of the accessible part of the
    /// mapping (the rest of it zeroed). An empty input is an empty slice
    /// outside the mapping (rbpf then sets r1 = 0).
    pub fn load(&mut self, input: &[u8]) -> io::Result<&mut [u8]> {
        if input.is_empty() {
            return Ok(&mut []);
        }
        if input.len() > self.capacity {
            self.grow(input.len())?;
        }
        // SAFETY: `capacity` bytes after the leading guard are readable and
        // writable and owned by this value; the borrow of `self` keeps the
        // mapping alive for the slice's lifetime.
        let all = unsafe { std::slice::from_raw_parts_mut(self.base.add(GUARD), self.capacity) };
        all.fill(0);
        all[..input.len()].copy_from_slice(input);
        Ok(&mut all[..input.len()])
    }
}

impl Drop for GuardedInput {
    fn drop(&mut self) {
        self.unmap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_starts_a_zeroed_page_and_is_reused() {
        let mut g = GuardedInput::default();
        let a = g.load(&[1, 2, 3]).unwrap().as_ptr() as usize;
        assert_eq!(a % page_size(), 0);
        let s = g.load(&[9; 5]).unwrap();
        assert_eq!(s, &[9; 5]);
        assert_eq!(s.as_ptr() as usize, a, "the mapping is reused");
        let big = g.load(&vec![7; 3 * page_size()]).unwrap();
        assert_eq!(big.len(), 3 * page_size());
        assert!(g.load(&[]).unwrap().is_empty());
    }
}
