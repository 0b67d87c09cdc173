//! The bpf_conformance assembly dialect, in both directions.
//!
//! The dialect of upstream's `bpf_assembler.cc` (`mov32 %r0, 0`,
//! `ldxdw %r1, [%r10-8]`, `jeq %r1, 5, LABEL`, `call local LABEL`,
//! `lock fetch add32 [%r10-8], %r1`, labels `name:` on their own line, the
//! implicit label `exit`), plus bpfdiff's extensions so that every row of
//! [`crate::opcode::OPCODES`] can be written:
//!
//! ```text
//! ldabsw IMM | ldabsh IMM | ldabsb IMM          legacy LD_ABS
//! ldindw %rS, IMM | ldindh | ldindb             legacy LD_IND
//! ldacqw %rD, [%rS+OFF] (b, h, w, dw)           load-acquire
//! strelw [%rD+OFF], %rS (b, h, w, dw)           store-release
//! lddw_map_fd %rD, IMM[, IMM2]                  ld_imm64 src 1 (also _map_value,
//!                                               _btf_id, _map_idx, _map_idx_value)
//! lddw_func %rD, LABEL|+N[, IMM2]               ld_imm64 src 4
//! call runtime IMM[, OFF]                       kfunc with a nonzero off
//! ```
//!
//! Mnemonics are the `mnemonic` column of the opcode table; the operand
//! syntax of each row lives in one place (`syntax`), read by both
//! directions. `add64`, `swapN` and `callx %rD` are accepted as aliases.

mod assemble;
mod disassemble;
mod number;
mod syntax;

pub use assemble::assemble;
pub use disassemble::{disassemble, disassemble_instruction};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Instruction;
    use crate::opcode::OPCODES;
    use crate::program::Program;
    use crate::test_strategies::arb_instruction;
    use proptest::prelude::*;

    #[test]
    fn every_opcode_row_round_trips() {
        for row in OPCODES {
            for (dst, src, off, imm, hi) in [
                (1, 2, 3, 4, 5),
                (10, 9, -1, -1, -1),
                (0, 0, i16::MIN, i32::MIN, i32::MIN),
                (5, 7, i16::MAX, i32::MAX, 0),
            ] {
                let mut ins = Instruction::new(row, dst, src, off, imm);
                if row.slots() == 2 {
                    ins.next_imm = hi;
                }
                let program = Program::from_instructions(&[ins]);
                let text = disassemble(&program).unwrap();
                let back = assemble(&text).unwrap_or_else(|e| panic!("{}: {text}{e}", row.name()));
                assert_eq!(back, program, "{}: {text}", row.name());
            }
        }
    }

    /// A random valid instruction; `aim` optionally points a jump-like
    /// instruction at the start of another instruction (set in a second pass).
    fn arb_aimed_instruction() -> impl Strategy<Value = (Instruction, Option<usize>)> {
        (arb_instruction(), proptest::option::of(any::<usize>()))
    }

    /// Points aimed jump-like instructions at instruction starts (or the end),
    /// so that labels are exercised as well as relative targets.
    fn aim_targets(mut list: Vec<(Instruction, Option<usize>)>) -> Program {
        let mut starts = Vec::new();
        let mut slot = 0usize;
        for (ins, _) in &list {
            starts.push(slot);
            slot += ins.slots();
        }
        starts.push(slot);
        for (i, (ins, aim)) in list.iter_mut().enumerate() {
            let Some(aim) = aim else { continue };
            let target = starts[*aim % starts.len()] as i64;
            let rel = target - starts[i] as i64 - 1;
            match syntax::shape_of(ins.row).target_field() {
                Some(syntax::TargetField::Off) => {
                    if let Ok(rel) = i16::try_from(rel) {
                        ins.off = rel;
                    }
                }
                Some(syntax::TargetField::Imm) => ins.imm = rel as i32,
                None => {}
            }
        }
        let instructions: Vec<Instruction> = list.into_iter().map(|(i, _)| i).collect();
        Program::from_instructions(&instructions)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn assemble_inverts_disassemble(
            list in proptest::collection::vec(arb_aimed_instruction(), 1..40)
        ) {
            let program = aim_targets(list);
            let text = disassemble(&program).unwrap();
            let back = assemble(&text);
            prop_assert_eq!(back, Ok(program), "{}", text);
        }
    }
}
