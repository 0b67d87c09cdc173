//! Kernel-backend throughput in programs per second on 16-insn programs
//! (load + run + read back through the harness), against the raw syscall
//! floor for the same programs in the same run (bare BPF_PROG_LOAD +
//! BPF_PROG_TEST_RUN through libbpf-sys, nothing else).
//!
//! `cargo bench -p bpfdiff-oracle --bench kernel_throughput`

use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::kernel::wrapper::{wrap, CTX_SIZE};
use bpfdiff_oracle::backend::kernel::{loader, KernelBackend, KernelOptions};
use bpfdiff_oracle::{Backend, Execution};
use std::time::{Duration, Instant};

const INPUT_LEN: usize = 16;

/// 16 distinct 16-insn programs: arithmetic on the input, a store and a load.
fn programs() -> Vec<Program> {
    (0..16)
        .map(|k| {
            let mut v = vec![
                Insn::new(0xb7, 0, 0, 0, k),      // r0 = k
                Insn::new(0x61, 3, 1, 0, 0),      // r3 = *(u32 *)(r1 +0)
                Insn::new(0x0f, 0, 3, 0, 0),      // r0 += r3
                Insn::new(0x07, 0, 0, 0, 7 * k),  // r0 += 7k
                Insn::new(0x27, 0, 0, 0, 3),      // r0 *= 3
                Insn::new(0xbf, 4, 0, 0, 0),      // r4 = r0
                Insn::new(0x77, 4, 0, 0, 3),      // r4 >>= 3
                Insn::new(0xaf, 0, 4, 0, 0),      // r0 ^= r4
                Insn::new(0x7b, 1, 0, 8, 0),      // *(u64 *)(r1 +8) = r0
                Insn::new(0x79, 5, 1, 8, 0),      // r5 = *(u64 *)(r1 +8)
                Insn::new(0x1f, 5, 3, 0, 0),      // r5 -= r3
                Insn::new(0x57, 5, 0, 0, 0xffff), // r5 &= 0xffff
                Insn::new(0x4f, 0, 5, 0, 0),      // r0 |= r5
                Insn::new(0x67, 0, 0, 0, 2),      // r0 <<= 2
                Insn::new(0x04, 0, 0, 0, 1),      // w0 += 1
            ];
            v.push(Insn::new(0x95, 0, 0, 0, 0));
            Program::new(v)
        })
        .collect()
}

fn input() -> Vec<u8> {
    (0..INPUT_LEN as u8).collect()
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn harness_round(k: &mut KernelBackend, progs: &[Program], mem: &[u8]) -> Duration {
    let t = Instant::now();
    for p in progs {
        let o = k.run(p, mem);
        assert!(matches!(o.execution, Execution::Returned { .. }), "{o:?}");
    }
    t.elapsed()
}

fn floor_round(wrapped: &[Vec<Insn>]) -> Duration {
    let t = Instant::now();
    for w in wrapped {
        let fd = loader::load(w, 0).expect("loads");
        let mut ctx = [0u8; CTX_SIZE];
        loader::test_run(&fd, &mut ctx).expect("runs");
    }
    t.elapsed()
}

fn main() {
    let mut k = KernelBackend::new(KernelOptions::default());
    if let Some(why) = k.unavailable() {
        println!("kernel_throughput: SKIPPED: {why}");
        return;
    }
    let progs = programs();
    let mem = input();
    // The floor loads the very instructions the harness loads (the wrapped
    // program, bound to the same map) and runs them; nothing else.
    let first = k.run(&progs[0], &mem);
    assert!(
        matches!(first.execution, Execution::Returned { .. }),
        "{first:?}"
    );
    let map_fd = (3..1024)
        .find(|fd| {
            let w = wrap(&progs[0], *fd, INPUT_LEN);
            loader::load(&w, 0).is_ok()
        })
        .expect("the memory map's fd");
    let wrapped: Vec<Vec<Insn>> = progs.iter().map(|p| wrap(p, map_fd, INPUT_LEN)).collect();
    let rounds = 60;
    let (mut harness, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        // Interleave so that machine noise hits both alike.
        harness.push(harness_round(&mut k, &progs, &mem));
        floor.push(floor_round(&wrapped));
    }
    harness.sort();
    floor.sort();
    let (h, f) = (harness[rounds / 2], floor[rounds / 2]);
    let n = progs.len();
    println!(
        "kernel backend throughput, 16-insn programs, median of {rounds} rounds of {n} programs"
    );
    println!(
        "  harness (engine pre-run + map write + load + test_run + map read): {:>8.0} programs/s",
        per_second(n, h)
    );
    println!(
        "  raw floor (bare BPF_PROG_LOAD + BPF_PROG_TEST_RUN):                {:>8.0} programs/s",
        per_second(n, f)
    );
    println!(
        "  harness overhead over the floor: {:+.1}% (target ≤ 20%)",
        (h.as_secs_f64() / f.as_secs_f64() - 1.0) * 100.0
    );
}
