//! Jumps, calls and exit (RFC 9669 §4.3).
//!
//! eBPF frames live on the host stack: a local call saves what the callee
//! may change of r6–r10 (rbx, r13–r15, rbp; see `frames`), enters the new
//! frame and issues a host `call`; `exit` is a host `ret`, and frame 0
//! itself is called by the entry trampoline. Helper calls align the host
//! stack themselves.

use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi};

use super::analysis::Target;
use super::compile::{x64, Compiler, StubValue};
use super::context::{off, SiteAddr};
use super::frames::FrameNeeds;
use super::helper::call_helper;
use super::regs::*;
use crate::decode::Instruction;
use crate::interp::{FaultKind, CODE_BASE, MAX_FRAMES, STACK_SIZE};
use crate::opcode::{Class, Operation, Source};

/// An x86 condition code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    E,
    Ne,
    A,
    Ae,
    B,
    Be,
    G,
    Ge,
    L,
    Le,
}

impl Cond {
    fn negate(self) -> Cond {
        match self {
            Cond::E => Cond::Ne,
            Cond::Ne => Cond::E,
            Cond::A => Cond::Be,
            Cond::Be => Cond::A,
            Cond::Ae => Cond::B,
            Cond::B => Cond::Ae,
            Cond::G => Cond::Le,
            Cond::Le => Cond::G,
            Cond::Ge => Cond::L,
            Cond::L => Cond::Ge,
        }
    }
}

/// Where a helper id comes from.
#[derive(Clone, Copy, Debug)]
enum HelperId {
    /// `call imm` (sign-extended).
    Fixed(u64),
    /// `callx` on a value that is not a code address (x86 register).
    Reg(u8),
}

