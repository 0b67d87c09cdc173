//! The wrapper that lets the kernel run a program with the engine's input
//! convention and report its full 64-bit r0 (SEMANTICS.md, "Observing a
//! program through BPF_PROG_TEST_RUN").
//!
//! ```text
//!   r6 = r1                       ; the SYSCALL program's ctx (8 bytes)
//!   r1 = map_value(fd) + 0        ; ld_imm64 src=2: the input memory
//!                                 ;   (or r1 = 0 when there is no input)
//!   r2 = len
//!   call pc+N                     ; the program, as a subprogram
//!   *(u64 *)(r6 +0) = r0          ; ctx is written back after the run
//!   r0 = 0
//!   exit
//!   <the program, unchanged>
//! ```
//! The program keeps its own relative jumps and local calls; it gets one
//! frame less than the engine gives it (the wrapper is frame 0).

use crate::backend::slots::SlotLayout;
use bpfdiff_engine::opcode::{self, Class, Operation, Size, Source};
use bpfdiff_engine::{Insn, Instruction, Program};

/// Bytes of ctx the wrapper writes (r0).
pub const CTX_SIZE: usize = 8;

/// Slots of the wrapper after its call (store r0, `r0 = 0`, exit).
const TAIL_SLOTS: usize = 3;

fn row(
    class: Class,
    operation: Operation,
    source: Source,
    size: Option<Size>,
) -> &'static opcode::OpcodeRow {
    opcode::find(class, operation, source, size)
        .expect("the opcode table has every wrapper instruction")
}

/// Wraps `program`. `map_fd` is the memory map (unused when `mem_len` is 0).
pub fn wrap(program: &Program, map_fd: i32, mem_len: usize) -> Vec<Insn> {
    let mov_reg = row(Class::Alu64, Operation::Mov, Source::Reg, None);
    let mov_imm = row(Class::Alu64, Operation::Mov, Source::Imm, None);
    let store = row(
        Class::Stx,
        Operation::StoreReg,
        Source::None,
        Some(Size::DW),
    );
    let exit = row(Class::Jmp, Operation::Exit, Source::Imm, None);
    let call = opcode::lookup(0x85, 1, 0, 0).expect("call local");
    let map_value = opcode::lookup(opcode::LD_IMM64_OPCODE, 2, 0, 0).expect("ld_imm64 map value");

    let mut head: Vec<Instruction> = vec![Instruction::new(mov_reg, 6, 1, 0, 0)];
    if mem_len > 0 {
        let mut ld = Instruction::new(map_value, 1, 0, 0, map_fd);
        ld.next_imm = 0;
        head.push(ld);
    } else {
        head.push(Instruction::new(mov_imm, 1, 0, 0, 0));
    }
    head.push(Instruction::new(mov_imm, 2, 0, 0, mem_len as i32));
    let tail = [
        Instruction::new(store, 6, 0, 0, 0),
        Instruction::new(mov_imm, 0, 0, 0, 0),
        Instruction::new(exit, 0, 0, 0, 0),
    ];
    // The call is followed by the tail; the program starts right after it.
    head.push(Instruction::new(call, 0, 0, 0, tail.len() as i32));
    let mut out = Vec::new();
    for i in head.iter().chain(tail.iter()) {
        i.encode_into(&mut out);
    }
    out.extend(relocate_map_values(program, map_fd, mem_len));
    out
}

/// Points every `ld_imm64` src=2 (map value) at the input-memory map: the
/// engine models the input memory as the one map value, whatever fd the
/// program names. The slots are walked as the kernel's
/// `resolve_pseudo_ldimm64` walks them (an `ld_imm64` takes two slots), so
/// a program with an instruction the engine's decoder refuses is relocated
/// too. Without input there is no map, and the program is left as written.
fn relocate_map_values(program: &Program, map_fd: i32, mem_len: usize) -> Vec<Insn> {
    let mut insns = program.insns.clone();
    if mem_len == 0 {
        return insns;
    }
    let mut slot = 0;
    while slot < insns.len() {
        let i = insns[slot];
        if i.opcode == opcode::LD_IMM64_OPCODE {
            let row = opcode::lookup(i.opcode, i.src, i.off, i.imm);
            if row.is_some_and(|r| r.operation == Operation::LdMapValue) {
                insns[slot].imm = map_fd;
            }
            slot += 1;
        }
        slot += 1;
    }
    insns
}

