//! proptest strategies over the generators: a strategy picks a byte vector,
//! the bytes feed `arbitrary::Unstructured`, and the tier turns them into a
//! case, so proptest shrinks a failing case by shrinking its bytes (fewer
//! bytes mean fewer, smaller choices).

use super::{generate, Case, Knobs, Tier};
use arbitrary::Unstructured;
use bpfdiff_engine::Program;
use proptest::prelude::*;

/// Cases of `tier` generated with `knobs`.
pub fn case(tier: Tier, knobs: Knobs) -> impl Strategy<Value = Case> {
    proptest::collection::vec(any::<u8>(), 0..4096).prop_map(move |bytes| {
        let mut u = Unstructured::new(&bytes);
        generate(tier, &knobs, &mut u).unwrap_or_default()
    })
}

/// Programs of `tier` generated with the default knobs.
pub fn program(tier: Tier) -> impl Strategy<Value = Program> {
    case(tier, Knobs::default()).prop_map(|c| c.program)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn grammar_strategy_gives_decodable_programs(p in program(Tier::Grammar)) {
            prop_assert!(p.decode().is_ok());
        }
    }
}
