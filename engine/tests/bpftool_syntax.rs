//! The kernel-syntax assembler against what `bpftool prog dump xlated`
//! really prints (issue 9).
//!
//! Every line of [`XLATED`] is written by hand from a format string of the
//! kernel's `kernel/bpf/disasm.c` (`print_bpf_insn`) or of bpftool's
//! `tools/bpf/bpftool/xlated_dumper.c` (`print_imm`, and `"% 4d: "` for the
//! index), cited next to it. Each must assemble to the exact bytes given,
//! and disassembling those bytes must print the line again, except where
//! our printer differs on purpose (the entry's `ours` says how and the
//! module comment of `engine/src/asm/kernel/mod.rs` says why).
//!
//! `data/bpftool_xlated/` holds whole listings with the bytes they stand for.

use bpfdiff_engine::asm::kernel::{assemble, disassemble};
use bpfdiff_engine::asm::AsmErrorKind;
use bpfdiff_engine::insn::Insn;
use bpfdiff_engine::Program;
use std::path::Path;

/// One slot's fields: opcode, dst, src, off, imm.
type Slot = (u8, u8, u8, i16, i32);

/// A line as bpftool prints it, the format string it checks, the slots it
/// stands for, and our printer's text when it differs on purpose.
struct Case {
    line: &'static str,
    format: &'static str,
    slots: &'static [Slot],
    ours: Option<&'static str>,
}

const fn case(line: &'static str, format: &'static str, slots: &'static [Slot]) -> Case {
    Case {
        line,
        format,
        slots,
        ours: None,
    }
}

const fn differs(
    line: &'static str,
    format: &'static str,
    slots: &'static [Slot],
    ours: &'static str,
) -> Case {
    Case {
        line,
        format,
        slots,
        ours: Some(ours),
    }
}

// Format strings, quoted from disasm.c / xlated_dumper.c.
const ALU_K: &str = "(%02x) %c%d %s %d";
const ALU_X: &str = "(%02x) %c%d %s %s%c%d";
const NEG: &str = "(%02x) %c%d = -%c%d";
const END: &str = "(%02x) r%d = %s%d r%d";
const BSWAP: &str = "(%02x) r%d = bswap%d r%d";
const LDX: &str = "(%02x) r%d = *(%s *)(r%d %+d)";
const STX: &str = "(%02x) *(%s *)(r%d %+d) = r%d";
const ST: &str = "(%02x) *(%s *)(r%d %+d) = %d";
const LOCK: &str = "(%02x) lock *(%s *)(r%d %+d) %s r%d";
const FETCH: &str = "(%02x) r%d = atomic%s_fetch_%s((%s *)(r%d %+d), r%d)";
const CMPXCHG: &str = "(%02x) r0 = atomic%s_cmpxchg((%s *)(r%d %+d), r0, r%d)";
const XCHG: &str = "(%02x) r%d = atomic%s_xchg((%s *)(r%d %+d), r%d)";
const LOAD_ACQ: &str = "(%02x) r%d = load_acquire((%s *)(r%d %+d))";
const STORE_REL: &str = "(%02x) store_release((%s *)(r%d %+d), r%d)";
const LD_IMM64: &str = "(%02x) r%d = %s with bpftool print_imm \"0x%llx\"";
const LD_MAP: &str = "(%02x) r%d = %s with bpftool print_imm \"map[id:%u]\"";
const LD_MAP_VALUE: &str = "(%02x) r%d = %s with bpftool print_imm \"map[id:%u][0]+%u\"";
const LD_FUNC: &str = "(%02x) r%d = %s with bpftool print_imm \"subprog[%+d]\"";
const LD_ABS: &str = "(%02x) r0 = *(%s *)skb[%d]";
const LD_IND: &str = "(%02x) r0 = *(%s *)skb[r%d + %d]";
const JA: &str = "(%02x) goto pc%+d";
const JA32: &str = "(%02x) gotol pc%+d";
const JMP_K: &str = "(%02x) if %c%d %s 0x%x goto pc%+d";
const JMP_X: &str = "(%02x) if %c%d %s %c%d goto pc%+d";
const CALL: &str = "(%02x) call %s#%d";
const CALL_PC: &str = "(%02x) call pc%s with __func_get_name \"%+d\"";
const EXIT: &str = "(%02x) exit";

