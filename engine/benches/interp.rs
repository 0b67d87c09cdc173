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
//! Every program is built from rows of the opcode table and checked once on
//! both VMs (same r0, no fault) before anything is timed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bpfdiff_engine::decode::Instruction;
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::opcode::{self, Class, Operation, Size, Source};
use bpfdiff_engine::Program;
use criterion::{BenchmarkId, Criterion, Throughput};

/// Length of the input buffer every program receives.
const INPUT_LEN: usize = 256;

// ---------------------------------------------------------------------------
// Building programs from the opcode table
// ---------------------------------------------------------------------------

/// A forward or backward jump/call target, resolved when the program is
/// finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Label(usize);

/// A tiny builder over [`Instruction`]s: every instruction's row comes from
/// the opcode table through [`opcode::find`]; jump and call targets are
/// labels patched at the end. No program here uses `ld_imm64`, so one
/// instruction is one slot.
#[derive(Default)]
struct Builder {
    insns: Vec<Instruction>,
    /// Slot index of each bound label (None until bound).
    labels: Vec<Option<usize>>,
    /// (instruction index, label, patch the imm instead of the off).
    fixups: Vec<(usize, Label, bool)>,
}

fn row(
    class: Class,
    operation: Operation,
    source: Source,
    size: Option<Size>,
) -> &'static opcode::OpcodeRow {
    opcode::find(class, operation, source, size).unwrap_or_else(|| {
        panic!("opcode table has no row for {class:?} {operation:?} {source:?} {size:?}")
    })
}

impl Builder {
    fn push(&mut self, insn: Instruction) {
        self.insns.push(insn);
    }

    fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.insns.len());
    }

    /// `dst op= imm` in the ALU (`wide = false`) or ALU64 class.
    fn alu_imm(&mut self, wide: bool, op: Operation, dst: u8, imm: i32) {
        let class = if wide { Class::Alu64 } else { Class::Alu };
        self.push(Instruction::new(
            row(class, op, Source::Imm, None),
            dst,
            0,
            0,
            imm,
        ));
    }

    /// `dst op= src` in the ALU (`wide = false`) or ALU64 class.
    fn alu_reg(&mut self, wide: bool, op: Operation, dst: u8, src: u8) {
        let class = if wide { Class::Alu64 } else { Class::Alu };
        self.push(Instruction::new(
            row(class, op, Source::Reg, None),
            dst,
            src,
            0,
            0,
        ));
    }

    fn alu64_imm(&mut self, op: Operation, dst: u8, imm: i32) {
        self.alu_imm(true, op, dst, imm);
    }

    fn alu64_reg(&mut self, op: Operation, dst: u8, src: u8) {
        self.alu_reg(true, op, dst, src);
    }

    /// `dst = *(size *)(src + off)`.
    fn load(&mut self, size: Size, dst: u8, src: u8, off: i16) {
        self.push(Instruction::new(
            row(Class::Ldx, Operation::Load, Source::None, Some(size)),
            dst,
            src,
            off,
            0,
        ));
    }

    /// `*(size *)(dst + off) = src`.
    fn store(&mut self, size: Size, dst: u8, off: i16, src: u8) {
        self.push(Instruction::new(
            row(Class::Stx, Operation::StoreReg, Source::None, Some(size)),
            dst,
            src,
            off,
            0,
        ));
    }

    /// `if dst op imm goto target` (64-bit compare).
    fn jump_imm(&mut self, op: Operation, dst: u8, imm: i32, target: Label) {
        self.fixups.push((self.insns.len(), target, false));
        self.push(Instruction::new(
            row(Class::Jmp, op, Source::Imm, None),
            dst,
            0,
            0,
            imm,
        ));
    }

    /// bpf-to-bpf call (`call` with src = 1) to `target`.
    fn call_local(&mut self, target: Label) {
        self.fixups.push((self.insns.len(), target, true));
        self.push(Instruction::new(
            row(Class::Jmp, Operation::CallLocal, Source::Imm, None),
            0,
            1,
            0,
            0,
        ));
    }

    fn exit(&mut self) {
        self.push(Instruction::new(
            row(Class::Jmp, Operation::Exit, Source::Imm, None),
            0,
            0,
            0,
            0,
        ));
    }

    fn finish(mut self) -> Program {
        for &(at, label, in_imm) in &self.fixups {
            let target = self.labels[label.0]
                .unwrap_or_else(|| panic!("label {} used at insn {at} is never bound", label.0));
            let delta = target as i64 - (at as i64 + 1);
            if in_imm {
                self.insns[at].imm = i32::try_from(delta).expect("call distance fits imm");
            } else {
                self.insns[at].off = i16::try_from(delta).expect("jump distance fits off");
            }
        }
        Program::from_instructions(&self.insns)
    }
}

// ---------------------------------------------------------------------------
// The three programs
// ---------------------------------------------------------------------------

