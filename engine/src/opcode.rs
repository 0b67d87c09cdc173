//! The one opcode table.
//!
//! Every instruction the engine knows is one [`OpcodeRow`] in [`OPCODES`]:
//! RFC 9669 in full plus the kernel's additions (load-acquire,
//! store-release, every `ld_imm64` source kind). The decoder, encoder, both
//! assemblers and disassemblers, the interpreter and (later) the verifier,
//! JIT and generators read this table; adding an opcode is adding a row.
//!
//! Some opcode bytes carry several instructions told apart by another field:
//! `off` for DIV/SDIV, MOD/SMOD and MOV/MOVSX, `imm` for byte swaps and
//! atomics, `src` for `ld_imm64` and `call`. That field is the row's
//! [`Selector`].

use std::sync::OnceLock;

/// Instruction class: the low three bits of the opcode (RFC 9669 §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// `BPF_LD` (0x00): `ld_imm64` and legacy packet loads.
    Ld,
    /// `BPF_LDX` (0x01): loads into a register.
    Ldx,
    /// `BPF_ST` (0x02): stores of an immediate.
    St,
    /// `BPF_STX` (0x03): stores of a register, and atomics.
    Stx,
    /// `BPF_ALU` (0x04): 32-bit arithmetic, zero-extended into 64 bits.
    Alu,
    /// `BPF_JMP` (0x05): 64-bit jumps, calls, exit.
    Jmp,
    /// `BPF_JMP32` (0x06): jumps comparing the low 32 bits.
    Jmp32,
    /// `BPF_ALU64` (0x07): 64-bit arithmetic.
    Alu64,
}

impl Class {
    /// The class bits as they appear in the opcode.
    pub const fn bits(self) -> u8 {
        match self {
            Class::Ld => 0,
            Class::Ldx => 1,
            Class::St => 2,
            Class::Stx => 3,
            Class::Alu => 4,
            Class::Jmp => 5,
            Class::Jmp32 => 6,
            Class::Alu64 => 7,
        }
    }

    /// True for the classes whose arithmetic or comparison is 32 bits wide.
    pub const fn is_32bit(self) -> bool {
        matches!(self, Class::Alu | Class::Jmp32)
    }
}

/// The operand source bit of ALU and JMP opcodes (`BPF_K` = 0, `BPF_X` = 8).
///
/// For `BPF_END` the bit picks the byte order instead (`le` = K, `be` = X);
/// memory-class rows have no source bit and use [`Source::None`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// `BPF_K`: the operand is the immediate.
    Imm,
    /// `BPF_X`: the operand is the `src` register (or `dst` for `callx`).
    Reg,
    /// Not an ALU or JMP opcode.
    None,
}

/// A memory access width, also used for sign-extension and swap widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl Size {
    /// The width in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The width in bits.
    pub const fn bits(self) -> u32 {
        (self.bytes() * 8) as u32
    }

    /// The C type name the kernel's disassembler prints (`u8` .. `u64`).
    pub const fn c_unsigned(self) -> &'static str {
        match self {
            Size::B => "u8",
            Size::H => "u16",
            Size::W => "u32",
            Size::DW => "u64",
        }
    }
}

/// RFC 9669 §2.4 conformance groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// 32-bit base instructions.
    Base32,
    /// 64-bit base instructions (includes base32).
    Base64,
    /// 32-bit atomics.
    Atomic32,
    /// 64-bit atomics (includes atomic32).
    Atomic64,
    /// 32-bit multiplication and division.
    Divmul32,
    /// 64-bit multiplication and division (includes divmul32).
    Divmul64,
    /// Legacy packet access (`LD_ABS`, `LD_IND`).
    Packet,
    /// Call through a register.
    Callx,
}

impl Group {
    /// The group's name as RFC 9669 and bpf_conformance spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Group::Base32 => "base32",
            Group::Base64 => "base64",
            Group::Atomic32 => "atomic32",
            Group::Atomic64 => "atomic64",
            Group::Divmul32 => "divmul32",
            Group::Divmul64 => "divmul64",
            Group::Packet => "packet",
            Group::Callx => "callx",
        }
    }
}

