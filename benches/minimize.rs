//! `bpfdiff minimize`'s targets (issue 11): a generated 100-instruction
//! program holding an rbpf divergence shrinks to 5 instructions or fewer in
//! 1 s or less (engine + rbpf), and a kernel divergence buried in a
//! generated program shrinks in 30 s or less (engine + kernel). Each
//! iteration is one whole minimization; the kernel case is skipped when the
//! kernel backend cannot run here.

#[path = "../tests/minimize_support/mod.rs"]
mod minimize_support;

use bpfdiff::minimize::{minimize, DiffPredicate, Progress};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn bench_case(c: &mut Criterion, name: &str, names: &[&str], case: bpfdiff::gen::Case) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let rules = bpfdiff::known_rules::builtin().unwrap();
    let slots = case.program.len();
    let mut last = None;
    c.bench_function(name, |b| {
        b.iter(|| {
            let (mut p, _) = DiffPredicate::new(&names, rules.clone(), &case).unwrap();
            let out = minimize(case.clone(), &mut p, &mut |_: &Progress| {});
            last = Some((out.case.program.len(), out.tests, out.elapsed));
        })
    });
    if let Some((to, tests, took)) = last {
        eprintln!("{name}: {slots} -> {to} slots, {tests} tests, last run {took:?}");
    }
}

fn targets(c: &mut Criterion) {
    let (_, rbpf_case) = minimize_support::generated_rbpf_case(0);
    bench_case(
        c,
        "minimize/rbpf-generated-100",
        &["interp", "rbpf"],
        rbpf_case,
    );
    if let Some((_, kernel_case)) = minimize_support::buried_kernel_case(0) {
        bench_case(
            c,
            "minimize/kernel-buried-100",
            &["interp", "kernel"],
            kernel_case,
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = targets
}
criterion_main!(benches);
