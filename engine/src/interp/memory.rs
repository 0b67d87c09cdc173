//! The regions a program may touch, with bounds checks and the
//! pointer-derived shadow of every byte.
//!
//! Two regions exist: the input memory at [`MEM_BASE`] and the stack, which
//! grows down from [`STACK_TOP`] by [`STACK_SIZE`] bytes per live frame.
//! Bytes of frames that have returned are not addressable.
//!
//! Every frame starts zeroed. Instead of clearing 512 bytes per call, the
//! stack keeps one "written" bit per byte: a byte not written since its frame
//! was entered reads as zero (and the first such read is remembered, since
//! the kernel would return garbage there). Entering a frame clears 8 words of
//! bits, and the stack buffer itself is reused between runs.

use super::{MAX_FRAMES, MEM_BASE, STACK_SIZE, STACK_TOP};
use std::cell::RefCell;

/// Total bytes of stack backing all frames.
pub const STACK_BYTES: usize = STACK_SIZE * MAX_FRAMES;
const STACK_BASE: u64 = STACK_TOP - STACK_BYTES as u64;
const WORDS: usize = STACK_BYTES / 64;

type StackBuffer = Box<[u8; STACK_BYTES]>;

thread_local! {
    /// A stack buffer kept between runs on this thread (its old contents
    /// are never visible: unwritten bytes read as zero).
    static SPARE_STACK: RefCell<Option<StackBuffer>> = const { RefCell::new(None) };
}

/// Which region an address resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Input,
    Stack,
}

/// The memory of one run.
pub(super) struct Memory<'a> {
    input: &'a mut [u8],
    input_shadow: Vec<bool>,
    stack: Option<StackBuffer>,
    stack_shadow: Vec<bool>,
    /// One bit per stack byte: written since its frame was entered.
    stack_written: [u64; WORDS],
    /// The first instruction that read a stack byte never written.
    uninit_read_pc: Option<usize>,
    /// Lowest addressable stack address (the bottom of the deepest live frame).
    stack_low: u64,
    /// `STACK_TOP - stack_low`: the addressable stack bytes.
    stack_span: u64,
}

/// The bit mask of `n` (1..=8) bits starting at `bit` within a word, or
/// `None` when they straddle two words.
#[inline(always)]
fn bits_in_word(bit: usize, n: usize) -> Option<u64> {
    (bit + n <= 64).then(|| (u64::MAX >> (64 - n)) << bit)
}

/// The `N` bytes of `bytes` at `i`, as an array (bounds-checked).
#[inline(always)]
fn fixed<const N: usize>(bytes: &[u8], i: usize) -> [u8; N] {
    bytes[i..i + N]
        .try_into()
        .expect("a slice of N bytes is an array of N bytes")
}

/// Reads `size` (1, 2, 4 or 8) bytes at `i`, little-endian, zero-extended.
#[inline(always)]
fn read_le(bytes: &[u8], i: usize, size: usize) -> u64 {
    match size {
        1 => bytes[i] as u64,
        2 => u16::from_le_bytes(fixed(bytes, i)) as u64,
        4 => u32::from_le_bytes(fixed(bytes, i)) as u64,
        _ => u64::from_le_bytes(fixed(bytes, i)),
    }
}

/// Writes the low `size` (1, 2, 4 or 8) bytes of `value` at `i`,
/// little-endian: one fixed-size store per width (no buffer on the stack,
/// which would keep the interpreter's handlers from tail-calling).
#[inline(always)]
fn write_le(bytes: &mut [u8], i: usize, size: usize, value: u64) {
    #[inline(always)]
    fn at<const N: usize>(bytes: &mut [u8], i: usize) -> &mut [u8; N] {
        (&mut bytes[i..i + N])
            .try_into()
            .expect("a slice of N bytes is an array of N bytes")
    }
    match size {
        1 => bytes[i] = value as u8,
        2 => *at::<2>(bytes, i) = (value as u16).to_le_bytes(),
        4 => *at::<4>(bytes, i) = (value as u32).to_le_bytes(),
        _ => *at::<8>(bytes, i) = value.to_le_bytes(),
    }
}

