//! The kernel-syntax assembler against the LLVM BPF assembler syntax that
//! BPF selftests write in inline assembly (issues 10 and 13): labels
//! (`l0_%=:`, `name:`, GNU local `1:` with `1b`/`1f`), C string literals,
//! `;` between statements, `/* */` comments and LLVM's spellings of the
//! atomics.
//!
//! The programs below are written here in that style; the encodings they
//! check come from RFC 9669 (opcode layout, §3 and §5) and the LLVM BPF
//! instruction definitions (`llvm/lib/Target/BPF/BPFInstrInfo.td`: which
//! text is which instruction). Jump offsets count slots from the
//! instruction after the jump, an `ld_imm64` taking two (RFC 9669 §3.3,
//! §4.3.2).

use bpfdiff_engine::asm::kernel::assemble;
use bpfdiff_engine::asm::{AsmError, AsmErrorKind};
use bpfdiff_engine::insn::Insn;

fn slots(text: &str) -> Vec<Insn> {
    assemble(text)
        .unwrap_or_else(|e| panic!("does not assemble: {e}\n{text}"))
        .insns
}

fn error(text: &str) -> AsmError {
    assemble(text).expect_err(text)
}

fn i(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn::new(opcode, dst, src, off, imm)
}

/// A socket filter in the string-per-line style, with an `ld_imm64`
/// between a forward jump and its label.
#[test]
fn forward_labels_across_an_ld_imm64() {
    let text = r#"
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"r2 = 0x100000000 ll;"
	"if r1 == 0 goto l0_%=;"
	"r0 = 1;"
	"goto l1_%=;"
"l0_%=:	r0 = 2;"
"l1_%=:"
	"exit;"
"#;
    assert_eq!(
        slots(text),
        vec![
            i(0xb7, 1, 0, 0, 0),
            i(0x7b, 10, 1, -8, 0),
            i(0x18, 2, 0, 0, 0),
            i(0x00, 0, 0, 0, 1),
            // slot 4 -> slot 7: 7 - 4 - 1 = 2 (the ld_imm64 is slots 2, 3)
            i(0x15, 1, 0, 2, 0),
            i(0xb7, 0, 0, 0, 1),
            // slot 6 -> slot 8
            i(0x05, 0, 0, 1, 0),
            i(0xb7, 0, 0, 0, 2),
            i(0x95, 0, 0, 0, 0),
        ]
    );
}

/// The one-string style: tabs, a `\` ending each line, `/* */` comments
/// (one spanning lines), a backward jump over an `ld_imm64`.
#[test]
fn backward_labels_in_a_one_string_body() {
    let text = "\
\tr0 = 0;\t\t\t\t\t\t\\
\t/* count to four,\t\t\t\t\\
\t * r1 unused */\t\t\t\t\\
l0_%=:\tr0 += 1;\t\t\t\t\t\\
\tr1 = 0 ll;\t\t\t\t\t\\
\tif r0 < 4 goto l0_%=;\t/* back */\t\\
\texit;\t\t\t\t\t\t\\
";
    assert_eq!(
        slots(text),
        vec![
            i(0xb7, 0, 0, 0, 0),
            i(0x07, 0, 0, 0, 1),
            i(0x18, 1, 0, 0, 0),
            i(0x00, 0, 0, 0, 0),
            // slot 4 -> slot 1: 1 - 4 - 1 = -4
            i(0xa5, 0, 0, -4, 4),
            i(0x95, 0, 0, 0, 0),
        ]
    );
}

/// GNU local labels: `1b` is the nearest `1:` before, `4f` the nearest
/// `4:` after; a label on the line of the jump counts as before it.
#[test]
fn numbered_local_labels() {
    let text = "
\"   r6 = r10;\"
\"   r7 = r6;\"
\"1: r6 += 1;\"
\"   if r0 & 8 goto 4f;\"
\"   if r6 < r7 goto 1b;\"
\"4: r0 = 0;\"
\"1: goto 1b;\"
\"   exit;\"
";
    assert_eq!(
        slots(text),
        vec![
            i(0xbf, 6, 10, 0, 0),
            i(0xbf, 7, 6, 0, 0),
            i(0x07, 6, 0, 0, 1),
            // slot 3 -> slot 5, slot 4 -> slot 2
            i(0x45, 0, 0, 1, 8),
            i(0xad, 6, 7, -3, 0),
            i(0xb7, 0, 0, 0, 0),
            // `1: goto 1b` jumps to itself: 6 - 6 - 1
            i(0x05, 0, 0, -1, 0),
            i(0x95, 0, 0, 0, 0),
        ]
    );
}

