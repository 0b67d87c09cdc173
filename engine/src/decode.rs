//! Decoding raw slots into [`Instruction`]s through the opcode table, and
//! encoding them back.

use crate::insn::Insn;
use crate::opcode::{self, OpcodeRow, LD_IMM64_OPCODE, OPCODES};
use thiserror::Error;

/// The highest register number (r10, the frame pointer).
pub const MAX_REG: u8 = 10;

/// A decoded instruction: its table row plus its fields.
///
/// For `ld_imm64` (two slots) `next_imm` is the second slot's `imm`;
/// for every other instruction it is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instruction {
    /// The table row: what the instruction is.
    pub row: &'static OpcodeRow,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Offset field.
    pub off: i16,
    /// Immediate field (the low half of an `ld_imm64` value).
    pub imm: i32,
    /// The second slot's immediate for `ld_imm64`, else 0.
    pub next_imm: i32,
}

impl Instruction {
    /// Builds an instruction of `row`; the row's selector field is forced to
    /// the row's value and reserved fields are zeroed.
    pub fn new(row: &'static OpcodeRow, dst: u8, src: u8, off: i16, imm: i32) -> Instruction {
        let r = row.reserved;
        let dst = if r.dst { 0 } else { dst };
        let src = if r.src { 0 } else { src };
        let off = if r.off { 0 } else { off };
        let imm = if r.imm { 0 } else { imm };
        let (src, off, imm) = row.apply_selector(src, off, imm);
        Instruction {
            row,
            dst,
            src,
            off,
            imm,
            next_imm: 0,
        }
    }

    /// Builds a two-slot `ld_imm64` of the given row with a full 64-bit value.
    pub fn wide(row: &'static OpcodeRow, dst: u8, value: u64) -> Instruction {
        let mut i = Instruction::new(row, dst, 0, 0, value as u32 as i32);
        i.next_imm = (value >> 32) as u32 as i32;
        i
    }

    /// The registers this instruction may write, one bit per eBPF register
    /// (bit r for rN). Helper calls clobber r0–r5 (RFC 9669 §4.3.1); a local
    /// call's effects belong to the callee's instructions.
    pub fn written_registers(&self) -> u16 {
        use opcode::{Class, Operation as O};
        const R0: u16 = 1;
        const CALL_CLOBBERS: u16 = 0b11_1111; // r0..r5
        let dst = 1u16 << (self.dst & 15);
        let src = 1u16 << (self.src & 15);
        match self.row.operation {
            O::LdAbs | O::LdInd | O::AtomicCmpxchg => R0,
            O::Call | O::Callx => CALL_CLOBBERS,
            O::AtomicFetchAdd
            | O::AtomicFetchOr
            | O::AtomicFetchAnd
            | O::AtomicFetchXor
            | O::AtomicXchg => src,
            O::AtomicAdd | O::AtomicOr | O::AtomicAnd | O::AtomicXor => 0,
            O::StoreImm | O::StoreReg | O::StoreRelease => 0,
            _ => match self.row.class {
                Class::Jmp | Class::Jmp32 => 0,
                _ => dst,
            },
        }
    }

    /// The slot that a jump, a local call or an `ld_imm64` src=4 (a
    /// subprogram address) at slot `pc` refers to; `None` for every other
    /// instruction. Offsets count from the next slot (RFC 9669 §4.3); `gotol`
    /// (JMP32 JA), local calls and src=4 take theirs from `imm`. The result
    /// may lie outside the program.
    pub fn branch_target(&self, pc: usize) -> Option<i64> {
        use opcode::{Class, Operation as O};
        let offset = match (self.row.class, self.row.operation) {
            (Class::Jmp32, O::Ja) => self.imm as i64,
            (_, O::CallLocal | O::LdFunc) => self.imm as i64,
            _ if self.row.is_jump() => self.off as i64,
            _ => return None,
        };
        Some(pc as i64 + offset + 1)
    }

    /// The 64-bit value of an `ld_imm64` (`imm` low, `next_imm` high).
    pub const fn imm64(&self) -> u64 {
        (self.imm as u32 as u64) | ((self.next_imm as u32 as u64) << 32)
    }

    /// Number of slots (1, or 2 for `ld_imm64`).
    pub const fn slots(&self) -> usize {
        self.row.slots()
    }

