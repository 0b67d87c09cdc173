//! JIT speed: nanoseconds per executed instruction of bpfdiff's JIT
//! (checked and unchecked) against bpfdiff's interpreter and rbpf 0.4.1's
//! JIT on the same bytecode and input, plus the time to compile a
//! 32-instruction program, alone and on two threads at once (the way a
//! campaign's workers compile).
//!
//! Run with `cargo bench -p bpfdiff-engine --bench jit`. Criterion reports
//! each program's throughput (elements/s = instructions/s); after it the
//! bench prints a table of ns per instruction and ratios, each the median
//! of alternating timed batches. Targets: unchecked ≤ 1.0× and checked
//! ≤ 1.5× the kernel JIT, measured side by side in the same run by
//! `cargo bench -p bpfdiff-oracle --bench jit_vs_kernel` (needs root);
//! compiling 32 instructions ≤ 20 µs. Here `byte_loop` copies r10 into
//! another register, so its stack escapes (jit/frames.rs) and its checked
//! accesses through other registers consider the stack as well as the
//! input; `local_calls` keeps r10 to itself.
//!
//! Input convention: r1 points to the input; rbpf's `EbpfVmRaw` does not
//! pass the length, so no program reads r2 before writing it. Every
//! program is built from opcode-table rows and checked once on every
//! engine (same r0) before anything is timed; an engine that cannot run a
//! program (rbpf's JIT has no bpf-to-bpf calls) is shown as n/a.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::jit::{JitProgram, Mode, Verified};
use bpfdiff_engine::opcode::{Operation, Size};
use bpfdiff_engine::Program;
use criterion::{BenchmarkId, Criterion, Throughput};

#[path = "support/programs.rs"]
mod programs;

use programs::{alu_body, alu_mix, byte_loop, input, local_calls, Asm, Mix};

/// The same kind of mix in a loop: 30 ALU instructions per iteration, 200
/// iterations (one budget check per iteration in checked mode).
fn alu_loop() -> Program {
    let mut a = Asm::default();
    let mut mix = Mix(0x100b);
    for r in 0..=8u8 {
        a.alu(true, Operation::Mov, r, mix.next() as i32 | 1);
    }
    a.alu(true, Operation::Mov, 9, 0);
    let top = a.label();
    a.bind(top);
    alu_body(&mut a, &mut mix, 30, &[9]);
    a.alu(true, Operation::Add, 9, 1);
    a.jlt(9, 200, top);
    for r in 1..=8u8 {
        a.alu_reg(true, Operation::Xor, 0, r);
    }
    a.exit();
    a.finish()
}

/// A 32-instruction program for the compile-time measurement: loads,
/// stores, ALU and a loop.
fn program_32() -> Program {
    let mut a = Asm::default();
    let mut mix = Mix(32);
    a.alu(true, Operation::Mov, 9, 0);
    let top = a.label();
    a.bind(top);
    a.load(Size::W, 2, 1, 0);
    a.load(Size::DW, 3, 1, 8);
    a.store(Size::DW, 10, -8, 2);
    alu_body(&mut a, &mut mix, 25, &[1, 9]);
    a.alu(true, Operation::Add, 9, 1);
    a.jlt(9, 4, top);
    a.exit();
    assert_eq!(a.len(), 32);
    a.finish()
}

// ---------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------

/// One program prepared on every engine.
struct Case {
    name: &'static str,
    interp: Interpreter,
    checked: JitProgram,
    unchecked: JitProgram,
    /// rbpf's JIT, when it compiles the program and returns the same r0.
    rbpf: Option<rbpf::EbpfVmRaw<'static>>,
    /// Instructions executed per run.
    insns: u64,
}

fn r0_of(result: ExecResult) -> u64 {
    match result {
        ExecResult::Returned { r0, .. } => r0,
        _ => 0,
    }
}

