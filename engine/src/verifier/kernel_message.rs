//! The kernel's refusal messages mapped to [`RejectClass`]: the class of a
//! refusal the kernel reported (the last line of its level-1 log), so that
//! the harness can compare it with the engine verifier's class.
//!
//! The patterns are the fixed parts of the `verbose()` formats in Linux
//! 6.18's `kernel/bpf/verifier.c` (and `kernel/bpf/syscall.c`) that the
//! engine's verifier models; numbers and register names are skipped.

use super::verdict::RejectClass;

/// Fixed message parts, in the order they are tried (more specific first),
/// with the class they name.
const PATTERNS: &[(&str, RejectClass)] = &[
    ("!read_ok", RejectClass::RegisterNotReadable),
    (
        "misaligned stack access",
        RejectClass::MisalignedStackAccess,
    ),
    ("misaligned", RejectClass::MisalignedAccess),
    (
        "variable offset stack pointer",
        RejectClass::StackOutOfRange,
    ),
    ("unreachable insn", RejectClass::UnreachableInsn),
    (
        "jump into the middle of ldimm64",
        RejectClass::JumpIntoLdImm64,
    ),
    ("jump out of range", RejectClass::JumpOutOfRange),
    ("back-edge from insn", RejectClass::BackEdge),
    ("infinite loop detected", RejectClass::InfiniteLoop),
    ("BPF program is too large", RejectClass::ComplexityLimit),
    // More than BPF_COMPLEXITY_LIMIT_JMP_SEQ branches waiting to be
    // explored: another of the kernel's exploration limits.
    ("jumps is too complex", RejectClass::ComplexityLimit),
    ("combined stack size", RejectClass::CombinedStackSize),
    ("div by zero", RejectClass::DivisionByZero),
    ("invalid shift", RejectClass::InvalidShift),
    (
        "frame pointer is read only",
        RejectClass::FramePointerReadOnly,
    ),
    ("unknown opcode", RejectClass::UnknownOpcode),
    ("invalid func ", RejectClass::UnknownHelper),
    ("unknown func ", RejectClass::UnknownHelper),
    (
        "cannot return stack pointer",
        RejectClass::InvalidReturnValue,
    ),
    ("uses reserved fields", RejectClass::ReservedFields),
    ("invalid BPF_ALU opcode", RejectClass::ReservedFields),
    ("invalid atomic opcode", RejectClass::ReservedFields),
    ("invalid atomic operand size", RejectClass::ReservedFields),
    ("unknown insn class", RejectClass::ReservedFields),
    ("invalid bpf_ld_imm64 insn", RejectClass::InvalidLdImm64),
    (
        "unrecognized bpf_ld_imm64 insn",
        RejectClass::UnrecognizedLdImm64,
    ),
    (
        "is not pointing to valid bpf_map",
        RejectClass::InvalidMapFd,
    ),
    ("fd_idx without fd_array", RejectClass::FdArrayMissing),
    (
        "last insn is not an exit or jmp",
        RejectClass::LastInsnNotExitOrJmp,
    ),
    (
        "call to invalid destination",
        RejectClass::CallToInvalidDestination,
    ),
    ("frames is too deep", RejectClass::CallStackTooDeep),
    ("allowed for CAP_BPF", RejectClass::SubprogramsNeedPrivilege),
    ("too many subprograms", RejectClass::TooManySubprograms),
    ("in subprogs without BTF", RejectClass::SubprogNeedsBtf),
    ("cannot pass map_type", RejectClass::MapFuncMismatch),
    (
        "expected prog array map for tail call",
        RejectClass::MapFuncMismatch,
    ),
    ("pointer arithmetic", RejectClass::InvalidPointerArithmetic),
    ("pointer prohibited", RejectClass::InvalidPointerArithmetic),
    (
        "on pointer prohibited",
        RejectClass::InvalidPointerArithmetic,
    ),
    (
        "subtraction from stack pointer",
        RejectClass::InvalidPointerArithmetic,
    ),
    (
        "tried to subtract pointer",
        RejectClass::InvalidPointerArithmetic,
    ),
    ("math between", RejectClass::InvalidPointerArithmetic),
    (
        "pointer be out of bounds",
        RejectClass::InvalidPointerArithmetic,
    ),
    ("pointer offset", RejectClass::InvalidPointerArithmetic),
    ("variable-offset", RejectClass::StackOutOfRange),
    ("to stack R", RejectClass::StackOutOfRange),
    ("from stack R", RejectClass::StackOutOfRange),
    ("invalid stack", RejectClass::StackOutOfRange),
    ("invalid read from stack", RejectClass::StackOutOfRange),
    ("invalid write to stack", RejectClass::StackOutOfRange),
    ("invalid indirect", RejectClass::StackOutOfRange),
    ("invalid mem access", RejectClass::InvalidMemoryAccess),
    ("invalid access to", RejectClass::InvalidMemoryAccess),
    ("min value is", RejectClass::InvalidMemoryAccess),
    ("max value is", RejectClass::InvalidMemoryAccess),
    ("unbounded memory access", RejectClass::InvalidMemoryAccess),
    ("direct value offset", RejectClass::InvalidMemoryAccess),
    ("BPF_LD_[ABS|IND]", RejectClass::InvalidMemoryAccess),
    ("invalid size of register", RejectClass::InvalidMemoryAccess),
    (" type=", RejectClass::InvalidHelperArgument),
    ("arg#", RejectClass::InvalidHelperArgument),
];

