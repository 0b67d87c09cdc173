//! Executable memory for compiled programs.
//!
//! Code is assembled into an ordinary vector, then copied into a mapping
//! that is writable but not executable, which is then switched to
//! read+execute (W^X: never both). Mapping, first-touch page faults and
//! unmapping cost several microseconds per program, so the mappings of
//! dropped programs are kept in a small pool and reused: a reused mapping
//! goes back to read+write (nothing runs from it any more), gets the new
//! code, and becomes read+execute again.

use std::ops::Deref;
use std::sync::Mutex;

use dynasmrt::mmap::MutableBuffer;
use dynasmrt::ExecutableBuffer;

/// Mappings kept for reuse at most.
const POOL_LIMIT: usize = 64;
/// Mappings are allocated in multiples of this.
const PAGE: usize = 4096;

static POOL: Mutex<Vec<ExecutableBuffer>> = Mutex::new(Vec::new());

/// A read+execute mapping holding one program's code, returned to the
/// pool when dropped.
pub(super) struct CodeMemory {
    buffer: Option<ExecutableBuffer>,
}

impl CodeMemory {
    /// Copies `bytes` into a (possibly reused) mapping and makes it
    /// read+execute.
    pub fn new(bytes: &[u8]) -> CodeMemory {
        let pooled = POOL.lock().ok().and_then(|mut pool| {
            let i = pool.iter().position(|b| b.size() >= bytes.len())?;
            Some(pool.swap_remove(i))
        });
        let mut writable = match pooled {
            Some(buffer) => buffer
                .make_mut()
                .expect("cannot make a pooled JIT mapping writable"),
            None => MutableBuffer::new(bytes.len().max(1).div_ceil(PAGE) * PAGE)
                .expect("cannot map memory for JIT code"),
        };
        writable.set_len(bytes.len());
        writable.copy_from_slice(bytes);
        let code = writable
            .make_exec()
            .expect("cannot make JIT code executable");
        dynasmrt::cache_control::prepare_for_execution(&code);
        CodeMemory { buffer: Some(code) }
    }
}

impl Deref for CodeMemory {
    type Target = ExecutableBuffer;

    fn deref(&self) -> &ExecutableBuffer {
        self.buffer.as_ref().expect("present until dropped")
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        let Some(buffer) = self.buffer.take() else {
            return;
        };
        if let Ok(mut pool) = POOL.lock() {
            if pool.len() < POOL_LIMIT {
                pool.push(buffer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_reused_and_hold_the_new_code() {
        let first = CodeMemory::new(&[0xc3; 10]);
        let addr = first.as_ptr();
        drop(first);
        // Another thread's test may take the pooled mapping first; either
        // way the new code is in place.
        let second = CodeMemory::new(&[0x90, 0xc3]);
        assert_eq!(&second[..], &[0x90, 0xc3]);
        let _ = addr;
        let big = CodeMemory::new(&vec![0xcc; 3 * PAGE + 1]);
        assert_eq!(big.len(), 3 * PAGE + 1);
        assert!(big.size() >= 4 * PAGE);
    }
}
