//! Shrinking immediates and offsets toward 0, 1, -1 and small powers of
//! two. A value only moves to an earlier entry of [`LADDER`], so the pass
//! ends. Fields that select the instruction (atomics' `imm`, SDIV's and
//! MOVSX's `off`), reserved fields, helper and BTF ids, map fds and
//! jump/call targets are left alone.

use super::{with_items, Case, Minimizer};
use crate::gen::layout::{self, Code, Item};
use bpfdiff_engine::opcode::{Operation, Selector};
use bpfdiff_engine::Instruction;

/// The values operands move toward, simplest first.
pub const LADDER: [i64; 14] = [0, 1, -1, 2, -2, 4, -4, 8, -8, 16, 32, 64, 128, 256];

/// How simple `v` is: its place in [`LADDER`], or past the end.
pub fn rank(v: i64) -> usize {
    LADDER.iter().position(|&l| l == v).unwrap_or(LADDER.len())
}

/// Which operand of an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `imm`.
    Imm,
    /// `off`.
    Off,
    /// The second `imm` of `ld_imm64`.
    NextImm,
}

/// The operands of `item` this pass may change.
pub fn fields(item: &Item) -> Vec<Field> {
    let Some(ins) = item.instruction() else {
        return Vec::new();
    };
    let row = ins.row;
    let mut out = Vec::new();
    let imm_is_id = matches!(
        row.operation,
        Operation::Call
            | Operation::CallLocal
            | Operation::CallKfunc
            | Operation::LdFunc
            | Operation::LdMapFd
            | Operation::LdMapValue
            | Operation::LdBtfId
            | Operation::LdMapIdx
            | Operation::LdMapIdxValue
    );
    if !row.reserved.imm
        && !matches!(row.selector, Selector::Imm(_))
        && !imm_is_id
        && layout::target_field(ins) != Some(layout::TargetField::Imm)
    {
        out.push(Field::Imm);
    }
    if !row.reserved.off
        && !matches!(row.selector, Selector::Off(_))
        && layout::target_field(ins) != Some(layout::TargetField::Off)
        && row.operation != Operation::CallKfunc
    {
        out.push(Field::Off);
    }
    if matches!(row.operation, Operation::LdImm64 | Operation::LdMapValue) {
        out.push(Field::NextImm);
    }
    out
}

fn get(ins: &Instruction, f: Field) -> i64 {
    match f {
        Field::Imm => ins.imm as i64,
        Field::Off => ins.off as i64,
        Field::NextImm => ins.next_imm as i64,
    }
}

fn set(ins: &mut Instruction, f: Field, v: i64) {
    match f {
        Field::Imm => ins.imm = v as i32,
        Field::Off => ins.off = v as i16,
        Field::NextImm => ins.next_imm = v as i32,
    }
}

/// The pass: returns true when it changed an operand.
pub fn run(m: &mut Minimizer, case: &mut Case) -> bool {
    let mut changed = false;
    let count = layout::decode(&case.program).len();
    for i in 0..count {
        let items = layout::decode(&case.program);
        let Some(item) = items.get(i) else { break };
        for field in fields(item) {
            let items = layout::decode(&case.program);
            let Code::Insn(ins) = items[i].code else {
                break;
            };
            let now = get(&ins, field);
            for &v in &LADDER[..rank(now)] {
                let mut new = ins;
                set(&mut new, field, v);
                let mut candidate = items.clone();
                candidate[i].code = Code::Insn(new);
                if m.try_replace(case, with_items(case, &candidate)) {
                    changed = true;
                    break;
                }
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::asm::kernel;

    fn fields_of(asm: &str) -> Vec<Field> {
        fields(&layout::decode(&kernel::assemble(asm).unwrap())[0])
    }

    #[test]
    fn the_ladder_orders_values() {
        assert_eq!(rank(0), 0);
        assert!(rank(-1) < rank(2));
        assert_eq!(rank(12345), LADDER.len());
    }

    #[test]
    fn only_free_operands_are_shrunk() {
        assert_eq!(fields_of("r1 += 77\nexit\n"), vec![Field::Imm]);
        assert_eq!(
            fields_of("*(u32 *)(r10 -8) = 5\nexit\n"),
            vec![Field::Imm, Field::Off]
        );
        assert_eq!(fields_of("r1 = *(u8 *)(r2 +3)\nexit\n"), vec![Field::Off]);
        assert_eq!(fields_of("if r1 > 3 goto +0\nexit\n"), vec![Field::Imm]);
        assert_eq!(fields_of("call 7\nexit\n"), Vec::<Field>::new());
        assert_eq!(
            fields_of("r1 = 0x100000002 ll\nexit\n"),
            vec![Field::Imm, Field::NextImm]
        );
        // sdiv is selected by off = 1.
        let sdiv = layout::decode(&bpfdiff_engine::Program::new(vec![
            bpfdiff_engine::Insn::new(0x37, 1, 0, 1, 3),
            bpfdiff_engine::Insn::new(0x95, 0, 0, 0, 0),
        ]));
        assert_eq!(fields(&sdiv[0]), vec![Field::Imm]);
    }
}
