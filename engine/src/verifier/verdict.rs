//! The verifier's verdict and the stable names of the kernel's rejection
//! kinds.
//!
//! Every rejection names the instruction (slot index, as the user wrote the
//! program) where the kernel's verifier (Linux 6.18, `kernel/bpf/verifier.c`)
//! detects the problem, a [`RejectClass`], and the message in the kernel's
//! words: the same text its log prints as its last line, with our numbers.

use std::fmt;

/// The kinds of rejection the kernel's verifier reports, one per kind of
/// log message. [`RejectClass::as_str`] is a stable kebab-case name for JSON
/// and reports; [`RejectClass::errno`] is the errno `bpf()` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectClass {
    /// `R%d !read_ok`: a register is read before it is written.
    RegisterNotReadable,
    /// `R0 !read_ok` at `exit`: the return value was never set.
    R0NotReadableAtExit,
    /// An access through a pointer outside what the pointer may reach.
    InvalidMemoryAccess,
    /// A stack access outside `[r10 - 512, r10)` (`invalid write to stack`…).
    StackOutOfRange,
    /// A stack access not aligned to its size (`misaligned stack access`).
    MisalignedStackAccess,
    /// A non-stack access not aligned to its size where the kernel requires
    /// alignment (`misaligned value access`, `misaligned access` for a
    /// scalar address of an atomic: check_ptr_alignment).
    MisalignedAccess,
    /// `unreachable insn %d` (check_cfg).
    UnreachableInsn,
    /// `jump out of range from insn %d to %d` (check_subprogs, check_cfg).
    JumpOutOfRange,
    /// `jump into the middle of ldimm64 insn %d` (check_cfg).
    JumpIntoLdImm64,
    /// `back-edge from insn %d to %d` (check_cfg, unprivileged only).
    BackEdge,
    /// `infinite loop detected at insn %d` (do_check state equivalence).
    InfiniteLoop,
    /// The program has no instructions or more than the limit (`E2BIG`
    /// from `bpf_prog_load`; the kernel logs nothing).
    ProgramTooLarge,
    /// `combined stack size of %d calls is %d. Too large`
    /// (check_max_stack_depth).
    CombinedStackSize,
    /// `div by zero`: DIV/MOD/SDIV/SMOD by an immediate 0 (check_alu_op).
    DivisionByZero,
    /// `invalid shift %d`: an immediate shift amount outside the width
    /// (check_alu_op).
    InvalidShift,
    /// `frame pointer is read only`: r10 as a destination (check_reg_arg).
    FramePointerReadOnly,
    /// `R%d is invalid`: a register field above r10 (check_reg_arg).
    InvalidRegister,
    /// A helper argument of the wrong type or range.
    InvalidHelperArgument,
    /// `unknown opcode %02x` (resolve_pseudo_ldimm64).
    UnknownOpcode,
    /// Pointer arithmetic the kernel refuses (`R%d pointer arithmetic
    /// with %s operator prohibited`, `R%d 32-bit pointer arithmetic
    /// prohibited`, `math between %s pointer and …`).
    InvalidPointerArithmetic,
    /// `invalid func unknown#%d`: a helper the engine does not provide or
    /// the program type may not call.
    UnknownHelper,
    /// `cannot return stack pointer to the caller` (prepare_func_exit).
    InvalidReturnValue,
    /// `BPF program is too large. Processed %d insn` (the 1M
    /// processed-instruction limit of do_check).
    ComplexityLimit,
    /// `BPF_… uses reserved fields`, `invalid BPF_ALU opcode %x`,
    /// `BPF_ATOMIC uses invalid atomic opcode %02x`, `invalid atomic
    /// operand size`: a field that must be zero, or a selector with no
    /// instruction.
    ReservedFields,
    /// `invalid bpf_ld_imm64 insn`: `ld_imm64` without a well-formed second
    /// slot (resolve_pseudo_ldimm64).
    InvalidLdImm64,
    /// `unrecognized bpf_ld_imm64 insn`: an unknown `src` kind, or a
    /// nonzero second `imm` for a map-by-fd load (resolve_pseudo_ldimm64).
    UnrecognizedLdImm64,
    /// `fd %d is not pointing to valid bpf_map` (`EBADF`).
    InvalidMapFd,
    /// `fd_idx without fd_array is invalid` (`EPROTO`).
    FdArrayMissing,
    /// `last insn is not an exit or jmp` (check_subprogs).
    LastInsnNotExitOrJmp,
    /// `call to invalid destination` (add_subprog).
    CallToInvalidDestination,
    /// `the call stack of %d frames is too deep` (setup_func_entry, and
    /// with ` !` from check_max_stack_depth).
    CallStackTooDeep,
    /// `loading/calling other bpf or kernel functions are allowed for
    /// CAP_BPF and CAP_SYS_ADMIN` (`EPERM`, unprivileged only).
    SubprogramsNeedPrivilege,
    /// `too many subprograms` (more than 256; `E2BIG`).
    TooManySubprograms,
    /// `LD_ABS is not allowed in subprogs without BTF`, `tail_call is not
    /// allowed in subprogs without BTF` (check_abnormal_return; the engine
    /// models no BTF).
    SubprogNeedsBtf,
    /// A map the helper may not take (`record_func_map`: `expected prog
    /// array map for tail call`; `check_map_func_compatibility`: `cannot
    /// pass map_type %d into func %s#%d`), `EINVAL`.
    MapFuncMismatch,
    /// Something the kernel accepts or checks against state the engine does
    /// not model (kernel BTF, kfuncs, `may_goto`). The message says what.
    Unsupported,
}

