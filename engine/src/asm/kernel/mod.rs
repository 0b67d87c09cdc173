//! The kernel's assembly syntax, as `bpftool prog dump xlated` and the
//! verifier log print it (`kernel/bpf/disasm.c`, Linux 6.x), both ways.
//!
//! ```text
//! 0: (b7) r1 = 33                          ALU64 K; ALU32 uses wN: w1 += -1
//! 1: (6b) *(u16 *)(r10 -4) = r1            stores: = rN or = IMM
//! 2: (2d) if r1 > r2 goto pc+3             jumps; JMP32 compares wN;
//!         if w1 s> 0x5 goto pc-2           immediates print as 0x%x (u32)
//! 3: (bc) w0 = w1                          r1 s/= r2, r1 s%= 3, r1 s>>= 2
//! 4: (87) r1 = -r1                         r1 = (s8)r2, w1 = (s16)w2
//! 5: (dc) r0 = be16 r0                     r0 = le32 r0, r0 = bswap64 r0
//! 6: (61) r0 = *(u32 *)(r1 +4)             r0 = *(s16 *)(r1 +4)
//! 7: (db) lock *(u64 *)(r10 -8) += r1      |= &= ^=
//!         r0 = atomic64_fetch_add((u64 *)(r10 -8), r0)     atomic_* for u32
//!         r1 = atomic_xchg((u32 *)(r2 +0), r1)
//!         r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)
//!         r1 = load_acquire((u8 *)(r2 +0))
//!         store_release((u64 *)(r1 +8), r2)
//! 8: (18) r1 = 0x57202c6f6c6c6548 ll       ld_imm64 (takes indices 8 and 9)
//! 10: (18) r1 = map[fd:3]                  src 1; map[fd:3][0]+8 is src 2
//!         r1 = btf[id:5]  r1 = subprog[+2]  r1 = map[idx:1]  r1 = map[idx:1][0]+8
//! 12: (05) goto pc+3                       gotol pc+3 (JMP32 JA, imm)
//! 13: (85) call bpf_ktime_get_ns#5         call unknown#999, call pc+2,
//!         call kernel-function#7 off:1     callx r2, exit
//!         r0 = *(u32 *)skb[12]             r0 = *(u16 *)skb[r1 + 12]
//! ```
//!
//! Differences from the kernel's text, all so that printing and parsing
//! again gives the same bytes:
//! - a plain `ld_imm64` value ends in ` ll` (the kernel and bpftool print
//!   `r1 = 0x5`, which without the `(18)` prefix reads as a one-slot mov).
//! - `ld_imm64` with a map, BTF or function source prints `map[fd:N]`,
//!   `map[fd:N][0]+OFF`, `map[idx:N]`, `map[idx:N][0]+OFF`, `btf[id:N]` and
//!   `subprog[+N]` (bpftool's forms, with `fd`/`idx` for what the program
//!   holds before loading; bpftool prints `map[id:N]` for a loaded
//!   program and `0x...` for the others); a nonzero second immediate the
//!   form does not show is printed as ` next_imm:N`.
//! - a kfunc call prints `call kernel-function#ID`, plus ` off:N` when its
//!   `off` (BTF object index) is nonzero; `callx` prints `callx rN`.
//! - the index prefix is `N: ` without bpftool's column padding.
//!
//! Input: the `N:` and `(xx)` prefixes are optional. The index is not
//! checked. The opcode is: it must be the text's opcode (`(b7) r0 = r1` is
//! an error), and it decides what the text alone cannot, so `(18) r1 = 0x5`
//! is an `ld_imm64` as bpftool prints it. Otherwise `rN = V` is a mov and
//! `rN = V ll` an `ld_imm64`; a value that does not fit the mov is an
//! error, never a two-slot instruction in its place. Immediates must mean
//! what they say after the machine widens them: 64-bit ALU operations,
//! 64-bit stores and 64-bit jumps sign-extend theirs, so a decimal one is
//! -2147483648 ..= 2147483647 (`r0 = 4294967295` is refused: it would set
//! r0 to 0xffffffffffffffff); 32-bit operations (`wN`, `if wN`, narrower
//! stores) take -2147483648 ..= 0xffffffff and keep the low 32 bits. A
//! hexadecimal immediate of a 64-bit operation is the field's bits up to
//! 0xffffffff, as the kernel prints a jump's (`if r1 == 0xffffffff`
//! compares with -1) and the LLVM assembler encodes selftests'
//! `r0 &= 0xffff1234`, or the 64-bit value sign-extension gives
//! (`0xffffffffffffff00` is -256). C integer suffixes (`0x1LL`, `7u`) are
//! skipped, as LLVM does. A line of 8 or 16 hex
//! bytes (what bpftool's `opcodes` option prints after each instruction)
//! must be the bytes of the instruction before it. Also accepted: bpftool's
//! BTF prototype lines (`int f(struct xdp_md * ctx):`) are skipped,
//! `call pc+N#SYMBOL` (a JITed callee) reads as `call pc+N`, `pc` is
//! optional in jump targets, offsets may be written `(r10 - 4)` or
//! `(r10)`, `wN` is accepted where the kernel prints `rN` for a memory
//! operand, `map[id:N]` is read as `map[fd:N]`, and `call NAME#ID` takes
//! the id whatever the name (bpftool prints kernel symbols there).
//!
//! The LLVM BPF assembler's syntax, as BPF selftests write it in inline
//! assembly, is read too (see `source` and `labels`): labels (`l0_%=:`,
//! `name:`, GNU local `1:` with `1b`/`1f`) as jump and call targets, lines
//! in C string literals (`"r0 = 0;"`, `"r0 = 0;\n"`) or ending in `\`,
//! `;` between statements (after an instruction, text that does not start
//! like one is a comment, as the verifier log's `; R0_w=0`; a line starting
//! with `;` is one), `/* */` and `//` comments, `(r10 + -8)`,
//! `atomic_fetch_add((u64 *)...)`, `xchg_64(r10 - 8, r1)`,
//! `cmpxchg_64(r10 - 8, r0, r1)` and their 32-bit forms, `.8byte N` (one
//! slot), `%%` for `%` (`w2 %%= w1`), `call %[helper]` and the selftests' ctx offsets
//! (`%[__sk_buff_data]`, `%[xdp_md_data_end]`: `prog_type::symbols`). A
//! `%[name]` whose value only the C source
//! knows, `may_goto` and other directives are errors naming the line.