/// What an instruction does, independent of its encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `dst += src`.
    Add,
    /// `dst -= src`.
    Sub,
    /// `dst *= src`.
    Mul,
    /// Unsigned `dst /= src`; division by zero gives 0.
    Div,
    /// Signed, truncating `dst s/= src` (off = 1).
    SDiv,
    /// `dst |= src`.
    Or,
    /// `dst &= src`.
    And,
    /// `dst <<= src` (amount masked to the width).
    Lsh,
    /// Logical `dst >>= src` (amount masked to the width).
    Rsh,
    /// `dst = -dst` (K form only).
    Neg,
    /// Unsigned `dst %= src`; modulo by zero leaves dst (truncated to 32 bits for ALU).
    Mod,
    /// Signed, truncating `dst s%= src` (off = 1).
    SMod,
    /// `dst ^= src`.
    Xor,
    /// `dst = src`.
    Mov,
    /// `dst = (sN) src`: sign-extending move, N from the row's size (off = 8/16/32).
    MovSx,
    /// Arithmetic `dst s>>= src`.
    Arsh,
    /// `dst = htole(dst)`: truncation to the width on little-endian hosts.
    Le,
    /// `dst = htobe(dst)`: byte swap of the low width bytes.
    Be,
    /// `dst = bswap(dst)`: unconditional byte swap (ALU64 END).
    Bswap,
    /// Unconditional jump (`off` for JMP, `imm` for JMP32 `gotol`).
    Ja,
    /// Jump if equal.
    Jeq,
    /// Jump if unsigned greater.
    Jgt,
    /// Jump if unsigned greater or equal.
    Jge,
    /// Jump if `dst & src` is nonzero.
    Jset,
    /// Jump if not equal.
    Jne,
    /// Jump if signed greater.
    Jsgt,
    /// Jump if signed greater or equal.
    Jsge,
    /// Jump if unsigned less.
    Jlt,
    /// Jump if unsigned less or equal.
    Jle,
    /// Jump if signed less.
    Jslt,
    /// Jump if signed less or equal.
    Jsle,
    /// Call a helper by static id (`imm`).
    Call,
    /// Call a local subprogram at `pc + imm + 1`.
    CallLocal,
    /// Call a kernel function by BTF id (`imm`; `off` is a BTF fd index).
    CallKfunc,
    /// Call through the `dst` register.
    Callx,
    /// Return from the current frame (from the program when in frame 0).
    Exit,
    /// `dst = imm64` (src 0).
    LdImm64,
    /// `dst = map pointer` by fd (src 1).
    LdMapFd,
    /// `dst = map value address` by fd plus offset in the second imm (src 2).
    LdMapValue,
    /// `dst = address of a kernel variable` by BTF id (src 3).
    LdBtfId,
    /// `dst = address of a subprogram` at `pc + imm + 1` (src 4).
    LdFunc,
    /// `dst = map pointer` by index into `fd_array` (src 5).
    LdMapIdx,
    /// `dst = map value address` by `fd_array` index plus offset (src 6).
    LdMapIdxValue,
    /// Legacy `r0 = ntoh(*(size *)(packet + imm))`.
    LdAbs,
    /// Legacy `r0 = ntoh(*(size *)(packet + src + imm))`.
    LdInd,
    /// `dst = *(size *)(src + off)`, zero-extended.
    Load,
    /// `dst = *(sN *)(src + off)`, sign-extended.
    LoadSx,
    /// `*(size *)(dst + off) = imm`.
    StoreImm,
    /// `*(size *)(dst + off) = src`.
    StoreReg,
    /// `lock *(size *)(dst + off) += src`.
    AtomicAdd,
    /// `lock *(size *)(dst + off) |= src`.
    AtomicOr,
    /// `lock *(size *)(dst + off) &= src`.
    AtomicAnd,
    /// `lock *(size *)(dst + off) ^= src`.
    AtomicXor,
    /// Atomic add; the old value goes to `src`.
    AtomicFetchAdd,
    /// Atomic or; the old value goes to `src`.
    AtomicFetchOr,
    /// Atomic and; the old value goes to `src`.
    AtomicFetchAnd,
    /// Atomic xor; the old value goes to `src`.
    AtomicFetchXor,
    /// Atomic exchange; the old value goes to `src`.
    AtomicXchg,
    /// Compare with r0 and exchange with `src`; the old value goes to r0.
    AtomicCmpxchg,
    /// `dst = load_acquire((size *)(src + off))`.
    LoadAcquire,
    /// `store_release((size *)(dst + off), src)`.
    StoreRelease,
}

/// The extra field whose value tells apart rows that share an opcode byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Selector {
    /// The opcode alone identifies the row.
    None,
    /// The `off` field must equal this value.
    Off(i16),
    /// The `imm` field must equal this value.
    Imm(i32),
    /// The `src` field must equal this value.
    Src(u8),
}

/// Which instruction fields are reserved and must be zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reserved {
    /// `dst` must be zero.
    pub dst: bool,
    /// `src` must be zero.
    pub src: bool,
    /// `off` must be zero.
    pub off: bool,
    /// `imm` must be zero.
    pub imm: bool,
}

/// One instruction of the ISA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpcodeRow {
    /// The opcode byte.
    pub opcode: u8,
    /// The field value that selects this row among rows with the same opcode.
    pub selector: Selector,
    /// The mnemonic in the bpf_conformance assembly dialect.
    pub mnemonic: &'static str,
    /// The instruction class.
    pub class: Class,
    /// What the instruction does.
    pub operation: Operation,
    /// The source bit of ALU/JMP opcodes.
    pub source: Source,
    /// Memory width, sign-extension width (MOVSX) or swap width (END).
    pub size: Option<Size>,
    /// Fields that must be zero.
    pub reserved: Reserved,
    /// The RFC 9669 conformance group.
    pub group: Group,
}

impl OpcodeRow {
    /// Number of 8-byte slots the instruction occupies (2 for `ld_imm64`).
    pub const fn slots(&self) -> usize {
        if self.opcode == LD_IMM64_OPCODE {
            2
        } else {
            1
        }
    }

    /// True when the instruction reads or writes memory through a register.
    pub const fn is_memory_access(&self) -> bool {
        matches!(self.class, Class::Ldx | Class::St | Class::Stx)
    }

    /// True for conditional and unconditional jumps (not calls or exit).
    pub fn is_jump(&self) -> bool {
        matches!(self.class, Class::Jmp | Class::Jmp32)
            && !matches!(
                self.operation,
                Operation::Call
                    | Operation::CallLocal
                    | Operation::CallKfunc
                    | Operation::Callx
                    | Operation::Exit
            )
    }

    /// True for conditional jumps.
    pub fn is_conditional_jump(&self) -> bool {
        self.is_jump() && self.operation != Operation::Ja
    }

    /// True for the atomic read-modify-write rows (RFC 9669 §5.3), not
    /// load-acquire/store-release.
    pub const fn is_atomic_rmw(&self) -> bool {
        matches!(
            self.operation,
            Operation::AtomicAdd
                | Operation::AtomicOr
                | Operation::AtomicAnd
                | Operation::AtomicXor
                | Operation::AtomicFetchAdd
                | Operation::AtomicFetchOr
                | Operation::AtomicFetchAnd
                | Operation::AtomicFetchXor
                | Operation::AtomicXchg
                | Operation::AtomicCmpxchg
        )
    }

