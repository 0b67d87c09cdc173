//! `bpfdiff jit-dump`: the generated code disassembled with iced-x86, each
//! stretch under the eBPF instruction (kernel syntax) it comes from.

use std::fmt::Write as _;

use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};

use super::compile::{Compiled, Segment};
use crate::asm::kernel::disassemble_instruction;

/// Renders the whole listing.
pub(super) fn render(compiled: &Compiled) -> String {
    let code: &[u8] = &compiled.code;
    let mut formatter = IntelFormatter::new();
    let options = formatter.options_mut();
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_uppercase_hex(false);
    options.set_branch_leading_zeros(false);
    options.set_space_after_operand_separator(true);
    let mut out = String::new();
    for (i, (start, segment)) in compiled.layout.iter().enumerate() {
        let end = compiled
            .layout
            .get(i + 1)
            .map_or(code.len(), |(next, _)| *next);
        if end <= *start {
            continue;
        }
        let header = match segment {
            Segment::Runtime(what) => format!("; runtime: {what}"),
            Segment::Insn(j) => {
                let (pc, ins) = &compiled.insns[*j];
                format!(
                    "; {pc}: ({:02x}) {}",
                    ins.row.opcode,
                    disassemble_instruction(ins)
                )
            }
            Segment::Stub { pc, what } => format!("; out of line for insn {pc}: {what}"),
        };
        let _ = writeln!(out, "{header}");
        disassemble(&mut formatter, &code[*start..end], *start, &mut out);
    }
    out
}

/// Appends one line per x86 instruction: offset, bytes, Intel syntax.
fn disassemble(formatter: &mut IntelFormatter, bytes: &[u8], start: usize, out: &mut String) {
    let mut decoder = Decoder::with_ip(64, bytes, start as u64, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    let mut text = String::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut instruction);
        text.clear();
        formatter.format(&instruction, &mut text);
        let offset = (instruction.ip() as usize) - start;
        let raw: Vec<String> = bytes[offset..offset + instruction.len()]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let _ = writeln!(
            out,
            "{:6x}:  {:<30} {text}",
            instruction.ip(),
            raw.join(" ")
        );
    }
}
