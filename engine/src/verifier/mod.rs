//! A kernel-modeled safety verifier (issue 10), modeled on Linux 6.18's
//! `kernel/bpf/verifier.c` and `kernel/bpf/tnum.c`.
//!
//! - [`tnum`]: tracked numbers, the bit-level half of a scalar's state.
//! - [`scalar`]: a scalar register's abstract state (tnum plus eight
//!   bounds) and the kernel's bounds synchronisation.
//! - [`transfer`]: the kernel's transfer functions for ALU instructions and
//!   conditional jumps over scalar states.

pub mod scalar;
pub mod tnum;
pub mod transfer;
