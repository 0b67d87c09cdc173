//! One piece of memory seen through two mappings: a read+write view that
//! is never executable and a read+execute view that is never writable.
//!
//! The memory is an anonymous file (`memfd_create`) mapped twice, shared.
//! Code written through the first view is visible at the same offset of
//! the second, so new code can be installed without changing any
//! mapping's permissions: no `mprotect`, no TLB shootdown, and W^X holds
//! for every page at every moment.

use std::io;
use std::ptr::NonNull;

/// A memfd mapped once read+write and once read+execute.
pub(super) struct DualMapping {
    rw: NonNull<u8>,
    rx: NonNull<u8>,
    size: usize,
}

// SAFETY: the mappings are plain memory owned by this value; which bytes a
// thread may write is decided by the owner of each slot (`code_pool`).
unsafe impl Send for DualMapping {}
// SAFETY: as above; `&DualMapping` only hands out raw pointers.
unsafe impl Sync for DualMapping {}

impl DualMapping {
    /// Maps `size` bytes (a multiple of the page size) twice.
    pub fn new(size: usize) -> io::Result<DualMapping> {
        // SAFETY: plain system calls on a file descriptor this function
        // owns; every failure path closes it and unmaps what was mapped.
        unsafe {
            let fd = libc::memfd_create(c"bpfdiff-jit".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let map = |prot| {
                let p = libc::mmap(std::ptr::null_mut(), size, prot, libc::MAP_SHARED, fd, 0);
                if p == libc::MAP_FAILED {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(p)
                }
            };
            let result = (|| {
                if libc::ftruncate(fd, size as libc::off_t) != 0 {
                    return Err(io::Error::last_os_error());
                }
                let rw = map(libc::PROT_READ | libc::PROT_WRITE)?;
                let rx = match map(libc::PROT_READ | libc::PROT_EXEC) {
                    Ok(rx) => rx,
                    Err(e) => {
                        libc::munmap(rw, size);
                        return Err(e);
                    }
                };
                Ok((rw, rx))
            })();
            // The mappings keep the file alive.
            libc::close(fd);
            let (rw, rx) = result?;
            Ok(DualMapping {
                rw: NonNull::new(rw.cast()).expect("mmap returned null"),
                rx: NonNull::new(rx.cast()).expect("mmap returned null"),
                size,
            })
        }
    }

    /// Bytes mapped (in each view).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The writable view at `offset`.
    pub fn rw(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset <= self.size);
        self.rw.as_ptr().wrapping_add(offset)
    }

    /// The executable view at `offset`.
    pub fn rx(&self, offset: usize) -> *const u8 {
        debug_assert!(offset <= self.size);
        self.rx.as_ptr().wrapping_add(offset).cast_const()
    }
}

impl Drop for DualMapping {
    fn drop(&mut self) {
        // SAFETY: both views were mapped by `new` with this size and
        // nothing refers to them any more (every slot holds an `Arc`).
        unsafe {
            libc::munmap(self.rw.as_ptr().cast(), self.size);
            libc::munmap(self.rx.as_ptr().cast(), self.size);
        }
    }
}