    /// A short unique name for the row: the mnemonic plus `_imm`/`_reg` for
    /// ALU and JMP rows whose mnemonic covers both source forms.
    pub fn name(&self) -> &'static str {
        static NAMES: OnceLock<Vec<String>> = OnceLock::new();
        let names = NAMES.get_or_init(|| OPCODES.iter().map(OpcodeRow::spelled_name).collect());
        let size = std::mem::size_of::<OpcodeRow>();
        let offset = (self as *const OpcodeRow as usize).wrapping_sub(OPCODES.as_ptr() as usize);
        let index = if offset % size == 0 && offset / size < OPCODES.len() {
            offset / size
        } else {
            // A copy of a row, not the table's own: find the table's.
            match OPCODES.iter().position(|r| r == self) {
                Some(i) => i,
                None => return Box::leak(self.spelled_name().into_boxed_str()),
            }
        };
        &names[index]
    }

    /// [`Self::name`], spelled out (the table caches it).
    fn spelled_name(&self) -> String {
        let two_forms = matches!(
            self.class,
            Class::Alu | Class::Alu64 | Class::Jmp | Class::Jmp32
        ) && !matches!(
            self.operation,
            Operation::Le | Operation::Be | Operation::Bswap | Operation::Neg | Operation::MovSx
        ) && self.is_two_form_opcode();
        match (two_forms, self.source) {
            (true, Source::Imm) => format!("{}_imm", self.mnemonic.replace(' ', "_")),
            (true, Source::Reg) => format!("{}_reg", self.mnemonic.replace(' ', "_")),
            _ => self.mnemonic.replace(' ', "_"),
        }
    }

    fn is_two_form_opcode(&self) -> bool {
        let other = self.opcode ^ 0x08;
        OPCODES
            .iter()
            .any(|r| r.opcode == other && r.mnemonic == self.mnemonic)
    }

    /// The field values this row fixes, applied to an instruction's fields.
    /// Used by encoders so that the selector is always set consistently.
    pub const fn apply_selector(&self, src: u8, off: i16, imm: i32) -> (u8, i16, i32) {
        match self.selector {
            Selector::None => (src, off, imm),
            Selector::Off(v) => (src, v, imm),
            Selector::Imm(v) => (src, off, v),
            Selector::Src(v) => (v, off, imm),
        }
    }

    /// True when `insn`'s selector field matches this row.
    pub const fn selects(&self, src: u8, off: i16, imm: i32) -> bool {
        match self.selector {
            Selector::None => true,
            Selector::Off(v) => off == v,
            Selector::Imm(v) => imm == v,
            Selector::Src(v) => src == v,
        }
    }
}

/// The opcode byte of `ld_imm64` (`BPF_LD | BPF_IMM | BPF_DW`).
pub const LD_IMM64_OPCODE: u8 = 0x18;

#[allow(clippy::too_many_arguments)] // one argument per table column
const fn row(
    opcode: u8,
    selector: Selector,
    mnemonic: &'static str,
    class: Class,
    operation: Operation,
    source: Source,
    size: Option<Size>,
    reserved: Reserved,
    group: Group,
) -> OpcodeRow {
    OpcodeRow {
        opcode,
        selector,
        mnemonic,
        class,
        operation,
        source,
        size,
        reserved,
        group,
    }
}

const fn res(dst: bool, src: bool, off: bool, imm: bool) -> Reserved {
    Reserved { dst, src, off, imm }
}

const RES_NONE: Reserved = res(false, false, false, false);
const RES_SRC: Reserved = res(false, true, false, false);
const RES_IMM: Reserved = res(false, false, false, true);
const RES_OFF: Reserved = res(false, false, true, false);
const RES_DST: Reserved = res(true, false, false, false);
const RES_SRC_OFF: Reserved = res(false, true, true, false);
const RES_OFF_IMM: Reserved = res(false, false, true, true);
const RES_SRC_OFF_IMM: Reserved = res(false, true, true, true);
const RES_DST_OFF: Reserved = res(true, false, true, false);
const RES_DST_SRC_IMM: Reserved = res(true, true, false, true);
const RES_DST_SRC_OFF: Reserved = res(true, true, true, false);
const RES_ALL: Reserved = res(true, true, true, true);

