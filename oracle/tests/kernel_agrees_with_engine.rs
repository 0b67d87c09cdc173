//! The kernel backend agrees with the engine on every corpus/conformance
//! test it accepts (SEMANTICS.md facts: register div/mod by zero, shift
//! masking, 32-bit zero-extension, sign-extended immediates, SDIV/SMOD
//! overflow, atomics, …). The tests it rejects are listed with the kernel's
//! reason. Skips, with the reason, where bpf() is not permitted.

use bpfdiff_engine::data::parse_data_file;
use bpfdiff_oracle::backend::interp::InterpBackend;
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::{diff, Backend, Comparison, KnownRules, Verdict};
use std::path::PathBuf;

fn corpus() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/conformance");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus/conformance exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    files.sort();
    files
}

/// SEMANTICS.md facts that the kernel must accept and agree on; a file
/// here that the kernel rejects fails the test, so the check is never vacuous.
const FACTS_THE_KERNEL_MUST_RUN: &[&str] = &[
    "alu64-div-by-zero-reg",
    "alu32-div-by-zero-reg",
    "alu64-mod-by-zero-reg",
    "alu32-mod-by-zero-reg",
    "alu64-lsh-reg-masks-65",
    "alu32-lsh-reg-masks-33",
    "alu32-result-zero-extends",
    "alu64-and-imm-sign-extends",
    "jmp-jeq-imm-neg1-not-u32max",
    "jmp32-jeq-imm-neg1-is-u32max",
    "alu64-sdiv-intmin-by-neg1-reg",
    "alu32-sdiv-intmin-by-neg1-reg",
    "alu64-smod-intmin-by-neg1-reg",
    "alu32-smod-intmin-by-neg1-reg",
    "atomic64-fetch-add",
    "atomic32-fetch-add",
    "atomic64-cmpxchg-success",
    "atomic32-cmpxchg-failure",
];

#[test]
fn kernel_agrees_on_everything_it_accepts() {
    let kernel = KernelBackend::new(KernelOptions::default());
    if let Some(why) = kernel.unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let mut backends: Vec<Box<dyn Backend>> =
        vec![Box::new(InterpBackend::default()), Box::new(kernel)];
    let mut rules = KnownRules::default();
    let (mut agreed, mut rejected, mut inconclusive, mut diverged) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for path in corpus() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let test = parse_data_file(&path).unwrap();
        let r = diff(&mut backends, &test.program, &test.mem, &mut rules);
        match (&r.outcomes[1].verdict, &r.comparison) {
            (Verdict::Rejected { errno, reason, .. }, _) => {
                rejected.push(format!("{name}: errno {errno}: {reason}"))
            }
            (_, Comparison::Diverge { differences }) => {
                let d: Vec<String> = differences.iter().map(|d| d.to_string()).collect();
                diverged.push(format!("{name}: {}", d.join("; ")));
            }
            (_, Comparison::Inconclusive { why }) => {
                inconclusive.push(format!("{name}: {}", why.join("; ")))
            }
            (_, Comparison::Agree { .. }) => agreed.push(name),
        }
    }
    eprintln!(
        "kernel vs engine: {} agree, {} rejected by the kernel, {} inconclusive, {} diverge",
        agreed.len(),
        rejected.len(),
        inconclusive.len(),
        diverged.len()
    );
    for r in &rejected {
        eprintln!("  rejected: {r}");
    }
    for r in &inconclusive {
        eprintln!("  inconclusive: {r}");
    }
    assert!(diverged.is_empty(), "divergences:\n{}", diverged.join("\n"));
    let missing: Vec<&&str> = FACTS_THE_KERNEL_MUST_RUN
        .iter()
        .filter(|f| !agreed.iter().any(|a| a == **f))
        .collect();
    assert!(
        missing.is_empty(),
        "facts the kernel did not run and agree on: {missing:?}"
    );
}
