//! Pools of code slots carved out of dual mappings ([`DualMapping`]), one
//! pool per thread.
//!
//! A slot is a power-of-two stretch of an arena (1 KiB to 64 KiB); a
//! program's code goes into the smallest class that holds it. Code larger
//! than the biggest class gets a mapping of its own, unmapped when it is
//! returned. Slots are taken from the pool of the compiling thread and go
//! back to the pool they came from when their owner is dropped, from
//! whichever thread: a slot has exactly one owner, so it is never
//! rewritten while code in it can still run, and a pool's arenas are
//! unmapped only when the pool and all its slots are gone. Arenas are kept
//! while their pool lives, so a pool holds as much memory as its thread
//! had code alive at its peak.

use std::io;
use std::sync::{Arc, Mutex};

use super::dual_map::DualMapping;

/// log2 of the smallest slot.
const MIN_SHIFT: u32 = 10;
/// Number of slot sizes (1 KiB … 64 KiB).
const CLASSES: usize = 7;
/// Bytes mapped at once for the slots of one class.
const ARENA: usize = 256 * 1024;
/// Mappings are made in multiples of this.
const PAGE: usize = 4096;

/// A stretch of a dual mapping owned by one piece of code.
pub(super) struct Slot {
    map: Arc<DualMapping>,
    offset: usize,
    capacity: usize,
    /// The class, or `None` for a mapping of its own.
    class: Option<usize>,
}

impl Slot {
    /// Bytes available.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The start of the writable view (never executable).
    pub fn rw(&self) -> *mut u8 {
        self.map.rw(self.offset)
    }

    /// The start of the executable view (never writable).
    pub fn rx(&self) -> *const u8 {
        self.map.rx(self.offset)
    }
}

/// Free slots by class.
#[derive(Default)]
pub(super) struct Pool {
    free: Mutex<[Vec<Slot>; CLASSES]>,
}

thread_local! {
    static LOCAL: Arc<Pool> = Arc::new(Pool::default());
}

/// The class whose slots hold `len` bytes, if any.
fn class_of(len: usize) -> Option<usize> {
    let shift = len
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
        .max(MIN_SHIFT);
    let class = (shift - MIN_SHIFT) as usize;
    (class < CLASSES).then_some(class)
}

/// Takes a slot of at least `len` bytes from this thread's pool (or a
/// mapping of its own for large code), with the pool to return it to.
pub(super) fn take(len: usize) -> io::Result<(Slot, Option<Arc<Pool>>)> {
    let Some(class) = class_of(len) else {
        let size = len.div_ceil(PAGE) * PAGE;
        let map = Arc::new(DualMapping::new(size)?);
        let slot = Slot {
            map,
            offset: 0,
            capacity: size,
            class: None,
        };
        return Ok((slot, None));
    };
    // During thread teardown the thread's pool is gone; a fresh one then
    // serves this one slot.
    let pool = LOCAL
        .try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::new(Pool::default()));
    let slot = pool.take(class)?;
    Ok((slot, Some(pool)))
}

impl Pool {
    fn take(&self, class: usize) -> io::Result<Slot> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = free[class].pop() {
            return Ok(slot);
        }
        let capacity = 1usize << (MIN_SHIFT as usize + class);
        let map = Arc::new(DualMapping::new(ARENA)?);
        // Hand out the lowest slot first (LIFO pops from the end).
        let slots = (0..map.size() / capacity).rev().map(|i| Slot {
            map: Arc::clone(&map),
            offset: i * capacity,
            capacity,
            class: Some(class),
        });
        free[class].extend(slots);
        Ok(free[class].pop().expect("an arena holds at least one slot"))
    }

    /// Returns `slot` for reuse. Its previous owner must be gone: nothing
    /// may run from it any more.
    pub fn give(&self, slot: Slot) {
        let Some(class) = slot.class else {
            return;
        };
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free[class].push(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_the_smallest_power_of_two_that_fits() {
        assert_eq!(class_of(0), Some(0));
        assert_eq!(class_of(1024), Some(0));
        assert_eq!(class_of(1025), Some(1));
        assert_eq!(class_of(64 * 1024), Some(6));
        assert_eq!(class_of(64 * 1024 + 1), None);
    }

    #[test]
    fn large_code_gets_a_mapping_of_its_own() {
        let (slot, pool) = take(100_000).unwrap();
        assert!(pool.is_none());
        assert_eq!(slot.capacity(), 100_000usize.div_ceil(PAGE) * PAGE);
    }
}
