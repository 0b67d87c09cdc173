//! Printing instructions in the kernel's syntax (`kernel/bpf/disasm.c`,
//! `print_bpf_insn`, as `bpftool prog dump xlated` shows it).
//!
//! Where the kernel's text would not identify the instruction (map and BTF
//! forms of `ld_imm64`, the `off` of a kfunc call, a second `ld_imm64`
//! immediate the kernel ignores), the text gains a form the parser reads
//! back, so that printing and parsing again gives the same bytes.

use crate::decode::Instruction;
use crate::helpers;
use crate::opcode::{Class, Operation, Size, Source};

/// The prefix of a register operand: `w` for 32-bit ALU/JMP32 operands, `r` otherwise.
fn reg_prefix(class: Class) -> char {
    if class.is_32bit() {
        'w'
    } else {
        'r'
    }
}

/// The compound-assignment operator of a binary ALU operation.
pub(super) fn alu_operator(op: Operation) -> Option<&'static str> {
    Some(match op {
        Operation::Add => "+=",
        Operation::Sub => "-=",
        Operation::Mul => "*=",
        Operation::Div => "/=",
        Operation::SDiv => "s/=",
        Operation::Or => "|=",
        Operation::And => "&=",
        Operation::Lsh => "<<=",
        Operation::Rsh => ">>=",
        Operation::Mod => "%=",
        Operation::SMod => "s%=",
        Operation::Xor => "^=",
        Operation::Mov => "=",
        Operation::Arsh => "s>>=",
        _ => return None,
    })
}

/// The comparison operator of a conditional jump.
pub(super) fn jump_operator(op: Operation) -> Option<&'static str> {
    Some(match op {
        Operation::Jeq => "==",
        Operation::Jgt => ">",
        Operation::Jge => ">=",
        Operation::Jset => "&",
        Operation::Jne => "!=",
        Operation::Jsgt => "s>",
        Operation::Jsge => "s>=",
        Operation::Jlt => "<",
        Operation::Jle => "<=",
        Operation::Jslt => "s<",
        Operation::Jsle => "s<=",
        _ => return None,
    })
}

/// The operator of a non-fetching atomic (`lock *(u64 *)(r10 -8) += r1`).
pub(super) fn atomic_operator(op: Operation) -> Option<&'static str> {
    Some(match op {
        Operation::AtomicAdd => "+=",
        Operation::AtomicOr => "|=",
        Operation::AtomicAnd => "&=",
        Operation::AtomicXor => "^=",
        _ => return None,
    })
}

/// The function name of a fetching atomic, without the `atomic[64]_` prefix.
pub(super) fn atomic_function(op: Operation) -> Option<&'static str> {
    Some(match op {
        Operation::AtomicFetchAdd => "fetch_add",
        Operation::AtomicFetchOr => "fetch_or",
        Operation::AtomicFetchAnd => "fetch_and",
        Operation::AtomicFetchXor => "fetch_xor",
        Operation::AtomicXchg => "xchg",
        Operation::AtomicCmpxchg => "cmpxchg",
        _ => return None,
    })
}

/// `u8`..`u64` for a memory row (never panics on a row without a size).
fn unsigned_type(size: Option<Size>) -> &'static str {
    size.map_or("u?", Size::c_unsigned)
}

/// `s8`..`s32` for a sign-extending row.
fn signed_type(size: Option<Size>) -> &'static str {
    match size {
        Some(Size::B) => "s8",
        Some(Size::H) => "s16",
        Some(Size::W) => "s32",
        Some(Size::DW) => "s64",
        None => "s?",
    }
}

fn bits(size: Option<Size>) -> u32 {
    size.map_or(0, Size::bits)
}

/// `(rN +off)` with the offset always signed, as the kernel's `%+d`.
fn address(reg: u8, off: i16) -> String {
    format!("(r{reg} {off:+})")
}

/// The ` next_imm:N` suffix of an `ld_imm64` whose second immediate the
/// kernel's text would not show.
fn next_imm_suffix(ins: &Instruction) -> String {
    if ins.next_imm == 0 {
        String::new()
    } else {
        format!(" next_imm:{}", ins.next_imm)
    }
}