mod labels;
mod parse;
mod print;
mod source;

use crate::asm::AsmError;
use crate::decode::{DecodeError, Instruction};
use crate::program::Program;
use std::fmt::Write;

/// One instruction in kernel syntax, without the `N: (xx) ` prefix
/// (`"r1 = 33"`).
pub fn disassemble_instruction(ins: &Instruction) -> String {
    print::instruction(ins)
}

/// A whole program, one `N: (xx) text` line per instruction. An `ld_imm64`
/// occupies indices `N` and `N+1`; the next line is `N+2`, as bpftool prints.
pub fn disassemble(program: &Program) -> Result<String, DecodeError> {
    let mut out = String::new();
    for (index, ins) in program.decode()? {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{index}: ({:02x}) {}",
            ins.row.opcode,
            disassemble_instruction(&ins)
        );
    }
    Ok(out)
}

/// Assembles kernel-syntax text; errors name the 1-based line.
pub fn assemble(text: &str) -> Result<Program, AsmError> {
    let instructions = parse::program(text)?;
    Ok(Program::from_instructions(&instructions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::MAX_REG;
    use crate::insn::Insn;
    use crate::opcode::OPCODES;
    use crate::test_strategies::{arb_instruction, instruction_with};
    use proptest::prelude::*;

    /// Field values that stress signedness and the 32/64-bit distinctions.
    const FIELDS: [(u8, u8, i16, i32, i32); 8] = [
        (0, 0, 0, 0, 0),
        (1, 2, 3, 4, 5),
        (10, 10, -4, -1, -1),
        (9, 1, i16::MIN, i32::MIN, i32::MIN),
        (5, 7, i16::MAX, i32::MAX, i32::MAX),
        (3, 4, -1, 0x7fff_0000, 1),
        (2, 9, 1, 255, -255),
        (6, 0, 8, 0x1_0000, 0x1234_5678),
    ];

    #[test]
    fn every_opcode_row_round_trips_with_every_field_pattern() {
        for row in OPCODES {
            for fields in FIELDS {
                let ins = instruction_with(row, fields);
                let program = Program::from_instructions(&[ins]);
                let text = disassemble(&program).unwrap();
                let back = assemble(&text).unwrap_or_else(|e| {
                    panic!("{} {fields:?}: `{text}` does not parse: {e}", row.name())
                });
                assert_eq!(back, program, "{} {fields:?}: `{text}`", row.name());
                // Without the prefix too.
                let bare = disassemble_instruction(&ins);
                assert_eq!(assemble(&bare).unwrap(), program, "`{bare}`");
            }
        }
    }

    fn slot(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn::new(opcode, dst, src, off, imm)
    }

    /// The lines the issue asks for, in the kernel's exact text (each also
    /// prints back identically), with the slots they encode.
    fn canonical_lines() -> Vec<(&'static str, Vec<Insn>)> {
        vec![
            ("r1 = 33", vec![slot(0xb7, 1, 0, 0, 33)]),
            ("*(u16 *)(r10 -4) = r1", vec![slot(0x6b, 10, 1, -4, 0)]),
            ("if r1 > r2 goto pc+3", vec![slot(0x2d, 1, 2, 3, 0)]),
            ("w0 = w1", vec![slot(0xbc, 0, 1, 0, 0)]),
            ("r0 = be16 r0", vec![slot(0xdc, 0, 0, 0, 16)]),
            (
                "lock *(u64 *)(r10 -8) += r1",
                vec![slot(0xdb, 10, 1, -8, 0)],
            ),
            (
                "r1 = 0x57202c6f6c6c6548 ll",
                vec![
                    slot(0x18, 1, 0, 0, 0x6c6c_6548),
                    slot(0, 0, 0, 0, 0x5720_2c6f),
                ],
            ),
            ("call pc+2", vec![slot(0x85, 0, 1, 0, 2)]),
            ("exit", vec![slot(0x95, 0, 0, 0, 0)]),
            ("r1 += 8", vec![slot(0x07, 1, 0, 0, 8)]),
            ("w1 += w2", vec![slot(0x0c, 1, 2, 0, 0)]),
            ("r1 s/= r2", vec![slot(0x3f, 1, 2, 1, 0)]),
            ("w1 s%= 3", vec![slot(0x94, 1, 0, 1, 3)]),
            ("r1 s>>= 2", vec![slot(0xc7, 1, 0, 0, 2)]),
            ("w3 = -1", vec![slot(0xb4, 3, 0, 0, -1)]),
            ("r1 = -r1", vec![slot(0x87, 1, 0, 0, 0)]),
            ("w1 = -w1", vec![slot(0x84, 1, 0, 0, 0)]),
            ("r1 = (s8)r2", vec![slot(0xbf, 1, 2, 8, 0)]),
            ("w1 = (s16)w2", vec![slot(0xbc, 1, 2, 16, 0)]),
            ("r1 = (s32)r2", vec![slot(0xbf, 1, 2, 32, 0)]),
            ("r0 = le32 r0", vec![slot(0xd4, 0, 0, 0, 32)]),
            ("r0 = bswap64 r0", vec![slot(0xd7, 0, 0, 0, 64)]),
            ("r0 = *(u32 *)(r1 +4)", vec![slot(0x61, 0, 1, 4, 0)]),
            ("r0 = *(s16 *)(r1 +4)", vec![slot(0x89, 0, 1, 4, 0)]),
            ("*(u32 *)(r10 -8) = -1", vec![slot(0x62, 10, 0, -8, -1)]),
            ("*(u64 *)(r1 +0) = 7", vec![slot(0x7a, 1, 0, 0, 7)]),
            ("goto pc+3", vec![slot(0x05, 0, 0, 3, 0)]),
            ("gotol pc+3", vec![slot(0x06, 0, 0, 0, 3)]),
            ("if w1 s> 0x5 goto pc-2", vec![slot(0x66, 1, 0, -2, 5)]),
            (
                "if r1 == 0xffffffff goto pc+1",
                vec![slot(0x15, 1, 0, 1, -1)],
            ),
            ("if w1 & w2 goto pc+0", vec![slot(0x4e, 1, 2, 0, 0)]),
            ("call bpf_ktime_get_ns#5", vec![slot(0x85, 0, 0, 0, 5)]),
            ("call bpf_trace_printk#6", vec![slot(0x85, 0, 0, 0, 6)]),
            ("call unknown#999", vec![slot(0x85, 0, 0, 0, 999)]),
            ("call kernel-function#7", vec![slot(0x85, 0, 2, 0, 7)]),
            ("call kernel-function#7 off:1", vec![slot(0x85, 0, 2, 1, 7)]),
            ("callx r2", vec![slot(0x8d, 2, 0, 0, 0)]),
            (
                "r0 = atomic64_fetch_add((u64 *)(r10 -8), r0)",
                vec![slot(0xdb, 10, 0, -8, 0x01)],
            ),
            (
                "r1 = atomic_xchg((u32 *)(r2 +0), r1)",
                vec![slot(0xc3, 2, 1, 0, 0xe1)],
            ),
            (
                "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)",
                vec![slot(0xdb, 1, 2, 0, 0xf1)],
            ),
            (
                "r1 = load_acquire((u8 *)(r2 +0))",
                vec![slot(0xd3, 1, 2, 0, 0x100)],
            ),
            (
                "store_release((u64 *)(r1 +8), r2)",
                vec![slot(0xdb, 1, 2, 8, 0x110)],
            ),
            (
                "r1 = map[fd:3]",
                vec![slot(0x18, 1, 1, 0, 3), slot(0, 0, 0, 0, 0)],
            ),
            (
                "r1 = map[fd:3][0]+8",
                vec![slot(0x18, 1, 2, 0, 3), slot(0, 0, 0, 0, 8)],
            ),
            (
                "r2 = btf[id:5]",
                vec![slot(0x18, 2, 3, 0, 5), slot(0, 0, 0, 0, 0)],
            ),
            (
                "r3 = subprog[-4]",
                vec![slot(0x18, 3, 4, 0, -4), slot(0, 0, 0, 0, 0)],
            ),
            (
                "r4 = map[idx:1] next_imm:-2",
                vec![slot(0x18, 4, 5, 0, 1), slot(0, 0, 0, 0, -2)],
            ),
            (
                "r5 = map[idx:1][0]+16",
                vec![slot(0x18, 5, 6, 0, 1), slot(0, 0, 0, 0, 16)],
            ),
            ("r0 = *(u32 *)skb[12]", vec![slot(0x20, 0, 0, 0, 12)]),
            ("r0 = *(u16 *)skb[r1 + 12]", vec![slot(0x48, 0, 1, 0, 12)]),
        ]
    }

    #[test]
    fn issue_examples_parse_to_their_bytes_and_print_back() {
        for (line, slots) in canonical_lines() {
            let program = assemble(line).unwrap_or_else(|e| panic!("`{line}`: {e}"));
            assert_eq!(program.insns, slots, "`{line}`");
            let decoded = program.decode().unwrap();
            assert_eq!(disassemble_instruction(&decoded[0].1), line);
        }
        let program = assemble("0: (b7) r1 = 33").unwrap();
        assert_eq!(disassemble(&program).unwrap(), "0: (b7) r1 = 33\n");
    }

    #[test]
    fn loose_input_forms_assemble() {
        let same = [
            // bpftool prints ld_imm64 without `ll`; its (18) prefix says it.
            ("(18) r1 = 0x57202c6f6c6c6548", "r1 = 0x57202c6f6c6c6548 ll"),
            ("r1 = 5 ll", "r1 = 0x5 ll"),
            ("r1 = -1 ll", "r1 = 0xffffffffffffffff ll"),
            // 32-bit operations keep the low 32 bits of their immediate.
            ("w1 = 4294967295", "w1 = -1"),
            ("if w1 == -1 goto pc+1", "if w1 == 0xffffffff goto pc+1"),
            ("r1 += 0x10", "r1 += 16"),
            ("if r1 == 5 goto +1", "if r1 == 0x5 goto pc+1"),
            ("if r1 == -1 goto pc+1", "if r1 == 0xffffffff goto pc+1"),
            ("*(u16 *)(r10 - 4) = w1", "*(u16 *)(r10 -4) = r1"),
            ("w0 = *(u8 *)(r1)", "r0 = *(u8 *)(r1 +0)"),
            ("call bpf_trace_printk", "call bpf_trace_printk#6"),
            ("call ktime_get_ns", "call bpf_ktime_get_ns#5"),
            ("call 7", "call bpf_get_prandom_u32#7"),
            (
                "call __htab_map_lookup_elem#1",
                "call bpf_map_lookup_elem#1",
            ),
            ("r1 = map[id:3][0]+8", "r1 = map[fd:3][0]+8"),
            ("r0 = *(u8 *)skb[r2 - 4]", "r0 = *(u8 *)skb[r2 + -4]"),
            (
                "w0 = load_acquire((u16 *)(r1 +2))",
                "r0 = load_acquire((u16 *)(r1 +2))",
            ),
            ("r0 = be16 w0", "r0 = be16 r0"),
            ("  12: (07)   r1 += 8   ; comment", "r1 += 8"),
        ];
        for (loose, canonical) in same {
            let a = assemble(loose).unwrap_or_else(|e| panic!("`{loose}`: {e}"));
            let b = assemble(canonical).unwrap();
            assert_eq!(a, b, "`{loose}` vs `{canonical}`");
            let decoded = a.decode().unwrap();
            assert_eq!(disassemble_instruction(&decoded[0].1), canonical);
        }
    }

    #[test]
    fn ld_imm64_takes_two_indices() {
        let text = "r1 = 0x57202c6f6c6c6548 ll\nr0 = 0\nexit\n";
        let program = assemble(text).unwrap();
        assert_eq!(program.len(), 4);
        assert_eq!(
            disassemble(&program).unwrap(),
            "0: (18) r1 = 0x57202c6f6c6c6548 ll\n2: (b7) r0 = 0\n3: (95) exit\n"
        );
    }

    #[test]
    fn disassemble_reports_decode_errors_with_the_index() {
        let program = Program::new(vec![
            Insn::new(0x95, 0, 0, 0, 0),
            Insn::new(0x8f, 0, 0, 0, 0),
        ]);
        assert_eq!(disassemble(&program).unwrap_err().index, 1);
    }

    #[test]
    fn bpftool_output_with_padding_and_comments_assembles() {
        let text = "   0: (b7) r1 = 33\n\
                    ; a source line from BTF line info\n\
                    \n   1: (6b) *(u16 *)(r10 -4) = r1 // store\n   2: (95) exit\n";
        let program = assemble(text).unwrap();
        assert_eq!(
            program.insns,
            vec![
                Insn::new(0xb7, 1, 0, 0, 33),
                Insn::new(0x6b, 10, 1, -4, 0),
                Insn::new(0x95, 0, 0, 0, 0),
            ]
        );
    }

    /// Issue 9: every row of the opcode table, with random fields, prints a
    /// line that assembles to the same bytes both with its `N: (xx)` prefix
    /// and without it (the prefix must agree with the text, and the text
    /// alone must say which instruction it is).
    #[test]
    fn every_row_round_trips_with_and_without_the_prefix() {
        use proptest::test_runner::{Config, TestRunner};
        let config = Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        };
        let fields = (
            0u8..=MAX_REG,
            0u8..=MAX_REG,
            any::<i16>(),
            any::<i32>(),
            any::<i32>(),
        );
        for row in OPCODES {
            let mut runner = TestRunner::new(config.clone());
            let result = runner.run(&fields, |fields| {
                let ins = instruction_with(row, fields);
                let program = Program::from_instructions(&[ins]);
                let prefixed = disassemble(&program).unwrap();
                prop_assert_eq!(assemble(&prefixed), Ok(program.clone()), "{}", prefixed);
                let bare = disassemble_instruction(&ins);
                prop_assert_eq!(assemble(&bare), Ok(program), "{}", bare);
                Ok(())
            });
            if let Err(e) = result {
                panic!("{}: {e}", row.name());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn assemble_inverts_disassemble(instructions in prop::collection::vec(arb_instruction(), 1..24)) {
            let program = Program::from_instructions(&instructions);
            let text = disassemble(&program).unwrap();
            let back = assemble(&text);
            prop_assert_eq!(back, Ok(program.clone()), "{}", text);
            // Without the prefixes too: the slot indices after an ld_imm64
            // come from the instructions, not from the text.
            let bare: String = instructions
                .iter()
                .map(|ins| disassemble_instruction(ins) + "\n")
                .collect();
            prop_assert_eq!(assemble(&bare), Ok(program), "{}", bare);
        }

        #[test]
        fn edited_lines_give_errors_not_panics(
            ins in arb_instruction(),
            at in any::<prop::sample::Index>(),
            cut in 0usize..4,
            insert in "[ -~]{0,3}",
        ) {
            let text = disassemble_instruction(&ins);
            let mut chars: Vec<char> = text.chars().collect();
            let at = at.index(chars.len() + 1);
            let end = (at + cut).min(chars.len());
            chars.splice(at..end, insert.chars());
            let edited: String = chars.into_iter().collect();
            if let Err(e) = assemble(&edited) {
                prop_assert_eq!(e.line, 1);
            }
        }

        #[test]
        fn arbitrary_text_gives_a_line_number_not_a_panic(text in "\\PC{0,80}(\n\\PC{0,40}){0,3}") {
            if let Err(e) = assemble(&text) {
                prop_assert!(e.line >= 1 && e.line <= text.lines().count(), "{}", e);
            }
        }
    }
}
