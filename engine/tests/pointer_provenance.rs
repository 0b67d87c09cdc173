//! An address computed from one region's pointer never reaches another
//! region, in the interpreter and in the JIT.
//!
//! Kernel fact: the verifier keeps a pointer's type (its region) through
//! pointer arithmetic (`adjust_ptr_min_max_vals` in kernel/bpf/verifier.c:
//! `ptr += scalar` stays a `PTR_TO_MAP_VALUE`, `PTR_TO_STACK`, `PTR_TO_CTX`
//! or `PTR_TO_PACKET`), and `check_mem_access` checks an access against the
//! bounds of that region only. A program whose input pointer plus an
//! offset lands on a stack byte is refused, never run as a stack access.
//!
//! The engine runs unverified programs, so it must fault there, and it must
//! do so on every backend: the interpreter places its regions at virtual
//! addresses (`MEM_BASE`, `STACK_TOP` 4 GiB above, `CTX_BASE`), the JIT
//! uses host buffers at any distance. Before provenance tracking the
//! interpreter resolved an access by its address alone, so
//! `r4 = r1 + 0xfffffff9` read the stack byte at `STACK_TOP - 7` (found by
//! a `--tier boundary` campaign as an interp/JIT divergence: the JIT
//! faulted), and the JIT resolved it by host address, so an offset equal to
//! the host distance between its input and its stack read the stack.

use bpfdiff_engine::insn::Insn;
use bpfdiff_engine::interp::{
    self, ExecResult, Execution, FaultKind, DEFAULT_BUDGET, MEM_BASE, STACK_TOP,
};
use bpfdiff_engine::jit::{self, Mode};
use bpfdiff_engine::prog_type::{env::RunEnv, ProgType};
use bpfdiff_engine::Program;

const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

fn program(insns: &[Insn]) -> Program {
    let mut v = insns.to_vec();
    v.push(EXIT);
    Program::new(v)
}

fn interp_run(p: &Program, input: &[u8]) -> Execution {
    interp::run_program(p, &mut input.to_vec(), DEFAULT_BUDGET).expect("decodes")
}

fn jit_run(p: &Program, input: &mut [u8]) -> Execution {
    jit::run_program(p, Mode::Checked, input, DEFAULT_BUDGET).expect("decodes")
}

/// Asserts an out-of-bounds fault of `size` bytes at `pc`.
fn assert_oob(e: &Execution, pc: usize, size: u8, who: &str) {
    match e.result {
        ExecResult::Fault(f) => {
            assert_eq!(
                (f.kind, f.pc, f.size),
                (FaultKind::OutOfBounds, pc, size),
                "{who}: {f}"
            )
        }
        other => panic!("{who}: expected an out-of-bounds fault at {pc}, got {other}"),
    }
}

/// Runs `p` on both backends and asserts that both fault out of bounds at
/// `pc` (`size` bytes), at the same (interpreter) address.
fn assert_both_fault(p: &Program, input: &[u8], pc: usize, size: u8) -> Execution {
    let i = interp_run(p, input);
    assert_oob(&i, pc, size, "interpreter");
    let j = jit_run(p, &mut input.to_vec());
    assert_oob(&j, pc, size, "JIT");
    assert_eq!(i.result, j.result, "the JIT maps the address back exactly");
    assert_eq!(i.insns_executed, j.insns_executed);
    i
}

fn returned(e: &Execution) -> u64 {
    match e.result {
        ExecResult::Returned { r0, .. } => r0,
        other => panic!("expected a return, got {other}"),
    }
}

/// `r3 = 1; w3 *= -7` (w3 = 0xfffffff9, zero-extended: RFC 9669 §4.1).
const R3_FFFFFFF9: [Insn; 2] = [Insn::new(0xb7, 3, 0, 0, 1), Insn::new(0x24, 3, 0, 0, -7)];

