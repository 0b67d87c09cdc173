//! The per-instruction checks the kernel makes only when its exploration
//! (`do_check`) first reaches an instruction, with the kernel's messages.
//!
//! The structural pass ([`super::structural`]) leaves these alone, because
//! the kernel reports them in exploration order, interleaved with register
//! state errors: `r2 /= 0` with r2 never written is `R2 !read_ok`, not `div
//! by zero` (measured on Linux 6.18). The exploration calls, per
//! instruction and in this order: [`decode`] (reserved fields, selectors,
//! register numbers), then its own operand reads, then [`alu_immediate`],
//! then [`frame_pointer_write`] for instructions that write `dst`.

use super::verdict::{RejectClass, Rejection};
use crate::decode::{self, DecodeErrorKind, Instruction};
use crate::insn::Insn;
use crate::opcode::{Class, Operation, Source};

/// Decodes the instruction at `pc` (which the structural pass accepted) and
/// turns a decode error into the message `do_check` prints for it:
/// `BPF_ALU uses reserved fields`, `BPF_MOV …`, `BPF_NEG …`, `BPF_END …`,
/// `BPF_JA …`, `BPF_CALL …`, `BPF_EXIT …`, `BPF_JMP/JMP32 …`, `BPF_ST …`,
/// `BPF_STX …`, `BPF_LD_[ABS|IND] …`, `BPF_LD_IMM64 …`, `BPF_ATOMIC uses
/// invalid atomic opcode %02x`, `invalid atomic operand size`, or `R%d is
/// invalid` for a register field above r10.
pub fn decode(insns: &[Insn], pc: usize) -> Result<Instruction, Rejection> {
    // do_check's BPF_EXIT check reads imm, src, dst and the class, not off
    // (measured on 6.18: `exit` with off = -1 loads).
    if insns[pc].opcode == 0x95 && insns[pc].off != 0 {
        let mut copy = insns[pc];
        copy.off = 0;
        return decode(std::slice::from_ref(&copy), 0).map_err(|mut e| {
            e.pc = pc;
            e
        });
    }
    // check_cond_jmp_op reads dst (check_reg_arg) before it looks at the
    // reserved fields: a dst above r10 is `R%d is invalid` first (measured
    // on 6.18: `if w11 s> w3` with imm 0xffff).
    let ins = insns[pc];
    let class = ins.opcode & 0x07;
    let op = ins.opcode & 0xf0;
    if matches!(class, 0x05 | 0x06) && !matches!(op, 0x00 | 0x80 | 0x90) && ins.dst > 10 {
        return Err(invalid_register(pc, ins.dst));
    }
    decode::decode_at(insns, pc).map_err(|e| match e.kind {
        // src is checked first where the kernel reads it first.
        DecodeErrorKind::BadRegister { .. } if ins.src > 10 && reads_src_first(&ins) => {
            invalid_register(pc, ins.src)
        }
        DecodeErrorKind::BadRegister { reg, .. } => invalid_register(pc, reg),
        DecodeErrorKind::ReservedField { .. } | DecodeErrorKind::BadSelector { .. } => {
            Rejection::new(
                pc,
                RejectClass::ReservedFields,
                reserved_message(&insns[pc]),
            )
        }
        // Unknown opcodes and malformed ld_imm64 are structural (the pass
        // before exploration refuses them); keep the decoder's words.
        other => Rejection::new(pc, RejectClass::ReservedFields, other.to_string()),
    })
}

/// The register the kernel reads (`check_reg_arg(.., SRC_OP)`, so an
/// unwritten one is `R%d !read_ok`) before it finds the error `e` that
/// [`decode`] gave for `ins`:
///
/// - a conditional jump (JMP/JMP32 class, not `ja`, `call` or `exit`):
///   `check_cond_jmp_op` reads `dst` before its reserved fields (`imm` of
///   the X form, `src` of the K form) and before `src` (measured on 6.18:
///   `if r3 > r1` with imm 5 and r3 unset is `R3 !read_ok`; `if r6 > r12`
///   with r6 unset is `R6 !read_ok`, not `R12 is invalid`);
/// - an instruction that reads `src` first (the X forms of ALU and MOV,
///   LDX, STX and the atomics: `check_alu_op`, `check_load_mem`,
///   `check_store_reg`, `check_atomic_rmw` check `src` before `dst`) whose
///   `dst` is above r10: `src` is read first (measured on 6.18: `r12 += r6`,
///   `*(u64 *)(r12 +0) = r6`, `r12 = *(u64 *)(r6 +0)` and `lock *(u64
///   *)(r12 +0) += r6` with r6 unset are `R6 !read_ok`).
pub fn read_before(ins: &Insn, e: &Rejection) -> Option<u8> {
    if is_cond_jmp(ins) {
        return (ins.dst <= 10).then_some(ins.dst);
    }
    let dst_invalid = e.class == RejectClass::InvalidRegister && ins.dst > 10;
    (dst_invalid && ins.src <= 10 && reads_src_first(ins)).then_some(ins.src)
}

