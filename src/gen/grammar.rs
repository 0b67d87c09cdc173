//! The grammar-aware tier: every instruction is a valid encoding of a row
//! of the opcode table (selector set, reserved fields zero, registers
//! r0..r10), with operands biased to boundary values. Programs need not be
//! safe: jumps usually land inside the program but sometimes do not,
//! memory offsets and shift amounts may be out of range, divisors may be 0.

use super::boundary;
use super::layout::{self, Item};
use super::values;
use super::{Case, Knobs};
use arbitrary::{Result, Unstructured};
use bpfdiff_engine::opcode::{OpcodeRow, Operation};
use bpfdiff_engine::{Instruction, Program};

/// Helper ids worth calling: the two the engine provides, and a few it does not.
const HELPER_IDS: &[i32] = &[5, 7, 5, 7, 0, 1, 6, 12, 0x7fff_ffff];

/// Generates one instruction of `row` at item `index` of a program of
/// `count` items; a jump or call gets a target item.
pub fn instruction(
    u: &mut Unstructured,
    row: &'static OpcodeRow,
    index: usize,
    count: usize,
) -> Result<Item> {
    let dst = boundary::reg(u)?;
    let src = boundary::reg(u)?;
    let mut off = boundary::off16(u)?;
    let mut imm = boundary::imm32(u)?;
    let mut target = None;
    let mut wants_target = false;
    match row.operation {
        Operation::Lsh | Operation::Rsh | Operation::Arsh => imm = boundary::any_shift(u)?,
        Operation::Call => imm = *u.choose(HELPER_IDS)?,
        Operation::CallLocal | Operation::LdFunc => wants_target = true,
        _ if row.is_jump() => wants_target = true,
        _ => {}
    }
    if wants_target && u.ratio(7u8, 8)? {
        // Mostly forward, sometimes backward (loops the budget must stop).
        let t = if u.ratio(4u8, 5)? && index < count {
            u.int_in_range(index + 1..=count)?
        } else {
            u.int_in_range(0..=count)?
        };
        target = Some(t);
        off = 0;
        imm = 0;
    }
    let mut ins = Instruction::new(row, dst, src, off, imm);
    if row.slots() == 2 {
        let value = boundary::imm64(u)?;
        ins.imm = value as u32 as i32;
        ins.next_imm = match row.operation {
            Operation::LdMapValue | Operation::LdMapIdxValue => u.int_in_range(0..=64)?,
            _ => (value >> 32) as u32 as i32,
        };
        if target.is_some() {
            ins.imm = 0;
        }
    }
    Ok(match target {
        Some(t) => Item::to(ins, t),
        None => Item::plain(ins),
    })
}

/// Generates a grammar-tier case.
pub fn generate(knobs: &Knobs, u: &mut Unstructured) -> Result<Case> {
    let rows = knobs.rows();
    let count = u.int_in_range(knobs.program_len.clone())?;
    let mut items = Vec::with_capacity(count + 1);
    if !rows.is_empty() {
        for index in 0..count {
            let row = *u.choose(&rows)?;
            items.push(instruction(u, row, index, count)?);
        }
    }
    if items.is_empty() || u.ratio(9u8, 10)? {
        items.push(Item::plain(layout::exit()));
    }
    // Wide start values (see `values`) before the body; body targets move
    // with it.
    let prologue = values::prologue(knobs, u, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4)?;
    let shift = prologue.len();
    for item in &mut items {
        if let Some(t) = item.target.as_mut() {
            *t += shift;
        }
    }
    items.splice(0..0, prologue.into_iter().map(Item::plain));
    let program = Program::new(layout::encode(&items));
    let input_len = u.int_in_range(knobs.input_len.clone())?;
    Ok(Case::new(program, boundary::memory(u, input_len)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{seeded, Tier};

    #[test]
    fn grammar_programs_always_decode() {
        let knobs = Knobs::default();
        for seed in 0..300 {
            let case = seeded::case(Tier::Grammar, &knobs, seed);
            if let Err(e) = case.program.decode() {
                panic!("seed {seed}: {e}");
            }
        }
    }

    #[test]
    fn most_jumps_land_inside_the_program() {
        let knobs = Knobs::default()
            .with_allowed_ops("ja,jeq,call_local")
            .unwrap();
        let (mut inside, mut total) = (0, 0);
        for seed in 0..100 {
            let case = seeded::case(Tier::Grammar, &knobs, seed);
            let decoded = case.program.decode().unwrap();
            for (slot, ins) in &decoded {
                if let Some(t) = layout::target_slot(*slot, ins) {
                    total += 1;
                    if t >= 0 && (t as usize) < case.program.len() {
                        inside += 1;
                    }
                }
            }
        }
        assert!(inside * 10 > total * 7, "{inside} of {total} jumps inside");
    }
}
