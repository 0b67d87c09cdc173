//! Self-soundness of the engine's verifier: every program it accepts runs
//! on the engine's checking interpreter without a fault (running out of
//! budget is allowed). The interpreter checks every memory access, so an
//! accepted program that faults is an unsound verdict. Programs: the
//! grammar and verifier-aware tiers and single-field mutations of the
//! latter (`BPFDIFF_VERIFIER_CASES`, default 3000 per source).

use bpfdiff::campaign::case_seed;
use bpfdiff::gen::{seeded, Knobs, Tier};
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::verifier::{verify, VerifyOptions};
use bpfdiff_engine::Program;

fn cases() -> u64 {
    std::env::var("BPFDIFF_VERIFIER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// One field of one or two instructions changed, deterministically.
fn mutate(mut p: Program, i: u64) -> Program {
    let mut x = case_seed(3, i) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..1 + next() % 2 {
        let slot = (next() % p.insns.len() as u64) as usize;
        let ins = &mut p.insns[slot];
        match next() % 5 {
            0 => ins.dst = (next() % 11) as u8,
            1 => ins.src = (next() % 11) as u8,
            2 => ins.off = (ins.off as i64 + (next() % 17) as i64 - 8) as i16,
            3 => ins.imm = ins.imm.wrapping_add((next() % 33) as i32 - 16),
            _ => ins.off = -((next() % 520) as i16),
        }
    }
    p
}

/// Runs every accepted program; returns (accepted, faults found).
fn check(source: &str, programs: impl Iterator<Item = (Program, Vec<u8>)>) -> (usize, Vec<String>) {
    let mut accepted = 0;
    let mut bad = Vec::new();
    for (n, (p, mut mem)) in programs.enumerate() {
        let opts = VerifyOptions {
            privileged: true,
            input_len: Some(mem.len()),
            log_level: 0,
        };
        if !verify(&p, &opts).verdict.is_accepted() {
            continue;
        }
        accepted += 1;
        // The interpreter's loader refuses some encodings the kernel (and
        // so the verifier) accepts in dead code or ignores (`exit` with a
        // nonzero off): nothing runs, nothing faults.
        let Ok(interp) = Interpreter::new(&p) else {
            continue;
        };
        if let ExecResult::Fault(f) = interp.run(&mut mem, DEFAULT_BUDGET).result {
            let hex: String = p.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
            bad.push(format!(
                "{source} #{n}: accepted but faults: {f}; prog {hex}"
            ));
        }
    }
    (accepted, bad)
}

#[test]
fn every_accepted_program_runs_without_a_fault() {
    let knobs = Knobs::default();
    let n = cases();
    let mut all_bad = Vec::new();
    for (source, tier, mutated) in [
        ("grammar", Tier::Grammar, false),
        ("verifier-aware", Tier::Verifier, false),
        ("mutated", Tier::Verifier, true),
    ] {
        let programs = (0..n).map(|i| {
            let c = seeded::case(tier, &knobs, case_seed(4, i));
            let p = if mutated {
                mutate(c.program, i)
            } else {
                c.program
            };
            (p, c.input)
        });
        let (accepted, bad) = check(source, programs);
        eprintln!(
            "{source}: {accepted} of {n} accepted, {} faulted",
            bad.len()
        );
        all_bad.extend(bad);
    }
    assert!(all_bad.is_empty(), "{}", all_bad.join("\n"));
}
