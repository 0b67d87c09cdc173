//! Guest throughput (issue 14): for each guest backend, the time from
//! starting qemu to the agent's first answer, and programs/s for 16-insn
//! programs (load + run + read back, one at a time over the serial line);
//! the host's `kernel` backend runs the same programs in the same run.
//!
//! Run with `cargo bench --bench guest_throughput` after
//! `scripts/kernels.sh`. Settings, by environment variable:
//!
//! - `BPFDIFF_BENCH_PROGRAMS`: programs per backend (default 1,000);
//! - `BPFDIFF_BENCH_GUESTS`: guest backends, comma-separated (default
//!   `kernel@6.12,kernel@6.12-interp,kernel@6.1`).
//!
//! Targets: boot to first program ≤ 10 s; ≥ 200 programs/s per guest.

use bpfdiff_engine::asm::kernel::assemble;
use bpfdiff_engine::Program;
use bpfdiff_oracle::backend::guest::initrd::KernelImage;
use bpfdiff_oracle::backend::guest::protocol::{Op, Request};
use bpfdiff_oracle::backend::guest::vm::Vm;
use bpfdiff_oracle::backend::guest::{GuestBackend, GuestSpec};
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::{Backend, Execution, Verdict};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `n` distinct accepted 16-insn programs: ALU on the input length and
/// immediates, a store to and a load from the input memory.
fn programs(n: usize) -> Vec<Program> {
    let ops = ["+=", "-=", "*=", "^=", "|=", "&=", "<<=", ">>="];
    (0..n)
        .map(|i| {
            let mut text = format!("r0 = {}\nr3 = r2\n", i as u32 % 1000 + 1);
            for k in 0..10 {
                let op = ops[(i + k) % ops.len()];
                let imm = if op.contains("<<") || op.contains(">>") {
                    (i + k) % 31 + 1
                } else {
                    (i * 7 + k * 13) % 4096 + 1
                };
                text.push_str(&format!("r0 {op} {imm}\n"));
            }
            text.push_str("r0 += r3\n*(u64 *)(r1 + 0) = r0\nr0 = *(u64 *)(r1 + 0)\nexit\n");
            let p = assemble(&text).expect("the bench's programs assemble");
            assert_eq!(p.len(), 16);
            p
        })
        .collect()
}

/// Runs every program; programs/s, and how many returned.
fn measure(backend: &mut dyn Backend, progs: &[Program]) -> (f64, usize) {
    let input = [0u8; 8];
    let start = Instant::now();
    let mut returned = 0;
    for p in progs {
        let out = backend.run(p, &input);
        if out.verdict == Verdict::Accepted && matches!(out.execution, Execution::Returned { .. }) {
            returned += 1;
        } else if returned == 0 {
            eprintln!("{}: {}", backend.name(), out.summary());
        }
    }
    (progs.len() as f64 / start.elapsed().as_secs_f64(), returned)
}

/// Requests the agent answers without the kernel (a truncated program):
/// the serial line's round trips per second.
fn round_trips(series: &str, n: usize) {
    let image = KernelImage::find(series).expect("the image");
    let mut vm = Vm::boot(&image, "", Duration::from_secs(300)).expect("boots");
    let req = Request {
        op: Op::Run,
        level: 0,
        program: vec![0; 7],
        input: vec![0; 8],
    };
    let start = Instant::now();
    for _ in 0..n {
        vm.call(&req, Duration::from_secs(60), Duration::from_secs(600))
            .expect("an answer");
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "{:<22} {:>10} {rate:>12.0}",
        format!("round trip {series}"),
        "-"
    );
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    std::env::set_var("BPFDIFF_GUEST_AGENT", env!("CARGO_BIN_EXE_bpfdiff-agent"));
    let n: usize = std::env::var("BPFDIFF_BENCH_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let guests = std::env::var("BPFDIFF_BENCH_GUESTS")
        .unwrap_or_else(|_| "kernel@6.12,kernel@6.12-interp,kernel@6.1".to_string());
    let progs = programs(n);
    println!("{n} programs of 16 insns, one at a time, 8-byte input");
    println!(
        "{:<22} {:>10} {:>12} {:>9}",
        "backend", "boot (s)", "programs/s", "returned"
    );
    let mut host = KernelBackend::new(KernelOptions::default());
    match host.unavailable() {
        Some(why) => println!("{:<22} unavailable: {why}", "kernel (host)"),
        None => {
            let (rate, ok) = measure(&mut host, &progs);
            println!(
                "{:<22} {:>10} {:>12.0} {:>9}",
                "kernel (host)", "-", rate, ok
            );
        }
    }
    for name in guests.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(spec) = GuestSpec::parse(name) else {
            eprintln!("not a guest backend: {name}");
            return ExitCode::from(2);
        };
        let mut guest = GuestBackend::new(spec);
        if let Err(why) = guest.boot() {
            println!("{name:<22} SKIPPED: {why}");
            continue;
        }
        let boot = guest.last_boot_time().expect("booted").as_secs_f64();
        let (rate, ok) = measure(&mut guest, &progs);
        println!("{name:<22} {boot:>10.1} {rate:>12.0} {ok:>9}");
    }
    if let Ok(series) = std::env::var("BPFDIFF_BENCH_ROUND_TRIP") {
        round_trips(&series, n);
    }
    ExitCode::SUCCESS
}
