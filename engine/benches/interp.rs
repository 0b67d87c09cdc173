//! Interpreter speed: nanoseconds per executed instruction, bpfdiff's
//! checking interpreter against rbpf 0.4.1's interpreter, on the same
//! bytecode and the same input.
//!
//! Run with `cargo bench -p bpfdiff-engine --bench interp`. Criterion reports
//! each program's throughput in instructions per second (elements/s); after
//! it, the bench prints its own table of ns per instruction and the ratio
//! ours/rbpf, measured as the median of several timed batches.
//!
//! Input convention: both VMs get a pointer to the input buffer in r1. rbpf's
//! `EbpfVmRaw` cannot pass the buffer length in r2 (it leaves r2 = 0), so no
//! program here reads r2 before writing it.
//!
//! The programs (`support/programs.rs`, shared with the JIT bench) are
//! built from rows of the opcode table and checked once on both VMs (same
//! r0, no fault) before anything is timed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::Program;
use criterion::{BenchmarkId, Criterion, Throughput};

#[path = "support/programs.rs"]
mod programs;

use programs::{alu_mix, byte_loop, input, local_calls};

// ---------------------------------------------------------------------------
// Running on both VMs
// ---------------------------------------------------------------------------

/// One benchmark program, prepared on both VMs.
struct Case {
    name: &'static str,
    bytecode: Vec<u8>,
    ours: Interpreter,
    /// Instructions executed per run (from bpfdiff's interpreter; the same
    /// bytecode takes the same path on rbpf, as the equal r0 confirms).
    insns: u64,
}

impl Case {
    /// Prepares `program` and checks that both VMs return the same r0.
    fn new(name: &'static str, program: Program) -> Case {
        let bytecode = program.to_bytes();
        let ours = Interpreter::new(&program)
            .unwrap_or_else(|e| panic!("{name}: bpfdiff cannot decode the program: {e}"));
        let mut mem = input();
        let execution = ours.run(&mut mem, DEFAULT_BUDGET);
        let r0 = match execution.result {
            ExecResult::Returned { r0, .. } => r0,
            other => panic!("{name}: bpfdiff did not return: {other}"),
        };
        let mut mem = input();
        let rbpf_r0 = rbpf_vm(&bytecode)
            .unwrap_or_else(|e| panic!("{name}: rbpf rejects the program: {e}"))
            .execute_program(&mut mem)
            .unwrap_or_else(|e| panic!("{name}: rbpf fails to run the program: {e}"));
        assert_eq!(
            r0, rbpf_r0,
            "{name}: bpfdiff returned 0x{r0:x}, rbpf returned 0x{rbpf_r0:x}"
        );
        Case {
            name,
            bytecode,
            ours,
            insns: execution.insns_executed,
        }
    }

    /// One run on bpfdiff's interpreter; returns r0 (0 when not returned).
    fn run_ours(&self, mem: &mut [u8]) -> u64 {
        match self.ours.run(mem, DEFAULT_BUDGET).result {
            ExecResult::Returned { r0, .. } => r0,
            _ => 0,
        }
    }
}

/// rbpf's interpreter with the raw-memory convention (r1 = pointer to mem).
fn rbpf_vm(bytecode: &[u8]) -> Result<rbpf::EbpfVmRaw<'_>, std::io::Error> {
    rbpf::EbpfVmRaw::new(Some(bytecode))
}

fn cases() -> Vec<Case> {
    vec![
        Case::new("alu_mix", alu_mix()),
        Case::new("byte_loop", byte_loop()),
        Case::new("local_calls", local_calls()),
    ]
}

// ---------------------------------------------------------------------------
// Criterion benchmarks
// ---------------------------------------------------------------------------

