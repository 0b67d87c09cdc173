//! The bpf_conformance dialect disassembler.
//!
//! One instruction per line, in the form [`super::assemble`] reads back to the
//! identical bytes. Jump, `call local` and `lddw_func` targets that land on an
//! instruction (or one past the last slot) become labels `L<slot>:` on their
//! own line; other targets are printed relative (`+N`/`-N`). Labels are never
//! named `exit`, so upstream's implicit `exit` label cannot capture them.

use super::number::{format_imm, format_relative};
use super::syntax::{shape_of, Shape, TargetField};
use crate::decode::{DecodeError, Instruction};
use crate::opcode::Source;
use crate::program::Program;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Disassembles a whole program, with labels for in-range targets.
pub fn disassemble(program: &Program) -> Result<String, DecodeError> {
    let decoded = program.decode()?;
    let len = program.len();
    let starts: BTreeSet<usize> = decoded.iter().map(|(i, _)| *i).collect();
    let labels: BTreeSet<usize> = decoded
        .iter()
        .filter_map(|(i, ins)| absolute_target(*i, ins))
        .filter(|t| *t == len || starts.contains(t))
        .collect();
    let mut out = String::new();
    for (index, ins) in &decoded {
        if labels.contains(index) {
            let _ = writeln!(out, "L{index}:");
        }
        let line = format_instruction(ins, |rel| match usize::try_from(*index as i64 + rel + 1) {
            Ok(t) if labels.contains(&t) => format!("L{t}"),
            _ => format_relative(rel),
        });
        out.push_str(&line);
        out.push('\n');
    }
    if labels.contains(&len) {
        let _ = writeln!(out, "L{len}:");
    }
    Ok(out)
}

/// Disassembles one instruction; targets are printed relative (`+N`/`-N`).
pub fn disassemble_instruction(ins: &Instruction) -> String {
    format_instruction(ins, format_relative)
}

/// The relative target of a jump-like instruction, if it has one.
fn relative_target(ins: &Instruction) -> Option<i64> {
    match shape_of(ins.row).target_field()? {
        TargetField::Off => Some(ins.off as i64),
        TargetField::Imm => Some(ins.imm as i64),
    }
}

/// The slot a jump-like instruction at `index` targets, when not negative.
fn absolute_target(index: usize, ins: &Instruction) -> Option<usize> {
    usize::try_from(index as i64 + relative_target(ins)? + 1).ok()
}

fn reg(r: u8) -> String {
    format!("%r{r}")
}

fn memory(r: u8, off: i16) -> String {
    match off {
        0 => format!("[%r{r}]"),
        o if o > 0 => format!("[%r{r}+{o}]"),
        o => format!("[%r{r}{o}]"),
    }
}

