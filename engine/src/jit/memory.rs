//! Loads, stores, atomics (RFC 9669 §5), `ld_imm64` and the legacy packet
//! loads.
//!
//! In checked mode every access is bounds-checked against exactly the
//! interpreter's regions: the input memory, and the stack from the bottom
//! of the deepest live frame up to frame 0's top. Accesses through r10 in a
//! program that never writes r10 are resolved when compiling (the current
//! frame is always live), accesses through r1 in a program that never
//! writes r1 need one comparison with the input length, and every other
//! access computes its offset into the region its base probably points
//! into and compares it with that region's limit; only when the stack
//! escapes (`frames`) can such a base point into the stack. Only the
//! regions the base may be derived from are checked (`provenance`, the
//! interpreter's rule): an address computed from an input pointer never
//! reaches the stack, nor one computed from r10 the input. A base that may
//! come from either region has the other region checked out of line
//! before faulting.

use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};

use super::analysis::Target;
use super::compile::{x64, Compiler, RegionCheck, RegionHint, StubValue};
use super::context::{off, SiteAddr, SiteOutcome};
use super::provenance::{only, regions};
use super::regs::*;
use crate::decode::Instruction;
use crate::interp::provenance::{INPUT, STACK};
use crate::interp::{FaultKind, CODE_BASE, STACK_SIZE};
use crate::opcode::{Operation, Size};

/// A memory operand `[base + disp]` (x86 base register).
#[derive(Clone, Copy, Debug)]
struct Mem {
    base: u8,
    disp: i32,
}

/// Index of an access size in the context's limit arrays.
fn size_index(size: Size) -> i32 {
    match size {
        Size::B => 0,
        Size::H => 1,
        Size::W => 2,
        Size::DW => 3,
    }
}

