//! Self-soundness of the engine's verifier (issue 10):
//! - every program it accepts runs on the engine's checking interpreter
//!   without a fault (running out of budget is allowed): the interpreter
//!   checks every memory access, so an accepted program that faults is an
//!   unsound verdict;
//! - at every executed instruction, the concrete registers (and the
//!   current frame's spilled scalars) lie inside a state the verifier
//!   explored there ([`bpfdiff_engine::verifier::containment`]).
//!
//! Programs: the grammar and verifier-aware tiers and single-field
//! mutations of the latter (`bpfdiff::campaign::soundness::case`;
//! `BPFDIFF_VERIFIER_CASES`, default 3000 per source), and a proptest
//! property over both tiers.

use bpfdiff::campaign::soundness::{self, SoundnessConfig, SoundnessProgress, Source};
use bpfdiff::campaign::{case_seed, Shard};
use bpfdiff::gen::{Knobs, Tier};
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::verifier::containment::{check_program, CheckLimits, Outcome};
use bpfdiff_engine::verifier::{verify, VerifyOptions};
use proptest::prelude::*;

fn cases() -> u64 {
    std::env::var("BPFDIFF_VERIFIER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

#[test]
fn every_accepted_program_runs_without_a_fault() {
    let knobs = Knobs::default();
    let n = cases();
    let mut bad = Vec::new();
    let mut accepted = [0u64; 3];
    for i in 0..3 * n {
        let (source, p, mut mem) = soundness::case(&knobs, 4, i);
        let opts = VerifyOptions {
            privileged: true,
            input_len: Some(mem.len()),
            log_level: 0,
        };
        if !verify(&p, &opts).verdict.is_accepted() {
            continue;
        }
        accepted[(i % 3) as usize] += 1;
        // The interpreter's loader refuses some encodings the kernel (and
        // so the verifier) accepts in dead code or ignores (`exit` with a
        // nonzero off): nothing runs, nothing faults.
        let Ok(interp) = Interpreter::new(&p) else {
            continue;
        };
        if let ExecResult::Fault(f) = interp.run(&mut mem, DEFAULT_BUDGET).result {
            let hex: String = p.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
            bad.push(format!(
                "{} #{i}: accepted but faults: {f}; prog {hex}",
                source.name()
            ));
        }
    }
    for s in Source::ALL {
        eprintln!("{}: {} of {n} accepted", s.name(), accepted[s as usize]);
    }
    assert!(accepted.iter().all(|&a| a > 0), "{accepted:?}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_step_of_an_accepted_program_lies_inside_an_explored_state() {
    let config = SoundnessConfig {
        seed: 5,
        programs: Some(3 * cases()),
        duration: None,
        shard: Shard::WHOLE,
        jobs: 2,
        knobs: Knobs::default(),
        limits: CheckLimits::default(),
    };
    let summary = soundness::run(&config, &SoundnessProgress::default());
    eprintln!("{summary}");
    for row in &summary.sources {
        assert!(row.counts.checked > 0, "{summary}");
    }
    assert_eq!(summary.total.violations, 0, "{summary}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Self-soundness as a property: any generated program the verifier
    /// accepts runs inside the states it explored.
    #[test]
    fn accepted_programs_run_inside_their_explored_states(
        case in prop_oneof![
            bpfdiff::gen::proptest::case(Tier::Verifier, Knobs::default()),
            bpfdiff::gen::proptest::case(Tier::Grammar, Knobs::default()),
        ],
        mutation in any::<u64>(),
        mutated in any::<bool>(),
    ) {
        let program = if mutated {
            soundness::mutate(case.program, case_seed(9, mutation))
        } else {
            case.program
        };
        let outcome = check_program(&program, &case.input, &CheckLimits::default());
        prop_assert!(
            !matches!(outcome, Outcome::Violation(_)),
            "{outcome:?}; prog {:02x?} input {:02x?}",
            program.to_bytes(),
            case.input
        );
    }
}