/// What bpftool prints, one instruction per line, each at index 0.
const XLATED: &[Case] = &[
    // ALU64 and ALU (32-bit) with an immediate: %d, so negative values print signed.
    case("   0: (07) r1 += 8", ALU_K, &[(0x07, 1, 0, 0, 8)]),
    case("   0: (04) w1 += -1", ALU_K, &[(0x04, 1, 0, 0, -1)]),
    case("   0: (17) r2 -= 4", ALU_K, &[(0x17, 2, 0, 0, 4)]),
    case("   0: (27) r3 *= 3", ALU_K, &[(0x27, 3, 0, 0, 3)]),
    case("   0: (37) r1 /= 10", ALU_K, &[(0x37, 1, 0, 0, 10)]),
    // sdiv/smod: bpf_alu_sign_string when off == 1.
    case("   0: (37) r1 s/= 3", ALU_K, &[(0x37, 1, 0, 1, 3)]),
    case("   0: (94) w1 s%= 3", ALU_K, &[(0x94, 1, 0, 1, 3)]),
    case("   0: (97) r1 %= 7", ALU_K, &[(0x97, 1, 0, 0, 7)]),
    case("   0: (47) r1 |= 1", ALU_K, &[(0x47, 1, 0, 0, 1)]),
    case("   0: (57) r1 &= 255", ALU_K, &[(0x57, 1, 0, 0, 255)]),
    case("   0: (67) r1 <<= 32", ALU_K, &[(0x67, 1, 0, 0, 32)]),
    case("   0: (77) r1 >>= 32", ALU_K, &[(0x77, 1, 0, 0, 32)]),
    case("   0: (c7) r1 s>>= 2", ALU_K, &[(0xc7, 1, 0, 0, 2)]),
    case("   0: (a7) r1 ^= -1", ALU_K, &[(0xa7, 1, 0, 0, -1)]),
    case("   0: (b7) r0 = 0", ALU_K, &[(0xb7, 0, 0, 0, 0)]),
    case("   0: (b7) r0 = -1", ALU_K, &[(0xb7, 0, 0, 0, -1)]),
    case(
        "   0: (b7) r0 = -2147483648",
        ALU_K,
        &[(0xb7, 0, 0, 0, i32::MIN)],
    ),
    case("   0: (b4) w0 = -1", ALU_K, &[(0xb4, 0, 0, 0, -1)]),
    case(
        "   0: (b4) w0 = 2147483647",
        ALU_K,
        &[(0xb4, 0, 0, 0, i32::MAX)],
    ),
    // Register sources.
    case("   0: (0f) r1 += r2", ALU_X, &[(0x0f, 1, 2, 0, 0)]),
    case("   0: (0c) w1 += w2", ALU_X, &[(0x0c, 1, 2, 0, 0)]),
    case("   0: (1f) r1 -= r2", ALU_X, &[(0x1f, 1, 2, 0, 0)]),
    case("   0: (3f) r1 s/= r2", ALU_X, &[(0x3f, 1, 2, 1, 0)]),
    case("   0: (9c) w4 s%= w5", ALU_X, &[(0x9c, 4, 5, 1, 0)]),
    case("   0: (cf) r1 s>>= r2", ALU_X, &[(0xcf, 1, 2, 0, 0)]),
    case("   0: (bf) r6 = r1", ALU_X, &[(0xbf, 6, 1, 0, 0)]),
    case("   0: (bc) w0 = w1", ALU_X, &[(0xbc, 0, 1, 0, 0)]),
    // movsx: the X format with bpf_movsx_string[(off >> 3) - 1].
    case("   0: (bf) r1 = (s8)r2", ALU_X, &[(0xbf, 1, 2, 8, 0)]),
    case("   0: (bf) r1 = (s16)r2", ALU_X, &[(0xbf, 1, 2, 16, 0)]),
    case("   0: (bf) r1 = (s32)r2", ALU_X, &[(0xbf, 1, 2, 32, 0)]),
    case("   0: (bc) w1 = (s16)w2", ALU_X, &[(0xbc, 1, 2, 16, 0)]),
    case("   0: (87) r1 = -r1", NEG, &[(0x87, 1, 0, 0, 0)]),
    case("   0: (84) w1 = -w1", NEG, &[(0x84, 1, 0, 0, 0)]),
    // print_bpf_end_insn: "le"/"be" by BPF_SRC, r even for the ALU class.
    case("   0: (d4) r1 = le16 r1", END, &[(0xd4, 1, 0, 0, 16)]),
    case("   0: (dc) r1 = be32 r1", END, &[(0xdc, 1, 0, 0, 32)]),
    case("   0: (dc) r1 = be64 r1", END, &[(0xdc, 1, 0, 0, 64)]),
    case("   0: (d7) r1 = bswap16 r1", BSWAP, &[(0xd7, 1, 0, 0, 16)]),
    case("   0: (d7) r2 = bswap64 r2", BSWAP, &[(0xd7, 2, 0, 0, 64)]),
    // Loads, every size; ldsx prints bpf_ldsx_string.
    case("   0: (71) r0 = *(u8 *)(r1 +0)", LDX, &[(0x71, 0, 1, 0, 0)]),
    case(
        "   0: (69) r0 = *(u16 *)(r1 +2)",
        LDX,
        &[(0x69, 0, 1, 2, 0)],
    ),
    case(
        "   0: (61) r2 = *(u32 *)(r1 +4)",
        LDX,
        &[(0x61, 2, 1, 4, 0)],
    ),
    case(
        "   0: (79) r3 = *(u64 *)(r10 -8)",
        LDX,
        &[(0x79, 3, 10, -8, 0)],
    ),
    case("   0: (91) r0 = *(s8 *)(r1 +2)", LDX, &[(0x91, 0, 1, 2, 0)]),
    case(
        "   0: (89) r0 = *(s16 *)(r1 -2)",
        LDX,
        &[(0x89, 0, 1, -2, 0)],
    ),
    case(
        "   0: (81) r0 = *(s32 *)(r1 +4)",
        LDX,
        &[(0x81, 0, 1, 4, 0)],
    ),
    // Stores, every size, register and immediate.
    case(
        "   0: (73) *(u8 *)(r10 -1) = r1",
        STX,
        &[(0x73, 10, 1, -1, 0)],
    ),
    case(
        "   0: (6b) *(u16 *)(r10 -4) = r1",
        STX,
        &[(0x6b, 10, 1, -4, 0)],
    ),
    case(
        "   0: (63) *(u32 *)(r10 -4) = r1",
        STX,
        &[(0x63, 10, 1, -4, 0)],
    ),
    case(
        "   0: (7b) *(u64 *)(r10 -8) = r6",
        STX,
        &[(0x7b, 10, 6, -8, 0)],
    ),
    case(
        "   0: (72) *(u8 *)(r10 -1) = 7",
        ST,
        &[(0x72, 10, 0, -1, 7)],
    ),
    case(
        "   0: (6a) *(u16 *)(r10 -2) = 0",
        ST,
        &[(0x6a, 10, 0, -2, 0)],
    ),
    case(
        "   0: (62) *(u32 *)(r10 -8) = -1",
        ST,
        &[(0x62, 10, 0, -8, -1)],
    ),
    case(
        "   0: (7a) *(u64 *)(r10 -8) = -1",
        ST,
        &[(0x7a, 10, 0, -8, -1)],
    ),
    // Atomics: BPF_ADD etc. in imm; BPF_FETCH = 0x01, XCHG 0xe1, CMPXCHG 0xf1.
    case(
        "   0: (c3) lock *(u32 *)(r1 +0) += r2",
        LOCK,
        &[(0xc3, 1, 2, 0, 0x00)],
    ),
    case(
        "   0: (db) lock *(u64 *)(r10 -8) |= r1",
        LOCK,
        &[(0xdb, 10, 1, -8, 0x40)],
    ),
    case(
        "   0: (db) lock *(u64 *)(r1 +8) &= r3",
        LOCK,
        &[(0xdb, 1, 3, 8, 0x50)],
    ),
    case(
        "   0: (c3) lock *(u32 *)(r1 +0) ^= r2",
        LOCK,
        &[(0xc3, 1, 2, 0, 0xa0)],
    ),
    case(
        "   0: (db) r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)",
        FETCH,
        &[(0xdb, 1, 2, 0, 0x01)],
    ),
    case(
        "   0: (c3) r2 = atomic_fetch_and((u32 *)(r1 +4), r2)",
        FETCH,
        &[(0xc3, 1, 2, 4, 0x51)],
    ),
    case(
        "   0: (db) r5 = atomic64_fetch_or((u64 *)(r10 -16), r5)",
        FETCH,
        &[(0xdb, 10, 5, -16, 0x41)],
    ),
    case(
        "   0: (c3) r5 = atomic_fetch_xor((u32 *)(r10 -4), r5)",
        FETCH,
        &[(0xc3, 10, 5, -4, 0xa1)],
    ),
    case(
        "   0: (db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)",
        CMPXCHG,
        &[(0xdb, 1, 2, 0, 0xf1)],
    ),
    case(
        "   0: (c3) r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)",
        CMPXCHG,
        &[(0xc3, 1, 2, 0, 0xf1)],
    ),
    case(
        "   0: (db) r3 = atomic64_xchg((u64 *)(r10 -8), r3)",
        XCHG,
        &[(0xdb, 10, 3, -8, 0xe1)],
    ),
    case(
        "   0: (c3) r3 = atomic_xchg((u32 *)(r10 -8), r3)",
        XCHG,
        &[(0xc3, 10, 3, -8, 0xe1)],
    ),
    case(
        "   0: (d3) r1 = load_acquire((u8 *)(r2 +0))",
        LOAD_ACQ,
        &[(0xd3, 1, 2, 0, 0x100)],
    ),
    case(
        "   0: (db) store_release((u64 *)(r1 +8), r2)",
        STORE_REL,
        &[(0xdb, 1, 2, 8, 0x110)],
    ),
    // ld_imm64: bpftool never prints `ll`. The (18) prefix decides.
    differs(
        "   0: (18) r0 = 0x5",
        LD_IMM64,
        &[(0x18, 0, 0, 0, 5), (0, 0, 0, 0, 0)],
        "0: (18) r0 = 0x5 ll",
    ),
    differs(
        "   0: (18) r1 = 0xffffffffffffffff",
        LD_IMM64,
        &[(0x18, 1, 0, 0, -1), (0, 0, 0, 0, -1)],
        "0: (18) r1 = 0xffffffffffffffff ll",
    ),
    differs(
        "   0: (18) r1 = 0x1122334455667788",
        LD_IMM64,
        &[(0x18, 1, 0, 0, 0x5566_7788), (0, 0, 0, 0, 0x1122_3344)],
        "0: (18) r1 = 0x1122334455667788 ll",
    ),
    // After loading, bpf_insn_prepare_dump puts src BPF_PSEUDO_MAP_FD (1)
    // or BPF_PSEUDO_MAP_VALUE (2) back, the map id in imm, the offset in
    // the second imm.
    differs(
        "   0: (18) r1 = map[id:7]",
        LD_MAP,
        &[(0x18, 1, 1, 0, 7), (0, 0, 0, 0, 0)],
        "0: (18) r1 = map[fd:7]",
    ),
    differs(
        "   0: (18) r2 = map[id:7][0]+16",
        LD_MAP_VALUE,
        &[(0x18, 2, 2, 0, 7), (0, 0, 0, 0, 16)],
        "0: (18) r2 = map[fd:7][0]+16",
    ),
    case(
        "   0: (18) r2 = subprog[+3]",
        LD_FUNC,
        &[(0x18, 2, 4, 0, 3), (0, 0, 0, 0, 0)],
    ),
    // Legacy packet loads.
    case(
        "   0: (30) r0 = *(u8 *)skb[12]",
        LD_ABS,
        &[(0x30, 0, 0, 0, 12)],
    ),
    case(
        "   0: (28) r0 = *(u16 *)skb[12]",
        LD_ABS,
        &[(0x28, 0, 0, 0, 12)],
    ),
    case(
        "   0: (20) r0 = *(u32 *)skb[26]",
        LD_ABS,
        &[(0x20, 0, 0, 0, 26)],
    ),
    case(
        "   0: (50) r0 = *(u8 *)skb[r1 + 4]",
        LD_IND,
        &[(0x50, 0, 1, 0, 4)],
    ),
    case(
        "   0: (48) r0 = *(u16 *)skb[r6 + 0]",
        LD_IND,
        &[(0x48, 0, 6, 0, 0)],
    ),
    case(
        "   0: (40) r0 = *(u32 *)skb[r2 + -4]",
        LD_IND,
        &[(0x40, 0, 2, 0, -4)],
    ),
    // Jumps. Immediates are 0x%x of the u32 field, for JMP and JMP32 alike.
    case("   0: (05) goto pc+3", JA, &[(0x05, 0, 0, 3, 0)]),
    case("   0: (05) goto pc-1", JA, &[(0x05, 0, 0, -1, 0)]),
    case("   0: (06) gotol pc+70000", JA32, &[(0x06, 0, 0, 0, 70000)]),
    case(
        "   0: (15) if r1 == 0x0 goto pc+2",
        JMP_K,
        &[(0x15, 1, 0, 2, 0)],
    ),
    case(
        "   0: (55) if r0 != 0xffffffff goto pc-3",
        JMP_K,
        &[(0x55, 0, 0, -3, -1)],
    ),
    case(
        "   0: (25) if r1 > 0x7 goto pc+1",
        JMP_K,
        &[(0x25, 1, 0, 1, 7)],
    ),
    case(
        "   0: (35) if r1 >= 0x7 goto pc+1",
        JMP_K,
        &[(0x35, 1, 0, 1, 7)],
    ),
    case(
        "   0: (45) if r1 & 0x1 goto pc+1",
        JMP_K,
        &[(0x45, 1, 0, 1, 1)],
    ),
    case(
        "   0: (65) if r1 s> 0x80000000 goto pc+1",
        JMP_K,
        &[(0x65, 1, 0, 1, i32::MIN)],
    ),
    case(
        "   0: (75) if r1 s>= 0x0 goto pc+1",
        JMP_K,
        &[(0x75, 1, 0, 1, 0)],
    ),
    case(
        "   0: (a5) if r1 < 0x10 goto pc+1",
        JMP_K,
        &[(0xa5, 1, 0, 1, 16)],
    ),
    case(
        "   0: (b5) if r1 <= 0x10 goto pc+1",
        JMP_K,
        &[(0xb5, 1, 0, 1, 16)],
    ),
    case(
        "   0: (c5) if r1 s< 0x0 goto pc+1",
        JMP_K,
        &[(0xc5, 1, 0, 1, 0)],
    ),
    case(
        "   0: (d5) if r1 s<= 0x0 goto pc+1",
        JMP_K,
        &[(0xd5, 1, 0, 1, 0)],
    ),
    case(
        "   0: (2d) if r1 > r2 goto pc+3",
        JMP_X,
        &[(0x2d, 1, 2, 3, 0)],
    ),
    case(
        "   0: (6d) if r1 s> r2 goto pc-4",
        JMP_X,
        &[(0x6d, 1, 2, -4, 0)],
    ),
    case(
        "   0: (5d) if r3 != r4 goto pc+0",
        JMP_X,
        &[(0x5d, 3, 4, 0, 0)],
    ),
    case(
        "   0: (26) if w1 > 0x5 goto pc+1",
        JMP_K,
        &[(0x26, 1, 0, 1, 5)],
    ),
    case(
        "   0: (a6) if w1 < 0x5 goto pc+1",
        JMP_K,
        &[(0xa6, 1, 0, 1, 5)],
    ),
    case(
        "   0: (66) if w1 s> 0xffffffff goto pc-2",
        JMP_K,
        &[(0x66, 1, 0, -2, -1)],
    ),
    case(
        "   0: (1e) if w1 == w2 goto pc+0",
        JMP_X,
        &[(0x1e, 1, 2, 0, 0)],
    ),
    case(
        "   0: (ce) if w1 s< w2 goto pc+5",
        JMP_X,
        &[(0xce, 1, 2, 5, 0)],
    ),
    // Calls: func_id_str names helpers; BPF_PSEUDO_CALL (src 1) prints pc%+d.
    case(
        "   0: (85) call bpf_map_lookup_elem#1",
        CALL,
        &[(0x85, 0, 0, 0, 1)],
    ),
    case(
        "   0: (85) call bpf_trace_printk#6",
        CALL,
        &[(0x85, 0, 0, 0, 6)],
    ),
    case("   0: (85) call pc+2", CALL_PC, &[(0x85, 0, 1, 0, 2)]),
    case("   0: (85) call pc-7", CALL_PC, &[(0x85, 0, 1, 0, -7)]),
    case("   0: (95) exit", EXIT, &[(0x95, 0, 0, 0, 0)]),
];

