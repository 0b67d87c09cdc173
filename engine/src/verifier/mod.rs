//! A safety verifier modeled on the Linux kernel's (6.18,
//! `kernel/bpf/verifier.c` and `kernel/bpf/tnum.c`): what it accepts, what
//! it refuses, and with which message and instruction.
//!
//! - [`structural`]: the checks made before any path is explored, in the
//!   kernel's order (size, subprograms, jumps, `ld_imm64`, opcodes, the
//!   control-flow graph).
//! - [`subprog`]: subprograms and the combined stack depth of call chains.
//! - [`insn_rules`]: per-instruction checks the kernel makes when its
//!   exploration reaches an instruction (reserved fields, `div by zero`,
//!   `invalid shift`, writes to r10).
//! - [`verdict`]: the verdict and the stable names of rejection kinds.
//! - [`tnum`]: tracked numbers, the bit-level half of a scalar's state.
//! - [`scalar`]: a scalar register's abstract state (tnum plus eight
//!   bounds) and the kernel's bounds synchronisation.
//! - [`scalar_text`]: a scalar's text in the kernel's verifier log,
//!   printed and parsed.
//! - [`transfer`]: the kernel's transfer functions for ALU instructions,
//!   conditional jumps, memory accesses, pointer arithmetic and calls.
//! - [`state`], [`stack`]: the abstract state of a path (register kinds,
//!   per-byte stack).
//! - `linked`: linked scalars (shared ids, `sync_linked_regs`).
//! - [`explore`]: `do_check` with state pruning; [`log`]: the kernel's log
//!   format; [`verify`]: the entry point.
//! - [`containment`]: self-soundness: a concrete run of an accepted
//!   program checked against the states the exploration recorded.

pub mod containment;
pub mod explore;
pub mod insn_rules;
pub mod kernel_message;
mod linked;
pub mod log;
pub mod scalar;
pub mod scalar_text;
pub mod stack;
pub mod state;
pub mod structural;
pub mod subprog;
pub mod tnum;
pub mod transfer;
pub mod verdict;
pub mod verify;

pub use structural::StructureInfo;
pub use verdict::{RejectClass, Rejection, Verdict};
pub use verify::{
    verify, verify_as, verify_recording, verify_with_maps, VerifyOptions, VerifyResult,
};
