//! The engine's JIT against the engine's interpreter, rbpf's JIT and the
//! kernel's JIT (its `BPF_PROG_TEST_RUN` duration ÷ instructions), on the
//! same programs in the same run. The kernel verifies each program first;
//! only then is it compiled in the JIT's unchecked mode.
//!
//! `cargo bench -p bpfdiff-oracle --bench jit_vs_kernel`

use bpfdiff_engine::asm::kernel::assemble;
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::jit::{JitProgram, Mode, Verified};
use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::kernel::{loader, wrapper};
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

const INPUT_LEN: usize = 256;

/// (a) straight-line ALU mix, 64- and 32-bit, immediate and register.
fn alu_mix() -> String {
    let mut s = String::from("r0 = 1\nr1 = 3\nr2 = 5\nr3 = 7\nr4 = 11\nr5 = 13\n");
    let ops = [
        "r0 += r1",
        "r2 -= 3",
        "r3 *= r2",
        "r4 ^= r3",
        "w5 += 9",
        "r1 |= r4",
        "r2 &= 0xfff",
        "r3 <<= 3",
        "r4 >>= 1",
        "w0 ^= w2",
        "r5 += r0",
        "w1 -= w5",
        "r0 *= 3",
        "r2 |= r5",
        "r3 s>>= 2",
        "w4 &= w3",
    ];
    for i in 0..1000 {
        s.push_str(ops[i % ops.len()]);
        s.push('\n');
    }
    s.push_str("exit\n");
    s
}

/// (b) a loop over the input with byte loads, dword stack stores and loads.
fn byte_loop() -> String {
    format!(
        "r6 = r1\nr0 = 0\nr7 = 0\n\
         r2 = r6\nr2 += r7\nr3 = *(u8 *)(r2 +0)\nr0 += r3\n\
         *(u64 *)(r10 -8) = r3\nr8 = *(u64 *)(r10 -8)\nr0 ^= r8\nr0 += 1\n\
         r7 += 1\nif r7 < {INPUT_LEN} goto pc-10\nexit\n"
    )
}

/// (c) 200 local calls of a small subprogram.
fn local_calls() -> String {
    "r6 = 0\nr7 = 0\n\
     r1 = r6\ncall pc+5\nr7 += r0\nr6 += 1\nif r6 < 200 goto pc-5\nr0 = r7\nexit\n\
     r0 = r1\nr0 *= 3\nr0 += 7\nr0 ^= 5\nexit\n"
        .to_string()
}

struct Row {
    name: &'static str,
    insns: u64,
    interp: f64,
    checked: f64,
    unchecked: f64,
    rbpf_jit: Option<f64>,
    kernel: Option<f64>,
}

