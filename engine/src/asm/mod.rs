//! Assemblers and disassemblers.
//!
//! - [`kernel`]: the syntax `bpftool prog dump xlated` prints
//!   (`0: (b7) r1 = 33`, `if r1 > r2 goto pc+3`, `lock *(u64 *)(r10 -8) += r1`).
//! - [`conformance`]: the bpf_conformance assembly dialect used by `.data`
//!   files (`mov32 %r0, 0`, `ldxdw %r1, [%r10-8]`, labels, `call local`).
//!
//! Both read the opcode table; both report errors with the 1-based line.

pub mod conformance;
pub mod kernel;

use crate::decode::DecodeErrorKind;
use thiserror::Error;

/// What is wrong with one line of assembly.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AsmErrorKind {
    /// The mnemonic (or statement shape) is not known.
    #[error("unknown mnemonic `{mnemonic}`")]
    UnknownMnemonic {
        /// The mnemonic as written.
        mnemonic: String,
    },
    /// Wrong number of operands.
    #[error("`{mnemonic}` takes {expected} operand(s), found {found}")]
    OperandCount {
        /// The mnemonic.
        mnemonic: String,
        /// How many it takes.
        expected: usize,
        /// How many were written.
        found: usize,
    },
    /// A register operand is not r0..r10.
    #[error("invalid register `{token}`")]
    BadRegister {
        /// The token as written.
        token: String,
    },
    /// A number could not be parsed or does not fit its field.
    #[error("invalid number `{token}`: {reason}")]
    BadNumber {
        /// The token as written.
        token: String,
        /// Why it was refused.
        reason: String,
    },
    /// An operand has the wrong form.
    #[error("invalid operand `{token}`: expected {expected}")]
    BadOperand {
        /// The token as written.
        token: String,
        /// What form was expected.
        expected: &'static str,
    },
    /// The line does not parse as any statement.
    #[error("cannot parse `{text}`")]
    Syntax {
        /// The offending text.
        text: String,
    },
    /// A jump or call names a label that is never defined.
    #[error("unknown label `{label}`")]
    UnknownLabel {
        /// The label.
        label: String,
    },
    /// A label is defined twice.
    #[error("duplicate label `{label}` (first defined on line {first_line})")]
    DuplicateLabel {
        /// The label.
        label: String,
        /// Line of the first definition.
        first_line: usize,
    },
    /// A jump target does not fit the instruction's offset field.
    #[error("jump to `{target}` does not fit the offset field")]
    JumpOutOfRange {
        /// The target as written.
        target: String,
    },
    /// A line's `(xx)` opcode prefix names another instruction than its text.
    #[error(
        "the opcode prefix ({prefix:02x}) contradicts the text, which is opcode ({opcode:02x})"
    )]
    OpcodePrefix {
        /// The opcode in the prefix.
        prefix: u8,
        /// The opcode the text assembles to.
        opcode: u8,
    },
    /// A line of listed bytes (bpftool's `opcodes`) differs from the bytes of
    /// the instruction before it.
    #[error("the listed bytes {listed} are not those of the instruction before them, {assembled}")]
    ListedBytes {
        /// The bytes as listed, in hex.
        listed: String,
        /// The bytes of the assembled instruction, in hex.
        assembled: String,
    },
    /// A C inline-assembly operand (`%[name]`, a BPF selftest's
    /// `__imm_const`/`__imm_addr`) whose value only the C source knows.
    #[error(
        "`%[{symbol}]` is an operand of C inline assembly; its value is not in the text \
         (write the number instead)"
    )]
    UnresolvedSymbol {
        /// The operand's name.
        symbol: String,
    },
    /// A statement this assembler knows but cannot encode.
    #[error("`{what}` is not supported: {reason}")]
    Unsupported {
        /// The statement or directive.
        what: String,
        /// Why.
        reason: &'static str,
    },
    /// The assembled instruction breaks a rule of the opcode table.
    #[error("{0}")]
    Invalid(DecodeErrorKind),
}

/// An assembly error with its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct AsmError {
    /// 1-based line number in the source text.
    pub line: usize,
    /// What is wrong.
    pub kind: AsmErrorKind,
}
