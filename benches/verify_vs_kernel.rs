//! Verification time: the engine's verifier (`verifier::verify`, no log)
//! against the kernel's `BPF_PROG_LOAD` (no log) on the same programs of
//! 16, 100 and 1000 instructions, in the same run.
//!
//! Run with `cargo bench --bench verify_vs_kernel`. Each program is a
//! straight run of ALU operations, forward conditional jumps (both branches
//! explored) and stack stores and loads, accepted by both verifiers (the
//! bench checks it). The kernel loads it the way the kernel backend does
//! (as a static subprogram of the harness wrapper, here without input);
//! each loaded program's fd is closed before the next load. Per size, the
//! table shows the median time per verification over
//! `BPFDIFF_BENCH_ROUNDS` rounds (default 7) of `BPFDIFF_BENCH_REPS`
//! verifications (default 200), and the ratio kernel / engine.
//!
//! Target (issue 10): the engine at least 20x faster than the kernel at
//! 100 instructions. Without permission for `bpf()` the kernel column is
//! skipped with the reason.

use bpfdiff_engine::verifier::{verify, Verdict, VerifyOptions};
use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::kernel::{loader, wrapper, KernelBackend, KernelOptions};
use std::process::ExitCode;
use std::time::Instant;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A program of exactly `n` slots (n >= 3) that both verifiers accept.
fn program(n: usize) -> Program {
    let mut insns = vec![
        Insn::new(0xb7, 0, 0, 0, 0),   // r0 = 0
        Insn::new(0x7b, 10, 0, -8, 0), // *(u64 *)(r10 -8) = r0
    ];
    let mut k = 0i32;
    while insns.len() < n - 1 {
        let room = n - 1 - insns.len();
        k += 1;
        let ins = match insns.len() % 6 {
            0 => Insn::new(0x07, 0, 0, 0, k),                    // r0 += k
            1 => Insn::new(0xa7, 0, 0, 0, k * 3),                // r0 ^= 3k
            2 if room > 2 => Insn::new(0x25, 0, 0, 1, 1000 + k), // if r0 > K goto +1
            3 => Insn::new(0x17, 0, 0, 0, 1),                    // r0 -= 1
            4 => Insn::new(0x79, 3, 10, -8, 0),                  // r3 = *(u64 *)(r10 -8)
            _ => Insn::new(0x0f, 0, 3, 0, 0),                    // r0 += r3
        };
        insns.push(ins);
    }
    insns.push(Insn::new(0x95, 0, 0, 0, 0));
    Program::new(insns)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> ExitCode {
    let rounds = env_or("BPFDIFF_BENCH_ROUNDS", 7);
    let reps = env_or("BPFDIFF_BENCH_REPS", 200);
    let kernel = KernelBackend::new(KernelOptions::default());
    let denied = kernel.unavailable().map(str::to_string);
    if let Some(why) = &denied {
        println!("kernel column SKIPPED: {why}");
    }
    let opts = VerifyOptions {
        privileged: true,
        input_len: Some(0),
        log_level: 0,
    };
    println!("insns  engine (us)  kernel (us)  kernel/engine");
    for n in [16usize, 100, 1000] {
        let p = program(n);
        assert_eq!(p.len(), n);
        let ours = verify(&p, &opts);
        if ours.verdict != Verdict::Accepted {
            eprintln!(
                "the engine refuses the {n}-insn program: {:?}",
                ours.verdict
            );
            return ExitCode::FAILURE;
        }
        let wrapped = wrapper::wrap(&p, -1, 0);
        if denied.is_none() {
            if let Err(e) = loader::load(&wrapped, 0) {
                eprintln!("the kernel refuses the {n}-insn program: errno {}", e.errno);
                return ExitCode::FAILURE;
            }
        }
        let (mut e_us, mut k_us) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            for _ in 0..reps {
                std::hint::black_box(verify(std::hint::black_box(&p), &opts));
            }
            e_us.push(t.elapsed().as_secs_f64() * 1e6 / reps as f64);
            if denied.is_none() {
                let t = Instant::now();
                for _ in 0..reps {
                    drop(loader::load(&wrapped, 0));
                }
                k_us.push(t.elapsed().as_secs_f64() * 1e6 / reps as f64);
            }
        }
        let e = median(e_us);
        if denied.is_none() {
            let k = median(k_us);
            println!("{n:5}  {e:11.2}  {k:11.2}  {:12.1}x", k / e);
        } else {
            println!("{n:5}  {e:11.2}  {:>11}  {:>13}", "-", "-");
        }
    }
    ExitCode::SUCCESS
}