impl<'a> Memory<'a> {
    /// Memory for a run on `input`, with frame 0 live and nothing written.
    pub fn new(input: &'a mut [u8]) -> Memory<'a> {
        let stack = SPARE_STACK
            .with(|s| s.borrow_mut().take())
            .unwrap_or_else(|| Box::new([0; STACK_BYTES]));
        Memory {
            input,
            input_shadow: Vec::new(),
            stack: Some(stack),
            stack_shadow: Vec::new(),
            stack_written: [0; WORDS],
            uninit_read_pc: None,
            stack_low: STACK_TOP - STACK_SIZE as u64,
            stack_span: STACK_SIZE as u64,
        }
    }

    /// Length of the input region in bytes.
    pub fn input_len(&self) -> usize {
        self.input.len()
    }

    /// Makes `depth + 1` frames addressable (depth 0 = frame 0 only).
    #[inline(always)]
    pub fn set_depth(&mut self, depth: usize) {
        self.stack_span = ((depth + 1) * STACK_SIZE) as u64;
        self.stack_low = STACK_TOP - self.stack_span;
    }

    /// Enters frame `depth` (≥ 1): makes it addressable and marks all its
    /// bytes unwritten, so it reads as zeroed (and unmarked) whatever an
    /// earlier call left.
    pub fn enter_frame(&mut self, depth: usize) {
        self.set_depth(depth);
        let start = (self.stack_low - STACK_BASE) as usize;
        // A frame is 512 bytes = 8 bitmap words, always word-aligned.
        let words = STACK_SIZE / 64;
        let w = start / 64;
        let frame: &mut [u64; STACK_SIZE / 64] = (&mut self.stack_written[w..w + words])
            .try_into()
            .expect("a frame is whole bitmap words");
        *frame = [0; STACK_SIZE / 64];
    }

    fn resolve(&self, addr: u64, size: usize) -> Option<(Region, usize)> {
        let size = size as u64;
        let soff = addr.wrapping_sub(self.stack_low);
        if soff < self.stack_span && size <= self.stack_span - soff {
            return Some((Region::Stack, (addr - STACK_BASE) as usize));
        }
        let off = addr.wrapping_sub(MEM_BASE);
        let len = self.input.len() as u64;
        if off < len && size <= len - off {
            return Some((Region::Input, off as usize));
        }
        None
    }

    #[inline(always)]
    fn bytes(&mut self, region: Region) -> (&mut [u8], &mut Vec<bool>) {
        match region {
            Region::Input => (&mut *self.input, &mut self.input_shadow),
            Region::Stack => (
                &mut self
                    .stack
                    .as_mut()
                    .expect("the stack lives until the run ends")[..],
                &mut self.stack_shadow,
            ),
        }
    }

    /// True when every byte of `i..i + size` of the stack was written.
    #[inline(always)]
    fn all_written(&self, i: usize, size: usize) -> bool {
        match bits_in_word(i % 64, size) {
            Some(mask) => self.stack_written[i / 64] & mask == mask,
            None => (i..i + size).all(|b| self.stack_written[b / 64] >> (b % 64) & 1 == 1),
        }
    }

    #[inline(always)]
    fn mark_written(&mut self, i: usize, size: usize) {
        match bits_in_word(i % 64, size) {
            Some(mask) => self.stack_written[i / 64] |= mask,
            None => (i..i + size).for_each(|b| self.stack_written[b / 64] |= 1 << (b % 64)),
        }
    }

    /// The stack value of `i..i + size` with unwritten bytes as zero.
    #[cold]
    fn partly_written_value(&mut self, i: usize, size: usize) -> u64 {
        let stack = self
            .stack
            .as_ref()
            .expect("the stack lives until the run ends");
        (0..size).rev().fold(0u64, |acc, k| {
            let b = i + k;
            let byte = if self.stack_written[b / 64] >> (b % 64) & 1 == 1 {
                stack[b]
            } else {
                0
            };
            (acc << 8) | byte as u64
        })
    }

    /// The fast path of [`Memory::load`]: the value of `size` bytes at
    /// `addr` when they are all written stack bytes or input bytes and no
    /// byte of that region carries a pointer mark; `None` otherwise (the
    /// caller then takes [`Memory::load`], which handles every case).
    #[inline(always)]
    pub fn load_fast(&self, addr: u64, size: usize) -> Option<u64> {
        // The span of live frames is at least one frame, so never below `size`.
        if addr.wrapping_sub(self.stack_low) <= self.stack_span - size as u64 {
            let i = (addr - STACK_BASE) as usize;
            // Only accesses within one bitmap word take the fast path.
            let mask = bits_in_word(i % 64, size)?;
            if self.stack_shadow.is_empty() && self.stack_written[i / 64 % WORDS] & mask == mask {
                return self.stack.as_deref().map(|stack| read_le(stack, i, size));
            }
            return None;
        }
        let off = addr.wrapping_sub(MEM_BASE);
        let len = self.input.len() as u64;
        // `off < len` bounds `off` far below u64::MAX, so the sum cannot wrap.
        if off < len && off + size as u64 <= len && self.input_shadow.is_empty() {
            return Some(read_le(self.input, off as usize, size));
        }
        None
    }

    /// Loads `size` bytes (1, 2, 4 or 8) little-endian, zero-extended.
    /// Returns the value and whether any byte is pointer-derived. Stack bytes
    /// never written read as zero, and the first such read is remembered
    /// with the reading `pc`.
    pub fn load(&mut self, addr: u64, size: usize, pc: usize) -> Option<(u64, bool)> {
        let (region, i) = self.resolve(addr, size)?;
        if region == Region::Stack && !self.all_written(i, size) {
            self.uninit_read_pc.get_or_insert(pc);
            return Some((self.partly_written_value(i, size), self.stack_marked(i, size)));
        }
        let value = read_le(self.bytes(region).0, i, size);
        let derived = match region {
            Region::Stack => self.stack_marked(i, size),
            Region::Input => {
                !self.input_shadow.is_empty() && self.input_shadow[i..i + size].iter().any(|&d| d)
            }
        };
        Some((value, derived))
    }

    /// True when a written byte of the stack at `i..i + size` carries a
    /// pointer mark (marks of unwritten bytes are stale: a frame's marks are
    /// not cleared when it is entered, only its written bits).
    fn stack_marked(&self, i: usize, size: usize) -> bool {
        !self.stack_shadow.is_empty()
            && (i..i + size)
                .any(|b| self.stack_shadow[b] && self.stack_written[b / 64] >> (b % 64) & 1 == 1)
    }

    /// The fast path of [`Memory::store`]: stores a number (not
    /// pointer-derived) when the bytes are in the stack or the input and no
    /// byte of that region carries a pointer mark. Returns false (having
    /// done nothing) otherwise.
    #[inline(always)]
    pub fn store_fast(&mut self, addr: u64, size: usize, value: u64) -> bool {
        if addr.wrapping_sub(self.stack_low) <= self.stack_span - size as u64 {
            let i = (addr - STACK_BASE) as usize;
            // Only accesses within one bitmap word take the fast path.
            let Some(mask) = bits_in_word(i % 64, size) else {
                return false;
            };
            if !self.stack_shadow.is_empty() {
                return false;
            }
            let Some(stack) = self.stack.as_deref_mut() else {
                return false;
            };
            write_le(stack, i, size, value);
            self.stack_written[i / 64 % WORDS] |= mask;
            return true;
        }
        let off = addr.wrapping_sub(MEM_BASE);
        let len = self.input.len() as u64;
        // `off < len` bounds `off` far below u64::MAX, so the sum cannot wrap.
        if off < len && off + size as u64 <= len && self.input_shadow.is_empty() {
            write_le(self.input, off as usize, size, value);
            return true;
        }
        false
    }

    /// Stores the low `size` bytes of `value` little-endian.
    pub fn store(&mut self, addr: u64, size: usize, value: u64, derived: bool) -> Option<()> {
        let (region, i) = self.resolve(addr, size)?;
        if region == Region::Stack {
            self.mark_written(i, size);
        }
        let (bytes, shadow) = self.bytes(region);
        write_le(bytes, i, size, value);
        if derived && shadow.is_empty() {
            shadow.resize(bytes.len(), false);
        }
        if !shadow.is_empty() {
            shadow[i..i + size].fill(derived);
        }
        Some(())
    }

    /// Big-endian load for the legacy packet instructions, from the input
    /// region only.
    pub fn load_packet_be(&self, offset: i64, size: usize) -> Option<u64> {
        if offset < 0 {
            return None;
        }
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(size)?;
        let bytes = self.input.get(start..end)?;
        Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    /// The first instruction that read never-written stack, if any.
    pub fn uninit_read_pc(&self) -> Option<usize> {
        self.uninit_read_pc
    }

    /// The per-byte pointer-derived marks of the input memory (empty when
    /// no byte is marked).
    pub fn take_input_shadow(&mut self) -> Vec<bool> {
        let shadow = std::mem::take(&mut self.input_shadow);
        if shadow.iter().any(|&d| d) {
            shadow
        } else {
            Vec::new()
        }
    }
}

impl Drop for Memory<'_> {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            SPARE_STACK.with(|s| *s.borrow_mut() = Some(stack));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_bounds_are_exact() {
        let mut buf = [1u8, 2, 3, 4];
        let mut m = Memory::new(&mut buf);
        assert_eq!(m.load(MEM_BASE, 4, 0), Some((0x0403_0201, false)));
        assert_eq!(m.load(MEM_BASE + 1, 4, 0), None);
        assert_eq!(m.load(MEM_BASE - 1, 1, 0), None);
        assert_eq!(m.load(MEM_BASE.wrapping_add(u64::MAX), 8, 0), None);
    }

