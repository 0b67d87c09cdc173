//! bpfdiff's oracles: the [`Backend`] trait, the [`Outcome`] model, the
//! backends (engine interpreter, engine JIT, rbpf interpreter, rbpf JIT,
//! Linux kernel),
//! the comparison of outcomes and the known-divergence rules, and the
//! kernel verifier's level-2 log as a soundness oracle ([`kernel_log`]).
#![deny(missing_docs)]

pub mod backend;
pub mod compare;
pub mod hex_u64;
pub mod kernel_log;
pub mod known;
pub mod outcome;
pub mod registry;

pub use backend::{Backend, Capabilities, Checking};
pub use compare::{compare, Aspect, Comparison, Difference};
pub use known::{KnownRule, KnownRules};
pub use outcome::{Execution, Outcome, Value, Verdict};

use bpfdiff_engine::Program;

/// The outcomes of one program on several backends, and their comparison.
#[derive(Clone, Debug)]
pub struct DiffResult {
    /// One outcome per backend, in the order run (reference first).
    pub outcomes: Vec<Outcome>,
    /// The comparison of every outcome with the first.
    pub comparison: Comparison,
}

/// Runs `program` on every backend (the first is the reference) and
/// compares. The engine's report of uninitialised stack reads is taken
/// from the engine interpreter directly.
pub fn diff(
    backends: &mut [Box<dyn Backend>],
    program: &Program,
    input: &[u8],
    rules: &mut KnownRules,
) -> DiffResult {
    let outcomes: Vec<Outcome> = backends.iter_mut().map(|b| b.run(program, input)).collect();
    let uninit = bpfdiff_engine::interp::Interpreter::new(program)
        .ok()
        .and_then(|vm| {
            let mut mem = input.to_vec();
            vm.run(&mut mem, bpfdiff_engine::interp::DEFAULT_BUDGET)
                .uninit_stack_read
        });
    let others: Vec<(Outcome, Capabilities)> = outcomes
        .iter()
        .zip(backends.iter())
        .skip(1)
        .map(|(o, b)| (o.clone(), b.capabilities()))
        .collect();
    let mut comparison = match outcomes.first() {
        Some(reference) => compare(reference, uninit, &others),
        None => Comparison::Inconclusive {
            why: vec!["no backend".to_string()],
        },
    };
    rules.apply(program, &mut comparison);
    DiffResult {
        outcomes,
        comparison,
    }
}
