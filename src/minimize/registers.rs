//! Renumbering registers toward r0, r1, …: every use of a register is
//! renamed to a lower-numbered one, whether the program uses it already
//! (two registers merge: `r1 = 7; r0 = r1` becomes `r0 = 7; r0 = r0`,
//! which deletion then shortens) or not. The frame pointer r10 is never
//! renamed nor chosen. The sum of the register numbers of all operands
//! only goes down, so the pass ends.

use super::{with_items, Case, Minimizer};
use crate::gen::layout::{self, Code, Item};
use bpfdiff_engine::opcode::Selector;
use bpfdiff_engine::Instruction;

/// Whether `ins`'s dst and src fields name registers.
fn register_fields(ins: &Instruction) -> (bool, bool) {
    let row = ins.row;
    (
        !row.reserved.dst,
        !row.reserved.src && !matches!(row.selector, Selector::Src(_)),
    )
}

/// The registers `items` name, one bit per register.
pub fn used(items: &[Item]) -> u16 {
    let mut bits = 0u16;
    for ins in items.iter().filter_map(Item::instruction) {
        let (d, s) = register_fields(ins);
        if d {
            bits |= 1 << (ins.dst & 15);
        }
        if s {
            bits |= 1 << (ins.src & 15);
        }
    }
    bits
}

/// `items` with register `from` renamed `to` wherever a field names it.
pub fn rename(items: &[Item], from: u8, to: u8) -> Vec<Item> {
    let mut out = items.to_vec();
    for it in out.iter_mut() {
        if let Code::Insn(ins) = &mut it.code {
            let (d, s) = register_fields(ins);
            if d && ins.dst == from {
                ins.dst = to;
            }
            if s && ins.src == from {
                ins.src = to;
            }
        }
    }
    out
}

/// The pass: returns true when it renamed a register.
pub fn run(m: &mut Minimizer, case: &mut Case) -> bool {
    let mut changed = false;
    for from in 1..=9u8 {
        let items = layout::decode(&case.program);
        let bits = used(&items);
        if bits & (1 << from) == 0 {
            continue;
        }
        for to in 0..from {
            if m.try_replace(case, with_items(case, &rename(&items, from, to))) {
                changed = true;
                break;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::asm::kernel;
    use bpfdiff_engine::Program;

    #[test]
    fn renaming_touches_register_fields_only() {
        let p =
            kernel::assemble("r7 = 3\nr7 += r7\n*(u64 *)(r10 -8) = r7\nr0 = r7\nexit\n").unwrap();
        let items = layout::decode(&p);
        assert_eq!(used(&items), 1 | 1 << 7 | 1 << 10);
        let out = rename(&items, 7, 2);
        assert_eq!(
            kernel::disassemble(&Program::new(layout::encode(&out))).unwrap(),
            "0: (b7) r2 = 3\n1: (0f) r2 += r2\n2: (7b) *(u64 *)(r10 -8) = r2\n3: (bf) r0 = r2\n4: (95) exit\n"
        );
    }

    #[test]
    fn pseudo_sources_are_not_registers() {
        // ld_imm64 src=2 (map value) and a local call (src=1).
        let p = Program::new(vec![
            bpfdiff_engine::Insn::new(0x18, 3, 2, 0, 0),
            bpfdiff_engine::Insn::new(0, 0, 0, 0, 0),
            bpfdiff_engine::Insn::new(0x85, 0, 1, 0, 0),
            bpfdiff_engine::Insn::new(0x95, 0, 0, 0, 0),
        ]);
        assert_eq!(used(&layout::decode(&p)), 1 << 3);
    }
}
