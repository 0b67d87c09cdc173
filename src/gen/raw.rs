//! The raw tier: any 8-byte slots, including invalid ones (unknown opcodes,
//! nonzero reserved fields, registers r11..r15, truncated `ld_imm64`).
//!
//! Opcode bytes are drawn mostly from the table (so that decoders get past
//! the first slot), sometimes from all 256 values; the other fields are
//! boundary-biased or arbitrary. With an allowed-ops restriction, opcode
//! bytes come only from the allowed rows.

use super::boundary;
use super::layout::{self, Item};
use super::values;
use super::{Case, Knobs};
use arbitrary::{Result, Unstructured};
use bpfdiff_engine::{Insn, Program};

/// Generates a raw-tier case.
pub fn generate(knobs: &Knobs, u: &mut Unstructured) -> Result<Case> {
    let rows = knobs.rows();
    let len = u.int_in_range(knobs.program_len.clone())?.max(1);
    // Wide start values (see `values`), as valid slots before the raw ones.
    let prologue: Vec<Item> = values::prologue(knobs, u, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3)?
        .into_iter()
        .map(Item::plain)
        .collect();
    let mut insns = layout::encode(&prologue);
    for _ in 0..len {
        let opcode = if !rows.is_empty() && (knobs.is_restricted() || u.ratio(3u8, 4)?) {
            u.choose(&rows)?.opcode
        } else {
            u.arbitrary()?
        };
        let (dst, src) = if u.ratio(7u8, 8)? {
            (boundary::reg(u)?, boundary::reg(u)?)
        } else {
            (u.int_in_range(0..=15)?, u.int_in_range(0..=15)?)
        };
        let off = boundary::off16(u)?;
        let imm = if u.ratio(1u8, 2)? {
            boundary::imm32(u)?
        } else {
            boundary::any_shift(u)?
        };
        insns.push(Insn::new(opcode, dst, src, off, imm));
    }
    // Usually end with exit, so that some raw programs get past decoding.
    if u.ratio(1u8, 2)? {
        insns.push(Insn::new(0x95, 0, 0, 0, 0));
    }
    let input_len = u.int_in_range(knobs.input_len.clone())?;
    Ok(Case::new(
        Program::new(insns),
        boundary::memory(u, input_len)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::seeded;
    use crate::gen::Tier;

    #[test]
    fn raw_programs_include_undecodable_ones() {
        let knobs = Knobs::default();
        let mut bad = 0;
        for seed in 0..200 {
            let case = seeded::case(Tier::Raw, &knobs, seed);
            assert!(!case.program.is_empty());
            if case.program.decode().is_err() {
                bad += 1;
            }
        }
        assert!(bad > 20, "only {bad} of 200 raw programs fail to decode");
    }

    #[test]
    fn restriction_limits_opcode_bytes() {
        let knobs = Knobs::default().with_allowed_ops("exit").unwrap();
        for seed in 0..50 {
            let case = seeded::case(Tier::Raw, &knobs, seed);
            assert!(case.program.insns.iter().all(|i| i.opcode == 0x95));
        }
    }
}
