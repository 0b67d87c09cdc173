//! What one run of the interpreter observed.

use std::fmt;

/// Why execution stopped abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// A load, store or atomic touched memory outside every region.
    OutOfBounds,
    /// A local call would exceed the maximum number of frames.
    CallDepthExceeded,
    /// A jump or call target is outside the program.
    JumpOutOfRange,
    /// Control reached the second slot of an `ld_imm64`.
    JumpIntoLdImm64,
    /// Control ran past the last instruction without `exit`.
    FellOffEnd,
    /// A helper call names a helper the engine does not provide.
    UnknownHelper,
    /// The instruction is valid but the engine cannot execute it yet
    /// (e.g. `ld_imm64` with a map fd or BTF id, kfunc calls).
    Unsupported,
}

impl FaultKind {
    /// A short stable name, used in reports and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::OutOfBounds => "out-of-bounds",
            FaultKind::CallDepthExceeded => "call-depth-exceeded",
            FaultKind::JumpOutOfRange => "jump-out-of-range",
            FaultKind::JumpIntoLdImm64 => "jump-into-ld-imm64",
            FaultKind::FellOffEnd => "fell-off-end",
            FaultKind::UnknownHelper => "unknown-helper",
            FaultKind::Unsupported => "unsupported",
        }
    }
}

/// A fault: what went wrong, at which instruction, and for memory faults the
/// address and access size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    /// What went wrong.
    pub kind: FaultKind,
    /// Slot index of the faulting instruction.
    pub pc: usize,
    /// The address accessed (memory faults), the jump target, or the helper id.
    pub addr: u64,
    /// The access size in bytes (memory faults), else 0.
    pub size: u8,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FaultKind::OutOfBounds => write!(
                f,
                "fault: out-of-bounds {}-byte access at 0x{:x} (insn {})",
                self.size, self.addr, self.pc
            ),
            FaultKind::UnknownHelper => {
                write!(f, "fault: unknown helper #{} (insn {})", self.addr, self.pc)
            }
            FaultKind::JumpOutOfRange => write!(
                f,
                "fault: jump out of range to {} (insn {})",
                self.addr as i64, self.pc
            ),
            kind => write!(f, "fault: {} (insn {})", kind.name(), self.pc),
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExecResult {
    /// The program exited from frame 0.
    Returned {
        /// The full 64-bit r0.
        r0: u64,
        /// True when r0 derives from a pointer (its value is
        /// implementation-specific and must not be compared as a number).
        r0_derived: bool,
    },
    /// Execution stopped on a fault.
    Fault(Fault),
    /// The instruction budget ran out.
    OutOfBudget,
}

impl fmt::Display for ExecResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecResult::Returned {
                r0,
                r0_derived: false,
            } => write!(f, "0x{r0:x}"),
            ExecResult::Returned {
                r0,
                r0_derived: true,
            } => write!(f, "0x{r0:x} (pointer-derived)"),
            ExecResult::Fault(fault) => fault.fmt(f),
            ExecResult::OutOfBudget => f.write_str("out of budget"),
        }
    }
}

/// The full observation of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// How the run ended.
    pub result: ExecResult,
    /// Instructions executed (an `ld_imm64` counts once).
    pub insns_executed: u64,
    /// The first instruction that read stack bytes its frame never wrote.
    /// The engine reads zeros there; the kernel (for root) reads garbage.
    pub uninit_stack_read: Option<usize>,
    /// For each byte of the input memory, true when it holds (part of) a
    /// pointer-derived value after the run. Empty when no byte does.
    pub mem_derived: Vec<bool>,
}
