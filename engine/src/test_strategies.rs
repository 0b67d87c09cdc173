//! Proptest strategies shared by the engine's unit tests.

use crate::decode::{Instruction, MAX_REG};
use crate::opcode::{OpcodeRow, OPCODES};
use proptest::prelude::*;

/// An instruction of `row` with these fields; `next` is the second slot's
/// imm for two-slot rows and ignored otherwise.
pub fn instruction_with(row: &'static OpcodeRow, fields: (u8, u8, i16, i32, i32)) -> Instruction {
    let (dst, src, off, imm, next) = fields;
    let mut ins = Instruction::new(row, dst, src, off, imm);
    if row.slots() == 2 {
        ins.next_imm = next;
    }
    ins
}

/// A random valid instruction: any row of the opcode table, any fields the
/// row allows.
pub fn arb_instruction() -> impl Strategy<Value = Instruction> {
    (
        0..OPCODES.len(),
        0u8..=MAX_REG,
        0u8..=MAX_REG,
        any::<i16>(),
        any::<i32>(),
        any::<i32>(),
    )
        .prop_map(|(r, dst, src, off, imm, next)| {
            instruction_with(&OPCODES[r], (dst, src, off, imm, next))
        })
}
