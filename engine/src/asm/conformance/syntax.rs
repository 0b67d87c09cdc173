//! The operand syntax of each opcode-table row in the bpf_conformance
//! dialect, shared by the assembler and the disassembler so the two cannot
//! drift apart.

use crate::opcode::{Class, OpcodeRow, Operation};

/// How a row's operands are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// `add %rD, %rS` / `add %rD, IMM` (the operand picks the row's source form).
    AluBinary,
    /// `neg %rD`, `le16 %rD`, `be32 %rD`, `bswap64 %rD`.
    AluUnary,
    /// `movsx1632 %rD, %rS` (register source only).
    MovSx,
    /// `ja TARGET` (relative target in `off`).
    Ja,
    /// `ja32 TARGET` (relative target in `imm`).
    Ja32,
    /// `jeq %rD, %rS|IMM, TARGET` (relative target in `off`).
    CondJump,
    /// `call IMM` (helper by id).
    CallHelper,
    /// `call local TARGET` (relative target in `imm`).
    CallLocal,
    /// `call runtime IMM[, OFF]` (kfunc by BTF id).
    CallKfunc,
    /// `call %rD` (register in `dst`).
    Callx,
    /// `exit`.
    Exit,
    /// `ldxw %rD, [%rS+OFF]`, also `ldxs*` and `ldacq*`.
    Load,
    /// `stw [%rD+OFF], IMM`.
    StoreImm,
    /// `stxw [%rD+OFF], %rS`, also `strel*` and the `lock` atomics.
    StoreReg,
    /// `lddw %rD, IMM64`.
    LdImm64,
    /// `lddw_map_fd %rD, IMM[, IMM2]` and the other pseudo `ld_imm64` forms.
    LdPseudo,
    /// `lddw_func %rD, TARGET[, IMM2]` (relative target in `imm`).
    LdFunc,
    /// `ldabsw IMM`.
    LdAbs,
    /// `ldindw %rS, IMM`.
    LdInd,
}

impl Shape {
    /// The least and the most operands the shape takes.
    pub(super) const fn operand_counts(self) -> (usize, usize) {
        match self {
            Shape::Exit => (0, 0),
            Shape::AluUnary
            | Shape::Ja
            | Shape::Ja32
            | Shape::CallHelper
            | Shape::CallLocal
            | Shape::Callx
            | Shape::LdAbs => (1, 1),
            Shape::CallKfunc => (1, 2),
            Shape::AluBinary
            | Shape::MovSx
            | Shape::Load
            | Shape::StoreImm
            | Shape::StoreReg
            | Shape::LdImm64
            | Shape::LdInd => (2, 2),
            Shape::LdPseudo | Shape::LdFunc => (2, 3),
            Shape::CondJump => (3, 3),
        }
    }

    /// Which field holds the shape's relative target, if it has one.
    pub(super) const fn target_field(self) -> Option<TargetField> {
        match self {
            Shape::Ja | Shape::CondJump => Some(TargetField::Off),
            Shape::Ja32 | Shape::CallLocal | Shape::LdFunc => Some(TargetField::Imm),
            _ => None,
        }
    }
}

/// The field a relative target (`pc + rel + 1`) is stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TargetField {
    /// The 16-bit `off` field (jumps).
    Off,
    /// The 32-bit `imm` field (`ja32`, `call local`, `lddw_func`).
    Imm,
}

/// The operand syntax of a table row.
pub(super) fn shape_of(row: &OpcodeRow) -> Shape {
    use Operation as O;
    match row.operation {
        O::Neg | O::Le | O::Be | O::Bswap => Shape::AluUnary,
        O::MovSx => Shape::MovSx,
        O::Add
        | O::Sub
        | O::Mul
        | O::Div
        | O::SDiv
        | O::Or
        | O::And
        | O::Lsh
        | O::Rsh
        | O::Mod
        | O::SMod
        | O::Xor
        | O::Mov
        | O::Arsh => Shape::AluBinary,
        O::Ja if row.class == Class::Jmp32 => Shape::Ja32,
        O::Ja => Shape::Ja,
        O::Jeq
        | O::Jgt
        | O::Jge
        | O::Jset
        | O::Jne
        | O::Jsgt
        | O::Jsge
        | O::Jlt
        | O::Jle
        | O::Jslt
        | O::Jsle => Shape::CondJump,
        O::Call => Shape::CallHelper,
        O::CallLocal => Shape::CallLocal,
        O::CallKfunc => Shape::CallKfunc,
        O::Callx => Shape::Callx,
        O::Exit => Shape::Exit,
        O::LdImm64 => Shape::LdImm64,
        O::LdFunc => Shape::LdFunc,
        O::LdMapFd | O::LdMapValue | O::LdBtfId | O::LdMapIdx | O::LdMapIdxValue => Shape::LdPseudo,
        O::LdAbs => Shape::LdAbs,
        O::LdInd => Shape::LdInd,
        O::Load | O::LoadSx | O::LoadAcquire => Shape::Load,
        O::StoreImm => Shape::StoreImm,
        O::StoreReg
        | O::StoreRelease
        | O::AtomicAdd
        | O::AtomicOr
        | O::AtomicAnd
        | O::AtomicXor
        | O::AtomicFetchAdd
        | O::AtomicFetchOr
        | O::AtomicFetchAnd
        | O::AtomicFetchXor
        | O::AtomicXchg
        | O::AtomicCmpxchg => Shape::StoreReg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode::{Source, OPCODES};

    #[test]
    fn rows_sharing_a_mnemonic_share_a_shape_and_differ_only_in_source() {
        for row in OPCODES {
            for other in crate::opcode::rows_for_mnemonic(row.mnemonic) {
                assert_eq!(shape_of(row), shape_of(other), "{}", row.name());
                if other != row {
                    assert_ne!(row.source, other.source, "{}", row.name());
                    assert!(matches!(row.source, Source::Imm | Source::Reg));
                }
            }
        }
    }
}
