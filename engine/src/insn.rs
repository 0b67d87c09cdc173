//! The raw 8-byte instruction slot (RFC 9669 §3, "Instruction encoding").
//!
//! ```text
//!  opcode:8 | src_reg:4 dst_reg:4 | offset:16 (LE) | imm:32 (LE)
//! ```
//! On little-endian hosts the register byte holds `dst` in its low nibble and
//! `src` in its high nibble. An `ld_imm64` instruction occupies two slots.

/// One 8-byte eBPF instruction slot, exactly as encoded.
///
/// `dst` and `src` hold 4-bit values (0..=15); values above 10 are not
/// registers and are rejected by the decoder, but they are representable so
/// that any byte string can be read back unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Insn {
    /// The opcode byte: class in bits 0..3, the rest depends on the class.
    pub opcode: u8,
    /// Destination register field (4 bits).
    pub dst: u8,
    /// Source register field (4 bits).
    pub src: u8,
    /// Signed 16-bit offset field.
    pub off: i16,
    /// Signed 32-bit immediate field.
    pub imm: i32,
}

impl Insn {
    /// The size of one instruction slot in bytes.
    pub const SIZE: usize = 8;

    /// Builds a slot from its fields; `dst` and `src` are masked to 4 bits.
    pub const fn new(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            opcode,
            dst: dst & 0x0f,
            src: src & 0x0f,
            off,
            imm,
        }
    }

    /// Reads a slot from its 8-byte little-endian encoding.
    pub const fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            opcode: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Writes the slot as its 8-byte little-endian encoding.
    pub const fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.opcode,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// Reads a slot from the 64-bit word used by bpf_conformance's `-- raw`
    /// section (the 8 bytes read as a little-endian `u64`).
    pub const fn from_u64(word: u64) -> Insn {
        Insn::from_bytes(word.to_le_bytes())
    }

    /// The slot as the 64-bit little-endian word of a `-- raw` section.
    pub const fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }

    /// The class bits (`opcode & 7`).
    pub const fn class_bits(self) -> u8 {
        self.opcode & 0x07
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_layout_matches_rfc9669_section3() {
        // RFC 9669 §3: opcode, then dst in the low nibble and src in the high
        // nibble of byte 1 (little-endian), then offset and imm little-endian.
        let insn = Insn::new(0xbf, 1, 2, -4, 0x1234_5678);
        assert_eq!(
            insn.to_bytes(),
            [0xbf, 0x21, 0xfc, 0xff, 0x78, 0x56, 0x34, 0x12]
        );
        assert_eq!(Insn::from_bytes(insn.to_bytes()), insn);
        assert_eq!(Insn::from_u64(insn.to_u64()), insn);
        assert_eq!(insn.to_u64(), 0x1234_5678_fffc_21bf);
    }
}