/// JMP/JMP32 class, not `ja`, `call` or `exit`.
fn is_cond_jmp(ins: &Insn) -> bool {
    let class = ins.opcode & 0x07;
    let op = ins.opcode & 0xf0;
    matches!(class, 0x05 | 0x06) && !matches!(op, 0x00 | 0x80 | 0x90)
}

/// The instructions whose kernel check reads `src` before `dst`: ALU/ALU64
/// X forms other than `neg` and `end`, LDX (`MEM`, `MEMSX`), STX (`MEM`,
/// `ATOMIC`).
fn reads_src_first(ins: &Insn) -> bool {
    let class = ins.opcode & 0x07;
    let op = ins.opcode & 0xf0;
    let mode = ins.opcode & 0xe0;
    match class {
        0x04 | 0x07 => ins.opcode & 0x08 != 0 && !matches!(op, 0x80 | 0xd0),
        0x01 => matches!(mode, 0x60 | 0x80),
        0x03 => matches!(mode, 0x60 | 0xc0),
        _ => false,
    }
}

/// `R%d is invalid` (check_reg_arg, `EINVAL`).
pub fn invalid_register(pc: usize, reg: u8) -> Rejection {
    Rejection::new(
        pc,
        RejectClass::InvalidRegister,
        format!("R{reg} is invalid"),
    )
}

/// The kernel's message for a slot whose fields its opcode forbids.
fn reserved_message(ins: &Insn) -> String {
    let class = ins.opcode & 0x07;
    let op = ins.opcode & 0xf0;
    let mode = ins.opcode & 0xe0;
    match class {
        0x04 | 0x07 => match op {
            0xb0 => "BPF_MOV uses reserved fields".into(),
            0x80 => "BPF_NEG uses reserved fields".into(),
            0xd0 => "BPF_END uses reserved fields".into(),
            0xe0 | 0xf0 => format!("invalid BPF_ALU opcode {op:x}"),
            _ => "BPF_ALU uses reserved fields".into(),
        },
        0x05 | 0x06 => match op {
            0x00 => "BPF_JA uses reserved fields".into(),
            0x80 => "BPF_CALL uses reserved fields".into(),
            0x90 => "BPF_EXIT uses reserved fields".into(),
            _ => "BPF_JMP/JMP32 uses reserved fields".into(),
        },
        0x02 => "BPF_ST uses reserved fields".into(),
        0x03 if mode == 0xc0 => atomic_message(ins),
        0x03 => "BPF_STX uses reserved fields".into(),
        0x00 if mode == 0x20 || mode == 0x40 => "BPF_LD_[ABS|IND] uses reserved fields".into(),
        0x00 => "BPF_LD_IMM64 uses reserved fields".into(),
        _ => "BPF_LDX uses reserved fields".into(),
    }
}

/// check_atomic: an unknown `imm` is `BPF_ATOMIC uses invalid atomic
/// opcode %02x`; a read-modify-write on 1 or 2 bytes is `invalid atomic
/// operand size`.
fn atomic_message(ins: &Insn) -> String {
    let known_rmw = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1];
    let known = known_rmw.contains(&ins.imm) || ins.imm == 0x100 || ins.imm == 0x110;
    if !known {
        return format!("BPF_ATOMIC uses invalid atomic opcode {:02x}", ins.imm);
    }
    let size = ins.opcode & 0x18;
    let narrow = size == 0x10 || size == 0x08; // BPF_B or BPF_H
    if narrow && known_rmw.contains(&ins.imm) {
        return "invalid atomic operand size".into();
    }
    "BPF_STX uses reserved fields".into()
}

/// check_alu_op's immediate checks, made after the operands are read:
/// `div by zero` for DIV/MOD/SDIV/SMOD by an immediate 0, `invalid shift
/// %d` for an immediate shift amount below 0 or at least the width (32 for
/// ALU, 64 for ALU64). Both `EINVAL`.
pub fn alu_immediate(pc: usize, ins: &Instruction) -> Result<(), Rejection> {
    let row = ins.row;
    if !matches!(row.class, Class::Alu | Class::Alu64) || row.source != Source::Imm {
        return Ok(());
    }
    match row.operation {
        Operation::Div | Operation::SDiv | Operation::Mod | Operation::SMod if ins.imm == 0 => Err(
            Rejection::new(pc, RejectClass::DivisionByZero, "div by zero"),
        ),
        Operation::Lsh | Operation::Rsh | Operation::Arsh => {
            let width = if row.class == Class::Alu64 { 64 } else { 32 };
            if ins.imm < 0 || ins.imm >= width {
                Err(Rejection::new(
                    pc,
                    RejectClass::InvalidShift,
                    format!("invalid shift {}", ins.imm),
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// check_reg_arg for a destination: r10 may not be written (`frame pointer
/// is read only`, `EACCES`). Returns the rejection when `ins` writes r10.
pub fn frame_pointer_write(pc: usize, ins: &Instruction) -> Result<(), Rejection> {
    if ins.written_registers() & (1 << 10) != 0 {
        return Err(Rejection::new(
            pc,
            RejectClass::FramePointerReadOnly,
            "frame pointer is read only",
        ));
    }
    Ok(())
}