    #[test]
    fn only_live_frames_are_addressable() {
        let mut buf = [];
        let mut m = Memory::new(&mut buf);
        assert!(m.store(STACK_TOP - 8, 8, 7, false).is_some());
        assert!(m.store(STACK_TOP - 513, 1, 7, false).is_none());
        assert!(m.load(STACK_TOP, 1, 0).is_none());
        m.enter_frame(1);
        assert!(m.store(STACK_TOP - 513, 1, 7, false).is_some());
        m.set_depth(0);
        m.enter_frame(1);
        assert_eq!(
            m.load(STACK_TOP - 513, 1, 9),
            Some((0, false)),
            "a new frame starts zeroed"
        );
        assert_eq!(m.uninit_read_pc(), Some(9), "and unwritten");
        assert!(m.store(STACK_TOP - 1025, 1, 7, false).is_none());
    }

    #[test]
    fn unwritten_stack_bytes_read_as_zero_even_when_reused() {
        {
            let mut buf = [];
            let mut m = Memory::new(&mut buf);
            m.store(STACK_TOP - 8, 8, u64::MAX, false).unwrap();
        }
        // The buffer is reused; its old bytes must not show.
        let mut buf = [];
        let mut m = Memory::new(&mut buf);
        m.store(STACK_TOP - 6, 1, 0xab, false).unwrap();
        assert_eq!(m.load(STACK_TOP - 8, 8, 3), Some((0xab_0000, false)));
        assert_eq!(m.uninit_read_pc(), Some(3));
        // A word straddling two bitmap words.
        let mut buf = [];
        let mut m = Memory::new(&mut buf);
        let addr = STACK_TOP - 68;
        m.store(addr, 8, 0x1122_3344_5566_7788, false).unwrap();
        assert_eq!(m.load(addr, 8, 0), Some((0x1122_3344_5566_7788, false)));
        assert_eq!(m.uninit_read_pc(), None);
    }

    #[test]
    fn derived_marks_follow_stores() {
        let mut buf = [0u8; 16];
        let mut m = Memory::new(&mut buf);
        m.store(MEM_BASE, 8, 1, true).unwrap();
        assert_eq!(m.load(MEM_BASE + 4, 4, 0), Some((0, true)));
        m.store(MEM_BASE, 8, 1, false).unwrap();
        assert_eq!(m.load(MEM_BASE, 8, 0), Some((1, false)));
        assert!(m.take_input_shadow().is_empty());
    }

    #[test]
    fn packet_loads_are_big_endian() {
        let mut buf = [0x12u8, 0x34, 0x56, 0x78];
        let m = Memory::new(&mut buf);
        assert_eq!(m.load_packet_be(0, 2), Some(0x1234));
        assert_eq!(m.load_packet_be(0, 4), Some(0x1234_5678));
        assert_eq!(m.load_packet_be(3, 2), None);
        assert_eq!(m.load_packet_be(-1, 1), None);
    }
}