#[test]
fn input_pointer_plus_offset_does_not_reach_the_stack() {
    // The campaign's program: r4 = r1 + 0xfffffff9, which is STACK_TOP - 7
    // in the interpreter's layout.
    let mut insns = R3_FFFFFFF9.to_vec();
    insns.extend([
        Insn::new(0xbf, 4, 1, 0, 0), // r4 = r1
        Insn::new(0x0f, 4, 3, 0, 0), // r4 += r3
        Insn::new(0x71, 0, 4, 0, 0), // r0 = *(u8 *)(r4 + 0)
    ]);
    let input = [0x10, 0x80, 0x7f, 0xff, 0x00, 0xfe];
    let i = assert_both_fault(&program(&insns), &input, 4, 1);
    let ExecResult::Fault(f) = i.result else {
        unreachable!()
    };
    assert_eq!(f.addr, MEM_BASE + 0xffff_fff9);
    assert_eq!(f.addr, STACK_TOP - 7, "the address is a stack byte's");

    // The same with the stack byte written first, and as a store.
    let mut insns = vec![Insn::new(0x72, 10, 0, -7, 0x5a)]; // *(u8 *)(r10 - 7) = 0x5a
    insns.extend(R3_FFFFFFF9);
    insns.extend([
        Insn::new(0xbf, 4, 1, 0, 0), // r4 = r1
        Insn::new(0x0f, 4, 3, 0, 0), // r4 += r3
        Insn::new(0x71, 0, 4, 0, 0), // r0 = *(u8 *)(r4 + 0)
    ]);
    assert_both_fault(&program(&insns), &input, 5, 1);
    insns[5] = Insn::new(0x72, 4, 0, 0, 1); // *(u8 *)(r4 + 0) = 1
    assert_both_fault(&program(&insns), &input, 5, 1);
}

#[test]
fn stack_pointer_minus_offset_does_not_reach_the_input() {
    // r4 = r10 - 2^32 = MEM_BASE in the interpreter's layout.
    let insns = [
        Insn::new(0xb7, 3, 0, 0, 1),  // r3 = 1
        Insn::new(0x67, 3, 0, 0, 32), // r3 <<= 32
        Insn::new(0xbf, 4, 10, 0, 0), // r4 = r10
        Insn::new(0x1f, 4, 3, 0, 0),  // r4 -= r3
        Insn::new(0x71, 0, 4, 0, 0),  // r0 = *(u8 *)(r4 + 0)
    ];
    let i = assert_both_fault(&program(&insns), &[0xab; 8], 4, 1);
    let ExecResult::Fault(f) = i.result else {
        unreachable!()
    };
    assert_eq!(f.addr, MEM_BASE, "the address is the input's first byte");
}

#[test]
fn a_spilled_pointer_keeps_its_region() {
    // The input pointer goes through a stack slot and comes back.
    let mut insns = vec![
        Insn::new(0x7b, 10, 1, -8, 0), // *(u64 *)(r10 - 8) = r1
        Insn::new(0x79, 5, 10, -8, 0), // r5 = *(u64 *)(r10 - 8)
    ];
    insns.extend(R3_FFFFFFF9);
    insns.extend([
        Insn::new(0x0f, 5, 3, 0, 0), // r5 += r3
        Insn::new(0x71, 0, 5, 0, 0), // r0 = *(u8 *)(r5 + 0)
    ]);
    // (The JIT's fault address is not compared: it cannot tell when
    // compiling whether the filled value is the input pointer or a number,
    // so a host address far from every region is reported as is.)
    let p = program(&insns);
    assert_oob(&interp_run(&p, &[1, 2, 3, 4]), 5, 1, "interpreter");
    assert_oob(&jit_run(&p, &mut [1, 2, 3, 4]), 5, 1, "JIT");
    // Through the same slot, the pointer still reaches its own region.
    insns[4] = Insn::new(0x07, 5, 0, 0, 2); // r5 += 2
    let p = program(&insns);
    assert_eq!(returned(&interp_run(&p, &[1, 2, 3, 4])), 3);
    assert_eq!(returned(&jit_run(&p, &mut [1, 2, 3, 4])), 3);
}

/// The host address of this thread's JIT stack top (frame 0's r10), as a
/// program that stores r10 into its input sees it.
fn jit_stack_top() -> u64 {
    let p = program(&[
        Insn::new(0x7b, 1, 10, 0, 0), // *(u64 *)(r1 + 0) = r10
        Insn::new(0xb7, 0, 0, 0, 0),  // r0 = 0
    ]);
    let mut mem = [0u8; 8];
    jit_run(&p, &mut mem);
    u64::from_le_bytes(mem)
}