fn criterion_benches(c: &mut Criterion, cases: &[Case]) {
    for case in cases {
        let mut group = c.benchmark_group(case.name);
        group.throughput(Throughput::Elements(case.insns));
        let mut mem = input();
        group.bench_function(BenchmarkId::new("bpfdiff", case.insns), |bench| {
            bench.iter(|| case.run_ours(black_box(&mut mem)))
        });
        let vm = rbpf_vm(&case.bytecode).expect("checked in Case::new");
        let mut mem = input();
        group.bench_function(BenchmarkId::new("rbpf", case.insns), |bench| {
            bench.iter(|| vm.execute_program(black_box(&mut mem)).unwrap_or(0))
        });
        group.finish();
    }
}

// ---------------------------------------------------------------------------
// The summary table (own timing loop)
// ---------------------------------------------------------------------------

/// Batches timed per VM and program; the median is reported.
const BATCHES: usize = 41;
/// Target wall time of one batch.
const BATCH_TIME: Duration = Duration::from_millis(10);

/// A timed workload: how many runs fill one batch, and the closure.
struct Workload<F: FnMut() -> u64> {
    runs: u64,
    run: F,
}

impl<F: FnMut() -> u64> Workload<F> {
    /// Calibrates how many runs of `run` fill one batch.
    fn new(mut run: F) -> Workload<F> {
        let mut runs: u64 = 1;
        loop {
            let start = Instant::now();
            for _ in 0..runs {
                black_box(run());
            }
            let elapsed = start.elapsed();
            if elapsed >= BATCH_TIME / 4 {
                let per_run = elapsed.as_secs_f64() / runs as f64;
                let runs = ((BATCH_TIME.as_secs_f64() / per_run) as u64).max(1);
                return Workload { runs, run };
            }
            runs *= 2;
        }
    }

    /// Times one batch; returns ns per run.
    fn batch(&mut self) -> f64 {
        let start = Instant::now();
        for _ in 0..self.runs {
            black_box((self.run)());
        }
        start.elapsed().as_nanos() as f64 / self.runs as f64
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Times two workloads in alternating batches so that both see the same
/// machine load (the machine may be shared). Returns the median ns per run
/// of each, and the median of the per-pair ratios `a / b`: each ratio
/// compares two batches timed back to back, so a change in load between
/// pairs does not skew it.
fn ns_per_run_interleaved(a: impl FnMut() -> u64, b: impl FnMut() -> u64) -> (f64, f64, f64) {
    let mut a = Workload::new(a);
    let mut b = Workload::new(b);
    let (mut sa, mut sb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..BATCHES {
        let (ta, tb) = (a.batch(), b.batch());
        sa.push(ta);
        sb.push(tb);
        ratios.push(ta / tb);
    }
    (median(sa), median(sb), median(ratios))
}

fn summary(cases: &[Case]) {
    println!();
    println!(
        "interpreter ns per executed instruction (medians of {BATCHES} alternating batch pairs of ~{} ms; the ratio is the median of the pairs' ratios)",
        BATCH_TIME.as_millis()
    );
    println!(
        "{:<12} {:>8} {:>14} {:>12} {:>12}",
        "program", "insns", "bpfdiff ns", "rbpf ns", "bpfdiff/rbpf"
    );
    for case in cases {
        let mut mem_ours = input();
        let mut mem_rbpf = input();
        let vm = rbpf_vm(&case.bytecode).expect("checked in Case::new");
        let (ours, theirs, ratio) = ns_per_run_interleaved(
            || case.run_ours(black_box(&mut mem_ours)),
            || vm.execute_program(black_box(&mut mem_rbpf)).unwrap_or(0),
        );
        let (ours, theirs) = (ours / case.insns as f64, theirs / case.insns as f64);
        println!(
            "{:<12} {:>8} {:>14.2} {:>12.2} {:>11.2}x",
            case.name, case.insns, ours, theirs, ratio
        );
    }
}

/// True when cargo runs this target as a benchmark (`cargo bench`), not as a
/// smoke test (`cargo test --benches`) or a listing.
fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("--bench")
        && !has("--test")
        && !has("--list")
        && !args.iter().any(|a| a.starts_with("--profile-time"))
}

fn main() {
    let cases = cases();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    criterion_benches(&mut criterion, &cases);
    criterion.final_summary();
    if benchmarking() {
        summary(&cases);
    }
}