impl Case {
    fn new(name: &'static str, program: Program) -> Case {
        let interp = Interpreter::new(&program).expect("decodes");
        let execution = interp.run(&mut input(), DEFAULT_BUDGET);
        let r0 = match execution.result {
            ExecResult::Returned { r0, .. } => r0,
            other => panic!("{name}: the interpreter did not return: {other}"),
        };
        let checked = JitProgram::compile(&program, Mode::Checked).expect("decodes");
        let run = checked.run(&mut input(), DEFAULT_BUDGET);
        assert_eq!(run.result, execution.result, "{name}: checked JIT");
        // SAFETY: the checked run above made only in-bounds accesses, and
        // every timed run uses the same input, so it takes the same path.
        let unchecked =
            JitProgram::compile(&program, Mode::Unchecked(unsafe { Verified::assume() }))
                .expect("decodes");
        assert_eq!(
            r0_of(unchecked.run(&mut input(), 0).result),
            r0,
            "{name}: unchecked JIT"
        );
        let bytecode: &'static [u8] = Box::leak(program.to_bytes().into_boxed_slice());
        let rbpf = rbpf::EbpfVmRaw::new(Some(bytecode))
            .ok()
            .and_then(|mut vm| {
                // rbpf's JIT panics when the code outgrows its fixed buffer.
                let compiled =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| vm.jit_compile()));
                if !matches!(compiled, Ok(Ok(()))) {
                    eprintln!("{name}: rbpf's JIT cannot compile the program (shown as n/a)");
                    return None;
                }
                // SAFETY: the program's accesses are in bounds (see above).
                let got = unsafe { vm.execute_program_jit(&mut input()) }.ok()?;
                (got == r0).then_some(vm)
            });
        Case {
            name,
            interp,
            checked,
            unchecked,
            rbpf,
            insns: execution.insns_executed,
        }
    }

    fn run_interp(&self, mem: &mut [u8]) -> u64 {
        r0_of(self.interp.run(mem, DEFAULT_BUDGET).result)
    }

    fn run_checked(&self, mem: &mut [u8]) -> u64 {
        r0_of(self.checked.run(mem, DEFAULT_BUDGET).result)
    }

    fn run_unchecked(&self, mem: &mut [u8]) -> u64 {
        r0_of(self.unchecked.run(mem, 0).result)
    }
}

fn run_rbpf(vm: &rbpf::EbpfVmRaw<'static>, mem: &mut [u8]) -> u64 {
    // SAFETY: checked in Case::new on the same input.
    unsafe { vm.execute_program_jit(mem) }.unwrap_or(0)
}

fn cases() -> Vec<Case> {
    vec![
        Case::new("alu_mix", alu_mix()),
        Case::new("alu_loop", alu_loop()),
        Case::new("byte_loop", byte_loop()),
        Case::new("local_calls", local_calls()),
    ]
}

// ---------------------------------------------------------------------------
// Criterion
// ---------------------------------------------------------------------------

fn criterion_benches(c: &mut Criterion, cases: &[Case]) {
    for case in cases {
        let mut group = c.benchmark_group(format!("jit/{}", case.name));
        group.throughput(Throughput::Elements(case.insns));
        let mut mem = input();
        group.bench_function(BenchmarkId::new("checked", case.insns), |b| {
            b.iter(|| case.run_checked(black_box(&mut mem)))
        });
        group.bench_function(BenchmarkId::new("unchecked", case.insns), |b| {
            b.iter(|| case.run_unchecked(black_box(&mut mem)))
        });
        group.bench_function(BenchmarkId::new("interp", case.insns), |b| {
            b.iter(|| case.run_interp(black_box(&mut mem)))
        });
        if let Some(vm) = &case.rbpf {
            group.bench_function(BenchmarkId::new("rbpf-jit", case.insns), |b| {
                b.iter(|| run_rbpf(vm, black_box(&mut mem)))
            });
        }
        group.finish();
    }
    let program = program_32();
    c.bench_function("jit/compile_32_insns", |b| {
        b.iter(|| JitProgram::compile(black_box(&program), Mode::Checked).map(|p| p.code_size()))
    });
}

// ---------------------------------------------------------------------------
// Summary table (own timing loop, alternating batches)
// ---------------------------------------------------------------------------

const BATCHES: usize = 15;
const BATCH_TIME: Duration = Duration::from_millis(10);

/// Calibrates how many calls of `f` fill a batch.
fn runs_per_batch(f: &mut dyn FnMut() -> u64) -> u64 {
    let mut runs = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..runs {
            black_box(f());
        }
        let elapsed = start.elapsed();
        if elapsed >= BATCH_TIME / 4 {
            return ((BATCH_TIME.as_secs_f64() * runs as f64 / elapsed.as_secs_f64()) as u64)
                .max(1);
        }
        runs *= 2;
    }
}