/// A bpf-to-bpf call to a subprogram given as a plain label (a `__naked`
/// subprogram's name), each function with its own `l0_%=` (inline
/// assembly makes `%=` unique per asm statement). A call to a local
/// function is src 1, imm the slot distance (RFC 9669 §4.3.1).
#[test]
fn subprogram_calls_and_scoped_labels() {
    let text = "
\tr1 = 0;
\tcall bounded__1;
\tif r0 == 0 goto l0_%=;
\tr0 = 1;
l0_%=:\texit;
bounded__1:
\tr0 = r1;
\tif r1 < 4 goto l0_%=;
\texit;
l0_%=:\tcall bounded__1;
\tgotol l1_%=;
l1_%=:\texit;
";
    assert_eq!(
        slots(text),
        vec![
            i(0xb7, 1, 0, 0, 0),
            // slot 1 -> slot 5
            i(0x85, 0, 1, 0, 3),
            i(0x15, 0, 0, 1, 0),
            i(0xb7, 0, 0, 0, 1),
            i(0x95, 0, 0, 0, 0),
            i(0xbf, 0, 1, 0, 0),
            // the subprogram's own l0_%=: slot 6 -> slot 8
            i(0xa5, 1, 0, 1, 4),
            i(0x95, 0, 0, 0, 0),
            // slot 8 -> slot 5
            i(0x85, 0, 1, 0, -4),
            // gotol is JMP32 | JA with the offset in imm (RFC 9669 §4.3)
            i(0x06, 0, 0, 0, 0),
            i(0x95, 0, 0, 0, 0),
        ]
    );
}

