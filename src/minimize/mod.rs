//! The minimizer: shrinks a diverging case while the divergence stays the
//! same, with BPF-aware passes in the style of C-Reduce (not byte-level).
//!
//! [`minimize`] runs every pass in a fixed order and repeats the round
//! until no pass changes the case (a fixpoint). Each pass proposes
//! candidates that are smaller in one respect and keeps the first one for
//! which the [`Predicate`] still holds:
//!
//! - [`subprograms`]: drop a whole subprogram (its calls become `r0 = 0`);
//! - [`ddmin`]: delete ranges of instructions, repairing the jump offsets
//!   and call targets of what remains;
//! - [`neutral`]: replace an instruction with a neutral one;
//! - [`operands`]: shrink immediates and offsets toward 0, 1, -1 and small
//!   powers of two;
//! - [`registers`]: renumber registers toward r0, r1, …;
//! - [`memory`]: shorten and zero the input memory.
//!
//! Every candidate is a valid program for the harness: it is not empty, its
//! `ld_imm64` pairs are intact, and it decodes whenever the original did.
//! Results are cached by (program bytes, input), so no candidate is asked
//! twice. Nothing depends on time or on hash order, so the same case and
//! predicate give the same output. [`predicate`] holds the "same
//! divergence" predicate used by `bpfdiff minimize`; [`case_file`] reads
//! and writes the case formats.

pub mod case_file;
pub mod ddmin;
pub mod memory;
pub mod neutral;
pub mod operands;
pub mod predicate;
pub mod registers;
pub mod subprograms;

pub use crate::gen::Case;
pub use predicate::{DiffPredicate, DivergenceKey};

use crate::gen::layout::{self, Item};
use bpfdiff_engine::Program;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Whether a candidate still shows the divergence being minimized.
///
/// A small trait so that the meaning of "the same divergence" can change
/// (today: [`DiffPredicate`]) without touching the passes; any
/// `FnMut(&Case) -> bool` is one.
pub trait Predicate {
    /// True when `case` still diverges in the same way.
    fn holds(&mut self, case: &Case) -> bool;
}

impl<F: FnMut(&Case) -> bool> Predicate for F {
    fn holds(&mut self, case: &Case) -> bool {
        self(case)
    }
}

/// What the minimizer reports as it works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The pass that just finished (or `start` / `done`).
    pub pass: &'static str,
    /// The round (1-based; 0 before the first).
    pub round: u32,
    /// Instruction slots of the current case.
    pub slots: usize,
    /// Input memory bytes of the current case.
    pub input_len: usize,
    /// Candidates tested so far (cache hits and invalid candidates excluded).
    pub tests: u64,
    /// Time since the start.
    pub elapsed: Duration,
}

/// The minimized case and what it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minimized {
    /// The smallest case found.
    pub case: Case,
    /// Rounds of all passes (the last one changed nothing).
    pub rounds: u32,
    /// Candidates given to the predicate.
    pub tests: u64,
    /// Candidates answered from the cache.
    pub cache_hits: u64,
    /// Candidates refused before testing (they would not be valid programs).
    pub invalid: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// Rounds after which the minimizer stops even without a fixpoint (each
/// pass only makes a case smaller in a well-founded order, so this is a
/// safety net, not a limit reached in practice).
pub const MAX_ROUNDS: u32 = 64;

/// The state of one minimization: the predicate, the cache and counters.
pub struct Minimizer<'a> {
    predicate: &'a mut dyn Predicate,
    progress: &'a mut dyn FnMut(&Progress),
    cache: HashMap<(Vec<u8>, Vec<u8>), bool>,
    must_decode: bool,
    max_input: usize,
    tests: u64,
    cache_hits: u64,
    invalid: u64,
    round: u32,
    start: Instant,
}

impl<'a> Minimizer<'a> {
    fn new(
        original: &Case,
        predicate: &'a mut dyn Predicate,
        progress: &'a mut dyn FnMut(&Progress),
    ) -> Minimizer<'a> {
        Minimizer {
            predicate,
            progress,
            cache: HashMap::new(),
            must_decode: original.program.decode().is_ok(),
            max_input: original.input.len(),
            tests: 0,
            cache_hits: 0,
            invalid: 0,
            round: 0,
            start: Instant::now(),
        }
    }

    /// True when `candidate` is a valid program for the harness and the
    /// predicate holds for it (asked at most once per program and input).
    pub fn test(&mut self, candidate: &Case) -> bool {
        if !self.valid(candidate) {
            self.invalid += 1;
            return false;
        }
        let key = (candidate.program.to_bytes(), candidate.input.clone());
        if let Some(&known) = self.cache.get(&key) {
            self.cache_hits += 1;
            return known;
        }
        self.tests += 1;
        let holds = self.predicate.holds(candidate);
        self.cache.insert(key, holds);
        holds
    }

    /// Tests `candidate` and, when it holds, makes it the current case.
    pub fn try_replace(&mut self, current: &mut Case, candidate: Case) -> bool {
        if candidate == *current || !self.test(&candidate) {
            return false;
        }
        *current = candidate;
        true
    }

    fn valid(&self, case: &Case) -> bool {
        !case.program.is_empty()
            && case.input.len() <= self.max_input
            && pairs_intact(&case.program)
            && (!self.must_decode || case.program.decode().is_ok())
    }

    fn report(&mut self, pass: &'static str, case: &Case) {
        let p = Progress {
            pass,
            round: self.round,
            slots: case.program.len(),
            input_len: case.input.len(),
            tests: self.tests,
            elapsed: self.start.elapsed(),
        };
        (self.progress)(&p);
    }
}

