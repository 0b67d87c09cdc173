//! A program: a sequence of instruction slots, read from and written to bytes.

use crate::decode::{self, DecodeError, Instruction};
use crate::insn::Insn;
use thiserror::Error;

/// A raw bytecode buffer whose length is not a multiple of 8.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("truncated program: {len} bytes is not a multiple of 8 (last instruction, index {index}, has {rest} bytes)")]
pub struct TruncatedProgram {
    /// Length of the buffer in bytes.
    pub len: usize,
    /// Index of the incomplete instruction.
    pub index: usize,
    /// Bytes present of the incomplete instruction.
    pub rest: usize,
}

/// An eBPF program as a sequence of 8-byte slots (`ld_imm64` takes two).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Program {
    /// The slots, in order.
    pub insns: Vec<Insn>,
}

impl Program {
    /// Wraps slots into a program.
    pub fn new(insns: Vec<Insn>) -> Program {
        Program { insns }
    }

    /// Reads raw bytecode (8 little-endian bytes per slot).
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, TruncatedProgram> {
        if bytes.len() % Insn::SIZE != 0 {
            return Err(TruncatedProgram {
                len: bytes.len(),
                index: bytes.len() / Insn::SIZE,
                rest: bytes.len() % Insn::SIZE,
            });
        }
        let insns = bytes
            .chunks_exact(Insn::SIZE)
            .map(|c| Insn::from_bytes(c.try_into().expect("chunk of 8")))
            .collect();
        Ok(Program { insns })
    }

    /// The raw bytecode.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.insns.iter().flat_map(|i| i.to_bytes()).collect()
    }

    /// Builds a program from decoded instructions.
    pub fn from_instructions(instructions: &[Instruction]) -> Program {
        Program {
            insns: decode::encode_program(instructions),
        }
    }

    /// Decodes every instruction; pairs are (slot index, instruction).
    pub fn decode(&self) -> Result<Vec<(usize, Instruction)>, DecodeError> {
        decode::decode_program(&self.insns)
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// True when the program has no slots.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_bytes_name_the_instruction() {
        let e = Program::from_bytes(&[0x95, 0, 0, 0, 0, 0, 0, 0, 0xb7, 0]).unwrap_err();
        assert_eq!(e.index, 1);
        assert_eq!(e.rest, 2);
        let p = Program::from_bytes(&[0x95, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(p.to_bytes().len(), 8);
    }
}