impl Compiler<'_> {
    /// Emits the bounds check of a `size`-byte access at `ebpf_base + off`
    /// and returns the operand to access.
    fn address(&mut self, ebpf_base: u8, off: i16, size: Size) -> Mem {
        let disp = off as i32;
        let bytes = size.bytes() as i32;
        let base = host(ebpf_base);
        if !self.checked {
            return Mem { base, disp };
        }
        // The fault's address is mapped back to the interpreter's layout
        // relative to the region the base comes from, when it is known.
        let fault_at =
            |c: &mut Self, addr, value| c.fault(FaultKind::OutOfBounds, addr, bytes as u8, value);
        let frame = STACK_SIZE as i32;
        if ebpf_base == 10 && self.a.never_written(10) && disp + bytes <= 0 {
            // r10 is the current frame's top: [-512, 0) is always live and
            // below it lie only frames that are not (and no input memory).
            if disp < -frame {
                let l = fault_at(self, SiteAddr::StackAddress, StubValue::Lea { base, disp });
                x64!(self.ops ; jmp =>l);
            }
            return Mem { base, disp };
        }
        let reuse = !self.a.has_callx
            && self
                .checked_ranges
                .iter()
                .any(|&(b, lo, hi)| b == ebpf_base && lo <= disp && disp + bytes <= hi);
        if reuse {
            return Mem { base, disp };
        }
        if !self.a.has_callx {
            self.checked_ranges.push((ebpf_base, disp, disp + bytes));
        }
        if ebpf_base == 1 && self.a.never_written(1) {
            // r1 is the input pointer (or 0 without input, when the length
            // is 0 and every access faults).
            let l = fault_at(self, SiteAddr::InputAddress, StubValue::Lea { base, disp });
            if disp < 0 {
                x64!(self.ops ; jmp =>l);
            } else {
                x64!(self.ops
                    ; cmp QWORD [r12 + off::MEM_LEN], disp + bytes
                    ; jb =>l
                );
            }
            return Mem { base, disp };
        }
        // Any other base: its value minus the region's start must be below
        // the region's limit for this size, for a region the base may be
        // derived from (`provenance`, as in the interpreter). A base derived
        // from no region faults. When the stack does not escape (`frames`)
        // no register but r10 can point into it, so only the input memory
        // is checked; otherwise a base that may come from either region has
        // the region it probably points into checked inline and the other
        // one out of line.
        let tags = self.a.regions[self.pc][usize::from(ebpf_base.min(10))];
        let may_input = regions(tags) & INPUT != 0;
        let may_stack = regions(tags) & STACK != 0;
        if !(may_input || (may_stack && self.a.frames.stack_escapes)) {
            // A number on every path has the same value in the interpreter.
            let addr = if tags == only(0) {
                SiteAddr::Value
            } else {
                SiteAddr::HostAddress
            };
            let l = fault_at(self, addr, StubValue::Lea { base, disp });
            x64!(self.ops ; jmp =>l);
            return Mem { base, disp };
        }
        let limit = 8 * size_index(size);
        let input = RegionCheck {
            low: off::MEM_PTR,
            lim: off::MEM_LIM + limit,
        };
        let stack = RegionCheck {
            low: off::STACK_LOW,
            lim: off::STACK_LIM + limit,
        };
        let stack_first = self.hints[usize::from(ebpf_base.min(10))] == RegionHint::Stack;
        let (first, second) = match (self.a.frames.stack_escapes, may_input, may_stack) {
            (false, _, _) | (true, true, false) => (input, None),
            (true, false, _) => (stack, None),
            (true, true, true) if stack_first => (stack, Some(input)),
            (true, true, true) => (input, Some(stack)),
        };
        // A base that is exactly an input (stack) pointer plus numbers on
        // every path faults at the interpreter's address relative to that
        // region; anything else is mapped back by nearness.
        let site_addr = if tags == only(INPUT) {
            SiteAddr::InputAddress
        } else if tags == only(STACK) {
            SiteAddr::StackAddress
        } else {
            SiteAddr::HostAddress
        };
        let fault = fault_at(self, site_addr, StubValue::Lea { base, disp });
        let (miss, resume) = match second {
            None => (fault, None),
            Some(region) => {
                let resume = self.ops.new_dynamic_label();
                let label = self.region_stub(base, disp, region, resume, fault);
                (label, Some(resume))
            }
        };
        if disp == 0 {
            x64!(self.ops ; mov r10, Rq(base));
        } else {
            x64!(self.ops ; lea r10, [Rq(base) + disp]);
        }
        x64!(self.ops
            ; sub r10, [r12 + first.low]
            ; cmp r10, [r12 + first.lim]
            ; jae =>miss
        );
        if let Some(resume) = resume {
            x64!(self.ops ; =>resume);
        }
        Mem { base, disp }
    }

    /// Compiles an LDX, ST or STX instruction.
    pub(super) fn memory(&mut self, ins: &Instruction) {
        use Operation as O;
        let size = ins.row.size.unwrap_or(Size::DW);
        let op = ins.row.operation;
        let base = if matches!(op, O::Load | O::LoadSx | O::LoadAcquire) {
            ins.src
        } else {
            ins.dst
        };
        let m = self.address(base, ins.off, size);
        let d = host(ins.dst);
        let s = host(ins.src);
        let (b, disp) = (m.base, m.disp);
        match (op, size) {
            // On x86-64 plain loads and stores already have acquire and
            // release ordering.
            (O::Load | O::LoadAcquire, Size::B) => {
                x64!(self.ops ; movzx Rd(d), BYTE [Rq(b) + disp])
            }
            (O::Load | O::LoadAcquire, Size::H) => {
                x64!(self.ops ; movzx Rd(d), WORD [Rq(b) + disp])
            }
            (O::Load | O::LoadAcquire, Size::W) => x64!(self.ops ; mov Rd(d), DWORD [Rq(b) + disp]),
            (O::Load | O::LoadAcquire, Size::DW) => {
                x64!(self.ops ; mov Rq(d), QWORD [Rq(b) + disp])
            }
            (O::LoadSx, Size::B) => x64!(self.ops ; movsx Rq(d), BYTE [Rq(b) + disp]),
            (O::LoadSx, Size::H) => x64!(self.ops ; movsx Rq(d), WORD [Rq(b) + disp]),
            (O::LoadSx, _) => x64!(self.ops ; movsxd Rq(d), DWORD [Rq(b) + disp]),
            (O::StoreImm, Size::B) => x64!(self.ops ; mov BYTE [Rq(b) + disp], ins.imm as i8),
            (O::StoreImm, Size::H) => x64!(self.ops ; mov WORD [Rq(b) + disp], ins.imm as i16),
            (O::StoreImm, Size::W) => x64!(self.ops ; mov DWORD [Rq(b) + disp], ins.imm),
            (O::StoreImm, Size::DW) => x64!(self.ops ; mov QWORD [Rq(b) + disp], ins.imm),
            (O::StoreReg | O::StoreRelease, Size::B) => {
                x64!(self.ops ; mov BYTE [Rq(b) + disp], Rb(s))
            }
            (O::StoreReg | O::StoreRelease, Size::H) => {
                x64!(self.ops ; mov WORD [Rq(b) + disp], Rw(s))
            }
            (O::StoreReg | O::StoreRelease, Size::W) => {
                x64!(self.ops ; mov DWORD [Rq(b) + disp], Rd(s))
            }
            (O::StoreReg | O::StoreRelease, Size::DW) => {
                x64!(self.ops ; mov QWORD [Rq(b) + disp], Rq(s))
            }
            _ => self.atomic(op, size == Size::DW, m, s),
        }
    }

    /// Atomic read-modify-write of 4 (`wide` false) or 8 bytes at `m` with
    /// the x86 register `s` (eBPF src).
    fn atomic(&mut self, op: Operation, wide: bool, m: Mem, s: u8) {
        use Operation as O;
        let (b, disp) = (m.base, m.disp);
        match (op, wide) {
            (O::AtomicAdd, true) => x64!(self.ops ; lock add QWORD [Rq(b) + disp], Rq(s)),
            (O::AtomicAdd, false) => x64!(self.ops ; lock add DWORD [Rq(b) + disp], Rd(s)),
            (O::AtomicOr, true) => x64!(self.ops ; lock or QWORD [Rq(b) + disp], Rq(s)),
            (O::AtomicOr, false) => x64!(self.ops ; lock or DWORD [Rq(b) + disp], Rd(s)),
            (O::AtomicAnd, true) => x64!(self.ops ; lock and QWORD [Rq(b) + disp], Rq(s)),
            (O::AtomicAnd, false) => x64!(self.ops ; lock and DWORD [Rq(b) + disp], Rd(s)),
            (O::AtomicXor, true) => x64!(self.ops ; lock xor QWORD [Rq(b) + disp], Rq(s)),
            (O::AtomicXor, false) => x64!(self.ops ; lock xor DWORD [Rq(b) + disp], Rd(s)),
            // The old value goes to src, zero-extended for the 32-bit form.
            (O::AtomicFetchAdd, true) => x64!(self.ops ; lock xadd QWORD [Rq(b) + disp], Rq(s)),
            (O::AtomicFetchAdd, false) => x64!(self.ops ; lock xadd DWORD [Rq(b) + disp], Rd(s)),
            (O::AtomicXchg, true) => x64!(self.ops ; xchg QWORD [Rq(b) + disp], Rq(s)),
            (O::AtomicXchg, false) => x64!(self.ops ; xchg DWORD [Rq(b) + disp], Rd(s)),
            // Compares with r0 (rax; eax for the 32-bit form), old value to r0.
            (O::AtomicCmpxchg, true) => x64!(self.ops ; lock cmpxchg QWORD [Rq(b) + disp], Rq(s)),
            (O::AtomicCmpxchg, false) => x64!(self.ops
                ; lock cmpxchg DWORD [Rq(b) + disp], Rd(s)
                // A successful 32-bit cmpxchg does not write eax, so the
                // upper half of rax must be cleared explicitly.
                ; mov eax, eax
            ),
            (O::AtomicFetchOr | O::AtomicFetchAnd | O::AtomicFetchXor, _) => {
                self.fetch_logic(op, wide, m, s)
            }
            _ => {
                let l = self.fault(
                    FaultKind::Unsupported,
                    SiteAddr::Fixed(0),
                    0,
                    StubValue::None,
                );
                x64!(self.ops ; jmp =>l);
            }
        }
    }

    /// Atomic fetch-or/and/xor: x86 has no such instruction, so a
    /// `lock cmpxchg` loop (rax is the comparand: r0 waits in r10, the
    /// counter in rcx on the host stack).
    fn fetch_logic(&mut self, op: Operation, wide: bool, m: Mem, s: u8) {
        if m.base != R11 || m.disp != 0 {
            let (b, disp) = (m.base, m.disp);
            x64!(self.ops ; lea r11, [Rq(b) + disp]);
        }
        // When src is r0 its value is the saved copy in r10.
        let operand = if s == RAX { R10 } else { s };
        let again = self.ops.new_dynamic_label();
        x64!(self.ops
            ; mov r10, rax
            ; push rcx
        );
        if wide {
            x64!(self.ops ; mov rax, QWORD [r11] ; =>again ; mov rcx, rax);
            match op {
                Operation::AtomicFetchOr => x64!(self.ops ; or rcx, Rq(operand)),
                Operation::AtomicFetchAnd => x64!(self.ops ; and rcx, Rq(operand)),
                _ => x64!(self.ops ; xor rcx, Rq(operand)),
            }
            x64!(self.ops ; lock cmpxchg QWORD [r11], rcx ; jne =>again ; pop rcx);
            if s != RAX {
                x64!(self.ops ; mov Rq(s), rax ; mov rax, r10);
            }
        } else {
            x64!(self.ops ; mov eax, DWORD [r11] ; =>again ; mov ecx, eax);
            match op {
                Operation::AtomicFetchOr => x64!(self.ops ; or ecx, Rd(operand)),
                Operation::AtomicFetchAnd => x64!(self.ops ; and ecx, Rd(operand)),
                _ => x64!(self.ops ; xor ecx, Rd(operand)),
            }
            x64!(self.ops ; lock cmpxchg DWORD [r11], ecx ; jne =>again ; pop rcx);
            if s != RAX {
                x64!(self.ops ; mov Rd(s), eax ; mov rax, r10);
            } else {
                x64!(self.ops ; mov eax, eax);
            }
        }
    }

    /// Compiles an LD-class instruction: the `ld_imm64` forms and the
    /// legacy packet loads.
    pub(super) fn ld(&mut self, j: usize, ins: &Instruction) {
        use Operation as O;
        let d = host(ins.dst);
        match ins.row.operation {
            O::LdImm64 => self.load_constant(d, ins.imm64()),
            O::LdMapValue => {
                // The engine models the input memory as the one map value.
                let offset = ins.next_imm as u32;
                x64!(self.ops ; mov Rq(d), [r12 + off::MEM_PTR]);
                if offset > i32::MAX as u32 {
                    x64!(self.ops ; mov r11d, DWORD offset as i32 ; add Rq(d), r11);
                } else if offset != 0 {
                    x64!(self.ops ; add Rq(d), offset as i32);
                }
            }
            O::LdFunc => {
                let target = match self.target(j) {
                    Target::Valid(t) => t as u64,
                    Target::Bad { target, .. } => target as u64,
                    Target::None => 0,
                };
                self.load_constant(d, CODE_BASE.wrapping_add(target.wrapping_mul(8)));
            }
            O::LdAbs | O::LdInd => self.packet_load(ins),
            _ => {
                let l = self.fault(
                    FaultKind::Unsupported,
                    SiteAddr::Fixed(0),
                    0,
                    StubValue::None,
                );
                x64!(self.ops ; jmp =>l);
            }
        }
    }

    /// `r0 = ntoh(*(size *)(input + [src +] imm))`; out of bounds the
    /// program returns 0 (SEMANTICS.md). This check stays in unchecked mode:
    /// it is the instruction's meaning, not a safety net.
    fn packet_load(&mut self, ins: &Instruction) {
        let size = ins.row.size.unwrap_or(Size::W);
        let limit_index = size_index(size);
        let out = self.exit_site(
            SiteOutcome::ReturnZero,
            SiteAddr::Fixed(0),
            0,
            StubValue::None,
        );
        if ins.row.operation == Operation::LdInd {
            // The offset is the 32-bit sum of the index and the immediate,
            // a signed int (the kernel's `bpf_gen_ld_abs`): a negative one
            // is far above every limit once zero-extended.
            let s = host(ins.src);
            x64!(self.ops ; mov r11d, Rd(s));
            if ins.imm != 0 {
                x64!(self.ops ; add r11d, ins.imm);
            }
        } else {
            x64!(self.ops ; mov r11, DWORD ins.imm);
        }
        x64!(self.ops
            ; cmp r11, [r12 + off::MEM_LIM + 8 * limit_index]
            ; jae =>out
            ; add r11, [r12 + off::MEM_PTR]
        );
        match size {
            Size::B => x64!(self.ops ; movzx eax, BYTE [r11]),
            Size::H => x64!(self.ops ; movzx eax, WORD [r11] ; rol ax, 8),
            _ => x64!(self.ops ; mov eax, DWORD [r11] ; bswap eax),
        }
    }
}