/// Median ns per executed instruction of `run`, over batches.
fn ns_per_insn(insns: u64, mut run: impl FnMut()) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..15 {
        let n = 200;
        let t = Instant::now();
        for _ in 0..n {
            run();
        }
        samples.push(t.elapsed().as_nanos() as f64 / (n as f64 * insns as f64));
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

/// The kernel's JIT: an XDP program calls the program as a subprogram with
/// the engine's input convention; `BPF_PROG_TEST_RUN` reports the mean run
/// time over `repeat` runs, measured in the kernel.
fn kernel_ns(program: &Program, insns: u64) -> Option<f64> {
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        ..Default::default()
    };
    let map = MapHandle::create(
        MapType::Array,
        Some("bpfdiff_bench"),
        4,
        INPUT_LEN as u32,
        1,
        &opts,
    )
    .ok()?;
    map.update(&0u32.to_le_bytes(), &input(), MapFlags::ANY)
        .ok()?;
    let fd = map.as_fd().as_raw_fd();
    // The SYSCALL wrapper's body, with `r0 = 2 (XDP_PASS)` instead of the ctx store.
    let mut w = wrapper::wrap(program, fd, INPUT_LEN);
    let store = wrapper::wrapper_slots(INPUT_LEN) - 3;
    w[store] = Insn::new(0xb7, 0, 0, 0, 2);
    w[store + 1] = Insn::new(0xb7, 0, 0, 0, 2);
    let prog = match loader::load_as(libbpf_sys::BPF_PROG_TYPE_XDP, 0, &w, 1) {
        Ok(p) => p,
        Err(e) => {
            println!(
                "kernel refused the benchmark program: {}",
                loader::reason_from_log(&e.log.unwrap_or_default())
            );
            return None;
        }
    };
    let data = [0u8; 64];
    let mut samples = Vec::new();
    for _ in 0..15 {
        let (_, duration) = loader::test_run_repeat(&prog, &data, 2000).ok()?;
        samples.push(duration as f64 / insns as f64);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Some(samples[samples.len() / 2])
}

fn input() -> Vec<u8> {
    (0..INPUT_LEN).map(|i| (i * 7) as u8).collect()
}

fn measure(name: &'static str, text: &str, kernel: bool) -> Row {
    let program = assemble(text).expect("benchmark program assembles");
    let mut mem = input();
    let vm = Interpreter::new(&program).unwrap();
    let reference = vm.run(&mut mem, DEFAULT_BUDGET);
    let insns = reference.insns_executed;
    let ExecResult::Returned { r0, .. } = reference.result else {
        panic!("{name}: {:?}", reference.result)
    };
    let checked = JitProgram::compile(&program, Mode::Checked).unwrap();
    let k = if kernel {
        kernel_ns(&program, insns)
    } else {
        None
    };
    // SAFETY: unchecked mode is used only for programs the kernel verifier
    // accepted just above (the bench skips it otherwise).
    let unchecked_mode = if k.is_some() {
        Mode::Unchecked(unsafe { Verified::assume() })
    } else {
        Mode::Checked
    };
    let unchecked = JitProgram::compile(&program, unchecked_mode).unwrap();
    for jit in [&checked, &unchecked] {
        let mut m = input();
        assert_eq!(
            jit.run(&mut m, DEFAULT_BUDGET).result,
            reference.result,
            "{name}: JIT disagrees"
        );
    }
    let bytes = program.to_bytes();
    let rbpf_jit = (|| {
        let mut vm = rbpf::EbpfVmRaw::new(Some(&bytes)).ok()?;
        // rbpf's JIT asserts (panics) when the code outgrows its buffer.
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| vm.jit_compile()));
        match compiled {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                println!("{name}: rbpf's JIT refuses it: {e}");
                return None;
            }
            Err(_) => {
                println!(
                    "{name}: rbpf's JIT panicked while compiling it (its code buffer overflowed)"
                );
                return None;
            }
        }
        let mut m = input();
        // SAFETY: the program was checked on the engine (no fault) above.
        let got = unsafe { vm.execute_program_jit(&mut m) }.ok()?;
        if got != r0 {
            println!("{name}: rbpf's JIT returns 0x{got:x}, the engine 0x{r0:x}: not timed");
            return None;
        }
        Some(ns_per_insn(insns, || {
            let mut m = input();
            // SAFETY: as above.
            let _ = unsafe { vm.execute_program_jit(&mut m) };
        }))
    })();
    Row {
        name,
        insns,
        interp: ns_per_insn(insns, || {
            mem.copy_from_slice(&input());
            vm.run(&mut mem, DEFAULT_BUDGET);
        }),
        checked: ns_per_insn(insns, || {
            let mut m = input();
            checked.run(&mut m, DEFAULT_BUDGET);
        }),
        unchecked: ns_per_insn(insns, || {
            let mut m = input();
            unchecked.run(&mut m, DEFAULT_BUDGET);
        }),
        rbpf_jit,
        kernel: k,
    }
}

fn main() {
    let kernel = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    let kernel_ok = match kernel.unavailable() {
        Some(why) => {
            println!("kernel JIT column skipped: {why}");
            false
        }
        None => true,
    };
    let rows = [
        measure("alu_mix", &alu_mix(), kernel_ok),
        measure("byte_loop", &byte_loop(), kernel_ok),
        measure("local_calls", &local_calls(), kernel_ok),
    ];
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
    let ratio = |a: f64, b: Option<f64>| b.map_or("-".to_string(), |b| format!("{:.2}x", a / b));
    println!("\nns per executed eBPF instruction (median of 15 batches); ratios are ours ÷ the kernel JIT");
    println!(
        "{:12} {:>6} {:>8} {:>9} {:>10} {:>9} {:>8} {:>10} {:>12}",
        "program",
        "insns",
        "interp",
        "jit-chk",
        "jit-unchk",
        "rbpf-jit",
        "kernel",
        "chk/kern",
        "unchk/kern"
    );
    for r in &rows {
        println!(
            "{:12} {:>6} {:>8.3} {:>9.3} {:>10.3} {:>9} {:>8} {:>10} {:>12}",
            r.name,
            r.insns,
            r.interp,
            r.checked,
            r.unchecked,
            opt(r.rbpf_jit),
            opt(r.kernel),
            ratio(r.checked, r.kernel),
            ratio(r.unchecked, r.kernel)
        );
    }
    println!("targets: unchecked ≤ 1.0x the kernel JIT, checked ≤ 1.5x");
}
