//! Program generators, in three tiers, behind one code path.
//!
//! Every tier reads its choices from an [`arbitrary::Unstructured`]:
//! libFuzzer's bytes in the fuzz targets, a proptest-chosen byte vector in
//! [`proptest`](crate::gen::proptest) strategies, and a seeded PRNG's bytes
//! ([`seeded`]) in the campaign runner and the tests. The same bytes always
//! give the same [`Case`].
//!
//! - [`Tier::Raw`] ([`raw`]): any 8-byte slots, including invalid ones.
//! - [`Tier::Grammar`] ([`grammar`]): valid encodings of every row of the
//!   opcode table, operands biased to boundary values ([`boundary`]).
//! - [`Tier::Verifier`] ([`verifier_aware`]): programs the kernel verifier
//!   accepts at a high rate and the engine runs without faults.
//! - [`Tier::Boundary`] ([`boundary_tier`]): valid programs whose memory
//!   accesses sit at, just inside and just outside each region's edges.
//! - [`Tier::Mutated`] ([`mutated`]): verifier-aware programs with one or
//!   two instruction fields changed (not in the mix).
//! - [`Tier::Packet`], [`Tier::PacketEdge`] ([`packet`]): native xdp, tc
//!   and socket-filter programs with a packet, accepted and near-miss
//!   (their cases run on the engine and the kernel only).
//! - [`Tier::Mix`]: each case from one of the tiers above but `mutated`,
//!   in the proportions of [`MIX`] (the campaign default), so that a
//!   default campaign covers every program type.
//!
//! Every tier starts some registers from values that stress every width
//! ([`values`]).
//!
//! [`Knobs`] ([`knobs`]) set the ISA groups, sizes and allowed operations
//! (`BPFDIFF_ALLOWED_OPS` restricts every tier). [`mutator`] is the
//! instruction-level libFuzzer mutator; [`layout`] keeps jump and call
//! targets attached to instructions while programs change shape;
//! [`pointer_taint`] tells which programs branch on addresses, and
//! [`unwritten_registers`] which read registers they never wrote.

pub mod boundary;
pub mod boundary_tier;
pub mod case;
pub mod grammar;
pub mod knobs;
pub mod layout;
pub mod mutated;
pub mod mutator;
pub mod packet;
pub mod pointer_taint;
#[cfg(feature = "proptest")]
pub mod proptest;
pub mod raw;
pub mod seeded;
pub mod unwritten_registers;
pub mod values;
pub mod verifier_aware;

pub use case::Case;
pub use knobs::{Knobs, KnobsError};

use arbitrary::Unstructured;
use std::fmt;
use std::str::FromStr;

/// A generator tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Any bytes: exercises decoders and verifiers' refusals.
    Raw,
    /// Valid encodings of every row, unsafe programs included.
    Grammar,
    /// Programs the kernel verifier accepts and the engine runs cleanly.
    Verifier,
    /// Valid programs that access memory at the edges of each region.
    Boundary,
    /// Verifier-aware programs with one or two instruction fields changed.
    Mutated,
    /// Each case from one of the other tiers, in the proportions of [`MIX`].
    Mix,
    /// Native packet-type programs (xdp, tc, socket filter) the kernel
    /// verifier accepts, with a packet ([`packet`]).
    Packet,
    /// Native packet-type programs with one near-miss defect the kernel
    /// should refuse ([`packet`]).
    PacketEdge,
}

/// The tiers of [`Tier::Mix`] and their weights (out of the sum): chosen by
/// the seeded-bug kill rates in docs/fuzzing.md. The packet tiers bring
/// the native program types (xdp, tc, socket filter) into every default
/// campaign; their cases go to the engine and the kernel only.
pub const MIX: [(Tier, u8); 6] = [
    (Tier::Verifier, 10),
    (Tier::Boundary, 6),
    (Tier::Grammar, 2),
    (Tier::Raw, 2),
    (Tier::Packet, 3),
    (Tier::PacketEdge, 1),
];

impl Tier {
    /// The input-model tiers that generate programs themselves.
    pub const ALL: [Tier; 4] = [Tier::Raw, Tier::Grammar, Tier::Verifier, Tier::Boundary];

    /// The name used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Grammar => "grammar",
            Tier::Verifier => "verifier",
            Tier::Boundary => "boundary",
            Tier::Mutated => "mutated",
            Tier::Mix => "mix",
            Tier::Packet => "packet",
            Tier::PacketEdge => "packet-edge",
        }
    }

    /// True for the tiers whose cases are native program types (run by
    /// the engine and the kernel only, docs/program-types.md).
    pub const fn is_native(self) -> bool {
        matches!(self, Tier::Packet | Tier::PacketEdge)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown tier name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown tier `{0}` (known: raw, grammar, verifier, boundary, mutated, mix, packet, packet-edge)"
)]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;

    fn from_str(s: &str) -> Result<Tier, UnknownTier> {
        Tier::ALL
            .into_iter()
            .chain([Tier::Mutated, Tier::Mix, Tier::Packet, Tier::PacketEdge])
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTier(s.to_string()))
    }
}

/// Generates one case of `tier` from `u`'s bytes.
pub fn generate(tier: Tier, knobs: &Knobs, u: &mut Unstructured) -> arbitrary::Result<Case> {
    match tier {
        Tier::Raw => raw::generate(knobs, u),
        Tier::Grammar => grammar::generate(knobs, u),
        Tier::Verifier => verifier_aware::generate(knobs, u),
        Tier::Boundary => boundary_tier::generate(knobs, u),
        Tier::Mutated => mutated::generate(knobs, u),
        Tier::Packet => packet::generate(packet::Flavour::Accepted, knobs, u),
        Tier::PacketEdge => packet::generate(packet::Flavour::NearMiss, knobs, u),
        Tier::Mix => {
            // The packet tiers take no knobs: a restricted ISA
            // (`BPFDIFF_ALLOWED_OPS`) leaves them out of the mix.
            let tiers = MIX
                .iter()
                .filter(|(t, _)| !(t.is_native() && knobs.is_restricted()));
            let total: u32 = tiers.clone().map(|(_, w)| *w as u32).sum();
            let mut pick = u.int_in_range(0..=total - 1)?;
            for &(tier, w) in tiers {
                if pick < w as u32 {
                    return generate(tier, knobs, u);
                }
                pick -= w as u32;
            }
            unreachable!("the weights sum to total")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_by_name() {
        for t in
            Tier::ALL
                .into_iter()
                .chain([Tier::Mutated, Tier::Mix, Tier::Packet, Tier::PacketEdge])
        {
            assert_eq!(t.name().parse::<Tier>(), Ok(t));
        }
        assert!("verifier-aware".parse::<Tier>().is_err());
    }

    #[test]
    fn the_mix_covers_the_native_types_unless_the_isa_is_restricted() {
        use bpfdiff_engine::prog_type::ProgType;
        let types = |knobs: &Knobs| -> Vec<ProgType> {
            (0..400)
                .map(|seed| seeded::case(Tier::Mix, knobs, seed).prog_type)
                .collect()
        };
        let default = types(&Knobs::default());
        for t in packet::TYPES {
            assert!(default.contains(&t), "no {t} case in 400 mix cases");
        }
        let native = default.iter().filter(|t| **t != ProgType::Input).count();
        // 4 of MIX's 24 weight units are packet tiers.
        assert!((30..=110).contains(&native), "{native} native cases of 400");
        let restricted = Knobs::default().with_allowed_ops("add,mov,exit").unwrap();
        assert!(types(&restricted).iter().all(|t| *t == ProgType::Input));
    }
}
