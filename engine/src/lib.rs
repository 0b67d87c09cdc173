//! bpfdiff's eBPF virtual machine.
//!
//! - [`insn`]: the raw 8-byte slot; [`program`]: a sequence of slots.
//! - [`opcode`]: the one opcode table every component reads.
//! - [`decode`]: slots to [`decode::Instruction`]s and back.
//! - [`asm`]: the kernel (`bpftool`) syntax and the bpf_conformance dialect.
//! - [`data`]: bpf_conformance `.data` test files.
//! - [`interp`]: the checking interpreter, the project's reference semantics.
//! - [`verifier`]: the kernel-modeled safety verifier.
//! - [`prog_type`]: program types, their ctx and packet.
#![deny(missing_docs)]

pub mod asm;
pub mod data;
pub mod decode;
pub mod helpers;
pub mod hex;
pub mod insn;
pub mod interp;
pub mod jit;
pub mod maps;
pub mod opcode;
pub mod prog_type;
pub mod program;
#[cfg(test)]
mod test_strategies;
pub mod verifier;

pub use decode::{DecodeError, Instruction};
pub use insn::Insn;
pub use program::Program;