/// Every instruction of the ISA, one row each.
#[rustfmt::skip]
pub static OPCODES: &[OpcodeRow] = &[
    // ALU (32-bit, class 0x04) and ALU64 (class 0x07): RFC 9669 §4.1
    row(0x04, Selector::None, "add32", Class::Alu, Operation::Add, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0x0c, Selector::None, "add32", Class::Alu, Operation::Add, Source::Reg, None, RES_OFF_IMM, Group::Base32),
    row(0x14, Selector::None, "sub32", Class::Alu, Operation::Sub, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0x1c, Selector::None, "sub32", Class::Alu, Operation::Sub, Source::Reg, None, RES_OFF_IMM, Group::Base32),
    row(0x24, Selector::None, "mul32", Class::Alu, Operation::Mul, Source::Imm, None, RES_SRC_OFF, Group::Divmul32),
    row(0x2c, Selector::None, "mul32", Class::Alu, Operation::Mul, Source::Reg, None, RES_OFF_IMM, Group::Divmul32),
    row(0x34, Selector::Off(0), "div32", Class::Alu, Operation::Div, Source::Imm, None, RES_SRC, Group::Divmul32),
    row(0x34, Selector::Off(1), "sdiv32", Class::Alu, Operation::SDiv, Source::Imm, None, RES_SRC, Group::Divmul32),
    row(0x3c, Selector::Off(0), "div32", Class::Alu, Operation::Div, Source::Reg, None, RES_IMM, Group::Divmul32),
    row(0x3c, Selector::Off(1), "sdiv32", Class::Alu, Operation::SDiv, Source::Reg, None, RES_IMM, Group::Divmul32),
    row(0x44, Selector::None, "or32", Class::Alu, Operation::Or, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0x4c, Selector::None, "or32", Class::Alu, Operation::Or, Source::Reg, None, RES_OFF_IMM, Group::Base32),
    row(0x54, Selector::None, "and32", Class::Alu, Operation::And, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0x5c, Selector::None, "and32", Class::Alu, Operation::And, Source::Reg, None, RES_OFF_IMM, Group::Base32),
    row(0x64, Selector::None, "lsh32", Class::Alu, Operation::Lsh, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0x6c, Selector::None, "lsh32", Class::Alu, Operation::Lsh, Source::Reg, None, RES_OFF_IMM, Group::Base32),
    row(0x74, Selector::None, "rsh32", Class::Alu, Operation::Rsh, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0x7c, Selector::None, "rsh32", Class::Alu, Operation::Rsh, Source::Reg, None, RES_OFF_IMM, Group::Base32),
    row(0x94, Selector::Off(0), "mod32", Class::Alu, Operation::Mod, Source::Imm, None, RES_SRC, Group::Divmul32),
    row(0x94, Selector::Off(1), "smod32", Class::Alu, Operation::SMod, Source::Imm, None, RES_SRC, Group::Divmul32),
    row(0x9c, Selector::Off(0), "mod32", Class::Alu, Operation::Mod, Source::Reg, None, RES_IMM, Group::Divmul32),
    row(0x9c, Selector::Off(1), "smod32", Class::Alu, Operation::SMod, Source::Reg, None, RES_IMM, Group::Divmul32),
    row(0xa4, Selector::None, "xor32", Class::Alu, Operation::Xor, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0xac, Selector::None, "xor32", Class::Alu, Operation::Xor, Source::Reg, None, RES_OFF_IMM, Group::Base32),
    row(0xb4, Selector::None, "mov32", Class::Alu, Operation::Mov, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0xbc, Selector::Off(0), "mov32", Class::Alu, Operation::Mov, Source::Reg, None, RES_IMM, Group::Base32),
    row(0xbc, Selector::Off(8), "movsx832", Class::Alu, Operation::MovSx, Source::Reg, Some(Size::B), RES_IMM, Group::Base32),
    row(0xbc, Selector::Off(16), "movsx1632", Class::Alu, Operation::MovSx, Source::Reg, Some(Size::H), RES_IMM, Group::Base32),
    row(0xc4, Selector::None, "arsh32", Class::Alu, Operation::Arsh, Source::Imm, None, RES_SRC_OFF, Group::Base32),
    row(0xcc, Selector::None, "arsh32", Class::Alu, Operation::Arsh, Source::Reg, None, RES_OFF_IMM, Group::Base32),
    row(0x84, Selector::None, "neg32", Class::Alu, Operation::Neg, Source::Imm, None, RES_SRC_OFF_IMM, Group::Base32),
    row(0x07, Selector::None, "add", Class::Alu64, Operation::Add, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0x0f, Selector::None, "add", Class::Alu64, Operation::Add, Source::Reg, None, RES_OFF_IMM, Group::Base64),
    row(0x17, Selector::None, "sub", Class::Alu64, Operation::Sub, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0x1f, Selector::None, "sub", Class::Alu64, Operation::Sub, Source::Reg, None, RES_OFF_IMM, Group::Base64),
    row(0x27, Selector::None, "mul", Class::Alu64, Operation::Mul, Source::Imm, None, RES_SRC_OFF, Group::Divmul64),
    row(0x2f, Selector::None, "mul", Class::Alu64, Operation::Mul, Source::Reg, None, RES_OFF_IMM, Group::Divmul64),
    row(0x37, Selector::Off(0), "div", Class::Alu64, Operation::Div, Source::Imm, None, RES_SRC, Group::Divmul64),
    row(0x37, Selector::Off(1), "sdiv", Class::Alu64, Operation::SDiv, Source::Imm, None, RES_SRC, Group::Divmul64),
    row(0x3f, Selector::Off(0), "div", Class::Alu64, Operation::Div, Source::Reg, None, RES_IMM, Group::Divmul64),
    row(0x3f, Selector::Off(1), "sdiv", Class::Alu64, Operation::SDiv, Source::Reg, None, RES_IMM, Group::Divmul64),
    row(0x47, Selector::None, "or", Class::Alu64, Operation::Or, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0x4f, Selector::None, "or", Class::Alu64, Operation::Or, Source::Reg, None, RES_OFF_IMM, Group::Base64),
    row(0x57, Selector::None, "and", Class::Alu64, Operation::And, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0x5f, Selector::None, "and", Class::Alu64, Operation::And, Source::Reg, None, RES_OFF_IMM, Group::Base64),
    row(0x67, Selector::None, "lsh", Class::Alu64, Operation::Lsh, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0x6f, Selector::None, "lsh", Class::Alu64, Operation::Lsh, Source::Reg, None, RES_OFF_IMM, Group::Base64),
    row(0x77, Selector::None, "rsh", Class::Alu64, Operation::Rsh, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0x7f, Selector::None, "rsh", Class::Alu64, Operation::Rsh, Source::Reg, None, RES_OFF_IMM, Group::Base64),
    row(0x97, Selector::Off(0), "mod", Class::Alu64, Operation::Mod, Source::Imm, None, RES_SRC, Group::Divmul64),
    row(0x97, Selector::Off(1), "smod", Class::Alu64, Operation::SMod, Source::Imm, None, RES_SRC, Group::Divmul64),
    row(0x9f, Selector::Off(0), "mod", Class::Alu64, Operation::Mod, Source::Reg, None, RES_IMM, Group::Divmul64),
    row(0x9f, Selector::Off(1), "smod", Class::Alu64, Operation::SMod, Source::Reg, None, RES_IMM, Group::Divmul64),
    row(0xa7, Selector::None, "xor", Class::Alu64, Operation::Xor, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0xaf, Selector::None, "xor", Class::Alu64, Operation::Xor, Source::Reg, None, RES_OFF_IMM, Group::Base64),
    row(0xb7, Selector::None, "mov", Class::Alu64, Operation::Mov, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0xbf, Selector::Off(0), "mov", Class::Alu64, Operation::Mov, Source::Reg, None, RES_IMM, Group::Base64),
    row(0xbf, Selector::Off(8), "movsx864", Class::Alu64, Operation::MovSx, Source::Reg, Some(Size::B), RES_IMM, Group::Base64),
    row(0xbf, Selector::Off(16), "movsx1664", Class::Alu64, Operation::MovSx, Source::Reg, Some(Size::H), RES_IMM, Group::Base64),
    row(0xbf, Selector::Off(32), "movsx3264", Class::Alu64, Operation::MovSx, Source::Reg, Some(Size::W), RES_IMM, Group::Base64),
    row(0xc7, Selector::None, "arsh", Class::Alu64, Operation::Arsh, Source::Imm, None, RES_SRC_OFF, Group::Base64),
    row(0xcf, Selector::None, "arsh", Class::Alu64, Operation::Arsh, Source::Reg, None, RES_OFF_IMM, Group::Base64),
    row(0x87, Selector::None, "neg", Class::Alu64, Operation::Neg, Source::Imm, None, RES_SRC_OFF_IMM, Group::Base64),
    // Byte swaps (RFC 9669 §4.2): imm selects the width
    row(0xd4, Selector::Imm(16), "le16", Class::Alu, Operation::Le, Source::Imm, Some(Size::H), RES_SRC_OFF, Group::Base32),
    row(0xd4, Selector::Imm(32), "le32", Class::Alu, Operation::Le, Source::Imm, Some(Size::W), RES_SRC_OFF, Group::Base32),
    row(0xd4, Selector::Imm(64), "le64", Class::Alu, Operation::Le, Source::Imm, Some(Size::DW), RES_SRC_OFF, Group::Base64),
    row(0xdc, Selector::Imm(16), "be16", Class::Alu, Operation::Be, Source::Reg, Some(Size::H), RES_SRC_OFF, Group::Base32),
    row(0xdc, Selector::Imm(32), "be32", Class::Alu, Operation::Be, Source::Reg, Some(Size::W), RES_SRC_OFF, Group::Base32),
    row(0xdc, Selector::Imm(64), "be64", Class::Alu, Operation::Be, Source::Reg, Some(Size::DW), RES_SRC_OFF, Group::Base64),
    row(0xd7, Selector::Imm(16), "bswap16", Class::Alu64, Operation::Bswap, Source::Imm, Some(Size::H), RES_SRC_OFF, Group::Base32),
    row(0xd7, Selector::Imm(32), "bswap32", Class::Alu64, Operation::Bswap, Source::Imm, Some(Size::W), RES_SRC_OFF, Group::Base32),
    row(0xd7, Selector::Imm(64), "bswap64", Class::Alu64, Operation::Bswap, Source::Imm, Some(Size::DW), RES_SRC_OFF, Group::Base64),
    // JMP (class 0x05) and JMP32 (class 0x06): RFC 9669 §4.3
    row(0x05, Selector::None, "ja", Class::Jmp, Operation::Ja, Source::Imm, None, RES_DST_SRC_IMM, Group::Base32),
    row(0x06, Selector::None, "ja32", Class::Jmp32, Operation::Ja, Source::Imm, None, RES_DST_SRC_OFF, Group::Base32),
    row(0x15, Selector::None, "jeq", Class::Jmp, Operation::Jeq, Source::Imm, None, RES_SRC, Group::Base64),
    row(0x1d, Selector::None, "jeq", Class::Jmp, Operation::Jeq, Source::Reg, None, RES_IMM, Group::Base64),
    row(0x25, Selector::None, "jgt", Class::Jmp, Operation::Jgt, Source::Imm, None, RES_SRC, Group::Base64),
    row(0x2d, Selector::None, "jgt", Class::Jmp, Operation::Jgt, Source::Reg, None, RES_IMM, Group::Base64),
    row(0x35, Selector::None, "jge", Class::Jmp, Operation::Jge, Source::Imm, None, RES_SRC, Group::Base64),
    row(0x3d, Selector::None, "jge", Class::Jmp, Operation::Jge, Source::Reg, None, RES_IMM, Group::Base64),
    row(0x45, Selector::None, "jset", Class::Jmp, Operation::Jset, Source::Imm, None, RES_SRC, Group::Base64),
    row(0x4d, Selector::None, "jset", Class::Jmp, Operation::Jset, Source::Reg, None, RES_IMM, Group::Base64),
    row(0x55, Selector::None, "jne", Class::Jmp, Operation::Jne, Source::Imm, None, RES_SRC, Group::Base64),
    row(0x5d, Selector::None, "jne", Class::Jmp, Operation::Jne, Source::Reg, None, RES_IMM, Group::Base64),
    row(0x65, Selector::None, "jsgt", Class::Jmp, Operation::Jsgt, Source::Imm, None, RES_SRC, Group::Base64),
    row(0x6d, Selector::None, "jsgt", Class::Jmp, Operation::Jsgt, Source::Reg, None, RES_IMM, Group::Base64),
    row(0x75, Selector::None, "jsge", Class::Jmp, Operation::Jsge, Source::Imm, None, RES_SRC, Group::Base64),
    row(0x7d, Selector::None, "jsge", Class::Jmp, Operation::Jsge, Source::Reg, None, RES_IMM, Group::Base64),
    row(0xa5, Selector::None, "jlt", Class::Jmp, Operation::Jlt, Source::Imm, None, RES_SRC, Group::Base64),
    row(0xad, Selector::None, "jlt", Class::Jmp, Operation::Jlt, Source::Reg, None, RES_IMM, Group::Base64),
    row(0xb5, Selector::None, "jle", Class::Jmp, Operation::Jle, Source::Imm, None, RES_SRC, Group::Base64),
    row(0xbd, Selector::None, "jle", Class::Jmp, Operation::Jle, Source::Reg, None, RES_IMM, Group::Base64),
    row(0xc5, Selector::None, "jslt", Class::Jmp, Operation::Jslt, Source::Imm, None, RES_SRC, Group::Base64),
    row(0xcd, Selector::None, "jslt", Class::Jmp, Operation::Jslt, Source::Reg, None, RES_IMM, Group::Base64),
    row(0xd5, Selector::None, "jsle", Class::Jmp, Operation::Jsle, Source::Imm, None, RES_SRC, Group::Base64),
    row(0xdd, Selector::None, "jsle", Class::Jmp, Operation::Jsle, Source::Reg, None, RES_IMM, Group::Base64),
    row(0x16, Selector::None, "jeq32", Class::Jmp32, Operation::Jeq, Source::Imm, None, RES_SRC, Group::Base32),
    row(0x1e, Selector::None, "jeq32", Class::Jmp32, Operation::Jeq, Source::Reg, None, RES_IMM, Group::Base32),
    row(0x26, Selector::None, "jgt32", Class::Jmp32, Operation::Jgt, Source::Imm, None, RES_SRC, Group::Base32),
    row(0x2e, Selector::None, "jgt32", Class::Jmp32, Operation::Jgt, Source::Reg, None, RES_IMM, Group::Base32),
    row(0x36, Selector::None, "jge32", Class::Jmp32, Operation::Jge, Source::Imm, None, RES_SRC, Group::Base32),
    row(0x3e, Selector::None, "jge32", Class::Jmp32, Operation::Jge, Source::Reg, None, RES_IMM, Group::Base32),
    row(0x46, Selector::None, "jset32", Class::Jmp32, Operation::Jset, Source::Imm, None, RES_SRC, Group::Base32),
    row(0x4e, Selector::None, "jset32", Class::Jmp32, Operation::Jset, Source::Reg, None, RES_IMM, Group::Base32),
    row(0x56, Selector::None, "jne32", Class::Jmp32, Operation::Jne, Source::Imm, None, RES_SRC, Group::Base32),
    row(0x5e, Selector::None, "jne32", Class::Jmp32, Operation::Jne, Source::Reg, None, RES_IMM, Group::Base32),
    row(0x66, Selector::None, "jsgt32", Class::Jmp32, Operation::Jsgt, Source::Imm, None, RES_SRC, Group::Base32),
    row(0x6e, Selector::None, "jsgt32", Class::Jmp32, Operation::Jsgt, Source::Reg, None, RES_IMM, Group::Base32),
    row(0x76, Selector::None, "jsge32", Class::Jmp32, Operation::Jsge, Source::Imm, None, RES_SRC, Group::Base32),
    row(0x7e, Selector::None, "jsge32", Class::Jmp32, Operation::Jsge, Source::Reg, None, RES_IMM, Group::Base32),
    row(0xa6, Selector::None, "jlt32", Class::Jmp32, Operation::Jlt, Source::Imm, None, RES_SRC, Group::Base32),
    row(0xae, Selector::None, "jlt32", Class::Jmp32, Operation::Jlt, Source::Reg, None, RES_IMM, Group::Base32),
    row(0xb6, Selector::None, "jle32", Class::Jmp32, Operation::Jle, Source::Imm, None, RES_SRC, Group::Base32),
    row(0xbe, Selector::None, "jle32", Class::Jmp32, Operation::Jle, Source::Reg, None, RES_IMM, Group::Base32),
    row(0xc6, Selector::None, "jslt32", Class::Jmp32, Operation::Jslt, Source::Imm, None, RES_SRC, Group::Base32),
    row(0xce, Selector::None, "jslt32", Class::Jmp32, Operation::Jslt, Source::Reg, None, RES_IMM, Group::Base32),
    row(0xd6, Selector::None, "jsle32", Class::Jmp32, Operation::Jsle, Source::Imm, None, RES_SRC, Group::Base32),
    row(0xde, Selector::None, "jsle32", Class::Jmp32, Operation::Jsle, Source::Reg, None, RES_IMM, Group::Base32),
    row(0x85, Selector::Src(0), "call", Class::Jmp, Operation::Call, Source::Imm, None, RES_DST_OFF, Group::Base32),
    row(0x85, Selector::Src(1), "call local", Class::Jmp, Operation::CallLocal, Source::Imm, None, RES_DST_OFF, Group::Base32),
    row(0x85, Selector::Src(2), "call runtime", Class::Jmp, Operation::CallKfunc, Source::Imm, None, RES_DST, Group::Base32),
    row(0x8d, Selector::None, "callx", Class::Jmp, Operation::Callx, Source::Reg, None, RES_SRC_OFF_IMM, Group::Callx),
    row(0x95, Selector::None, "exit", Class::Jmp, Operation::Exit, Source::Imm, None, RES_ALL, Group::Base32),
    // Loads and stores (RFC 9669 §5.1, §5.2)
    row(0x61, Selector::None, "ldxw", Class::Ldx, Operation::Load, Source::None, Some(Size::W), RES_IMM, Group::Base32),
    row(0x69, Selector::None, "ldxh", Class::Ldx, Operation::Load, Source::None, Some(Size::H), RES_IMM, Group::Base32),
    row(0x71, Selector::None, "ldxb", Class::Ldx, Operation::Load, Source::None, Some(Size::B), RES_IMM, Group::Base32),
    row(0x79, Selector::None, "ldxdw", Class::Ldx, Operation::Load, Source::None, Some(Size::DW), RES_IMM, Group::Base64),
    row(0x81, Selector::None, "ldxsw", Class::Ldx, Operation::LoadSx, Source::None, Some(Size::W), RES_IMM, Group::Base32),
    row(0x89, Selector::None, "ldxsh", Class::Ldx, Operation::LoadSx, Source::None, Some(Size::H), RES_IMM, Group::Base32),
    row(0x91, Selector::None, "ldxsb", Class::Ldx, Operation::LoadSx, Source::None, Some(Size::B), RES_IMM, Group::Base32),
    row(0x62, Selector::None, "stw", Class::St, Operation::StoreImm, Source::None, Some(Size::W), RES_SRC, Group::Base32),
    row(0x6a, Selector::None, "sth", Class::St, Operation::StoreImm, Source::None, Some(Size::H), RES_SRC, Group::Base32),
    row(0x72, Selector::None, "stb", Class::St, Operation::StoreImm, Source::None, Some(Size::B), RES_SRC, Group::Base32),
    row(0x7a, Selector::None, "stdw", Class::St, Operation::StoreImm, Source::None, Some(Size::DW), RES_SRC, Group::Base64),
    row(0x63, Selector::None, "stxw", Class::Stx, Operation::StoreReg, Source::None, Some(Size::W), RES_IMM, Group::Base32),
    row(0x6b, Selector::None, "stxh", Class::Stx, Operation::StoreReg, Source::None, Some(Size::H), RES_IMM, Group::Base32),
    row(0x73, Selector::None, "stxb", Class::Stx, Operation::StoreReg, Source::None, Some(Size::B), RES_IMM, Group::Base32),
    row(0x7b, Selector::None, "stxdw", Class::Stx, Operation::StoreReg, Source::None, Some(Size::DW), RES_IMM, Group::Base64),
    // Atomics (RFC 9669 §5.3): imm selects the operation; load-acquire and
    // store-release are the kernel's additions (also in B and H sizes)
    row(0xc3, Selector::Imm(0x00), "lock add32", Class::Stx, Operation::AtomicAdd, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0x01), "lock fetch add32", Class::Stx, Operation::AtomicFetchAdd, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0x40), "lock or32", Class::Stx, Operation::AtomicOr, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0x41), "lock fetch or32", Class::Stx, Operation::AtomicFetchOr, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0x50), "lock and32", Class::Stx, Operation::AtomicAnd, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0x51), "lock fetch and32", Class::Stx, Operation::AtomicFetchAnd, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0xa0), "lock xor32", Class::Stx, Operation::AtomicXor, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0xa1), "lock fetch xor32", Class::Stx, Operation::AtomicFetchXor, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0xe1), "lock xchg32", Class::Stx, Operation::AtomicXchg, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0xf1), "lock cmpxchg32", Class::Stx, Operation::AtomicCmpxchg, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xdb, Selector::Imm(0x00), "lock add", Class::Stx, Operation::AtomicAdd, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0x01), "lock fetch add", Class::Stx, Operation::AtomicFetchAdd, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0x40), "lock or", Class::Stx, Operation::AtomicOr, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0x41), "lock fetch or", Class::Stx, Operation::AtomicFetchOr, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0x50), "lock and", Class::Stx, Operation::AtomicAnd, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0x51), "lock fetch and", Class::Stx, Operation::AtomicFetchAnd, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0xa0), "lock xor", Class::Stx, Operation::AtomicXor, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0xa1), "lock fetch xor", Class::Stx, Operation::AtomicFetchXor, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0xe1), "lock xchg", Class::Stx, Operation::AtomicXchg, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0xf1), "lock cmpxchg", Class::Stx, Operation::AtomicCmpxchg, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xd3, Selector::Imm(0x100), "ldacqb", Class::Stx, Operation::LoadAcquire, Source::None, Some(Size::B), RES_NONE, Group::Atomic32),
    row(0xd3, Selector::Imm(0x110), "strelb", Class::Stx, Operation::StoreRelease, Source::None, Some(Size::B), RES_NONE, Group::Atomic32),
    row(0xcb, Selector::Imm(0x100), "ldacqh", Class::Stx, Operation::LoadAcquire, Source::None, Some(Size::H), RES_NONE, Group::Atomic32),
    row(0xcb, Selector::Imm(0x110), "strelh", Class::Stx, Operation::StoreRelease, Source::None, Some(Size::H), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0x100), "ldacqw", Class::Stx, Operation::LoadAcquire, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xc3, Selector::Imm(0x110), "strelw", Class::Stx, Operation::StoreRelease, Source::None, Some(Size::W), RES_NONE, Group::Atomic32),
    row(0xdb, Selector::Imm(0x100), "ldacqdw", Class::Stx, Operation::LoadAcquire, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    row(0xdb, Selector::Imm(0x110), "streldw", Class::Stx, Operation::StoreRelease, Source::None, Some(Size::DW), RES_NONE, Group::Atomic64),
    // 64-bit immediate loads (RFC 9669 §5.4): two slots, src selects the kind
    row(0x18, Selector::Src(0), "lddw", Class::Ld, Operation::LdImm64, Source::Imm, Some(Size::DW), RES_OFF, Group::Base64),
    row(0x18, Selector::Src(1), "lddw_map_fd", Class::Ld, Operation::LdMapFd, Source::Imm, Some(Size::DW), RES_OFF, Group::Base64),
    row(0x18, Selector::Src(2), "lddw_map_value", Class::Ld, Operation::LdMapValue, Source::Imm, Some(Size::DW), RES_OFF, Group::Base64),
    row(0x18, Selector::Src(3), "lddw_btf_id", Class::Ld, Operation::LdBtfId, Source::Imm, Some(Size::DW), RES_OFF, Group::Base64),
    row(0x18, Selector::Src(4), "lddw_func", Class::Ld, Operation::LdFunc, Source::Imm, Some(Size::DW), RES_OFF, Group::Base64),
    row(0x18, Selector::Src(5), "lddw_map_idx", Class::Ld, Operation::LdMapIdx, Source::Imm, Some(Size::DW), RES_OFF, Group::Base64),
    row(0x18, Selector::Src(6), "lddw_map_idx_value", Class::Ld, Operation::LdMapIdxValue, Source::Imm, Some(Size::DW), RES_OFF, Group::Base64),
    // Legacy packet access (RFC 9669 §5.5)
    row(0x20, Selector::None, "ldabsw", Class::Ld, Operation::LdAbs, Source::None, Some(Size::W), RES_DST_SRC_OFF, Group::Packet),
    row(0x28, Selector::None, "ldabsh", Class::Ld, Operation::LdAbs, Source::None, Some(Size::H), RES_DST_SRC_OFF, Group::Packet),
    row(0x30, Selector::None, "ldabsb", Class::Ld, Operation::LdAbs, Source::None, Some(Size::B), RES_DST_SRC_OFF, Group::Packet),
    row(0x40, Selector::None, "ldindw", Class::Ld, Operation::LdInd, Source::None, Some(Size::W), RES_DST_OFF, Group::Packet),
    row(0x48, Selector::None, "ldindh", Class::Ld, Operation::LdInd, Source::None, Some(Size::H), RES_DST_OFF, Group::Packet),
    row(0x50, Selector::None, "ldindb", Class::Ld, Operation::LdInd, Source::None, Some(Size::B), RES_DST_OFF, Group::Packet),
];