/// True when every `ld_imm64` first slot (opcode 0x18) is followed by its
/// second slot (opcode 0).
pub fn pairs_intact(program: &Program) -> bool {
    let slots = &program.insns;
    let mut i = 0;
    while i < slots.len() {
        if slots[i].opcode == bpfdiff_engine::opcode::LD_IMM64_OPCODE {
            if slots.get(i + 1).is_none_or(|s| s.opcode != 0) {
                return false;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    true
}

/// The case with its program replaced by `items` (targets re-encoded).
pub fn with_items(case: &Case, items: &[Item]) -> Case {
    Case {
        program: Program::new(layout::encode(items)),
        input: case.input.clone(),
        prog_type: case.prog_type,
        maps: case.maps.clone(),
    }
}

/// A pass: tries candidates and returns true when it changed `case`.
type Pass = fn(&mut Minimizer, &mut Case) -> bool;

/// The passes in the order a round runs them.
const PASSES: [(&str, Pass); 6] = [
    ("subprograms", subprograms::run),
    ("ddmin", ddmin::run),
    ("neutral", neutral::run),
    ("operands", operands::run),
    ("registers", registers::run),
    ("memory", memory::run),
];

/// Minimizes `case` while `predicate` holds, calling `progress` after each
/// pass that changed the case, and at the start and end. The caller checks
/// that the predicate holds for `case` itself.
pub fn minimize(
    case: Case,
    predicate: &mut dyn Predicate,
    progress: &mut dyn FnMut(&Progress),
) -> Minimized {
    let mut m = Minimizer::new(&case, predicate, progress);
    let mut current = case;
    m.report("start", &current);
    while m.round < MAX_ROUNDS {
        m.round += 1;
        let mut changed = false;
        for (name, pass) in PASSES {
            if pass(&mut m, &mut current) {
                changed = true;
                m.report(name, &current);
            }
        }
        if !changed {
            break;
        }
    }
    m.report("done", &current);
    Minimized {
        rounds: m.round,
        tests: m.tests,
        cache_hits: m.cache_hits,
        invalid: m.invalid,
        elapsed: m.start.elapsed(),
        case: current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::asm::kernel;

    fn case(asm: &str, input: &[u8]) -> Case {
        Case::new(kernel::assemble(asm).unwrap(), input.to_vec())
    }

    /// A predicate over the engine alone: the program returns 7 when run.
    fn returns_seven(c: &Case) -> bool {
        let mut mem = c.input.clone();
        matches!(
            bpfdiff_engine::interp::run_program(&c.program, &mut mem, 10_000).map(|e| e.result),
            Ok(bpfdiff_engine::interp::ExecResult::Returned { r0: 7, .. })
        )
    }

    #[test]
    fn a_fixpoint_leaves_only_what_the_predicate_needs() {
        let start = case(
            "r3 = 9\nr4 = 100\nr5 = r4\nr5 += 3\nr6 = 7\nif r5 > 1000 goto +1\nr0 = r6\nr2 = 8\nexit\n",
            &[1, 2, 3, 4],
        );
        assert!(returns_seven(&start));
        let mut pred = returns_seven;
        let mut steps = Vec::new();
        let out = minimize(start, &mut pred, &mut |p: &Progress| steps.push(p.slots));
        assert!(returns_seven(&out.case));
        assert_eq!(
            kernel::disassemble(&out.case.program).unwrap(),
            "0: (b7) r0 = 7\n1: (95) exit\n"
        );
        assert!(out.case.input.is_empty(), "the input is not needed");
        assert!(steps.len() >= 2 && steps.last() == Some(&2), "{steps:?}");
    }

    #[test]
    fn the_output_is_the_same_every_time() {
        let start = case("r1 = 5\nr2 = 6\nr0 = r1\nr0 += r2\nr0 -= 4\nexit\n", &[]);
        let run = || {
            let mut pred = returns_seven;
            minimize(start.clone(), &mut pred, &mut |_: &Progress| {}).case
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn ld_imm64_pairs_are_checked() {
        let ok = kernel::assemble("r1 = 0x100000000 ll\nexit\n").unwrap();
        assert!(pairs_intact(&ok));
        let mut broken = ok.clone();
        broken.insns.remove(1);
        assert!(!pairs_intact(&broken));
    }
}