/// The instruction's text, without the index and opcode prefix.
pub fn instruction(ins: &Instruction) -> String {
    let row = ins.row;
    let (d, s, off, imm) = (ins.dst, ins.src, ins.off, ins.imm);
    let w = reg_prefix(row.class);
    let size = row.size;
    let wide = if size == Some(Size::DW) { "64" } else { "" };
    match row.operation {
        Operation::Neg => format!("{w}{d} = -{w}{d}"),
        Operation::Le => format!("r{d} = le{} r{d}", bits(size)),
        Operation::Be => format!("r{d} = be{} r{d}", bits(size)),
        Operation::Bswap => format!("r{d} = bswap{} r{d}", bits(size)),
        Operation::MovSx => format!("{w}{d} = (s{}){w}{s}", bits(size)),
        Operation::Ja if row.class == Class::Jmp32 => format!("gotol pc{imm:+}"),
        Operation::Ja => format!("goto pc{off:+}"),
        Operation::Call => match helpers::helper_name(imm) {
            Some(name) => format!("call {name}#{imm}"),
            None => format!("call unknown#{imm}"),
        },
        Operation::CallLocal => format!("call pc{imm:+}"),
        Operation::CallKfunc if off == 0 => format!("call kernel-function#{imm}"),
        Operation::CallKfunc => format!("call kernel-function#{imm} off:{off}"),
        Operation::Callx => format!("callx r{d}"),
        Operation::Exit => "exit".to_string(),
        Operation::LdImm64 => format!("r{d} = {:#x} ll", ins.imm64()),
        Operation::LdMapFd => format!("r{d} = map[fd:{}]{}", imm as u32, next_imm_suffix(ins)),
        Operation::LdMapValue => {
            format!("r{d} = map[fd:{}][0]+{}", imm as u32, ins.next_imm as u32)
        }
        Operation::LdBtfId => format!("r{d} = btf[id:{}]{}", imm as u32, next_imm_suffix(ins)),
        Operation::LdFunc => format!("r{d} = subprog[{imm:+}]{}", next_imm_suffix(ins)),
        Operation::LdMapIdx => {
            format!("r{d} = map[idx:{}]{}", imm as u32, next_imm_suffix(ins))
        }
        Operation::LdMapIdxValue => {
            format!("r{d} = map[idx:{}][0]+{}", imm as u32, ins.next_imm as u32)
        }
        Operation::LdAbs => format!("r0 = *({} *)skb[{imm}]", unsigned_type(size)),
        Operation::LdInd => format!("r0 = *({} *)skb[r{s} + {imm}]", unsigned_type(size)),
        Operation::Load => format!("r{d} = *({} *){}", unsigned_type(size), address(s, off)),
        Operation::LoadSx => format!("r{d} = *({} *){}", signed_type(size), address(s, off)),
        Operation::StoreImm => format!("*({} *){} = {imm}", unsigned_type(size), address(d, off)),
        Operation::StoreReg => format!("*({} *){} = r{s}", unsigned_type(size), address(d, off)),
        Operation::AtomicCmpxchg => format!(
            "r0 = atomic{wide}_cmpxchg(({} *){}, r0, r{s})",
            unsigned_type(size),
            address(d, off)
        ),
        Operation::LoadAcquire => format!(
            "r{d} = load_acquire(({} *){})",
            unsigned_type(size),
            address(s, off)
        ),
        Operation::StoreRelease => format!(
            "store_release(({} *){}, r{s})",
            unsigned_type(size),
            address(d, off)
        ),
        Operation::AtomicFetchAdd
        | Operation::AtomicFetchOr
        | Operation::AtomicFetchAnd
        | Operation::AtomicFetchXor
        | Operation::AtomicXchg => format!(
            "r{s} = atomic{wide}_{}(({} *){}, r{s})",
            atomic_function(row.operation).unwrap_or("?"),
            unsigned_type(size),
            address(d, off)
        ),
        Operation::AtomicAdd
        | Operation::AtomicOr
        | Operation::AtomicAnd
        | Operation::AtomicXor => {
            format!(
                "lock *({} *){} {} r{s}",
                unsigned_type(size),
                address(d, off),
                atomic_operator(row.operation).unwrap_or("?")
            )
        }
        Operation::Jeq
        | Operation::Jgt
        | Operation::Jge
        | Operation::Jset
        | Operation::Jne
        | Operation::Jsgt
        | Operation::Jsge
        | Operation::Jlt
        | Operation::Jle
        | Operation::Jslt
        | Operation::Jsle => {
            let operator = jump_operator(row.operation).unwrap_or("?");
            if row.source == Source::Reg {
                format!("if {w}{d} {operator} {w}{s} goto pc{off:+}")
            } else {
                format!("if {w}{d} {operator} {:#x} goto pc{off:+}", imm as u32)
            }
        }
        Operation::Add
        | Operation::Sub
        | Operation::Mul
        | Operation::Div
        | Operation::SDiv
        | Operation::Or
        | Operation::And
        | Operation::Lsh
        | Operation::Rsh
        | Operation::Mod
        | Operation::SMod
        | Operation::Xor
        | Operation::Mov
        | Operation::Arsh => {
            let operator = alu_operator(row.operation).unwrap_or("?");
            if row.source == Source::Reg {
                format!("{w}{d} {operator} {w}{s}")
            } else {
                format!("{w}{d} {operator} {imm}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode::{lookup, OpcodeRow};

    fn row(opcode: u8, src: u8, off: i16, imm: i32) -> &'static OpcodeRow {
        lookup(opcode, src, off, imm).unwrap()
    }

    #[test]
    fn immediates_print_as_the_kernel_prints_them() {
        // disasm.c: ALU and store immediates are %d, jump immediates 0x%x of
        // the u32, offsets %+d.
        let alu = Instruction::new(row(0x07, 0, 0, 0), 1, 0, 0, -1);
        assert_eq!(instruction(&alu), "r1 += -1");
        let jump = Instruction::new(row(0x15, 0, 0, 0), 1, 0, -1, -1);
        assert_eq!(instruction(&jump), "if r1 == 0xffffffff goto pc-1");
        let jump32 = Instruction::new(row(0x16, 0, 0, 0), 1, 0, 0, 0);
        assert_eq!(instruction(&jump32), "if w1 == 0x0 goto pc+0");
        let store = Instruction::new(row(0x7a, 0, 0, 0), 10, 0, 0, i32::MIN);
        assert_eq!(instruction(&store), "*(u64 *)(r10 +0) = -2147483648");
    }

    #[test]
    fn byte_swaps_always_name_r_registers() {
        // disasm.c print_bpf_end_insn uses r%d even for the ALU32 class.
        let le = Instruction::new(row(0xd4, 0, 0, 16), 3, 0, 0, 16);
        assert_eq!(instruction(&le), "r3 = le16 r3");
    }

    #[test]
    fn ld_imm64_forms() {
        let mut value = Instruction::wide(row(0x18, 0, 0, 0), 1, u64::MAX);
        assert_eq!(instruction(&value), "r1 = 0xffffffffffffffff ll");
        value.next_imm = 0;
        assert_eq!(instruction(&value), "r1 = 0xffffffff ll");
        let mut map_value = Instruction::new(row(0x18, 2, 0, 0), 1, 2, 0, -1);
        map_value.next_imm = -1;
        assert_eq!(
            instruction(&map_value),
            "r1 = map[fd:4294967295][0]+4294967295"
        );
        let mut func = Instruction::new(row(0x18, 4, 0, 0), 1, 4, 0, 3);
        func.next_imm = 9;
        assert_eq!(instruction(&func), "r1 = subprog[+3] next_imm:9");
    }

    #[test]
    fn unknown_helpers_print_as_unknown() {
        let call = Instruction::new(row(0x85, 0, 0, 0), 0, 0, 0, -5);
        assert_eq!(instruction(&call), "call unknown#-5");
    }
}