/// A deterministic pseudo-random sequence (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// (a) Straight-line ALU mix: r0..r9 seeded with constants, then `ops`
/// instructions of add/sub/mul/xor/or/and/lsh/rsh/arsh/mov, 64- and 32-bit,
/// immediate and register forms; r1..r9 folded into r0; exit.
fn alu_mix(ops: usize) -> Program {
    const OPS: [Operation; 10] = [
        Operation::Add,
        Operation::Sub,
        Operation::Mul,
        Operation::Xor,
        Operation::Or,
        Operation::And,
        Operation::Lsh,
        Operation::Rsh,
        Operation::Arsh,
        Operation::Mov,
    ];
    let mut rng = Lcg(0x00bd_f00d);
    let mut b = Builder::default();
    for reg in 0..=9u8 {
        b.alu64_imm(Operation::Mov, reg, rng.next() as i32 | 1);
    }
    for _ in 0..ops {
        let op = OPS[rng.below(OPS.len() as u32) as usize];
        let wide = rng.below(2) == 0;
        let dst = rng.below(10) as u8;
        let is_shift = matches!(op, Operation::Lsh | Operation::Rsh | Operation::Arsh);
        if rng.below(2) == 0 {
            let imm = if is_shift {
                // Immediate shift amounts must be below the width.
                rng.below(if wide { 64 } else { 32 }) as i32
            } else if op == Operation::And {
                // Keep most bits alive so the mix does not collapse to 0.
                (rng.next() | 0x8001_0101) as i32
            } else {
                rng.next() as i32
            };
            b.alu_imm(wide, op, dst, imm);
        } else {
            let src = rng.below(10) as u8;
            b.alu_reg(wide, op, dst, src);
        }
    }
    for reg in 1..=9u8 {
        b.alu64_reg(Operation::Xor, 0, reg);
    }
    b.exit();
    b.finish()
}

/// (b) A loop over the 256-byte input: for each byte i, add it to r0
/// (`ldxb`), copy the input's aligned dword holding byte i to the stack and
/// read it back (`ldxdw`, `stxdw`, `ldxdw`), accumulating into r9. About
/// 16 instructions per byte.
fn byte_loop() -> Program {
    let mut b = Builder::default();
    let top = b.label();
    b.alu64_reg(Operation::Mov, 6, 1); // r6 = input
    b.alu64_imm(Operation::Mov, 0, 0); // byte sum
    b.alu64_imm(Operation::Mov, 7, 0); // i
    b.alu64_imm(Operation::Mov, 9, 0); // dword accumulator
    b.bind(top);
    b.alu64_reg(Operation::Mov, 2, 6);
    b.alu64_reg(Operation::Add, 2, 7);
    b.load(Size::B, 3, 2, 0); // r3 = input[i]
    b.alu64_reg(Operation::Add, 0, 3);
    b.alu64_reg(Operation::Mov, 4, 7);
    b.alu64_imm(Operation::And, 4, 0xf8); // r4 = i & !7
    b.alu64_reg(Operation::Mov, 5, 6);
    b.alu64_reg(Operation::Add, 5, 4);
    b.load(Size::DW, 3, 5, 0); // r3 = *(u64 *)(input + r4)
    b.alu64_reg(Operation::Mov, 5, 10);
    b.alu64_reg(Operation::Add, 5, 4);
    b.store(Size::DW, 5, -256, 3); // stack[r4] = r3
    b.load(Size::DW, 8, 5, -256); // r8 = stack[r4]
    b.alu64_reg(Operation::Add, 9, 8);
    b.alu64_imm(Operation::Add, 7, 1);
    b.jump_imm(Operation::Jlt, 7, INPUT_LEN as i32, top);
    b.alu64_reg(Operation::Xor, 0, 9);
    b.exit();
    b.finish()
}

/// (c) Many local calls: the main loop calls `f` 200 times; `f` spills its
/// arguments and a temporary to its own stack frame and calls `g`; `g` is a
/// leaf without stack use (rbpf gives nested frames 256 of its 512 stack
/// bytes each, so only two frames may touch the stack there).
fn local_calls() -> Program {
    let mut b = Builder::default();
    let top = b.label();
    let f = b.label();
    let g = b.label();
    b.alu64_imm(Operation::Mov, 6, 0); // counter
    b.alu64_imm(Operation::Mov, 7, 0); // accumulator
    b.bind(top);
    b.alu64_reg(Operation::Mov, 1, 6);
    b.alu64_reg(Operation::Mov, 2, 7);
    b.call_local(f);
    b.alu64_reg(Operation::Mov, 7, 0);
    b.alu64_imm(Operation::Add, 6, 1);
    b.jump_imm(Operation::Jlt, 6, 200, top);
    b.alu64_reg(Operation::Mov, 0, 7);
    b.exit();

    b.bind(f);
    b.store(Size::DW, 10, -8, 1);
    b.store(Size::DW, 10, -16, 2);
    b.load(Size::DW, 3, 10, -8);
    b.load(Size::DW, 4, 10, -16);
    b.alu64_imm(Operation::Mul, 3, 3);
    b.alu64_reg(Operation::Add, 4, 3);
    b.store(Size::DW, 10, -24, 4);
    b.alu64_reg(Operation::Mov, 1, 4);
    b.call_local(g);
    b.load(Size::DW, 4, 10, -24);
    b.alu64_reg(Operation::Add, 0, 4);
    b.exit();

    b.bind(g);
    b.alu64_reg(Operation::Mov, 0, 1);
    b.alu64_imm(Operation::Xor, 0, 0x55);
    b.alu64_imm(Operation::Lsh, 0, 1);
    b.exit();
    b.finish()
}

/// The input buffer: a fixed byte pattern.
fn input() -> Vec<u8> {
    (0..INPUT_LEN).map(|i| (i * 37 + 11) as u8).collect()
}

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
        Case::new("alu_mix", alu_mix(1000)),
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
