//! Replacing an instruction with a neutral one: a conditional jump by an
//! unconditional one to the same place, an instruction that computes a
//! register (ALU, load, `ld_imm64`, …) by `dst = 0`, and a helper call by
//! `r0 = 0`. Neutral instructions are never replaced, so the pass ends.

use super::{with_items, Case, Minimizer};
use crate::gen::layout::{self, Code, Item};
use bpfdiff_engine::opcode::{Class, Operation, Source};
use bpfdiff_engine::Instruction;

/// `dst = 0` (64-bit MOV of an immediate).
pub fn zero(dst: u8) -> Instruction {
    Instruction::new(
        layout::row(Class::Alu64, Operation::Mov, Source::Imm),
        dst,
        0,
        0,
        0,
    )
}

/// An unconditional jump (its target set by the item).
fn ja() -> Instruction {
    Instruction::new(
        layout::row(Class::Jmp, Operation::Ja, Source::Imm),
        0,
        0,
        0,
        0,
    )
}

/// True for the instructions this pass produces or leaves alone.
fn is_neutral(ins: &Instruction) -> bool {
    let op = ins.row.operation;
    (op == Operation::Mov && ins.row.class == Class::Alu64 && ins.row.source == Source::Imm)
        || matches!(op, Operation::Ja | Operation::Exit | Operation::CallLocal)
}

/// The neutral replacement of `item`, if it has one.
pub fn replacement(item: &Item) -> Option<Item> {
    let Code::Insn(ins) = item.code else {
        return None;
    };
    if is_neutral(&ins) {
        return None;
    }
    let row = ins.row;
    if row.is_jump() {
        return Some(Item {
            code: Code::Insn(ja()),
            target: item.target,
        });
    }
    if row.operation == Operation::Call {
        return Some(Item::plain(zero(0)));
    }
    let written = ins.written_registers();
    let one_register = written.count_ones() == 1 && written & (1 << 10) == 0;
    one_register.then(|| Item::plain(zero(written.trailing_zeros() as u8)))
}

/// The pass: returns true when it replaced something.
pub fn run(m: &mut Minimizer, case: &mut Case) -> bool {
    let mut changed = false;
    let mut i = 0;
    loop {
        let items = layout::decode(&case.program);
        let Some(item) = items.get(i) else { break };
        if let Some(new) = replacement(item) {
            let mut candidate = items.clone();
            candidate[i] = new;
            changed |= m.try_replace(case, with_items(case, &candidate));
        }
        i += 1;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::asm::kernel;
    use bpfdiff_engine::Program;

    fn replaced(asm: &str) -> Option<String> {
        let items = layout::decode(&kernel::assemble(asm).unwrap());
        let new = replacement(&items[0])?;
        let mut out = items.clone();
        out[0] = new;
        Some(kernel::disassemble(&Program::new(layout::encode(&out))).unwrap())
    }

    #[test]
    fn replacements() {
        assert_eq!(
            replaced("if r1 > r2 goto +1\nr0 = 1\nexit\n").as_deref(),
            Some("0: (05) goto pc+1\n1: (b7) r0 = 1\n2: (95) exit\n")
        );
        assert_eq!(
            replaced("r3 = 0x100000000 ll\nexit\n").as_deref(),
            Some("0: (b7) r3 = 0\n1: (95) exit\n"),
            "ld_imm64 becomes one slot"
        );
        assert_eq!(
            replaced("r4 = *(u32 *)(r1 +0)\nexit\n").as_deref(),
            Some("0: (b7) r4 = 0\n1: (95) exit\n")
        );
        assert_eq!(
            replaced("call 7\nexit\n").as_deref(),
            Some("0: (b7) r0 = 0\n1: (95) exit\n")
        );
        assert_eq!(replaced("r4 = 9\nexit\n"), None, "already neutral");
        assert_eq!(
            replaced("*(u8 *)(r10 -1) = 1\nexit\n"),
            None,
            "stores go by deletion"
        );
    }
}
