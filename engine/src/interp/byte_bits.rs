//! One bit per byte of the interpreter's stack: which bytes were written
//! since their frame was entered, and which hold part of a pointer-derived
//! value.

use super::{MAX_FRAMES, STACK_SIZE};

/// Bytes covered: every frame's stack.
pub(super) const BYTES: usize = STACK_SIZE * MAX_FRAMES;
const WORDS: usize = BYTES / 64;
/// Bitmap words per frame (a frame is word-aligned).
const FRAME_WORDS: usize = STACK_SIZE / 64;

/// A set of stack byte indices (`0..BYTES`).
#[derive(Clone)]
pub(super) struct ByteBits([u64; WORDS]);

/// Where the bits of an access sit: a word index and a mask within it, when
/// the access does not straddle two words.
#[derive(Clone, Copy)]
pub(super) struct WordMask {
    word: usize,
    mask: u64,
}

impl WordMask {
    /// The bits of bytes `i..i + n` (`n` in 1..=8), or `None` when they
    /// straddle two words.
    #[inline(always)]
    pub fn of(i: usize, n: usize) -> Option<WordMask> {
        let bit = i % 64;
        (bit + n <= 64).then(|| WordMask {
            // `% WORDS` is the identity for indices in range and lets the
            // compiler drop the bounds check.
            word: i / 64 % WORDS,
            mask: (u64::MAX >> (64 - n)) << bit,
        })
    }
}

impl WordMask {
    /// The bits of bytes `i..i + n` (`n` in 1..=8), which the caller knows
    /// lie within one word.
    #[inline(always)]
    pub fn within_word(i: usize, n: usize) -> WordMask {
        let bit = i % 64;
        debug_assert!(bit + n <= 64, "bytes {i}..{} straddle two words", i + n);
        WordMask {
            word: i / 64 % WORDS,
            mask: (u64::MAX >> (64 - n)) << bit,
        }
    }
}

impl ByteBits {
    /// The empty set.
    pub const fn new() -> ByteBits {
        ByteBits([0; WORDS])
    }

    /// True when every byte of `at` is in the set.
    #[inline(always)]
    pub fn all_in(&self, at: WordMask) -> bool {
        self.0[at.word] & at.mask == at.mask
    }

    /// True when no byte of `at` is in the set.
    #[inline(always)]
    pub fn none_in(&self, at: WordMask) -> bool {
        self.0[at.word] & at.mask == 0
    }

    /// Adds (`on`) or removes the bytes of `at`.
    #[inline(always)]
    pub fn put(&mut self, at: WordMask, on: bool) {
        if on {
            self.0[at.word] |= at.mask;
        } else {
            self.0[at.word] &= !at.mask;
        }
    }

    /// True when byte `b` is in the set.
    pub fn has(&self, b: usize) -> bool {
        self.0[b / 64] >> (b % 64) & 1 == 1
    }

    /// Adds (`on`) or removes bytes `i..i + n`, in any alignment.
    pub fn put_range(&mut self, i: usize, n: usize, on: bool) {
        match WordMask::of(i, n) {
            Some(at) => self.put(at, on),
            None => {
                for b in i..i + n {
                    if on {
                        self.0[b / 64] |= 1 << (b % 64);
                    } else {
                        self.0[b / 64] &= !(1 << (b % 64));
                    }
                }
            }
        }
    }

    /// True when every byte of `i..i + n` is in the set, in any alignment.
    pub fn all_in_range(&self, i: usize, n: usize) -> bool {
        match WordMask::of(i, n) {
            Some(at) => self.all_in(at),
            None => (i..i + n).all(|b| self.has(b)),
        }
    }

    /// Removes every byte of the frame whose first byte is `start` (a
    /// multiple of the frame size).
    #[inline(always)]
    pub fn clear_frame(&mut self, start: usize) {
        let w = start / 64;
        let frame: &mut [u64; FRAME_WORDS] = (&mut self.0[w..w + FRAME_WORDS])
            .try_into()
            .expect("a frame is whole bitmap words");
        *frame = [0; FRAME_WORDS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_masks_and_straddling_ranges() {
        let mut bits = ByteBits::new();
        let at = WordMask::of(8, 8).unwrap();
        assert!(bits.none_in(at) && !bits.all_in(at));
        bits.put(at, true);
        assert!(bits.all_in(at) && bits.has(8) && bits.has(15) && !bits.has(16));
        assert!(
            WordMask::of(60, 8).is_none(),
            "bytes 60..68 straddle two words"
        );
        bits.put_range(60, 8, true);
        assert!(bits.all_in_range(60, 8) && bits.has(67) && !bits.has(68));
        bits.put_range(62, 4, false);
        assert!(!bits.all_in_range(60, 8) && bits.has(61) && !bits.has(62) && bits.has(66));
        bits.clear_frame(0);
        assert!(!bits.has(8) && !bits.has(61) && !bits.has(66));
    }
}
