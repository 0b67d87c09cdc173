//! Which x86-64 register holds which eBPF register, and the registers the
//! generated code keeps for itself.
//!
//! | eBPF | x86-64 | why |
//! |------|--------|-----|
//! | r0   | rax    | return value; also `cmpxchg`'s implicit comparand |
//! | r1–r3 | rdi, rsi, rdx | argument registers |
//! | r4, r5 | r9, r8 | rcx is taken by the instruction counter |
//! | r6–r9 | rbx, r13, r14, r15 | callee-saved, like eBPF's r6–r9 |
//! | r10  | rbp    | the frame pointer |
//!
//! rcx counts instructions down from the budget, r12 points at the run's
//! [`Context`](super::context::Context), r10 and r11 are scratch.

/// x86-64 register numbers as they appear in instruction encodings.
pub(super) const RAX: u8 = 0;
pub(super) const RDX: u8 = 2;
pub(super) const RBX: u8 = 3;
pub(super) const RBP: u8 = 5;
pub(super) const RSI: u8 = 6;
pub(super) const RDI: u8 = 7;
pub(super) const R8: u8 = 8;
pub(super) const R9: u8 = 9;
/// Scratch register (also saves r0 around division and atomics).
pub(super) const R10: u8 = 10;
/// Scratch register (computed addresses).
pub(super) const R11: u8 = 11;
pub(super) const R13: u8 = 13;
pub(super) const R14: u8 = 14;
pub(super) const R15: u8 = 15;

/// x86-64 register of each eBPF register r0..r10.
pub(super) const EBPF_TO_X86: [u8; 11] = [RAX, RDI, RSI, RDX, R9, R8, RBX, R13, R14, R15, RBP];

/// The x86-64 register holding eBPF register `r` (0..=10; the decoder
/// guarantees the range).
pub(super) fn host(r: u8) -> u8 {
    EBPF_TO_X86[usize::from(r.min(10))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_avoids_the_jit_s_own_registers() {
        // rcx (counter), rsp, r10/r11 (scratch) and r12 (context) hold no eBPF register.
        for r in EBPF_TO_X86 {
            assert!(![1, 4, R10, R11, 12].contains(&r), "x86 register {r}");
        }
        let mut seen = EBPF_TO_X86.to_vec();
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen.len(),
            11,
            "each eBPF register has its own x86 register"
        );
        assert_eq!(host(10), RBP);
        assert_eq!(host(0), RAX);
    }
}