/// Number of slots before the program in the wrapped code.
pub fn wrapper_slots(mem_len: usize) -> usize {
    if mem_len > 0 {
        8
    } else {
        7
    }
}

/// The wrapped code's layout: slots up to and including the call are the
/// harness prologue, the three after it the harness epilogue, then the
/// program. Nothing is appended after the program.
pub fn layout(mem_len: usize) -> SlotLayout {
    let before = wrapper_slots(mem_len);
    let after_call = before - TAIL_SLOTS;
    SlotLayout {
        before,
        harness: vec![
            (0..after_call, "harness prologue"),
            (after_call..before, "harness epilogue"),
        ],
    }
}

/// Rewrites the kernel's instruction numbers in `text` (a refusal reason
/// or a verifier log of the wrapped program) to the user's indices.
pub fn translate(text: &str, mem_len: usize) -> String {
    layout(mem_len).rewrite(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::interp::{run_program, ExecResult, DEFAULT_BUDGET};

    #[test]
    fn the_layout_names_the_wrapper_slots() {
        for len in [0usize, 5] {
            let w = wrap(&Program::new(vec![Insn::new(0x95, 0, 0, 0, 0)]), 3, len);
            let l = layout(len);
            assert_eq!(l.added(), wrapper_slots(len));
            // The call is the last prologue slot, the exit the last epilogue slot.
            let call = l.added() - TAIL_SLOTS - 1;
            assert_eq!(w[call].opcode, 0x85);
            assert_eq!(w[l.added() - 1].opcode, 0x95);
            assert_eq!(l.render(call as i64), format!("{call} (harness prologue)"));
            assert_eq!(
                l.render(call as i64 + 1),
                format!("{} (harness epilogue)", call + 1)
            );
            assert_eq!(l.render(l.added() as i64), "0");
        }
    }

    #[test]
    fn wrapper_calls_the_program_and_stores_r0() {
        // Checked on the engine, which models ld_imm64 src=2 as a pointer into
        // its input: here the input is the 8-byte ctx itself. The program
        // r0 = r2 returns the length through the call and the wrapper stores
        // it into ctx.
        let p = Program::new(vec![
            Insn::new(0xbf, 0, 2, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        for len in [0usize, 5] {
            let w = wrap(&p, 3, len);
            assert_eq!(w.len(), wrapper_slots(len) + p.len());
            assert_eq!(w[wrapper_slots(len)], p.insns[0]);
            assert_eq!(wrap(&p, 3, len)[wrapper_slots(len)..], p.insns[..]);
            let mut ctx = vec![0u8; CTX_SIZE];
            let e = run_program(&Program::new(w), &mut ctx, DEFAULT_BUDGET).unwrap();
            assert_eq!(
                e.result,
                ExecResult::Returned {
                    r0: 0,
                    r0_derived: false
                }
            );
            assert_eq!(ctx, (len as u64).to_le_bytes());
        }
    }

    #[test]
    fn map_values_are_relocated_even_when_the_engine_cannot_decode_the_program() {
        // resolve_pseudo_ldimm64 resolves every ld_imm64 src=2 whatever
        // else the program holds; slot 3 (opcode 0xff) does not decode.
        let p = Program::new(vec![
            Insn::new(0x18, 1, 2, 0, 7),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(0xff, 0, 0, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        assert!(p.decode().is_err());
        let r = relocate_map_values(&p, 42, 8);
        assert_eq!(r[0].imm, 42);
        assert_eq!(r[1].imm, 0, "the second slot is not an instruction");
        assert_eq!(relocate_map_values(&p, 42, 0)[0].imm, 7, "no input, no map");
    }
}
