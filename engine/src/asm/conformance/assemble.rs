//! The bpf_conformance dialect assembler.
//!
//! Follows upstream's `bpf_assembler.cc`: each line is split on whitespace
//! and one trailing comma is dropped from every operand; `name:` as the first
//! token defines a label at the next instruction slot; the first `exit`
//! instruction also defines the label `exit` (replacing an earlier `exit:`,
//! as upstream does); `call` without a mode is a helper call. Jump targets
//! written `+N`/`-N` are relative, anything else is a label. Deviations, all
//! towards refusing rather than guessing: `#` starts a comment, a label
//! followed by more tokens on its line is an error (upstream silently drops
//! the rest), `%r11`..`%r15` are refused, numbers must be well-formed to the
//! end, a label jump that does not fit `off` is an error (upstream truncates),
//! and relative targets of `ja32`, `call local` and `lddw_func` may use the
//! whole 32-bit `imm`.

use super::number::{imm32, imm64, offset16};
use super::syntax::{shape_of, Shape, TargetField};
use crate::asm::{AsmError, AsmErrorKind};
use crate::decode::{decode_slot, MAX_REG};
use crate::insn::Insn;
use crate::opcode::{rows_for_mnemonic, Class, OpcodeRow, Operation, Source};
use crate::program::Program;
use std::collections::HashMap;

/// Assembles bpf_conformance dialect text into a program.
///
/// Errors name the 1-based line; nothing in the input can make it panic.
pub fn assemble(text: &str) -> Result<Program, AsmError> {
    let mut assembler = Assembler::default();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        assembler.line(line_no, line).map_err(|kind| AsmError {
            line: line_no,
            kind,
        })?;
    }
    assembler.finish()
}

/// A jump whose label is resolved once every label is known.
struct Fixup {
    slot: usize,
    line: usize,
    label: String,
    field: TargetField,
}

/// Where a label points: its slot and the line that defined it.
#[derive(Clone, Copy)]
struct LabelSite {
    slot: usize,
    line: usize,
}

#[derive(Default)]
struct Assembler {
    slots: Vec<Insn>,
    labels: HashMap<String, LabelSite>,
    fixups: Vec<Fixup>,
    seen_exit: bool,
}

/// A jump target as written: relative (already parsed) or a label.
enum Target<'a> {
    Relative(i64),
    Label(&'a str),
}

impl Assembler {
    fn line(&mut self, line: usize, text: &str) -> Result<(), AsmErrorKind> {
        let code = text.split('#').next().unwrap_or("");
        let mut tokens = code.split_whitespace();
        let Some(first) = tokens.next() else {
            return Ok(());
        };
        if let Some(label) = first.strip_suffix(':') {
            if tokens.next().is_some() {
                return Err(AsmErrorKind::Syntax {
                    text: code.trim().to_string(),
                });
            }
            return self.define_label(label, line);
        }
        let operands: Vec<&str> = tokens.map(|t| t.strip_suffix(',').unwrap_or(t)).collect();
        if first == "exit" && !self.seen_exit {
            // Upstream binds `exit` to the first exit instruction, replacing
            // any label of that name defined before it.
            self.seen_exit = true;
            self.labels.insert(
                "exit".to_string(),
                LabelSite {
                    slot: self.slots.len(),
                    line,
                },
            );
        }
        let (mnemonic, rows, operands) = resolve(first, &operands)?;
        self.instruction(line, &mnemonic, &rows, operands)
    }

    fn define_label(&mut self, label: &str, line: usize) -> Result<(), AsmErrorKind> {
        if let Some(site) = self.labels.get(label) {
            return Err(AsmErrorKind::DuplicateLabel {
                label: label.to_string(),
                first_line: site.line,
            });
        }
        self.labels.insert(
            label.to_string(),
            LabelSite {
                slot: self.slots.len(),
                line,
            },
        );
        Ok(())
    }