#[test]
fn jit_offsets_equal_to_the_host_distance_do_not_cross_regions() {
    let top = jit_stack_top();
    // The program reads a number k from its input and adds it to r1 (or
    // subtracts it from r10); `r6 = r10` lets the stack escape, so that the
    // JIT cannot rule out stack pointers in other registers.
    let across = |toward_stack: bool| {
        let mut insns = vec![
            Insn::new(0xbf, 6, 10, 0, 0),     // r6 = r10
            Insn::new(0x7a, 10, 0, -8, 0x77), // *(u64 *)(r10 - 8) = 0x77
            Insn::new(0x79, 2, 1, 0, 0),      // r2 = *(u64 *)(r1 + 0)
        ];
        insns.extend(if toward_stack {
            [
                Insn::new(0xbf, 4, 1, 0, 0), // r4 = r1
                Insn::new(0x0f, 4, 2, 0, 0), // r4 += r2
            ]
        } else {
            [
                Insn::new(0xbf, 4, 10, 0, 0), // r4 = r10
                Insn::new(0x1f, 4, 2, 0, 0),  // r4 -= r2
            ]
        });
        insns.push(Insn::new(0x71, 0, 4, 0, 0)); // r0 = *(u8 *)(r4 + 0)
        program(&insns)
    };
    let mut mem = vec![0x99u8; 16];
    let input = mem.as_ptr() as u64;
    // r1 + k = the stack byte at r10 - 8 (which holds 0x77).
    mem[..8].copy_from_slice(&(top - 8).wrapping_sub(input).to_le_bytes());
    let p = across(true);
    assert_oob(&jit_run(&p, &mut mem), 5, 1, "JIT, input to stack");
    assert_oob(&interp_run(&p, &mem), 5, 1, "interpreter, input to stack");
    // r10 - k = the input's byte 8 (0x99).
    let mut mem = vec![0x99u8; 16];
    let input = mem.as_ptr() as u64;
    mem[..8].copy_from_slice(&top.wrapping_sub(input + 8).to_le_bytes());
    let p = across(false);
    assert_oob(&jit_run(&p, &mut mem), 5, 1, "JIT, stack to input");
    assert_oob(&interp_run(&p, &mem), 5, 1, "interpreter, stack to input");
}

#[test]
fn ctx_packet_and_stack_pointers_keep_their_regions() {
    // XDP: r1 = the ctx at CTX_BASE, `data` (ctx offset 0) a packet pointer
    // at MEM_BASE; CTX_BASE - MEM_BASE = 3 * 2^32, CTX_BASE - STACK_TOP =
    // 2 * 2^32.
    let run = |insns: &[Insn]| {
        let mut env = RunEnv::new(ProgType::Xdp, &[0x42; 20], None).unwrap();
        interp::Interpreter::new(&program(insns))
            .unwrap()
            .run_env(&mut env, DEFAULT_BUDGET)
    };
    let shift = |k: i32| [Insn::new(0xb7, 3, 0, 0, k), Insn::new(0x67, 3, 0, 0, 32)];
    // ctx pointer - 3 * 2^32 = the packet's first byte.
    let mut insns = shift(3).to_vec();
    insns.extend([
        Insn::new(0xbf, 4, 1, 0, 0), // r4 = r1
        Insn::new(0x1f, 4, 3, 0, 0), // r4 -= r3
        Insn::new(0x71, 0, 4, 0, 0), // r0 = *(u8 *)(r4 + 0)
    ]);
    assert_oob(&run(&insns), 4, 1, "ctx to packet");
    // packet pointer + 3 * 2^32 = the ctx's first byte.
    let mut insns = vec![Insn::new(0x61, 2, 1, 0, 0)]; // r2 = *(u32 *)(r1 + 0): data
    insns.extend(shift(3));
    insns.extend([
        Insn::new(0x0f, 2, 3, 0, 0), // r2 += r3
        Insn::new(0x71, 0, 2, 0, 0), // r0 = *(u8 *)(r2 + 0)
    ]);
    assert_oob(&run(&insns), 4, 1, "packet to ctx");
    // ... while the packet pointer itself reads the packet.
    insns[3] = Insn::new(0x07, 2, 0, 0, 1); // r2 += 1
    assert_eq!(returned(&run(&insns)), 0x42);
    // stack pointer + 2 * 2^32 = the ctx's first byte.
    let mut insns = shift(2).to_vec();
    insns.extend([
        Insn::new(0xbf, 4, 10, 0, 0), // r4 = r10
        Insn::new(0x0f, 4, 3, 0, 0),  // r4 += r3
        Insn::new(0x71, 0, 4, 0, 0),  // r0 = *(u8 *)(r4 + 0)
    ]);
    assert_oob(&run(&insns), 4, 1, "stack to ctx");
}
