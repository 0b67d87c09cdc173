//! A program within a backend's size limit that only the harness's own
//! slots push over it (rbpf's one-insn prologue, the kernel's 7-8-insn
//! wrapper) is not comparable on that backend: it is not run, the outcome
//! says why, and no divergence is reported. Both limits are 1,000,000
//! slots (rbpf 0.4.1's `PROG_MAX_INSNS`; the kernel's
//! `BPF_COMPLEXITY_LIMIT_INSNS` for a loader with CAP_BPF).

use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::kernel::KernelBackend;
use bpfdiff_oracle::backend::worker::WORKER_ENV;
use bpfdiff_oracle::{diff, registry, Comparison, Execution, KnownRules, Outcome};

/// `len - 1` times `r0 = 0`, then exit.
fn program_of(len: usize) -> Program {
    let mut insns = vec![Insn::new(0xb7, 0, 0, 0, 0); len - 1];
    insns.push(Insn::new(0x95, 0, 0, 0, 0));
    Program::new(insns)
}

fn not_run_why(o: &Outcome) -> &str {
    match &o.execution {
        Execution::NotRun { why } if !o.verdict.is_rejected() => why,
        other => panic!("{} should not run it, got {other:?}", o.backend),
    }
}

fn skipped(c: &Comparison) -> Vec<String> {
    match c {
        Comparison::Agree { skipped } => skipped.clone(),
        Comparison::Inconclusive { why } => why.clone(),
        Comparison::Diverge { differences } => panic!("diverges: {differences:?}"),
    }
}

#[test]
fn programs_at_the_limit_are_not_comparable_not_divergent() {
    std::env::set_var(WORKER_ENV, env!("CARGO_BIN_EXE_bpfdiff-worker"));
    let mut names = vec!["interp", "rbpf"];
    match KernelBackend::new(Default::default()).unavailable() {
        None => names.push("kernel"),
        Some(why) => eprintln!("SKIPPED (kernel part): kernel backend unavailable: {why}"),
    }
    let mut backends: Vec<_> = names.iter().map(|n| registry::create(n).unwrap()).collect();
    let mut rules = KnownRules::default();
    for len in [999_999usize, 1_000_000] {
        let p = program_of(len);
        for input in [vec![], vec![7u8; 4]] {
            let r = diff(&mut backends, &p, &input, &mut rules);
            assert!(
                !r.comparison.has_new_divergence(),
                "{len} insns: {:?}",
                r.comparison
            );
            let skipped = skipped(&r.comparison);
            let rbpf = &r.outcomes[1];
            if len == 1_000_000 {
                let why = not_run_why(rbpf);
                assert_eq!(
                    why,
                    "not comparable: program of 1000000 insns + 1 harness insn exceeds rbpf's 1000000-insn limit"
                );
                assert!(skipped.iter().any(|s| s.contains(why)), "{skipped:?}");
            } else {
                assert!(
                    matches!(rbpf.execution, Execution::Returned { r0, .. } if r0.bits == 0),
                    "{rbpf:?}"
                );
            }
            if let Some(kernel) = r.outcomes.get(2) {
                let why = not_run_why(kernel);
                let added = if input.is_empty() { 7 } else { 8 };
                assert_eq!(
                    why,
                    format!("not comparable: program of {len} insns + {added} harness insns exceeds the kernel's 1000000-insn limit")
                );
                assert!(skipped.iter().any(|s| s.contains(why)), "{skipped:?}");
            }
        }
    }
}