/// Formats `ins`; `target` prints a relative target (as a label or `+N`).
fn format_instruction(ins: &Instruction, target: impl Fn(i64) -> String) -> String {
    let m = ins.row.mnemonic;
    let source = || match ins.row.source {
        Source::Reg => reg(ins.src),
        _ => format_imm(ins.imm),
    };
    let second = || match ins.next_imm {
        0 => String::new(),
        v => format!(", {}", format_imm(v)),
    };
    match shape_of(ins.row) {
        Shape::AluBinary => format!("{m} {}, {}", reg(ins.dst), source()),
        Shape::AluUnary => format!("{m} {}", reg(ins.dst)),
        Shape::MovSx => format!("{m} {}, {}", reg(ins.dst), reg(ins.src)),
        Shape::Ja => format!("{m} {}", target(ins.off as i64)),
        Shape::Ja32 => format!("{m} {}", target(ins.imm as i64)),
        Shape::CondJump => format!(
            "{m} {}, {}, {}",
            reg(ins.dst),
            source(),
            target(ins.off as i64)
        ),
        Shape::CallHelper => format!("call {}", ins.imm),
        Shape::CallLocal => format!("call local {}", target(ins.imm as i64)),
        Shape::CallKfunc if ins.off != 0 => format!("call runtime {}, {}", ins.imm, ins.off),
        Shape::CallKfunc => format!("call runtime {}", ins.imm),
        Shape::Callx => format!("call {}", reg(ins.dst)),
        Shape::Exit => "exit".to_string(),
        Shape::Load => format!("{m} {}, {}", reg(ins.dst), memory(ins.src, ins.off)),
        Shape::StoreImm => format!("{m} {}, {}", memory(ins.dst, ins.off), format_imm(ins.imm)),
        Shape::StoreReg => format!("{m} {}, {}", memory(ins.dst, ins.off), reg(ins.src)),
        Shape::LdImm64 => format!("{m} {}, 0x{:x}", reg(ins.dst), ins.imm64()),
        Shape::LdPseudo => format!("{m} {}, {}{}", reg(ins.dst), format_imm(ins.imm), second()),
        Shape::LdFunc => format!(
            "{m} {}, {}{}",
            reg(ins.dst),
            target(ins.imm as i64),
            second()
        ),
        Shape::LdAbs => format!("{m} {}", format_imm(ins.imm)),
        Shape::LdInd => format!("{m} {}, {}", reg(ins.src), format_imm(ins.imm)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Insn;

    fn text(insns: Vec<Insn>) -> String {
        disassemble(&Program::new(insns)).unwrap()
    }

    #[test]
    fn prints_upstream_forms() {
        let p = text(vec![
            Insn::new(0xc3, 10, 1, -8, 0x01),
            Insn::new(0x8d, 2, 0, 0, 0),
            Insn::new(0xbc, 0, 1, 16, 0),
            Insn::new(0xb7, 0, 0, 0, -1),
            Insn::new(0x62, 10, 0, -8, 0x1234),
            Insn::new(0x61, 0, 1, 0, 0),
            Insn::new(0xd7, 3, 0, 0, 32),
            Insn::new(0x85, 0, 2, 5, 7),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        assert_eq!(
            p,
            "lock fetch add32 [%r10-8], %r1\n\
             call %r2\n\
             movsx1632 %r0, %r1\n\
             mov %r0, -1\n\
             stw [%r10-8], 0x1234\n\
             ldxw %r0, [%r1]\n\
             bswap32 %r3\n\
             call runtime 7, 5\n\
             exit\n"
        );
    }

    #[test]
    fn in_range_targets_become_labels_and_others_stay_relative() {
        let p = text(vec![
            Insn::new(0x15, 1, 0, 2, 0),   // jeq -> slot 3
            Insn::new(0x18, 0, 0, 0, 1),   // lddw, slots 1-2
            Insn::new(0, 0, 0, 0, 0),      //
            Insn::new(0x05, 0, 0, -3, 0),  // ja -> slot 1
            Insn::new(0x05, 0, 0, -3, 0),  // ja -> slot 2: inside lddw, relative
            Insn::new(0x06, 0, 0, 0, 1),   // ja32 -> slot 7 = len
            Insn::new(0x85, 0, 1, 0, 100), // call local out of range
        ]);
        assert_eq!(
            p,
            "jeq %r1, 0, L3\n\
             L1:\n\
             lddw %r0, 0x1\n\
             L3:\n\
             ja L1\n\
             ja -3\n\
             ja32 L7\n\
             call local +100\n\
             L7:\n"
        );
    }

    #[test]
    fn single_instruction_prints_relative_targets() {
        let row = crate::opcode::rows_for_mnemonic("lddw_func")
            .next()
            .unwrap();
        let mut ins = Instruction::new(row, 1, 0, 0, -4);
        ins.next_imm = 9;
        assert_eq!(disassemble_instruction(&ins), "lddw_func %r1, -4, 9");
    }

    #[test]
    fn undecodable_programs_report_the_slot() {
        let e = disassemble(&Program::new(vec![
            Insn::new(0x95, 0, 0, 0, 0),
            Insn::new(0x8f, 0, 0, 0, 0),
        ]))
        .unwrap_err();
        assert_eq!(e.index, 1);
    }
}