fn slots(fields: &[Slot]) -> Vec<Insn> {
    fields
        .iter()
        .map(|&(opcode, dst, src, off, imm)| Insn::new(opcode, dst, src, off, imm))
        .collect()
}

#[test]
fn every_xlated_line_assembles_to_its_bytes_and_prints_back() {
    for c in XLATED {
        let program =
            assemble(c.line).unwrap_or_else(|e| panic!("`{}` ({}): {e}", c.line, c.format));
        assert_eq!(program.insns, slots(c.slots), "`{}` ({})", c.line, c.format);
        let printed = disassemble(&program).unwrap();
        let expected = c.ours.unwrap_or(c.line.trim_start());
        assert_eq!(
            printed,
            format!("{expected}\n"),
            "`{}` ({})",
            c.line,
            c.format
        );
    }
}

#[test]
fn the_corpus_covers_every_format_string_it_names() {
    // A guard against a table that quietly stops checking a form.
    for format in [
        ALU_K,
        ALU_X,
        NEG,
        END,
        BSWAP,
        LDX,
        STX,
        ST,
        LOCK,
        FETCH,
        CMPXCHG,
        XCHG,
        LOAD_ACQ,
        STORE_REL,
        LD_IMM64,
        LD_MAP,
        LD_MAP_VALUE,
        LD_FUNC,
        LD_ABS,
        LD_IND,
        JA,
        JA32,
        JMP_K,
        JMP_X,
        CALL,
        CALL_PC,
        EXIT,
    ] {
        assert!(
            XLATED.iter().any(|c| c.format == format),
            "no line checks {format}"
        );
    }
}