impl Compiler<'_> {
    /// Compiles a JMP/JMP32-class instruction; `n` is its block's length.
    pub(super) fn control(&mut self, j: usize, ins: &Instruction, n: u64) {
        use Operation as O;
        match ins.row.operation {
            O::Exit => {
                self.charge(n);
                x64!(self.ops ; ret);
            }
            O::Call => {
                self.charge(n);
                self.helper_call(HelperId::Fixed(ins.imm as i64 as u64));
            }
            O::CallLocal => {
                self.charge(n);
                self.local_call(self.target(j));
            }
            O::Callx => {
                self.charge(n);
                self.callx(host(ins.dst));
            }
            O::CallKfunc => {
                self.charge(n);
                let l = self.fault(
                    FaultKind::Unsupported,
                    SiteAddr::Fixed(0),
                    0,
                    StubValue::None,
                );
                x64!(self.ops ; jmp =>l);
            }
            _ => self.jump(j, ins, n),
        }
    }

    fn jcc(&mut self, cond: Cond, l: DynamicLabel) {
        match cond {
            Cond::E => x64!(self.ops ; je =>l),
            Cond::Ne => x64!(self.ops ; jne =>l),
            Cond::A => x64!(self.ops ; ja =>l),
            Cond::Ae => x64!(self.ops ; jae =>l),
            Cond::B => x64!(self.ops ; jb =>l),
            Cond::Be => x64!(self.ops ; jbe =>l),
            Cond::G => x64!(self.ops ; jg =>l),
            Cond::Ge => x64!(self.ops ; jge =>l),
            Cond::L => x64!(self.ops ; jl =>l),
            Cond::Le => x64!(self.ops ; jle =>l),
        }
    }

    /// Emits the comparison of a conditional jump; returns the condition
    /// under which it is taken.
    fn compare(&mut self, ins: &Instruction) -> Cond {
        use Operation as O;
        let wide = ins.row.class == Class::Jmp;
        let d = host(ins.dst);
        let s = host(ins.src);
        let imm = ins.imm;
        let op = ins.row.operation;
        let reg = ins.row.source == Source::Reg;
        match (op == O::Jset, reg, wide) {
            (true, true, true) => x64!(self.ops ; test Rq(d), Rq(s)),
            (true, true, false) => x64!(self.ops ; test Rd(d), Rd(s)),
            (true, false, true) => x64!(self.ops ; test Rq(d), imm),
            (true, false, false) => x64!(self.ops ; test Rd(d), imm),
            (false, true, true) => x64!(self.ops ; cmp Rq(d), Rq(s)),
            (false, true, false) => x64!(self.ops ; cmp Rd(d), Rd(s)),
            // Comparing with 0 sets the same flags as testing the register.
            (false, false, true) if imm == 0 => x64!(self.ops ; test Rq(d), Rq(d)),
            (false, false, false) if imm == 0 => x64!(self.ops ; test Rd(d), Rd(d)),
            (false, false, true) => x64!(self.ops ; cmp Rq(d), imm),
            (false, false, false) => x64!(self.ops ; cmp Rd(d), imm),
        }
        match op {
            O::Jeq => Cond::E,
            O::Jgt => Cond::A,
            O::Jge => Cond::Ae,
            O::Jlt => Cond::B,
            O::Jle => Cond::Be,
            O::Jsgt => Cond::G,
            O::Jsge => Cond::Ge,
            O::Jslt => Cond::L,
            O::Jsle => Cond::Le,
            // Jne, Jset
            _ => Cond::Ne,
        }
    }

    /// Jumps. A taken backward jump (target ≤ pc) checks the budget in
    /// checked mode; a jump to an invalid target faults only when taken.
    fn jump(&mut self, j: usize, ins: &Instruction, n: u64) {
        let target = self.target(j);
        let backward = matches!(target, Target::Valid(t) if t <= self.pc) && self.checked;
        let oob = self.out_of_budget;
        if ins.row.operation == Operation::Ja {
            match target {
                Target::Valid(t) if backward => {
                    let l = self.label(t);
                    self.sub_counter(n);
                    x64!(self.ops
                        ; jns =>l
                        ; jmp =>oob
                    );
                }
                Target::Valid(t) => {
                    self.charge(n);
                    let l = self.label(t);
                    x64!(self.ops ; jmp =>l);
                }
                Target::Bad { kind, target, .. } => {
                    self.charge(n);
                    let l = self.fault(kind, SiteAddr::Fixed(target as u64), 0, StubValue::None);
                    x64!(self.ops ; jmp =>l);
                }
                Target::None => {}
            }
            return;
        }
        match target {
            Target::Valid(t) if backward => {
                // Charge on both paths so the taken one can test the sign
                // of the counter straight from `sub`.
                let l = self.label(t);
                let skip = self.ops.new_dynamic_label();
                let cond = self.compare(ins);
                self.jcc(cond.negate(), skip);
                self.sub_counter(n);
                x64!(self.ops
                    ; jns =>l
                    ; jmp =>oob
                    ; =>skip
                );
                self.sub_counter(n);
                self.extra = 0;
            }
            Target::Valid(t) => {
                self.charge(n);
                let cond = self.compare(ins);
                let l = self.label(t);
                self.jcc(cond, l);
            }
            Target::Bad { kind, target, .. } => {
                self.charge(n);
                let cond = self.compare(ins);
                let l = self.fault(kind, SiteAddr::Fixed(target as u64), 0, StubValue::None);
                self.jcc(cond, l);
            }
            Target::None => {}
        }
    }

    /// Budget check before a local call (checked mode). `flags_fresh`:
    /// the flags still hold the result of charging the block (`sub rcx`).
    fn call_budget_check(&mut self, flags_fresh: bool) {
        if self.checked {
            let oob = self.out_of_budget;
            if !flags_fresh {
                x64!(self.ops ; test rcx, rcx);
            }
            x64!(self.ops ; js =>oob);
        }
    }

    /// The call-depth check of a local call: faults at `too_deep` when the
    /// current frame is the deepest there can be.
    fn depth_check(&mut self, too_deep: DynamicLabel) {
        if self.a.frames.stack_escapes {
            x64!(self.ops
                ; cmp QWORD [r12 + off::DEPTH], (MAX_FRAMES - 1) as i32
                ; jae =>too_deep
            );
        } else {
            // r10 is never written: rbp is the current frame's top.
            x64!(self.ops
                ; cmp rbp, [r12 + off::LAST_FRAME_TOP]
                ; jbe =>too_deep
            );
        }
    }

    /// Enters a new frame with `needs`, calls the code at `call` (emitted
    /// by the closure), then restores the caller's frame.
    ///
    /// When the stack escapes (`frames`): pushes r6–r10, enters the frame
    /// through `enter_frame` (which clears all of it) and leaves it with
    /// [`Compiler::leave_frame`]. Otherwise only what the callee's code can
    /// observe: the r6–r9 it may write are saved, r10 moves down one frame
    /// when it reads r10 or calls further, and the bytes it can read are
    /// cleared. The host stack keeps no particular alignment inside the
    /// program; helper calls align it themselves.
    fn framed_call(&mut self, needs: FrameNeeds, call: impl FnOnce(&mut Self)) {
        let frame = STACK_SIZE as i32;
        if self.a.frames.stack_escapes {
            let enter = self.enter_frame;
            x64!(self.ops
                ; push rbx ; push r13 ; push r14 ; push r15 ; push rbp
                ; call =>enter
            );
            call(self);
            x64!(self.ops ; pop rbp ; pop r15 ; pop r14 ; pop r13 ; pop rbx);
            self.leave_frame();
            return;
        }
        for r in needs.saved_registers() {
            x64!(self.ops ; push Rq(host(r)));
        }
        if needs.uses_frame {
            x64!(self.ops ; sub rbp, frame);
            self.clear_frame_bytes(RBP, needs.zero_bytes);
        }
        call(self);
        if needs.uses_frame {
            x64!(self.ops ; add rbp, frame);
        }
        for r in needs.saved_registers().rev() {
            x64!(self.ops ; pop Rq(host(r)));
        }
    }

    /// `call` src=1: budget, depth, then the target (which faults here if
    /// invalid), in the interpreter's order. The block was just charged.
    fn local_call(&mut self, target: Target) {
        self.call_budget_check(true);
        let depth_addr = match target {
            Target::Valid(t) => t as u64,
            Target::Bad { sentinel, .. } => sentinel as u64,
            Target::None => 0,
        };
        let too_deep = self.fault(
            FaultKind::CallDepthExceeded,
            SiteAddr::Fixed(depth_addr),
            0,
            StubValue::None,
        );
        self.depth_check(too_deep);
        match target {
            Target::Valid(t) => {
                let l = self.label(t);
                let needs = self.a.frames.at(t);
                self.framed_call(needs, |c| x64!(c.ops ; call =>l));
            }
            Target::Bad { kind, target, .. } => {
                let l = self.fault(kind, SiteAddr::Fixed(target as u64), 0, StubValue::None);
                x64!(self.ops ; jmp =>l);
            }
            Target::None => {}
        }
    }

    /// `callx dst`: a value `CODE_BASE + 8 * slot` inside the program calls
    /// that slot (budget, then "into ld_imm64", then depth, as the
    /// interpreter checks); any other value is a helper id.
    fn callx(&mut self, d: u8) {
        let helper = self.ops.new_dynamic_label();
        let done = self.ops.new_dynamic_label();
        let code_bytes = (self.a.slots as u64) * 8;
        x64!(self.ops
            ; mov r11, Rq(d)
            ; mov r10, QWORD CODE_BASE as i64
            ; sub r11, r10
        );
        if code_bytes <= i32::MAX as u64 {
            x64!(self.ops ; cmp r11, code_bytes as i32);
        } else {
            x64!(self.ops ; mov r10, QWORD code_bytes as i64 ; cmp r11, r10);
        }
        x64!(self.ops
            ; jae =>helper
            ; test r11b, 7
            ; jnz =>helper
        );
        self.call_budget_check(false);
        let into_second_slot = self.fault(
            FaultKind::JumpIntoLdImm64,
            SiteAddr::Value,
            0,
            StubValue::R11Slot,
        );
        let too_deep = self.fault(
            FaultKind::CallDepthExceeded,
            SiteAddr::Value,
            0,
            StubValue::R11Slot,
        );
        x64!(self.ops
            ; mov r10, [r12 + off::CALLX_TABLE]
            ; mov r10, [r10 + r11]
            ; test r10, r10
            ; jz =>into_second_slot
        );
        self.depth_check(too_deep);
        let needs = self.a.frames.anywhere;
        self.framed_call(needs, |c| x64!(c.ops ; call r10));
        x64!(self.ops
            ; jmp =>done
            ; =>helper
        );
        self.helper_call(HelperId::Reg(d));
        x64!(self.ops ; =>done);
    }

    /// Calls the helper dispatcher with the id and the instruction count;
    /// r0 gets the result, r1–r5 are cleared (the interpreter's convention).
    fn helper_call(&mut self, id: HelperId) {
        // Align the host stack for the call (frames do not keep it
        // aligned), keeping the old rsp and the counter on it.
        x64!(self.ops
            ; mov r11, rsp
            ; and rsp, -16
            ; push r11
            ; push rcx
        );
        match id {
            HelperId::Fixed(v) => self.load_constant(RDI, v),
            HelperId::Reg(r) => {
                if r != RDI {
                    x64!(self.ops ; mov rdi, Rq(r));
                }
            }
        }
        x64!(self.ops ; mov [r12 + off::FAULT_VALUE], rdi);
        if self.counting {
            x64!(self.ops
                ; mov rsi, [r12 + off::BUDGET]
                ; sub rsi, rcx
            );
        } else {
            x64!(self.ops ; xor esi, esi);
        }
        let f = call_helper as extern "sysv64" fn(u64, u64) -> _ as usize as i64;
        x64!(self.ops
            ; mov rax, QWORD f
            ; call rax
            ; pop rcx
            ; pop rsp
        );
        let unknown = self.fault(
            FaultKind::UnknownHelper,
            SiteAddr::Value,
            0,
            StubValue::None,
        );
        x64!(self.ops
            ; test rdx, rdx
            ; jz =>unknown
            ; xor edi, edi ; xor esi, esi ; xor edx, edx ; xor r9d, r9d ; xor r8d, r8d
        );
    }
}