/// For each opcode byte, the indices of its rows in [`OPCODES`].
fn index() -> &'static [Vec<u16>; 256] {
    static INDEX: OnceLock<[Vec<u16>; 256]> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: [Vec<u16>; 256] = std::array::from_fn(|_| Vec::new());
        for (i, row) in OPCODES.iter().enumerate() {
            index[row.opcode as usize].push(i as u16);
        }
        index
    })
}

/// The rows that share an opcode byte (empty for an unknown opcode).
pub fn rows_for_opcode(opcode: u8) -> impl Iterator<Item = &'static OpcodeRow> {
    index()[opcode as usize]
        .iter()
        .map(|&i| &OPCODES[i as usize])
}

/// The indices in [`OPCODES`] of the rows that share an opcode byte, in
/// table order (empty for an unknown opcode): [`rows_for_opcode`] without
/// the iterator, for the decoder's hot path.
pub fn row_indices_for_opcode(opcode: u8) -> &'static [u16] {
    &index()[opcode as usize]
}

/// True when some row has this opcode byte.
pub fn is_known_opcode(opcode: u8) -> bool {
    !index()[opcode as usize].is_empty()
}

/// The row selected by the opcode and selector fields, if any.
pub fn lookup(opcode: u8, src: u8, off: i16, imm: i32) -> Option<&'static OpcodeRow> {
    rows_for_opcode(opcode).find(|r| r.selects(src, off, imm))
}

