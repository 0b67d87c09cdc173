//! Provenance: which regions a pointer-derived value may address.
//!
//! Every register and every marked memory byte carries a [`Tag`]: the set
//! of regions whose addresses the value was computed from, plus
//! [`OPAQUE`] for values that are pointer-like without addressing anything
//! (helper results, code addresses). A tag of 0 is a number. Arithmetic
//! combines tags by union, so `ptr + number` keeps the pointer's region.
//!
//! An access through a base register is checked against the regions in
//! the base's tag only: an address computed from an input pointer that
//! leaves the input memory faults even where it lands on a stack byte (or
//! in the ctx), and the other way round. This is the kernel's rule: its
//! verifier keeps a pointer's type through arithmetic
//! (`adjust_ptr_min_max_vals`) and checks an access against the bounds of
//! that pointer's region (`check_mem_access`). Without it, whether such an
//! access succeeded would depend on where an implementation places its
//! regions (the interpreter's virtual addresses, the JIT's host buffers).

/// A set of regions (bits) a value derives from; 0 = a number.
pub type Tag = u8;

/// Derived from an address in the input memory (r1, `ld_imm64` src 2, a
/// packet pointer loaded from a ctx).
pub const INPUT: Tag = 1;
/// Derived from an address in the stack (r10).
pub const STACK: Tag = 2;
/// Derived from an address in the ctx of a packet program type.
pub const CTX: Tag = 4;
/// Pointer-derived but addressing no region (helper results, code
/// addresses, opaque ctx fields).
pub const OPAQUE: Tag = 8;
/// Derived from the address of a map value (`ld_imm64` src 2 with maps,
/// `bpf_map_lookup_elem`'s result): it addresses that value's bytes only.
pub const MAP: Tag = 16;
