//! Register start values that stress every width, shared by every tier.
//!
//! A 32-bit operation must zero the upper half of its destination (RFC 9669
//! §4.1: "the upper 32 bits of the destination register are zeroed"); an
//! implementation that forgets it is seen only when the register's upper
//! half was nonzero before. Constants from `mov` alone rarely give that
//! (`mov` sign-extends a 32-bit immediate, so the upper half is all zeros
//! or all ones). These values set the upper half, the sign bits of both
//! halves, `INT_MIN` of 32 and 64 bits, `-1`, `0x80000000`, `0xffffffff`
//! and `0x100000000`, and they reach the register through `ld_imm64` or,
//! when it is not allowed, through `mov` + `lsh 32` + `or`. Every choice
//! is read from the [`Unstructured`] bytes, so fuzzers still steer them.

use super::boundary;
use super::Knobs;
use arbitrary::{Result, Unstructured};
use bpfdiff_engine::opcode::{self, Class, OpcodeRow, Operation, Source};
use bpfdiff_engine::Instruction;

/// 64-bit start values worth trying, each stressing a width boundary.
pub const WIDE: &[u64] = &[
    u64::MAX,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    i64::MIN as u64,
    i32::MIN as i64 as u64,
    i64::MAX as u64,
    0x7fff_ffff,
    0xffff_ffff_0000_0000,
    0x1_ffff_ffff,
    0x1_8000_0000,
    0x8000_0000_ffff_ffff,
    0xffff_ffff_7fff_ffff,
    0x0000_0001_0000_0001,
    0xdead_beef_8000_0001,
    0x8000_0000_8000_0000,
];

/// A 64-bit value: a [`WIDE`] constant, two boundary halves, or any value.
/// The upper half is nonzero in most of them.
pub fn wide(u: &mut Unstructured) -> Result<u64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=3 => *u.choose(WIDE)?,
        4..=5 => {
            let hi = boundary::imm32(u)? as u32 as u64;
            let lo = boundary::imm32(u)? as u32 as u64;
            (hi.max(1) << 32) | lo
        }
        6 => boundary::imm64(u)?,
        _ => u.arbitrary()?,
    })
}

fn row(class: Class, op: Operation, source: Source) -> &'static OpcodeRow {
    opcode::find(class, op, source, None).expect("the opcode table has this row")
}

/// The instructions that set `dst` to a wide value, by the first allowed
/// way: `ld_imm64`, or `mov` + `lsh 32` + `or` (whose `or` immediate is
/// sign-extended, so the value is whatever the three give). Empty when
/// `knobs` allow neither.
pub fn set_register(knobs: &Knobs, u: &mut Unstructured, dst: u8) -> Result<Vec<Instruction>> {
    let lddw = opcode::lookup(opcode::LD_IMM64_OPCODE, 0, 0, 0).expect("ld_imm64 row");
    let mov = row(Class::Alu64, Operation::Mov, Source::Imm);
    let lsh = row(Class::Alu64, Operation::Lsh, Source::Imm);
    let or = row(Class::Alu64, Operation::Or, Source::Imm);
    let value = wide(u)?;
    let by_lddw = knobs.allows(lddw);
    let by_shift = knobs.allows(mov) && knobs.allows(lsh) && knobs.allows(or);
    Ok(if by_lddw && (!by_shift || u.ratio(3u8, 4)?) {
        vec![Instruction::wide(lddw, dst, value)]
    } else if by_shift {
        vec![
            Instruction::new(mov, dst, 0, 0, (value >> 32) as u32 as i32),
            Instruction::new(lsh, dst, 0, 0, 32),
            Instruction::new(or, dst, 0, 0, value as u32 as i32),
        ]
    } else {
        Vec::new()
    })
}

/// A prologue that sets up to `most` registers chosen from `regs` to wide
/// values (none when `knobs` allow no way to).
pub fn prologue(
    knobs: &Knobs,
    u: &mut Unstructured,
    regs: &[u8],
    most: usize,
) -> Result<Vec<Instruction>> {
    let mut out = Vec::new();
    if regs.is_empty() {
        return Ok(out);
    }
    let n = u.int_in_range(0..=most)?;
    for _ in 0..n {
        let r = *u.choose(regs)?;
        out.extend(set_register(knobs, u, r)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
    use bpfdiff_engine::Program;

    fn run_set(knobs: &Knobs, data: &[u8]) -> Option<u64> {
        let mut u = Unstructured::new(data);
        let mut items: Vec<_> = set_register(knobs, &mut u, 0)
            .unwrap()
            .into_iter()
            .map(super::super::layout::Item::plain)
            .collect();
        if items.is_empty() {
            return None;
        }
        items.push(super::super::layout::Item::plain(
            super::super::layout::exit(),
        ));
        let program = Program::new(super::super::layout::encode(&items));
        let vm = Interpreter::new(&program).unwrap();
        match vm.run(&mut Vec::new(), DEFAULT_BUDGET).result {
            ExecResult::Returned { r0, .. } => Some(r0),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn most_values_have_a_nonzero_upper_half_by_either_encoding() {
        // The point of the module: 32-bit ops see registers whose upper
        // half is set (RFC 9669 §4.1 zero-extension), by ld_imm64 or by
        // mov + lsh + or when ld_imm64 is not allowed.
        for knobs in [
            Knobs::default(),
            Knobs::default().with_allowed_ops("mov,lsh,or").unwrap(),
        ] {
            let mut upper = 0;
            for seed in 0..200u64 {
                let data = super::super::seeded::bytes(seed, 64);
                let r0 = run_set(&knobs, &data).expect("allowed");
                if r0 >> 32 != 0 {
                    upper += 1;
                }
            }
            assert!(upper > 140, "{upper} of 200 with the upper half set");
        }
        let none = Knobs::default().with_allowed_ops("add").unwrap();
        assert_eq!(run_set(&none, &[1, 2, 3]), None);
    }

    #[test]
    fn every_named_width_boundary_is_a_choice() {
        for v in [
            u64::MAX,
            0x8000_0000,
            0xffff_ffff,
            0x1_0000_0000,
            0x8000_0000_0000_0000,
            0xffff_ffff_8000_0000,
        ] {
            assert!(WIDE.contains(&v), "{v:#x}");
        }
    }
}