impl RejectClass {
    /// Every class, in declaration order.
    pub const ALL: &'static [RejectClass] = &[
        RejectClass::RegisterNotReadable,
        RejectClass::R0NotReadableAtExit,
        RejectClass::InvalidMemoryAccess,
        RejectClass::StackOutOfRange,
        RejectClass::MisalignedStackAccess,
        RejectClass::MisalignedAccess,
        RejectClass::UnreachableInsn,
        RejectClass::JumpOutOfRange,
        RejectClass::JumpIntoLdImm64,
        RejectClass::BackEdge,
        RejectClass::InfiniteLoop,
        RejectClass::ProgramTooLarge,
        RejectClass::CombinedStackSize,
        RejectClass::DivisionByZero,
        RejectClass::InvalidShift,
        RejectClass::FramePointerReadOnly,
        RejectClass::InvalidRegister,
        RejectClass::InvalidHelperArgument,
        RejectClass::UnknownOpcode,
        RejectClass::InvalidPointerArithmetic,
        RejectClass::UnknownHelper,
        RejectClass::InvalidReturnValue,
        RejectClass::ComplexityLimit,
        RejectClass::ReservedFields,
        RejectClass::InvalidLdImm64,
        RejectClass::UnrecognizedLdImm64,
        RejectClass::InvalidMapFd,
        RejectClass::FdArrayMissing,
        RejectClass::LastInsnNotExitOrJmp,
        RejectClass::CallToInvalidDestination,
        RejectClass::CallStackTooDeep,
        RejectClass::SubprogramsNeedPrivilege,
        RejectClass::TooManySubprograms,
        RejectClass::SubprogNeedsBtf,
        RejectClass::MapFuncMismatch,
        RejectClass::Unsupported,
    ];

    /// The stable kebab-case name (for JSON, reports and known rules).
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectClass::RegisterNotReadable => "register-not-readable",
            RejectClass::R0NotReadableAtExit => "r0-not-readable-at-exit",
            RejectClass::InvalidMemoryAccess => "invalid-memory-access",
            RejectClass::StackOutOfRange => "stack-out-of-range",
            RejectClass::MisalignedStackAccess => "misaligned-stack-access",
            RejectClass::MisalignedAccess => "misaligned-access",
            RejectClass::UnreachableInsn => "unreachable-insn",
            RejectClass::JumpOutOfRange => "jump-out-of-range",
            RejectClass::JumpIntoLdImm64 => "jump-into-ld-imm64",
            RejectClass::BackEdge => "back-edge",
            RejectClass::InfiniteLoop => "infinite-loop",
            RejectClass::ProgramTooLarge => "program-too-large",
            RejectClass::CombinedStackSize => "combined-stack-size",
            RejectClass::DivisionByZero => "division-by-zero",
            RejectClass::InvalidShift => "invalid-shift",
            RejectClass::FramePointerReadOnly => "frame-pointer-read-only",
            RejectClass::InvalidRegister => "invalid-register",
            RejectClass::InvalidHelperArgument => "invalid-helper-argument",
            RejectClass::UnknownOpcode => "unknown-opcode",
            RejectClass::InvalidPointerArithmetic => "invalid-pointer-arithmetic",
            RejectClass::UnknownHelper => "unknown-helper",
            RejectClass::InvalidReturnValue => "invalid-return-value",
            RejectClass::ComplexityLimit => "complexity-limit",
            RejectClass::ReservedFields => "reserved-fields",
            RejectClass::InvalidLdImm64 => "invalid-ld-imm64",
            RejectClass::UnrecognizedLdImm64 => "unrecognized-ld-imm64",
            RejectClass::InvalidMapFd => "invalid-map-fd",
            RejectClass::FdArrayMissing => "fd-array-missing",
            RejectClass::LastInsnNotExitOrJmp => "last-insn-not-exit-or-jmp",
            RejectClass::CallToInvalidDestination => "call-to-invalid-destination",
            RejectClass::CallStackTooDeep => "call-stack-too-deep",
            RejectClass::SubprogramsNeedPrivilege => "subprograms-need-privilege",
            RejectClass::TooManySubprograms => "too-many-subprograms",
            RejectClass::SubprogNeedsBtf => "subprog-needs-btf",
            RejectClass::MapFuncMismatch => "map-func-mismatch",
            RejectClass::Unsupported => "unsupported",
        }
    }

    /// The class with this [`as_str`](RejectClass::as_str) name.
    pub fn from_name(name: &str) -> Option<RejectClass> {
        RejectClass::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == name)
    }

    /// The errno name `bpf(BPF_PROG_LOAD)` fails with for this class, as
    /// measured on Linux 6.18 (`None` for [`RejectClass::Unsupported`]).
    pub const fn errno(self) -> Option<&'static str> {
        use RejectClass as C;
        Some(match self {
            C::RegisterNotReadable
            | C::R0NotReadableAtExit
            | C::InvalidMemoryAccess
            | C::StackOutOfRange
            | C::MisalignedStackAccess
            | C::MisalignedAccess
            | C::FramePointerReadOnly
            | C::InvalidHelperArgument
            | C::CombinedStackSize
            | C::InvalidPointerArithmetic => "EACCES",
            C::ProgramTooLarge
            | C::ComplexityLimit
            | C::CallStackTooDeep
            | C::TooManySubprograms => "E2BIG",
            C::InvalidMapFd => "EBADF",
            C::FdArrayMissing => "EPROTO",
            C::SubprogramsNeedPrivilege => "EPERM",
            C::Unsupported => return None,
            _ => "EINVAL",
        })
    }
}