/// Each LLVM spelling, alone, with the slots it stands for.
#[test]
fn llvm_forms_assemble_to_their_bytes() {
    let cases: &[(&str, &[Insn])] = &[
        ("*(u64*)(r10 -8) = r1;", &[i(0x7b, 10, 1, -8, 0)]),
        ("*(u64 *)(r10 + -8) = r1;", &[i(0x7b, 10, 1, -8, 0)]),
        ("*(u32 *)(r10 - 4) = w1;", &[i(0x63, 10, 1, -4, 0)]),
        ("r0 = *(u32 *)(r1 + 0);", &[i(0x61, 0, 1, 0, 0)]),
        ("w0 = *(u16 *)(r1 + 2);", &[i(0x69, 0, 1, 2, 0)]),
        ("r0 = *(s8 *)(r1 + 0);", &[i(0x91, 0, 1, 0, 0)]),
        ("goto +1;", &[i(0x05, 0, 0, 1, 0)]),
        ("goto -1;", &[i(0x05, 0, 0, -1, 0)]),
        ("gotol +3;", &[i(0x06, 0, 0, 0, 3)]),
        ("if r1 == 0 goto +2;", &[i(0x15, 1, 0, 2, 0)]),
        ("if w1 s< 5 goto +1;", &[i(0xc6, 1, 0, 1, 5)]),
        ("if r7 s> 0x37d2 goto +0;", &[i(0x65, 7, 0, 0, 0x37d2)]),
        ("r1 = 0 ll;", &[i(0x18, 1, 0, 0, 0), i(0, 0, 0, 0, 0)]),
        ("w0 = w1;", &[i(0xbc, 0, 1, 0, 0)]),
        ("r0 = -r0;", &[i(0x87, 0, 0, 0, 0)]),
        ("w0 = -w0;", &[i(0x84, 0, 0, 0, 0)]),
        ("r0 = be16 r0;", &[i(0xdc, 0, 0, 0, 16)]),
        ("r0 = le64 r0;", &[i(0xd4, 0, 0, 0, 64)]),
        ("r0 = bswap16 r0;", &[i(0xd7, 0, 0, 0, 16)]),
        ("r0 = (s8)r1;", &[i(0xbf, 0, 1, 8, 0)]),
        ("w0 = (s16)w1;", &[i(0xbc, 0, 1, 16, 0)]),
        ("r1 s/= r2;", &[i(0x3f, 1, 2, 1, 0)]),
        ("w1 s%= 3;", &[i(0x94, 1, 0, 1, 3)]),
        ("lock *(u64 *)(r10 - 8) += r1;", &[i(0xdb, 10, 1, -8, 0)]),
        ("lock *(u32 *)(r10 - 4) += w1;", &[i(0xc3, 10, 1, -4, 0)]),
        ("lock *(u64 *)(r10 - 8) |= r1;", &[i(0xdb, 10, 1, -8, 0x40)]),
        // BPF_ADD | BPF_FETCH = 0x01, BPF_AND | BPF_FETCH = 0x51
        (
            "r0 = atomic_fetch_add((u64 *)(r10 - 8), r0);",
            &[i(0xdb, 10, 0, -8, 0x01)],
        ),
        (
            "w0 = atomic_fetch_and((u32 *)(r10 - 4), w0);",
            &[i(0xc3, 10, 0, -4, 0x51)],
        ),
        // BPF_XCHG = 0xe1, BPF_CMPXCHG = 0xf1 (both with BPF_FETCH)
        ("r1 = xchg_64(r10 - 8, r1);", &[i(0xdb, 10, 1, -8, 0xe1)]),
        ("w1 = xchg32_32(r10 - 4, w1);", &[i(0xc3, 10, 1, -4, 0xe1)]),
        (
            "r0 = cmpxchg_64(r10 - 8, r0, r1);",
            &[i(0xdb, 10, 1, -8, 0xf1)],
        ),
        (
            "w0 = cmpxchg32_32(r10 - 4, w0, w1);",
            &[i(0xc3, 10, 1, -4, 0xf1)],
        ),
        ("r0 = *(u8 *)skb[0];", &[i(0x30, 0, 0, 0, 0)]),
        ("r0 = *(u16 *)skb[r1];", &[i(0x48, 0, 1, 0, 0)]),
        // helper ids: bpf_map_lookup_elem = 1, bpf_get_prandom_u32 = 7
        ("call bpf_map_lookup_elem;", &[i(0x85, 0, 0, 0, 1)]),
        ("call 1;", &[i(0x85, 0, 0, 0, 1)]),
        ("call %[bpf_get_prandom_u32];", &[i(0x85, 0, 0, 0, 7)]),
        ("callx r2;", &[i(0x8d, 2, 0, 0, 0)]),
        // `.8byte`: one slot, little-endian (RFC 9669 §3): r0 = 1
        (".8byte 0x1000000b7;", &[i(0xb7, 0, 0, 0, 1)]),
        ("exit;", &[i(0x95, 0, 0, 0, 0)]),
    ];
    for (line, expected) in cases {
        for text in [
            line.to_string(),
            format!("\t\"{line}\""),
            format!("\"{line}\\n\""),
            format!("\t{line}\t\t\t\\"),
        ] {
            assert_eq!(slots(&text), *expected, "`{text}`");
        }
    }
}

/// `;` separates statements; after it, text that does not start like an
/// instruction is a comment (the verifier log's register state), and text
/// that does is an instruction, so it is never dropped.
#[test]
fn semicolons_separate_statements() {
    assert_eq!(
        slots("r0 = 1; r1 = 2; exit"),
        vec![
            i(0xb7, 0, 0, 0, 1),
            i(0xb7, 1, 0, 0, 2),
            i(0x95, 0, 0, 0, 0)
        ]
    );
    assert_eq!(
        slots("0: (b7) r0 = 0                       ; R0_w=0\n1: (95) exit"),
        vec![i(0xb7, 0, 0, 0, 0), i(0x95, 0, 0, 0, 0)]
    );
    assert_eq!(
        slots("\".8byte 0x1000000b7; exit;\""),
        vec![i(0xb7, 0, 0, 0, 1), i(0x95, 0, 0, 0, 0)]
    );
    let e = error("r0 = 1; r1 = = 2");
    assert_eq!(e.line, 1);
    assert!(matches!(e.kind, AsmErrorKind::Syntax { .. }), "{e}");
}