/// True when `message` is `R<n> is invalid` (a register field above r10).
fn is_invalid_register(message: &str) -> bool {
    message
        .strip_prefix('R')
        .and_then(|rest| rest.strip_suffix(" is invalid"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl RejectClass {
    /// The class of a kernel verifier message (the last meaningful line of
    /// its log), or `None` when the message is none the engine models.
    /// `R0 !read_ok` is [`RejectClass::RegisterNotReadable`]: the kernel
    /// prints the same words at `exit` (see [`RejectClass::comparable`]).
    pub fn from_kernel_message(message: &str) -> Option<RejectClass> {
        let message = message.trim();
        if is_invalid_register(message) {
            return Some(RejectClass::InvalidRegister);
        }
        PATTERNS
            .iter()
            .find(|(p, _)| message.contains(p))
            .map(|&(_, c)| c)
    }

    /// The class as the kernel's words can tell it: classes the kernel
    /// prints with the same message are merged
    /// ([`RejectClass::R0NotReadableAtExit`] is `R0 !read_ok`, as any read
    /// of an unwritten r0).
    pub fn comparable(self) -> RejectClass {
        match self {
            RejectClass::R0NotReadableAtExit => RejectClass::RegisterNotReadable,
            c => c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_messages_name_their_class() {
        // Messages as Linux 6.18's verifier.c prints them.
        let cases = [
            ("R2 !read_ok", RejectClass::RegisterNotReadable),
            ("R0 !read_ok", RejectClass::RegisterNotReadable),
            ("unreachable insn 3", RejectClass::UnreachableInsn),
            (
                "jump out of range from insn 1 to 9",
                RejectClass::JumpOutOfRange,
            ),
            (
                "infinite loop detected at insn 2",
                RejectClass::InfiniteLoop,
            ),
            (
                "The sequence of 8193 jumps is too complex.",
                RejectClass::ComplexityLimit,
            ),
            ("div by zero", RejectClass::DivisionByZero),
            ("invalid shift 64", RejectClass::InvalidShift),
            (
                "frame pointer is read only",
                RejectClass::FramePointerReadOnly,
            ),
            ("R11 is invalid", RejectClass::InvalidRegister),
            (
                "invalid write to stack R10 off=-520 size=8",
                RejectClass::StackOutOfRange,
            ),
            (
                "invalid read from stack R10 off=0 size=8",
                RejectClass::StackOutOfRange,
            ),
            (
                "misaligned stack access off 0+-7+0 size 8",
                RejectClass::MisalignedStackAccess,
            ),
            (
                "R1 invalid mem access 'scalar'",
                RejectClass::InvalidMemoryAccess,
            ),
            (
                "invalid access to map value, value_size=8 off=8 size=1",
                RejectClass::InvalidMemoryAccess,
            ),
            (
                "R1 pointer arithmetic with /= operator prohibited",
                RejectClass::InvalidPointerArithmetic,
            ),
            (
                "R1 32-bit pointer arithmetic prohibited",
                RejectClass::InvalidPointerArithmetic,
            ),
            (
                "math between fp pointer and register with unbounded min value is not allowed",
                RejectClass::InvalidPointerArithmetic,
            ),
            ("invalid func unknown#999", RejectClass::UnknownHelper),
            ("BPF_LDX uses reserved fields", RejectClass::ReservedFields),
            (
                "combined stack size of 2 calls is 576. Too large",
                RejectClass::CombinedStackSize,
            ),
            (
                "last insn is not an exit or jmp",
                RejectClass::LastInsnNotExitOrJmp,
            ),
        ];
        for (m, c) in cases {
            assert_eq!(RejectClass::from_kernel_message(m), Some(c), "{m}");
        }
        assert_eq!(RejectClass::from_kernel_message("EACCES"), None);
        assert_eq!(RejectClass::from_kernel_message("R1 is invalidated"), None);
    }

    #[test]
    fn every_message_the_engine_writes_maps_back_to_its_class() {
        // The engine's messages are the kernel's words, so the mapping of
        // our own message must give our own class (up to `comparable`).
        let ours = [
            Rejection::new(0, RejectClass::BackEdge, "back-edge from insn 3 to 1"),
            Rejection::new(
                0,
                RejectClass::CallStackTooDeep,
                "the call stack of 9 frames is too deep",
            ),
            Rejection::new(0, RejectClass::R0NotReadableAtExit, "R0 !read_ok"),
            Rejection::new(
                0,
                RejectClass::InvalidMapFd,
                "fd 0 is not pointing to valid bpf_map",
            ),
            Rejection::new(
                0,
                RejectClass::ComplexityLimit,
                "BPF program is too large. Processed 1000001 insn",
            ),
            Rejection::new(
                0,
                RejectClass::StackOutOfRange,
                "invalid unbounded variable-offset write to stack R1",
            ),
        ];
        for r in ours {
            assert_eq!(
                RejectClass::from_kernel_message(&r.message).map(RejectClass::comparable),
                Some(r.class.comparable()),
                "{}",
                r.message
            );
        }
    }

    use super::super::verdict::Rejection;
}