/// Median ns per call of each workload, timed in alternating batches so
/// all see the same machine load.
fn ns_per_call(workloads: &mut [&mut dyn FnMut() -> u64]) -> Vec<f64> {
    let runs: Vec<u64> = workloads.iter_mut().map(|f| runs_per_batch(*f)).collect();
    let mut samples = vec![Vec::new(); workloads.len()];
    for _ in 0..BATCHES {
        for (i, f) in workloads.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..runs[i] {
                black_box(f());
            }
            samples[i].push(start.elapsed().as_nanos() as f64 / runs[i] as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

fn summary(cases: &[Case]) {
    println!();
    println!("ns per executed instruction (median of {BATCHES} alternating batches)");
    println!(
        "{:<12} {:>7} {:>9} {:>10} {:>9} {:>9} {:>10} {:>12} {:>12}",
        "program",
        "insns",
        "checked",
        "unchecked",
        "interp",
        "rbpf-jit",
        "chk/unchk",
        "unchk/rbpf",
        "interp/chk"
    );
    for case in cases {
        let (mut m1, mut m2, mut m3, mut m4) = (input(), input(), input(), input());
        let mut checked = || case.run_checked(black_box(&mut m1));
        let mut unchecked = || case.run_unchecked(black_box(&mut m2));
        let mut interp = || case.run_interp(black_box(&mut m3));
        let times = match &case.rbpf {
            Some(vm) => {
                let mut rbpf = || run_rbpf(vm, black_box(&mut m4));
                ns_per_call(&mut [&mut checked, &mut unchecked, &mut interp, &mut rbpf])
            }
            None => ns_per_call(&mut [&mut checked, &mut unchecked, &mut interp]),
        };
        let per: Vec<f64> = times.iter().map(|t| t / case.insns as f64).collect();
        let rbpf = per.get(3).map_or("n/a".to_string(), |v| format!("{v:.3}"));
        let vs_rbpf = per
            .get(3)
            .map_or("n/a".to_string(), |v| format!("{:.2}x", per[1] / v));
        println!(
            "{:<12} {:>7} {:>9.3} {:>10.3} {:>9.3} {:>9} {:>9.2}x {:>12} {:>11.1}x",
            case.name,
            case.insns,
            per[0],
            per[1],
            per[2],
            rbpf,
            per[0] / per[1],
            vs_rbpf,
            per[2] / per[0]
        );
    }
    let program = program_32();
    let bytecode = program.to_bytes();
    let mut ours = || {
        JitProgram::compile(black_box(&program), Mode::Checked).map_or(0, |p| p.code_size() as u64)
    };
    let mut theirs = || {
        let mut vm = rbpf::EbpfVmRaw::new(Some(&bytecode)).expect("valid");
        vm.jit_compile().map_or(0, |_| 1)
    };
    let times = ns_per_call(&mut [&mut ours, &mut theirs]);
    println!();
    println!(
        "compile a 32-insn program: bpfdiff JIT {:.1} µs (target ≤ 20 µs), rbpf JIT {:.1} µs",
        times[0] / 1000.0,
        times[1] / 1000.0
    );
    let (wall, cpu) = compile_on_two_threads(&program);
    println!(
        "compile on 2 threads at once: {wall:.1} µs wall, {cpu:.1} µs CPU per program and thread (a mapping change per program would add TLB shootdowns here)"
    );
}

/// CPU time of the calling thread.
fn thread_cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Microseconds of wall-clock and of CPU time per compile (medians of 5
/// runs) while two threads compile and drop `program` 2,000 times each, as
/// a campaign's workers do. CPU time is the one to read on a busy machine.
fn compile_on_two_threads(program: &Program) -> (f64, f64) {
    const PER_THREAD: u32 = 2000;
    let (mut walls, mut cpus): (Vec<f64>, Vec<f64>) = (0..5)
        .map(|_| {
            let start = Instant::now();
            let cpu: Duration = std::thread::scope(|s| {
                let threads: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            let cpu = thread_cpu_time();
                            for _ in 0..PER_THREAD {
                                let jit = JitProgram::compile(black_box(program), Mode::Checked);
                                black_box(jit.map(|p| p.code_size()).unwrap_or(0));
                            }
                            thread_cpu_time() - cpu
                        })
                    })
                    .collect();
                threads.into_iter().map(|t| t.join().unwrap()).sum()
            });
            let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(PER_THREAD);
            (per(start.elapsed()), per(cpu) / 2.0)
        })
        .unzip();
    walls.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    (walls[2], cpus[2])
}

/// True when cargo runs this target as a benchmark, not as a smoke test.
fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("--bench") && !has("--test") && !has("--list")
}

fn main() {
    let cases = cases();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .configure_from_args();
    criterion_benches(&mut criterion, &cases);
    criterion.final_summary();
    if benchmarking() {
        summary(&cases);
    }
}