#[test]
fn unknown_label_names_the_line_of_the_jump() {
    let e = error("r0 = 0;\nif r0 == 0 goto nowhere;\nexit;");
    assert_eq!(
        (e.line, e.kind),
        (
            2,
            AsmErrorKind::UnknownLabel {
                label: "nowhere".into()
            }
        )
    );
    // A `%=` label of another function is not visible.
    let e = error("goto l0_%=;\nexit;\nf:\nl0_%=: exit;");
    assert_eq!(e.line, 1);
    assert!(matches!(e.kind, AsmErrorKind::UnknownLabel { .. }), "{e}");
    // `1b` with no `1:` before it.
    let e = error("r0 = 0;\n goto 1b;\n1: exit;");
    assert_eq!(
        (e.line, e.kind),
        (2, AsmErrorKind::UnknownLabel { label: "1b".into() })
    );
    // A call to a name that is neither a label nor a helper.
    let e = error("call no_such_function;\nexit;");
    assert_eq!(e.line, 1);
    assert!(matches!(e.kind, AsmErrorKind::BadOperand { .. }), "{e}");
}

#[test]
fn duplicate_labels_name_both_lines() {
    let e = error("a:\nr0 = 0;\na: exit;");
    assert_eq!(
        (e.line, e.kind),
        (
            3,
            AsmErrorKind::DuplicateLabel {
                label: "a".into(),
                first_line: 1
            }
        )
    );
    let e = error("l0_%=: r0 = 0;\nl0_%=: exit;");
    assert_eq!(
        (e.line, e.kind),
        (
            2,
            AsmErrorKind::DuplicateLabel {
                label: "l0_%=".into(),
                first_line: 1
            }
        )
    );
}

#[test]
fn a_label_too_far_for_the_offset_field_is_refused() {
    let mut text = String::from("goto far;\n");
    text.push_str(&"r0 = 0;\n".repeat(40_000));
    text.push_str("far: exit;\n");
    let e = error(&text);
    assert_eq!(
        (e.line, e.kind),
        (
            1,
            AsmErrorKind::JumpOutOfRange {
                target: "far".into()
            }
        )
    );
    // gotol has 32 bits for it.
    let text = text.replacen("goto far", "gotol far", 1);
    assert_eq!(slots(&text)[0], i(0x06, 0, 0, 0, 40_000));
}

/// `%[name]` operands whose value only the C source knows are refused,
/// naming the line and the operand; so are statements outside the opcode
/// table and directives other than `.8byte N`.
#[test]
fn what_cannot_be_assembled_is_named() {
    for (text, symbol) in [
        (
            "r0 = 0;\nr2 = *(u32 *)(r1 + %[some_struct_field]);",
            "some_struct_field",
        ),
        ("r0 = 0;\nif r7 != %[test_len] goto +1;", "test_len"),
        ("r0 = 0;\n.8byte %[raw_insn];", "raw_insn"),
        ("r0 = 0;\ncall %[bpf_no_such_helper];", "bpf_no_such_helper"),
    ] {
        let e = error(text);
        assert_eq!(
            (e.line, e.kind),
            (
                2,
                AsmErrorKind::UnresolvedSymbol {
                    symbol: symbol.into()
                }
            ),
            "{text}"
        );
    }
    // A map's address (`r1 = %[map_hash_8b] ll`) is unsupported, and says
    // so: maps are not modeled yet.
    let e = error("r0 = 0;\nr1 = %[map_hash_8b] ll;");
    assert_eq!(e.line, 2);
    assert!(
        matches!(&e.kind, AsmErrorKind::Unsupported { what, reason }
            if what == "%[map_hash_8b] ll" && reason.starts_with("unsupported: maps")),
        "{e}"
    );
    // The selftests' ctx offsets are known: offsetof(struct xdp_md,
    // data_end) = 4 (include/uapi/linux/bpf.h).
    let p = bpfdiff_engine::asm::kernel::assemble("r2 = *(u32 *)(r1 + %[xdp_md_data_end]);\nexit;")
        .expect("a ctx symbol assembles");
    assert_eq!(p.insns[0].off, 4);
    for (text, what) in [
        ("may_goto l0_%=;\nl0_%=: exit;", "may_goto"),
        (".byte 0xBF;", ".byte"),
        (".8byte 0x18;", ".8byte 0x18"),
    ] {
        let e = error(text);
        assert_eq!(e.line, 1, "{text}");
        assert!(
            matches!(&e.kind, AsmErrorKind::Unsupported { what: w, .. } if w == what),
            "{text}: {e}"
        );
    }
    // An unterminated or malformed C string is an error, not a guess.
    for text in ["\"r0 = 0;", "\"r0 = 0;\" r1 = 1", "\"r0 = \\q\""] {
        let e = error(text);
        assert!(matches!(e.kind, AsmErrorKind::Syntax { .. }), "{text}: {e}");
    }
}
