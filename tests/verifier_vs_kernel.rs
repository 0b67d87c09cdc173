//! The engine's verifier judged against the kernel's (Linux 6.18, loaded
//! through the kernel backend's harness wrapper, as a static subprogram of
//! a SYSCALL program with the input as a map value): for the conformance
//! corpus and for generated programs of the verifier-aware and grammar
//! tiers, a confusion matrix of verdicts (both accept / both refuse / only
//! the kernel accepts / only we accept) and the disagreements with both
//! messages. The engine's verifier must agree on at least 99 % of the
//! corpus and of the verifier-aware tier. Programs with an instruction the
//! engine's verifier does not model (`unsupported`) are counted apart.
//!
//! When `bpf()` is denied and we are not root, the tests print `SKIPPED`
//! with the reason; as root an unavailable kernel backend fails.
//!
//! Case counts: `BPFDIFF_VERIFIER_CASES` (default 2000 per tier).

use bpfdiff::campaign::case_seed;
use bpfdiff::gen::{seeded, Knobs, Tier};
use bpfdiff_engine::data::parse_data;
use bpfdiff_engine::verifier::{verify, RejectClass, Verdict, VerifyOptions};
use bpfdiff_engine::Program;
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::{Backend, Verdict as KVerdict};
use std::fmt;

#[derive(Default)]
struct Matrix {
    both_accept: usize,
    both_refuse: usize,
    only_kernel_accepts: usize,
    only_we_accept: usize,
    unsupported: usize,
    kernel_unknown: usize,
    disagreements: Vec<String>,
}

impl Matrix {
    fn compared(&self) -> usize {
        self.both_accept + self.both_refuse + self.only_kernel_accepts + self.only_we_accept
    }
    fn agreement(&self) -> f64 {
        100.0 * (self.both_accept + self.both_refuse) as f64 / self.compared().max(1) as f64
    }
}

impl fmt::Display for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "both accept {} | both refuse {} | only kernel accepts {} | only we accept {} | unsupported {} | kernel unknown {} | agreement {:.2} % of {}",
            self.both_accept,
            self.both_refuse,
            self.only_kernel_accepts,
            self.only_we_accept,
            self.unsupported,
            self.kernel_unknown,
            self.agreement(),
            self.compared()
        )?;
        for d in self.disagreements.iter().take(40) {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

fn kernel() -> Option<KernelBackend> {
    let k = KernelBackend::new(KernelOptions {
        log_on_reject: true,
        ..KernelOptions::default()
    });
    if let Some(why) = k.unavailable() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(
            !root,
            "running as root but the kernel backend is unavailable: {why}"
        );
        eprintln!("SKIPPED: kernel backend unavailable: {why}");
        return None;
    }
    Some(k)
}

fn compare(k: &mut KernelBackend, m: &mut Matrix, name: &str, program: &Program, mem: &[u8]) {
    let ours = verify(
        program,
        &VerifyOptions {
            privileged: true,
            input_len: Some(mem.len()),
            log_level: 0,
        },
    );
    if let Verdict::Rejected {
        class: RejectClass::Unsupported,
        ..
    } = ours.verdict
    {
        m.unsupported += 1;
        return;
    }
    let theirs = k.run(program, mem).verdict;
    let hex = || {
        program
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    match (&ours.verdict, &theirs) {
        (_, KVerdict::Unknown) => m.kernel_unknown += 1,
        (Verdict::Accepted, KVerdict::Accepted) => m.both_accept += 1,
        (Verdict::Rejected { .. }, KVerdict::Rejected { .. }) => m.both_refuse += 1,
        (Verdict::Rejected { pc, message, .. }, KVerdict::Accepted) => {
            m.only_kernel_accepts += 1;
            m.disagreements.push(format!(
                "{name} (mem {}): kernel accepts; we refuse at {pc}: {message}; prog {}",
                mem.len(),
                hex()
            ));
        }
        (Verdict::Accepted, KVerdict::Rejected { reason, .. }) => {
            m.only_we_accept += 1;
            m.disagreements.push(format!(
                "{name} (mem {}): we accept; kernel refuses: {reason}; prog {}",
                mem.len(),
                hex()
            ));
        }
    }
}

fn cases() -> u64 {
    std::env::var("BPFDIFF_VERIFIER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn tier_matrix(k: &mut KernelBackend, tier: Tier, n: u64) -> Matrix {
    let knobs = Knobs::default();
    let mut m = Matrix::default();
    for i in 0..n {
        let case = seeded::case(tier, &knobs, case_seed(0, i));
        compare(
            k,
            &mut m,
            &format!("{tier:?} #{i}"),
            &case.program,
            &case.input,
        );
    }
    m
}

#[test]
fn verdicts_agree_with_the_kernel_on_the_conformance_corpus() {
    let Some(mut k) = kernel() else { return };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/conformance");
    let mut m = Matrix::default();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        let t = parse_data(&text).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        compare(&mut k, &mut m, &name, &t.program, &t.mem);
    }
    eprintln!("corpus/conformance: {m}");
    assert!(m.agreement() >= 99.0, "agreement below 99 %: {m}");
}

#[test]
fn verdicts_agree_with_the_kernel_on_the_verifier_aware_tier() {
    let Some(mut k) = kernel() else { return };
    let m = tier_matrix(&mut k, Tier::Verifier, cases());
    eprintln!("verifier-aware tier: {m}");
    assert!(m.agreement() >= 99.0, "agreement below 99 %: {m}");
}

#[test]
fn verdicts_compared_with_the_kernel_on_the_grammar_tier() {
    // Reported, not asserted: the target (95 %) is for 100,000
    // programs; see docs/verifier.md for the measured figure.
    let Some(mut k) = kernel() else { return };
    let m = tier_matrix(&mut k, Tier::Grammar, cases());
    eprintln!("grammar tier: {m}");
    assert!(m.compared() > 0, "nothing compared: {m}");
}

/// A verifier-aware program with one field of one instruction changed
/// (deterministic in `i`): registers, offsets and immediates move, so
/// that both verdicts occur.
fn mutated(i: u64) -> (Program, Vec<u8>) {
    let case = seeded::case(Tier::Verifier, &Knobs::default(), case_seed(1, i));
    (
        bpfdiff::campaign::soundness::mutate(case.program, case_seed(2, i)),
        case.input,
    )
}

#[test]
fn verdicts_compared_with_the_kernel_on_mutated_programs() {
    let Some(mut k) = kernel() else { return };
    let mut m = Matrix::default();
    for i in 0..cases() {
        let (p, mem) = mutated(i);
        compare(&mut k, &mut m, &format!("mutated #{i}"), &p, &mem);
    }
    eprintln!("mutated verifier-aware programs: {m}");
    assert!(m.agreement() >= 95.0, "agreement below 95 %: {m}");
}