// ---------------------------------------------------------------------------
// The defects of issue 9
// ---------------------------------------------------------------------------

fn error(text: &str) -> (usize, AsmErrorKind) {
    let e = assemble(text).expect_err(text);
    (e.line, e.kind)
}

#[test]
fn an_immediate_that_does_not_fit_a_mov_is_an_error_not_an_ld_imm64() {
    // Issue 9: this program used to assemble with `r0 = 99999999999` as a
    // two-slot ld_imm64, so the jump landed in its second slot.
    let program = "r1 = 1\nif r1 == 1 goto pc+1\nr0 = 99999999999\nr0 = 5\nexit\n";
    let (line, kind) = error(program);
    assert_eq!(line, 3);
    assert!(
        matches!(&kind, AsmErrorKind::BadNumber { token, .. } if token == "99999999999"),
        "{kind}"
    );
    // The same with bpftool's prefixes: (b7) is a one-slot mov.
    let prefixed = "0: (b7) r1 = 1\n1: (15) if r1 == 0x1 goto pc+1\n\
                    2: (b7) r0 = 99999999999\n3: (b7) r0 = 5\n4: (95) exit\n";
    assert_eq!(error(prefixed).0, 3);
    // `ll` asks for the 64-bit load.
    let wide = assemble("r0 = 99999999999 ll").unwrap();
    assert_eq!(
        wide.insns,
        slots(&[
            (0x18, 0, 0, 0, 99999999999u64 as u32 as i32),
            (0, 0, 0, 0, 23)
        ])
    );
}