impl fmt::Display for RejectClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rejection: where, what kind, and the kernel's words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rejection {
    /// The slot index the kernel's verifier reports the error at.
    pub pc: usize,
    /// The kind of error.
    pub class: RejectClass,
    /// The kernel's log message (without the trailing newline).
    pub message: String,
}

impl Rejection {
    /// Builds a rejection.
    pub fn new(pc: usize, class: RejectClass, message: impl Into<String>) -> Rejection {
        Rejection {
            pc,
            class,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn {}: {} ({})", self.pc, self.message, self.class)
    }
}

impl std::error::Error for Rejection {}

/// The verifier's answer for a program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The program is safe to run.
    Accepted,
    /// The program is refused.
    Rejected {
        /// The slot index the error is reported at.
        pc: usize,
        /// The kind of error.
        class: RejectClass,
        /// The kernel's log message.
        message: String,
    },
}

impl Verdict {
    /// True for [`Verdict::Accepted`].
    pub fn is_accepted(&self) -> bool {
        matches!(self, Verdict::Accepted)
    }
}

impl From<Rejection> for Verdict {
    fn from(r: Rejection) -> Verdict {
        Verdict::Rejected {
            pc: r.pc,
            class: r.class,
            message: r.message,
        }
    }
}

impl<T> From<Result<T, Rejection>> for Verdict {
    fn from(r: Result<T, Rejection>) -> Verdict {
        match r {
            Ok(_) => Verdict::Accepted,
            Err(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_kebab_case_and_round_trip() {
        let mut seen = HashSet::new();
        for &c in RejectClass::ALL {
            let n = c.as_str();
            assert!(seen.insert(n), "duplicate {n}");
            assert!(
                n.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'),
                "{n}"
            );
            assert_eq!(RejectClass::from_name(n), Some(c));
        }
    }
}