    fn instruction(
        &mut self,
        line: usize,
        mnemonic: &str,
        rows: &[&'static OpcodeRow],
        operands: &[&str],
    ) -> Result<(), AsmErrorKind> {
        let shape = shape_of(rows[0]);
        let (least, most) = shape.operand_counts();
        if operands.len() < least || operands.len() > most {
            return Err(AsmErrorKind::OperandCount {
                mnemonic: mnemonic.to_string(),
                expected: if operands.len() < least { least } else { most },
                found: operands.len(),
            });
        }
        let op = |i: usize| operands[i];
        let extra = |i: usize| operands.get(i).map(|t| imm32(t)).transpose();
        let mut row = rows[0];
        let (mut dst, mut src, mut off, mut imm, mut next_imm) = (0u8, 0u8, 0i16, 0i32, 0i32);
        let mut target = None;
        match shape {
            Shape::AluBinary | Shape::CondJump => {
                dst = register(op(0))?;
                if op(1).starts_with('%') {
                    row = pick(rows, Source::Reg, op(1))?;
                    src = register(op(1))?;
                } else {
                    row = pick(rows, Source::Imm, op(1))?;
                    imm = imm32(op(1))?;
                }
                if shape == Shape::CondJump {
                    target = Some(op(2));
                }
            }
            Shape::AluUnary | Shape::Callx => dst = register(op(0))?,
            Shape::MovSx => {
                dst = register(op(0))?;
                src = register(op(1))?;
            }
            Shape::Ja | Shape::Ja32 | Shape::CallLocal => target = Some(op(0)),
            Shape::CallHelper | Shape::LdAbs => imm = imm32(op(0))?,
            Shape::CallKfunc => {
                imm = imm32(op(0))?;
                off = operands
                    .get(1)
                    .map(|t| offset16(t))
                    .transpose()?
                    .unwrap_or(0);
            }
            Shape::Exit => {}
            Shape::Load => {
                dst = register(op(0))?;
                (src, off) = memory(op(1))?;
            }
            Shape::StoreImm => {
                (dst, off) = memory(op(0))?;
                imm = imm32(op(1))?;
            }
            Shape::StoreReg => {
                (dst, off) = memory(op(0))?;
                src = register(op(1))?;
            }
            Shape::LdImm64 => {
                dst = register(op(0))?;
                let value = imm64(op(1))?;
                imm = value as u32 as i32;
                next_imm = (value >> 32) as u32 as i32;
            }
            Shape::LdPseudo => {
                dst = register(op(0))?;
                imm = imm32(op(1))?;
                next_imm = extra(2)?.unwrap_or(0);
            }
            Shape::LdFunc => {
                dst = register(op(0))?;
                target = Some(op(1));
                next_imm = extra(2)?.unwrap_or(0);
            }
            Shape::LdInd => {
                src = register(op(0))?;
                imm = imm32(op(1))?;
            }
        }
        if let (Some(token), Some(field)) = (target, shape.target_field()) {
            match parse_target(token, field)? {
                Target::Relative(rel) => match field {
                    // parse_target checked that the value fits the field.
                    TargetField::Off => off = rel as i16,
                    TargetField::Imm => imm = rel as i32,
                },
                Target::Label(label) => self.fixups.push(Fixup {
                    slot: self.slots.len(),
                    line,
                    label: label.to_string(),
                    field,
                }),
            }
        }
        let (src, off, imm) = row.apply_selector(src, off, imm);
        let insn = Insn::new(row.opcode, dst, src, off, imm);
        decode_slot(&insn).map_err(AsmErrorKind::Invalid)?;
        self.slots.push(insn);
        if row.slots() == 2 {
            self.slots.push(Insn::new(0, 0, 0, 0, next_imm));
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Program, AsmError> {
        for fixup in &self.fixups {
            let err = |kind| AsmError {
                line: fixup.line,
                kind,
            };
            let site = self.labels.get(&fixup.label).ok_or_else(|| {
                err(AsmErrorKind::UnknownLabel {
                    label: fixup.label.clone(),
                })
            })?;
            let rel = site.slot as i64 - fixup.slot as i64 - 1;
            let out_of_range = || {
                err(AsmErrorKind::JumpOutOfRange {
                    target: fixup.label.clone(),
                })
            };
            let insn = &mut self.slots[fixup.slot];
            match fixup.field {
                TargetField::Off => insn.off = i16::try_from(rel).map_err(|_| out_of_range())?,
                TargetField::Imm => insn.imm = i32::try_from(rel).map_err(|_| out_of_range())?,
            }
        }
        Ok(Program::new(self.slots))
    }
}

/// Finds the rows a statement names: its display mnemonic, the rows (one,
/// or the immediate and register forms of an ALU/JMP mnemonic) and the
/// operands left after the mnemonic's own words (`lock [fetch] op`, `call mode`).
fn resolve<'a, 'b>(
    first: &str,
    operands: &'b [&'a str],
) -> Result<(String, Vec<&'static OpcodeRow>, &'b [&'a str]), AsmErrorKind> {
    let unknown = |mnemonic: String| AsmErrorKind::UnknownMnemonic { mnemonic };
    match first {
        "lock" => {
            let (fetch, rest) = match operands.first() {
                Some(&"fetch") => (true, &operands[1..]),
                _ => (false, operands),
            };
            let Some((&op, rest)) = rest.split_first() else {
                return Err(unknown(
                    if fetch { "lock fetch" } else { "lock" }.to_string(),
                ));
            };
            let name = if fetch {
                format!("lock fetch {op}")
            } else {
                format!("lock {op}")
            };
            let mut rows: Vec<_> = rows_for_mnemonic(&name).collect();
            if rows.is_empty() && fetch {
                // `xchg` and `cmpxchg` always fetch; upstream accepts the word.
                rows = rows_for_mnemonic(&format!("lock {op}"))
                    .filter(|r| {
                        matches!(
                            r.operation,
                            Operation::AtomicXchg | Operation::AtomicCmpxchg
                        )
                    })
                    .collect();
            }
            if rows.is_empty() {
                return Err(unknown(name));
            }
            Ok((name, rows, rest))
        }
        "call" => {
            let (mode, rest) = match operands.first() {
                Some(&m @ ("helper" | "local" | "runtime")) => (m, &operands[1..]),
                _ => ("helper", operands),
            };
            let operation = match mode {
                "local" => Operation::CallLocal,
                "runtime" => Operation::CallKfunc,
                _ if rest.first().is_some_and(|t| t.starts_with('%')) => Operation::Callx,
                _ => Operation::Call,
            };
            let rows: Vec<_> = crate::opcode::OPCODES
                .iter()
                .filter(|r| r.operation == operation)
                .collect();
            if rows.is_empty() {
                return Err(unknown(format!("call {mode}")));
            }
            let name = if mode == "helper" {
                "call".to_string()
            } else {
                format!("call {mode}")
            };
            Ok((name, rows, rest))
        }
        _ => {
            let rows = rows_with_aliases(first);
            if rows.is_empty() {
                return Err(unknown(first.to_string()));
            }
            Ok((first.to_string(), rows, operands))
        }
    }
}

/// The rows of a one-word mnemonic, accepting upstream's `swapN` for
/// `bswapN` and `<op>64` for a 64-bit ALU `<op>`.
fn rows_with_aliases(mnemonic: &str) -> Vec<&'static OpcodeRow> {
    let rows: Vec<_> = rows_for_mnemonic(mnemonic)
        .filter(|r| !r.mnemonic.contains(' '))
        .collect();
    if !rows.is_empty() {
        return rows;
    }
    if let Some(width) = mnemonic.strip_prefix("swap") {
        return rows_for_mnemonic(&format!("bswap{width}")).collect();
    }
    if let Some(stem) = mnemonic.strip_suffix("64") {
        let rows: Vec<_> = rows_for_mnemonic(stem).collect();
        let alu64 = rows.iter().all(|r| {
            r.class == Class::Alu64 && matches!(shape_of(r), Shape::AluBinary | Shape::AluUnary)
        });
        if alu64 {
            return rows;
        }
    }
    Vec::new()
}

/// The row of the wanted source form, or an error naming the operand.
fn pick(
    rows: &[&'static OpcodeRow],
    source: Source,
    token: &str,
) -> Result<&'static OpcodeRow, AsmErrorKind> {
    rows.iter()
        .copied()
        .find(|r| r.source == source)
        .ok_or_else(|| AsmErrorKind::BadOperand {
            token: token.to_string(),
            expected: match source {
                Source::Reg => "an immediate",
                _ => "a register",
            },
        })
}

/// `%r0`..`%r10`.
fn register(token: &str) -> Result<u8, AsmErrorKind> {
    let number = token.strip_prefix("%r").filter(|d| {
        !d.is_empty()
            && d.len() <= 3
            && d.bytes().all(|b| b.is_ascii_digit())
            && (*d == "0" || !d.starts_with('0'))
    });
    match number.and_then(|d| d.parse::<u8>().ok()) {
        Some(n) if n <= MAX_REG => Ok(n),
        _ => Err(AsmErrorKind::BadRegister {
            token: token.to_string(),
        }),
    }
}

/// `[%rN]`, `[%rN+OFF]` or `[%rN-OFF]`.
fn memory(token: &str) -> Result<(u8, i16), AsmErrorKind> {
    let inner = token
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| AsmErrorKind::BadOperand {
            token: token.to_string(),
            expected: "a memory operand like [%r1+8]",
        })?;
    match inner.find(['+', '-']) {
        Some(i) => Ok((register(&inner[..i])?, offset16(&inner[i..])?)),
        None => Ok((register(inner)?, 0)),
    }
}

/// `+N`/`-N` (checked against the field's width) or a label.
fn parse_target(token: &str, field: TargetField) -> Result<Target<'_>, AsmErrorKind> {
    if token.starts_with('+') || token.starts_with('-') {
        let rel = match field {
            TargetField::Off => offset16(token)? as i64,
            TargetField::Imm => imm32(token)? as i64,
        };
        Ok(Target::Relative(rel))
    } else {
        Ok(Target::Label(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(text: &str) -> Insn {
        let p = assemble(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        p.insns[0]
    }

    fn err(text: &str) -> AsmError {
        assemble(text).expect_err(text)
    }

    #[test]
    fn upstream_lines_assemble_to_the_expected_bytes() {
        // RFC 9669 §5.3: atomic add with FETCH is imm 0x01 on opcode 0xc3 (32-bit).
        assert_eq!(
            one("lock fetch add32 [%r10-8], %r1"),
            Insn::new(0xc3, 10, 1, -8, 0x01)
        );
        assert_eq!(
            one("lock add [%r10-8], %r1"),
            Insn::new(0xdb, 10, 1, -8, 0x00)
        );
        assert_eq!(one("lock xchg [%r1], %r2"), Insn::new(0xdb, 1, 2, 0, 0xe1));
        assert_eq!(
            one("lock fetch xchg32 [%r1+4], %r2"),
            Insn::new(0xc3, 1, 2, 4, 0xe1)
        );
        assert_eq!(
            one("lock cmpxchg32 [%r1+4], %r2"),
            Insn::new(0xc3, 1, 2, 4, 0xf1)
        );
        // RFC 9669 §4.3: callx (JMP | CALL | X) keeps the register in dst.
        assert_eq!(one("call %r2"), Insn::new(0x8d, 2, 0, 0, 0));
        assert_eq!(one("callx %r2"), Insn::new(0x8d, 2, 0, 0, 0));
        assert_eq!(one("call 5"), Insn::new(0x85, 0, 0, 0, 5));
        assert_eq!(one("call helper 5"), Insn::new(0x85, 0, 0, 0, 5));
        assert_eq!(one("call runtime 7"), Insn::new(0x85, 0, 2, 0, 7));
        assert_eq!(one("call runtime 7, 3"), Insn::new(0x85, 0, 2, 3, 7));
        // RFC 9669 §4.1: MOVSX is MOV X with off 8/16/32.
        assert_eq!(one("movsx1632 %r0, %r1"), Insn::new(0xbc, 0, 1, 16, 0));
        assert_eq!(one("movsx3264 %r0, %r1"), Insn::new(0xbf, 0, 1, 32, 0));
        assert_eq!(one("sdiv32 %r0, %r1"), Insn::new(0x3c, 0, 1, 1, 0));
        assert_eq!(one("smod %r0, 3"), Insn::new(0x97, 0, 0, 1, 3));
        assert_eq!(one("mov32 %r0, 0"), Insn::new(0xb4, 0, 0, 0, 0));
        assert_eq!(one("add %r1, %r2"), Insn::new(0x0f, 1, 2, 0, 0));
        assert_eq!(one("add64 %r1, %r2"), Insn::new(0x0f, 1, 2, 0, 0));
        assert_eq!(one("mov %r0, 0xffffffff"), Insn::new(0xb7, 0, 0, 0, -1));
        assert_eq!(one("neg %r1"), Insn::new(0x87, 1, 0, 0, 0));
        assert_eq!(one("le16 %r0"), Insn::new(0xd4, 0, 0, 0, 16));
        assert_eq!(one("be32 %r0"), Insn::new(0xdc, 0, 0, 0, 32));
        assert_eq!(one("bswap64 %r0"), Insn::new(0xd7, 0, 0, 0, 64));
        assert_eq!(one("swap16 %r0"), Insn::new(0xd7, 0, 0, 0, 16));
        assert_eq!(one("ldxw %r0, [%r1+4]"), Insn::new(0x61, 0, 1, 4, 0));
        assert_eq!(one("ldxsb %r0, [%r1]"), Insn::new(0x91, 0, 1, 0, 0));
        assert_eq!(one("ldxdw %r0, [%r1+0xffff]"), Insn::new(0x79, 0, 1, -1, 0));
        assert_eq!(one("stw [%r10-8], 5"), Insn::new(0x62, 10, 0, -8, 5));
        assert_eq!(one("stxdw [%r10-8], %r1"), Insn::new(0x7b, 10, 1, -8, 0));
        assert_eq!(one("ja +3"), Insn::new(0x05, 0, 0, 3, 0));
        assert_eq!(one("jeq32 %r1, %r2, +2"), Insn::new(0x1e, 1, 2, 2, 0));
        assert_eq!(one("jeq %r1, 5, -1"), Insn::new(0x15, 1, 0, -1, 5));
        assert_eq!(one("exit"), Insn::new(0x95, 0, 0, 0, 0));
        let p = assemble("lddw %r0, 0x123456789abcdef0").unwrap();
        assert_eq!(
            p.insns,
            vec![
                Insn::new(0x18, 0, 0, 0, 0x9abcdef0_u32 as i32),
                Insn::new(0, 0, 0, 0, 0x12345678)
            ]
        );
        let p = assemble("lddw %r1, -2").unwrap();
        assert_eq!(p.insns[0].imm, -2);
        assert_eq!(p.insns[1].imm, -1);
    }

    #[test]
    fn bpfdiff_extensions_assemble() {
        assert_eq!(one("ldabsw 0x10"), Insn::new(0x20, 0, 0, 0, 0x10));
        assert_eq!(one("ldindb %r3, 2"), Insn::new(0x50, 0, 3, 0, 2));
        // Kernel load-acquire / store-release: imm 0x100 / 0x110 on the atomic opcodes.
        assert_eq!(one("ldacqdw %r0, [%r1+8]"), Insn::new(0xdb, 0, 1, 8, 0x100));
        assert_eq!(one("strelb [%r1-2], %r2"), Insn::new(0xd3, 1, 2, -2, 0x110));
        let p = assemble("lddw_map_value %r1, 3, 16").unwrap();
        assert_eq!(
            p.insns,
            vec![Insn::new(0x18, 1, 2, 0, 3), Insn::new(0, 0, 0, 0, 16)]
        );
        let p = assemble("lddw_map_fd %r1, 3").unwrap();
        assert_eq!(
            p.insns,
            vec![Insn::new(0x18, 1, 1, 0, 3), Insn::new(0, 0, 0, 0, 0)]
        );
        let p = assemble("lddw_func %r2, f\nexit\nf:\nexit").unwrap();
        assert_eq!(p.insns[0], Insn::new(0x18, 2, 4, 0, 2));
        assert_eq!(one("lddw_func %r2, -3"), Insn::new(0x18, 2, 4, 0, -3));
    }

    #[test]
    fn labels_resolve_to_relative_targets() {
        let p = assemble(
            "ja32 L\n\
             jeq %r1, 0, L # comment\n\
             lddw %r0, 1\n\
             L:\n\
             call local L\n\
             ja exit\n\
             exit",
        )
        .unwrap();
        assert_eq!(p.insns[0], Insn::new(0x06, 0, 0, 0, 3), "ja32 uses imm");
        assert_eq!(p.insns[1], Insn::new(0x15, 1, 0, 2, 0));
        assert_eq!(p.insns[4], Insn::new(0x85, 0, 1, 0, -1));
        assert_eq!(
            p.insns[5],
            Insn::new(0x05, 0, 0, 0, 0),
            "implicit exit label"
        );
        // A label after the last instruction points one past the end.
        let p = assemble("ja end\nend:").unwrap();
        assert_eq!(p.insns[0].off, 0);
    }

    #[test]
    fn exit_label_is_the_first_exit_as_upstream() {
        // The first exit rebinds `exit` even if a label of that name came first.
        let p = assemble("exit:\nja exit\nexit\nexit").unwrap();
        assert_eq!(p.insns[0].off, 0);
        let e = err("ja exit\nexit\nexit:\nexit");
        assert_eq!(e.line, 3);
        assert_eq!(
            e.kind,
            AsmErrorKind::DuplicateLabel {
                label: "exit".into(),
                first_line: 2
            }
        );
    }

    #[test]
    fn errors_name_their_line() {
        let e = err("mov %r0, 1\n\nfoo %r0");
        assert_eq!(e.line, 3);
        assert!(matches!(e.kind, AsmErrorKind::UnknownMnemonic { .. }));
        let e = err("exit\nmov %r0");
        assert_eq!(e.line, 2);
        assert_eq!(
            e.kind,
            AsmErrorKind::OperandCount {
                mnemonic: "mov".into(),
                expected: 2,
                found: 1
            }
        );
        let e = err("mov %r11, 1");
        assert_eq!(
            e.kind,
            AsmErrorKind::BadRegister {
                token: "%r11".into()
            }
        );
        for bad in ["mov %r0, 0x100000000", "mov %r0, 2147483648", "mov %r0, 1x"] {
            assert!(
                matches!(err(bad).kind, AsmErrorKind::BadNumber { .. }),
                "{bad}"
            );
        }
        let e = err("mov %r0, 1\nja nowhere");
        assert_eq!(e.line, 2);
        assert_eq!(
            e.kind,
            AsmErrorKind::UnknownLabel {
                label: "nowhere".into()
            }
        );
        let e = err("a:\nexit\na:");
        assert_eq!(e.line, 3);
        assert!(matches!(
            e.kind,
            AsmErrorKind::DuplicateLabel { first_line: 1, .. }
        ));
        let text = format!("ja far\n{}far:\nexit", "exit\n".repeat(40000));
        let e = err(&text);
        assert_eq!(e.line, 1);
        assert!(matches!(e.kind, AsmErrorKind::JumpOutOfRange { .. }));
        assert!(matches!(
            err("movsx832 %r0, 5").kind,
            AsmErrorKind::BadRegister { .. }
        ));
        assert!(matches!(
            err("ldxw %r0, %r1").kind,
            AsmErrorKind::BadOperand { .. }
        ));
        assert!(matches!(
            err("lock nand [%r1], %r2").kind,
            AsmErrorKind::UnknownMnemonic { .. }
        ));
        assert!(matches!(
            err("add %r1, 5, 6").kind,
            AsmErrorKind::OperandCount { .. }
        ));
        assert!(matches!(
            err("lock fetch add [%r1], %r2, %r3").kind,
            AsmErrorKind::OperandCount { .. }
        ));
        assert!(matches!(
            err("foo: mov %r0, 1").kind,
            AsmErrorKind::Syntax { .. }
        ));
        assert!(matches!(
            err("mov %r0,%r1").kind,
            AsmErrorKind::OperandCount { .. }
        ));
    }

    const VOCABULARY: &[&str] = &[
        "mov",
        "mov32",
        "add",
        "lock",
        "fetch",
        "call",
        "local",
        "runtime",
        "helper",
        "exit",
        "ja",
        "ja32",
        "jeq",
        "lddw",
        "lddw_func",
        "ldxw",
        "stw",
        "stxw",
        "le16",
        "neg",
        "movsx832",
        "ldabsw",
        "ldindw",
        "%r0",
        "%r1,",
        "%r10",
        "%r11",
        "%r",
        "[%r1+8]",
        "[%r1-0x8],",
        "[%r1",
        "[]",
        "[%r1+]",
        "0x",
        "0xffffffff",
        "-1,",
        "+3",
        "-32769",
        "L:",
        "L",
        "exit:",
        ":",
        ",",
        "#",
        "99999999999999999999",
        "-0x1",
    ];

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = assemble(&text);
        }

        #[test]
        fn token_soup_never_panics(
            lines in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..5),
                0..8,
            )
        ) {
            let text: Vec<String> = lines.iter().map(|l| l.join(" ")).collect();
            let _ = assemble(&text.join("\n"));
        }
    }
}