#[test]
fn the_18_prefix_makes_an_ld_imm64_without_ll() {
    // disasm.c prints ld_imm64 as "(%02x) r%d = %s" with "0x%llx": no `ll`.
    let program = assemble("0: (18) r0 = 0x5\n2: (95) exit\n").unwrap();
    assert_eq!(
        program.insns,
        slots(&[(0x18, 0, 0, 0, 5), (0, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)])
    );
}

#[test]
fn a_prefix_that_contradicts_the_text_is_an_error_naming_the_line() {
    for (text, prefix, opcode) in [
        ("exit\n0: (b7) r0 = r1", 0xb7, 0xbf),
        ("exit\n1: (bf) r0 = 1", 0xbf, 0xb7),
        ("exit\n1: (b7) w0 = 1", 0xb7, 0xb4),
        ("exit\n1: (18) r0 = r1", 0x18, 0xbf),
        ("exit\n1: (b7) r0 = 5 ll", 0xb7, 0x18),
        ("exit\n1: (95) goto pc+1", 0x95, 0x05),
        ("exit\n1: (61) r0 = *(u16 *)(r1 +0)", 0x61, 0x69),
    ] {
        assert_eq!(
            error(text),
            (2, AsmErrorKind::OpcodePrefix { prefix, opcode }),
            "`{text}`"
        );
    }
}