/// The rows with this conformance-dialect mnemonic (both source forms for
/// ALU/JMP mnemonics, one row otherwise).
pub fn rows_for_mnemonic(mnemonic: &str) -> impl Iterator<Item = &'static OpcodeRow> + '_ {
    OPCODES.iter().filter(move |r| r.mnemonic == mnemonic)
}

/// The row for an operation in a class with a given source and selector.
///
/// Generators call this for nearly every instruction they emit, so it reads
/// an index of [`OPCODES`] built on first use rather than scanning the
/// table; the first row in table order wins, as a scan would give.
pub fn find(
    class: Class,
    operation: Operation,
    source: Source,
    size: Option<Size>,
) -> Option<&'static OpcodeRow> {
    // The four fields packed into one number; the index is sorted by it.
    fn key(class: Class, operation: Operation, source: Source, size: Option<Size>) -> u32 {
        let size = size.map_or(0, |s| s as u32 + 1);
        (class as u32) << 24 | (operation as u32) << 16 | (source as u32) << 8 | size
    }
    static INDEX: std::sync::OnceLock<Vec<(u32, &'static OpcodeRow)>> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index: Vec<(u32, &'static OpcodeRow)> = OPCODES
            .iter()
            .map(|r| (key(r.class, r.operation, r.source, r.size), r))
            .collect();
        // Stable: among rows with one key, the first in table order stays
        // first, and `dedup` keeps it.
        index.sort_by_key(|&(k, _)| k);
        index.dedup_by_key(|&mut (k, _)| k);
        index
    });
    let wanted = key(class, operation, source, size);
    index
        .binary_search_by_key(&wanted, |&(k, _)| k)
        .ok()
        .map(|i| index[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn find_gives_the_first_matching_row_of_the_table() {
        for row in OPCODES {
            let first = OPCODES
                .iter()
                .find(|r| {
                    r.class == row.class
                        && r.operation == row.operation
                        && r.source == row.source
                        && r.size == row.size
                })
                .unwrap();
            let found = find(row.class, row.operation, row.source, row.size).unwrap();
            assert!(std::ptr::eq(found, first), "{row:?}");
        }
    }

    #[test]
    fn rows_are_unique_and_consistent() {
        let mut seen = HashSet::new();
        for row in OPCODES {
            assert!(
                seen.insert((row.opcode, row.selector)),
                "duplicate row {row:?}"
            );
            assert_eq!(row.opcode & 7, row.class.bits(), "class bits of {row:?}");
            // Rows sharing an opcode either all have a selector or there is one row.
            let n = rows_for_opcode(row.opcode).count();
            if n > 1 {
                assert_ne!(row.selector, Selector::None, "{row:?}");
            }
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for row in OPCODES {
            assert!(seen.insert(row.name()), "duplicate name {}", row.name());
        }
    }

    #[test]
    fn semantics_md_unknown_opcodes_have_no_row() {
        // SEMANTICS.md: NEG X (0x8f, 0x8c) and LDSX DW (0x99) are unknown; JMP32
        // has no CALL/EXIT (0x86, 0x96); LD_ABS/LD_IND have no DW form (0x38, 0x58).
        for op in [0x8c, 0x8f, 0x99, 0x86, 0x96, 0x38, 0x58, 0xdf] {
            assert!(!is_known_opcode(op), "0x{op:02x} must be unknown");
        }
    }

    #[test]
    fn rfc9669_selectors() {
        // RFC 9669 §4.1: SDIV/SMOD are DIV/MOD with off = 1; MOVSX is MOV X with off 8/16/32.
        assert_eq!(lookup(0x3f, 0, 1, 0).unwrap().operation, Operation::SDiv);
        assert_eq!(lookup(0x97, 0, 1, 0).unwrap().operation, Operation::SMod);
        assert_eq!(lookup(0xbf, 0, 32, 0).unwrap().operation, Operation::MovSx);
        assert!(
            lookup(0xbc, 0, 32, 0).is_none(),
            "ALU MOVSX has no 32-bit form"
        );
        assert!(lookup(0x3f, 0, 2, 0).is_none());
        // RFC 9669 §5.3: atomic operations are selected by imm.
        assert_eq!(
            lookup(0xdb, 0, 0, 0xf1).unwrap().operation,
            Operation::AtomicCmpxchg
        );
        assert!(
            lookup(0xd3, 0, 0, 0x00).is_none(),
            "8-bit atomic add does not exist"
        );
        assert_eq!(
            lookup(0x18, 2, 0, 0).unwrap().operation,
            Operation::LdMapValue
        );
        assert!(lookup(0x18, 7, 0, 0).is_none());
    }
}
