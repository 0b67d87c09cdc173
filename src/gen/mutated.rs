//! The mutated tier: a verifier-aware program ([`super::verifier_aware`])
//! with one or two instruction fields changed, the way a small bug in a
//! compiler or a hand edit changes a program: a register number, an offset
//! moved by up to ±8 or set to a stack offset down to -519, or an immediate
//! moved by up to ±16. The slot is changed in place (no re-encoding, no
//! re-targeting of jumps), so the result may be anything from still
//! accepted to undecodable; the verifier-vs-kernel confusion matrix of
//! docs/verifier.md is measured on this tier.

use super::{verifier_aware, Case, Knobs};
use arbitrary::{Result, Unstructured};

/// Generates one verifier-aware case from `u` and mutates one or two of
/// its slots with further bytes of `u`.
pub fn generate(knobs: &Knobs, u: &mut Unstructured) -> Result<Case> {
    let mut case = verifier_aware::generate(knobs, u)?;
    let insns = &mut case.program.insns;
    if insns.is_empty() {
        return Ok(case);
    }
    for _ in 0..u.int_in_range(1..=2u8)? {
        let slot = u.choose_index(insns.len())?;
        let ins = &mut insns[slot];
        match u.int_in_range(0..=4u8)? {
            0 => ins.dst = u.int_in_range(0..=10u8)?,
            1 => ins.src = u.int_in_range(0..=10u8)?,
            2 => ins.off = ins.off.wrapping_add(u.int_in_range(-8..=8i16)?),
            3 => ins.imm = ins.imm.wrapping_add(u.int_in_range(-16..=16i32)?),
            _ => ins.off = -u.int_in_range(0..=519i16)?,
        }
    }
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::super::{seeded, Tier};
    use super::*;

    #[test]
    fn a_mutated_case_is_its_verifier_case_with_one_or_two_slots_changed() {
        let k = Knobs::default();
        let mut changed = 0;
        for seed in 0..200 {
            let m = seeded::case(Tier::Mutated, &k, seed);
            let v = seeded::case(Tier::Verifier, &k, seed);
            assert_eq!(m.input, v.input, "seed {seed}");
            assert_eq!(m.program.insns.len(), v.program.insns.len(), "seed {seed}");
            let diff = m
                .program
                .insns
                .iter()
                .zip(&v.program.insns)
                .filter(|(a, b)| a != b)
                .count();
            assert!(diff <= 2, "seed {seed}: {diff} slots changed");
            changed += usize::from(diff > 0);
            assert_eq!(m, seeded::case(Tier::Mutated, &k, seed));
        }
        // A mutation may leave a field as it was (same register drawn).
        assert!(changed > 150, "only {changed} of 200 changed");
    }
}