#[test]
fn sixty_four_bit_immediates_must_survive_sign_extension() {
    // The kernel sign-extends the 32-bit imm of ALU64 ops and 64-bit stores
    // (RFC 9669 §4.1 / §5.2): 4294967295 would become 0xffffffffffffffff.
    // (Hexadecimal is read as the field's bits: see
    // `llvm_hex_immediates_are_field_bits_and_c_suffixes_are_skipped`.)
    for (text, token) in [
        ("r0 = 4294967295", "4294967295"),
        ("r0 = 0x100000000", "0x100000000"),
        ("r1 += 2147483648", "2147483648"),
        ("r1 &= 0xffffffff7fffffff", "0xffffffff7fffffff"),
        ("*(u64 *)(r10 -8) = 4294967295", "4294967295"),
        ("if r1 == 4294967295 goto pc+1", "4294967295"),
        ("if r1 s> 2147483648 goto pc+1", "2147483648"),
    ] {
        let (line, kind) = error(text);
        assert_eq!(line, 1);
        assert!(
            matches!(&kind, AsmErrorKind::BadNumber { token: t, .. } if t == token),
            "`{text}`: {kind}"
        );
    }
    // 32-bit operations keep 32 bits: any 32-bit pattern is the same value.
    for (text, slot) in [
        ("w0 = 4294967295", (0xb4, 0, 0, 0, -1)),
        ("w1 &= 0x80000000", (0x54, 1, 0, 0, i32::MIN)),
        ("if w1 == 4294967295 goto pc+1", (0x16, 1, 0, 1, -1)),
        ("*(u32 *)(r10 -4) = 4294967295", (0x62, 10, 0, -4, -1)),
        // A 64-bit jump's immediate as the kernel prints it: 0x%x of the
        // u32 field (it then compares with the sign-extended value).
        ("if r1 == 0xffffffff goto pc+1", (0x15, 1, 0, 1, -1)),
        ("if r1 == -1 goto pc+1", (0x15, 1, 0, 1, -1)),
        ("r0 = -2147483648", (0xb7, 0, 0, 0, i32::MIN)),
    ] {
        let program = assemble(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        assert_eq!(program.insns, slots(&[slot]), "`{text}`");
    }
}

#[test]
fn llvm_hex_immediates_are_field_bits_and_c_suffixes_are_skipped() {
    // BPF selftests' inline assembly, as the LLVM assembler encodes it: a
    // hexadecimal immediate of a 64-bit operation up to 0xffffffff is the
    // imm field's 32 bits (the machine then sign-extends them, RFC 9669
    // §4.1), a 64-bit hexadecimal value that sign-extension gives back is
    // that value, and C integer suffixes (`LL`, `ULL`, `u`) are skipped.
    // The kernel's own verifier selftests write `r0 = 0xffffffff`,
    // `r0 &= 0xFFFF1234`, `r0 = 0xffffffffffffff00` and
    // `r1 = 0xffffffff00000000LL ll` this way.
    for (text, slot) in [
        ("r0 = 0xffffffff", (0xb7, 0, 0, 0, -1)),
        ("r1 &= 0x80000000", (0x57, 1, 0, 0, i32::MIN)),
        ("r0 &= 0xFFFF1234", (0x57, 0, 0, 0, 0xffff1234u32 as i32)),
        ("r0 = 0xffffffffffffff00", (0xb7, 0, 0, 0, -256)),
        ("*(u64 *)(r10 -8) = 0xffffffff", (0x7a, 10, 0, -8, -1)),
        ("r1 += 16ULL", (0x07, 1, 0, 0, 16)),
        ("w1 = 0xffffffffu", (0xb4, 1, 0, 0, -1)),
    ] {
        let program = assemble(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        assert_eq!(program.insns, slots(&[slot]), "`{text}`");
    }
    let wide = assemble("r1 = 0xffffffff00000000LL ll").unwrap();
    assert_eq!(
        wide.insns,
        slots(&[(0x18, 1, 0, 0, 0), (0, 0, 0, 0, -1)]),
        "ld_imm64 with a C suffix"
    );
    // A suffix is only a suffix: `0xffLx` is not a number.
    assert!(matches!(
        error("r1 = 0xffLx").1,
        AsmErrorKind::BadNumber { .. } | AsmErrorKind::Syntax { .. }
    ));
}

#[test]
fn inline_asm_percent_escape_reads_as_one_percent() {
    // In a C inline-asm template `%%` stands for `%` (selftests write
    // `w2 %%= w1;` for BPF_MOD): the kernel assembler reads it as `%`.
    for (text, slot) in [
        ("w2 %%= w1", (0x9c, 2, 1, 0, 0)),
        ("r1 s%%= r2", (0x9f, 1, 2, 1, 0)),
        ("r0 %%= 3", (0x97, 0, 0, 0, 3)),
    ] {
        let program = assemble(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        assert_eq!(program.insns, slots(&[slot]), "`{text}`");
    }
}

// ---------------------------------------------------------------------------
// Whole listings
// ---------------------------------------------------------------------------

/// Reads a `.hex` file: one slot per line as 8 hex bytes, `#` comments.
fn read_hex(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut bytes = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let slot: Vec<u8> = line
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        assert_eq!(slot.len(), 8, "{}: `{line}`", path.display());
        bytes.extend(slot);
    }
    bytes
}

/// bpftool's text for our printed line: `% 4d: ` index padding, no ` ll`,
/// `map[id:N]` for `map[fd:N]` (see the module comment of
/// `asm/kernel/mod.rs` for why ours differs).
fn as_bpftool_prints(ours: &str) -> String {
    let (index, rest) = ours.split_once(": ").unwrap();
    let rest = rest.strip_suffix(" ll").unwrap_or(rest);
    let rest = rest.replace("map[fd:", "map[id:");
    format!("{:>4}: {rest}", index)
}

#[test]
fn xlated_listings_assemble_to_their_bytes_and_print_back() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bpftool_xlated");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let listing = std::fs::read_to_string(&path).unwrap();
        let bytes = read_hex(&path.with_extension("hex"));
        let program = assemble(&listing).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(program.to_bytes(), bytes, "{}", path.display());

        // Our listing, in bpftool's spelling, is the instruction lines of
        // the file (BTF prototype and `; source` lines aside).
        let ours = disassemble(&Program::from_bytes(&bytes).unwrap()).unwrap();
        let ours: Vec<String> = ours.lines().map(as_bpftool_prints).collect();
        let theirs: Vec<&str> = listing
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                t.starts_with(|c: char| c.is_ascii_digit())
            })
            .collect();
        assert_eq!(ours, theirs, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} listings in {}", dir.display());
}

