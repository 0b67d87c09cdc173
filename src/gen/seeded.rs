//! Deterministic cases from a 64-bit seed: a small PRNG (SplitMix64) fills
//! a buffer that feeds the same `Unstructured`-driven generators the fuzz
//! targets use. The campaign runner and the tests use this path; seed N
//! always gives the same case on every machine.

use super::{generate, Case, Knobs, Tier};
use arbitrary::Unstructured;

/// Bytes of PRNG output behind one seeded case: enough for the largest
/// default program of every tier.
pub const SEED_BYTES: usize = 8192;

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, well-mixed PRNG.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting at `seed`.
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut words = out.chunks_exact_mut(8);
        for chunk in &mut words {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            let word = self.next_u64().to_le_bytes();
            let n = tail.len();
            tail.copy_from_slice(&word[..n]);
        }
    }
}

/// `n` random bytes from `seed`.
pub fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    SplitMix64::new(seed).fill(&mut out);
    out
}

/// Bytes filled for a first attempt at a case: most cases need far fewer
/// (the verifier tier's median is about 150, its 99th percentile about
/// 360), and filling all [`SEED_BYTES`] for each cost a tenth of an
/// interpreter-only campaign.
const FIRST_ATTEMPT_BYTES: usize = 512;

/// The case of `tier` for `seed`: the case generated from the first
/// [`SEED_BYTES`] bytes of `SplitMix64::new(seed)`.
///
/// It first generates from only the first [`FIRST_ATTEMPT_BYTES`] of them.
/// When bytes are left over, no read reached the end of that prefix, and
/// every read takes its bytes in order from the front (no generator asks
/// for the length of the data), so the case is the one the whole buffer
/// gives; otherwise it generates again from the whole buffer.
pub fn case(tier: Tier, knobs: &Knobs, seed: u64) -> Case {
    thread_local! {
        // One buffer per thread: a campaign asks for a case per program.
        static DATA: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; SEED_BYTES]);
    }
    DATA.with(|data| {
        let mut data = data.borrow_mut();
        let mut rng = SplitMix64::new(seed);
        rng.fill(&mut data[..FIRST_ATTEMPT_BYTES]);
        let mut u = Unstructured::new(&data[..FIRST_ATTEMPT_BYTES]);
        // Generators never fail for want of data; see `Case::from_fuzz_bytes`.
        let first = generate(tier, knobs, &mut u).unwrap_or_default();
        if !u.is_empty() {
            return first;
        }
        // FIRST_ATTEMPT_BYTES is a whole number of words, so the generator
        // continues the same sequence.
        rng.fill(&mut data[FIRST_ATTEMPT_BYTES..]);
        generate(tier, knobs, &mut Unstructured::new(&data)).unwrap_or_default()
    })
}

/// The case from the whole buffer, without the first attempt: what
/// [`case`] must always equal.
#[cfg(test)]
fn case_from_whole_buffer(tier: Tier, knobs: &Knobs, seed: u64) -> Case {
    let data = bytes(seed, SEED_BYTES);
    generate(tier, knobs, &mut Unstructured::new(&data)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_its_reference_sequence() {
        // First outputs of SplitMix64 seeded with 0 (reference C implementation).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn same_seed_same_case() {
        let k = Knobs::default();
        for tier in [Tier::Raw, Tier::Grammar, Tier::Verifier] {
            assert_eq!(case(tier, &k, 42), case(tier, &k, 42));
            assert_ne!(case(tier, &k, 42), case(tier, &k, 43));
        }
    }

    #[test]
    fn the_first_attempt_gives_the_case_of_the_whole_buffer() {
        const _: () = assert!(FIRST_ATTEMPT_BYTES % 8 == 0 && FIRST_ATTEMPT_BYTES < SEED_BYTES);
        let k = Knobs::default();
        let small = Knobs {
            program_len: 1..=200,
            ..Knobs::default()
        };
        let tiers = [
            Tier::Raw,
            Tier::Grammar,
            Tier::Verifier,
            Tier::Boundary,
            Tier::Mutated,
            Tier::Mix,
            Tier::Packet,
            Tier::PacketEdge,
        ];
        for tier in tiers {
            for knobs in [&k, &small] {
                for seed in 0..300u64 {
                    let seed = crate::campaign::mix64(seed);
                    assert_eq!(
                        case(tier, knobs, seed),
                        case_from_whole_buffer(tier, knobs, seed),
                        "{tier:?} seed {seed}"
                    );
                }
            }
        }
    }
}