    /// The instruction's slots.
    pub fn encode(&self) -> Vec<Insn> {
        let first = Insn::new(self.row.opcode, self.dst, self.src, self.off, self.imm);
        if self.slots() == 2 {
            vec![first, Insn::new(0, 0, 0, 0, self.next_imm)]
        } else {
            vec![first]
        }
    }

    /// Appends the instruction's slots to `out`.
    pub fn encode_into(&self, out: &mut Vec<Insn>) {
        out.extend(self.encode());
    }
}

/// Which instruction field a decode error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The destination register field.
    Dst,
    /// The source register field.
    Src,
    /// The offset field.
    Off,
    /// The immediate field.
    Imm,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Dst => "dst",
            Field::Src => "src",
            Field::Off => "off",
            Field::Imm => "imm",
        })
    }
}

/// Why a slot could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeErrorKind {
    /// No row has this opcode byte.
    #[error("unknown opcode 0x{opcode:02x}")]
    UnknownOpcode {
        /// The opcode byte.
        opcode: u8,
    },
    /// The opcode exists but the selector field has no row.
    #[error("opcode 0x{opcode:02x} ({mnemonics}) has no form with {field} = {value}")]
    BadSelector {
        /// The opcode byte.
        opcode: u8,
        /// Mnemonics of the rows sharing the opcode.
        mnemonics: String,
        /// The selector field.
        field: Field,
        /// Its value.
        value: i64,
    },
    /// A reserved field is nonzero.
    #[error("{mnemonic} (0x{opcode:02x}) uses reserved field {field} = {value} (must be 0)")]
    ReservedField {
        /// The opcode byte.
        opcode: u8,
        /// The row's mnemonic.
        mnemonic: &'static str,
        /// The field.
        field: Field,
        /// Its value.
        value: i64,
    },
    /// A register field names no register (r11..r15).
    #[error("{mnemonic} (0x{opcode:02x}): invalid register r{reg} in {field}")]
    BadRegister {
        /// The opcode byte.
        opcode: u8,
        /// The row's mnemonic.
        mnemonic: &'static str,
        /// The field.
        field: Field,
        /// The register number.
        reg: u8,
    },
    /// `ld_imm64` is the last slot: its second half is missing.
    #[error("ld_imm64 is truncated: its second slot is missing")]
    TruncatedLdImm64,
    /// The second slot of `ld_imm64` has a nonzero opcode, register or offset.
    #[error("second slot of ld_imm64 must have opcode, dst, src and off 0 (found {found:?})")]
    BadLdImm64Second {
        /// The offending slot.
        found: Insn,
    },
}

/// A decode error with the index of the offending slot.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("insn {index}: {kind}")]
pub struct DecodeError {
    /// Slot index in the program.
    pub index: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

fn mnemonics_of(opcode: u8) -> String {
    let mut names: Vec<&str> = opcode::rows_for_opcode(opcode)
        .map(|r| r.mnemonic)
        .collect();
    names.dedup();
    names.join("/")
}

fn selector_field(row: &OpcodeRow, insn: &Insn) -> (Field, i64) {
    match row.selector {
        opcode::Selector::Off(_) => (Field::Off, insn.off as i64),
        opcode::Selector::Imm(_) => (Field::Imm, insn.imm as i64),
        opcode::Selector::Src(_) => (Field::Src, insn.src as i64),
        opcode::Selector::None => (Field::Imm, insn.imm as i64),
    }
}

/// Decodes the single-slot part of one instruction: row lookup, selector,
/// reserved fields and register range. Does not look at a second slot.
pub fn decode_slot(insn: &Insn) -> Result<&'static OpcodeRow, DecodeErrorKind> {
    let rows = opcode::row_indices_for_opcode(insn.opcode);
    let Some(&first) = rows.first() else {
        return Err(DecodeErrorKind::UnknownOpcode {
            opcode: insn.opcode,
        });
    };
    let first = &OPCODES[first as usize];
    let selected = rows
        .iter()
        .map(|&i| &OPCODES[i as usize])
        .find(|r| r.selects(insn.src, insn.off, insn.imm));
    let row = match selected {
        Some(r) => r,
        None => {
            let (field, value) = selector_field(first, insn);
            return Err(DecodeErrorKind::BadSelector {
                opcode: insn.opcode,
                mnemonics: mnemonics_of(insn.opcode),
                field,
                value,
            });
        }
    };
    let r = row.reserved;
    let checks = [
        (r.dst, Field::Dst, insn.dst as i64),
        (r.src, Field::Src, insn.src as i64),
        (r.off, Field::Off, insn.off as i64),
        (r.imm, Field::Imm, insn.imm as i64),
    ];
    for (reserved, field, value) in checks {
        if reserved && value != 0 {
            return Err(DecodeErrorKind::ReservedField {
                opcode: insn.opcode,
                mnemonic: row.mnemonic,
                field,
                value,
            });
        }
    }
    let src_is_selector = matches!(row.selector, opcode::Selector::Src(_));
    for (reserved, field, reg) in [
        (r.dst, Field::Dst, insn.dst),
        (r.src || src_is_selector, Field::Src, insn.src),
    ] {
        if !reserved && reg > MAX_REG {
            return Err(DecodeErrorKind::BadRegister {
                opcode: insn.opcode,
                mnemonic: row.mnemonic,
                field,
                reg,
            });
        }
    }
    Ok(row)
}