// ---------------------------------------------------------------------------
// `bpftool prog dump xlated ... opcodes` and JIT-era call symbols
// ---------------------------------------------------------------------------

#[test]
fn opcodes_lines_are_checked_against_the_instruction_they_follow() {
    // dump_xlated_plain with `opcodes`: after each instruction, 7 spaces
    // and fprint_hex of its 8 bytes (16 for ld_imm64, with one more space).
    let listing = "   0: (b7) r0 = 1\n       b7 00 00 00 01 00 00 00\n\
                   \x20  1: (18) r1 = 0x1122334455667788\n\
                   \x20      18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11\n\
                   \x20  3: (95) exit\n       95 00 00 00 00 00 00 00\n";
    let program = assemble(listing).unwrap();
    assert_eq!(
        program.insns,
        slots(&[
            (0xb7, 0, 0, 0, 1),
            (0x18, 1, 0, 0, 0x5566_7788),
            (0, 0, 0, 0, 0x1122_3344),
            (0x95, 0, 0, 0, 0),
        ])
    );
    // A kfunc call prints like a helper call; its bytes say src 2
    // (BPF_PSEUDO_KFUNC_CALL), which the text cannot: an error, not a
    // helper call in its place.
    let kfunc = "   0: (85) call bpf_obj_new_impl#73856\n       85 20 00 00 80 20 01 00\n";
    let e = assemble(kfunc).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(matches!(&e.kind, AsmErrorKind::ListedBytes { .. }), "{e}");
    // Bytes with no instruction before them.
    assert_eq!(assemble("b7 00 00 00 01 00 00 00\n").unwrap_err().line, 1);
}

#[test]
fn call_pc_with_bpftool_symbol_suffix() {
    // print_call_pcrel for a JITed program: "%+d#%s" (or "%+d#0x%lx").
    for text in [
        "call pc+2#bpf_prog_3b185187f1855c4c_F",
        "call pc+2#0xffffffffc0123456",
    ] {
        let program = assemble(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        assert_eq!(program.insns, slots(&[(0x85, 0, 1, 0, 2)]), "`{text}`");
    }
}
