//! bpfdiff's oracles: the [`Backend`] trait, the [`Outcome`] model, the
//! backends (engine interpreter, engine JIT, rbpf interpreter, rbpf JIT,
//! Linux kernel, the engine's verifier as a verdict-only backend),
//! the comparison of outcomes and the known-divergence rules, and the
//! kernel verifier's level-2 log as a soundness oracle ([`kernel_log`]).
#![deny(missing_docs)]

pub mod backend;
pub mod bug_model;
pub mod compare;
pub mod hex_u64;
pub mod kernel_log;
pub mod known;
pub mod map_contents;
pub mod outcome;
pub mod registry;
pub mod verdicts;

pub use backend::verifier::VERIFIER_BACKEND;
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

/// Runs `program` on every backend and compares: every executing backend
/// with the first executing one (the reference), and every verdict-only
/// backend's verdict with every safety verifier's ([`verdicts`]). The
/// engine's report of uninitialised stack reads is taken from the engine
/// interpreter directly.
pub fn diff(
    backends: &mut [Box<dyn Backend>],
    program: &Program,
    input: &[u8],
    rules: &mut KnownRules,
) -> DiffResult {
    diff_where(backends, program, input, rules, &|_| true)
}

/// [`diff`] on the backends whose checking `select` accepts only.
pub fn diff_where(
    backends: &mut [Box<dyn Backend>],
    program: &Program,
    input: &[u8],
    rules: &mut KnownRules,
    select: &dyn Fn(Checking) -> bool,
) -> DiffResult {
    let mut outcomes = Vec::new();
    let mut caps = Vec::new();
    for b in backends.iter_mut() {
        let c = b.capabilities();
        if select(c.checking) {
            outcomes.push(b.run(program, input));
            caps.push(c);
        }
    }
    let uninit = engine_uninit_stack_read(program, input);
    compare_outcomes(outcomes, &caps, uninit, program, input, rules)
}

/// One program for [`diff_many`].
#[derive(Clone, Debug)]
pub struct DiffItem<'a> {
    /// The program.
    pub program: &'a Program,
    /// Its input memory.
    pub input: &'a [u8],
    /// The first instruction that reads stack the program never wrote, as
    /// the engine's interpreter (default budget) reports it; the caller
    /// has usually just run it.
    pub uninit_stack_read: Option<usize>,
    /// The engine interpreter's run of this program and input, when the
    /// caller has made it and it ended (returned or faulted) rather than
    /// running out of its budget: the `interp` backend's outcome is built
    /// from it instead of running the program again.
    pub engine_run: Option<EngineRun>,
}

/// A finished run of the engine's interpreter, kept to stand for the
/// `interp` backend's run of the same program and input.
#[derive(Clone, Debug)]
pub struct EngineRun {
    /// How the run went.
    pub execution: bpfdiff_engine::interp::Execution,
    /// The input memory after the run.
    pub memory: Vec<u8>,
}

impl EngineRun {
    /// The outcome a backend named `backend` with `budget` instructions
    /// would give, when this run is what it would do: the run ended within
    /// the budget, so a run with that budget ends the same way.
    fn outcome_within(&self, backend: &str, budget: u64) -> Option<Outcome> {
        let ended = !matches!(
            self.execution.result,
            bpfdiff_engine::interp::ExecResult::OutOfBudget
        );
        (ended && self.execution.insns_executed <= budget).then(|| {
            backend::interp::engine_outcome(
                backend,
                Ok(self.execution.clone()),
                self.memory.clone(),
            )
        })
    }
}

/// [`diff`] for several programs: each backend runs all of them
/// ([`Backend::run_many`], which lets rbpf's worker take them in one round
/// trip) before the next backend starts; the results are in `items` order
/// and equal what [`diff`] gives for each program alone.
pub fn diff_many(
    backends: &mut [Box<dyn Backend>],
    items: &[DiffItem<'_>],
    rules: &mut KnownRules,
) -> Vec<DiffResult> {
    let runs: Vec<(&Program, &[u8])> = items.iter().map(|i| (i.program, i.input)).collect();
    let caps: Vec<Capabilities> = backends.iter().map(|b| b.capabilities()).collect();
    let mut per_backend: Vec<std::vec::IntoIter<Outcome>> = backends
        .iter_mut()
        .map(|b| match b.engine_interpreter_budget() {
            Some(budget) => items
                .iter()
                .map(|item| {
                    item.engine_run
                        .as_ref()
                        .and_then(|r| r.outcome_within(b.name(), budget))
                        .unwrap_or_else(|| b.run(item.program, item.input))
                })
                .collect::<Vec<Outcome>>()
                .into_iter(),
            None => b.run_many(&runs).into_iter(),
        })
        .collect();
    items
        .iter()
        .map(|item| {
            let outcomes = per_backend
                .iter_mut()
                .zip(backends.iter())
                .map(|(outcomes, b)| {
                    outcomes.next().unwrap_or_else(|| {
                        Outcome::not_run(b.name(), "the backend gave fewer outcomes than programs")
                    })
                })
                .collect();
            compare_outcomes(
                outcomes,
                &caps,
                item.uninit_stack_read,
                item.program,
                item.input,
                rules,
            )
        })
        .collect()
}

/// The engine interpreter's report of the first read of unwritten stack.
pub fn engine_uninit_stack_read(program: &Program, input: &[u8]) -> Option<usize> {
    bpfdiff_engine::interp::Interpreter::new(program)
        .ok()
        .and_then(|vm| {
            let mut mem = input.to_vec();
            vm.run(&mut mem, bpfdiff_engine::interp::DEFAULT_BUDGET)
                .uninit_stack_read
        })
}

/// Compares the outcomes of one program (one per backend, with its
/// capabilities), merges the verdicts and applies the rules.
fn compare_outcomes(
    outcomes: Vec<Outcome>,
    caps: &[Capabilities],
    uninit: Option<usize>,
    program: &Program,
    input: &[u8],
    rules: &mut KnownRules,
) -> DiffResult {
    let mut executing = outcomes
        .iter()
        .zip(caps.iter())
        .filter(|(_, c)| c.checking != Checking::VerdictOnly);
    let reference = executing.next().map(|(o, _)| o);
    let others: Vec<(Outcome, Capabilities)> = executing.map(|(o, c)| (o.clone(), *c)).collect();
    let comparison = match reference {
        Some(reference) => compare(reference, uninit, &others),
        None => Comparison::Inconclusive {
            why: vec!["no backend".to_string()],
        },
    };
    let checking: Vec<(&Outcome, Checking)> = outcomes
        .iter()
        .zip(caps.iter())
        .map(|(o, c)| (o, c.checking))
        .collect();
    let mut comparison = verdicts::merge(comparison, others.len(), &checking);
    rules.apply(program, input, &mut comparison);
    DiffResult {
        outcomes,
        comparison,
    }
}