/// Decodes the instruction starting at slot `index` of `slots`.
pub fn decode_at(slots: &[Insn], index: usize) -> Result<Instruction, DecodeError> {
    let err = |kind| DecodeError { index, kind };
    let insn = slots[index];
    let row = decode_slot(&insn).map_err(err)?;
    let mut out = Instruction {
        row,
        dst: insn.dst,
        src: insn.src,
        off: insn.off,
        imm: insn.imm,
        next_imm: 0,
    };
    if row.opcode == LD_IMM64_OPCODE {
        let Some(second) = slots.get(index + 1) else {
            return Err(err(DecodeErrorKind::TruncatedLdImm64));
        };
        if second.opcode != 0 || second.dst != 0 || second.src != 0 || second.off != 0 {
            return Err(DecodeError {
                index: index + 1,
                kind: DecodeErrorKind::BadLdImm64Second { found: *second },
            });
        }
        out.next_imm = second.imm;
    }
    Ok(out)
}

/// Decodes a whole program. Each returned pair is (slot index, instruction).
pub fn decode_program(slots: &[Insn]) -> Result<Vec<(usize, Instruction)>, DecodeError> {
    let mut out = Vec::with_capacity(slots.len());
    let mut i = 0;
    while i < slots.len() {
        let ins = decode_at(slots, i)?;
        out.push((i, ins));
        i += ins.slots();
    }
    Ok(out)
}

/// Encodes decoded instructions back into slots.
pub fn encode_program(instructions: &[Instruction]) -> Vec<Insn> {
    let mut out = Vec::with_capacity(instructions.len());
    for i in instructions {
        i.encode_into(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode::OPCODES;
    use crate::test_strategies::arb_instruction;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_encode_roundtrip(i in arb_instruction()) {
            let slots = i.encode();
            let back = decode_at(&slots, 0).unwrap();
            prop_assert_eq!(back, i);
        }
    }

    #[test]
    fn every_row_roundtrips_with_zero_fields() {
        for row in OPCODES {
            let i = Instruction::new(row, 1, 2, 3, 4);
            assert_eq!(decode_at(&i.encode(), 0).unwrap(), i, "{}", row.name());
        }
    }

    #[test]
    fn reserved_fields_are_rejected_with_their_name() {
        // exit (0x95) has every field reserved (RFC 9669 §4.3).
        let e = decode_at(&[Insn::new(0x95, 0, 0, 0, 1)], 0).unwrap_err();
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::ReservedField {
                    field: Field::Imm,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "insn 0: exit (0x95) uses reserved field imm = 1 (must be 0)"
        );
        // mov K with nonzero off (SEMANTICS.md: the K form with nonzero off is rejected).
        let e = decode_at(&[Insn::new(0xb7, 0, 0, 8, 1)], 0).unwrap_err();
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::ReservedField {
                    field: Field::Off,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_and_truncated() {
        let e = decode_program(&[Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x8f, 0, 0, 0, 0)])
            .unwrap_err();
        assert_eq!(e.index, 1);
        assert_eq!(e.to_string(), "insn 1: unknown opcode 0x8f");
        let e = decode_program(&[Insn::new(0x18, 0, 0, 0, 0)]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::TruncatedLdImm64);
        let e = decode_program(&[Insn::new(0x18, 0, 0, 0, 0), Insn::new(0x07, 0, 0, 0, 0)])
            .unwrap_err();
        assert_eq!(e.index, 1);
        let e = decode_program(&[Insn::new(0xbf, 11, 0, 0, 0)]).unwrap_err();
        assert!(matches!(
            e.kind,
            DecodeErrorKind::BadRegister { reg: 11, .. }
        ));
    }
}
