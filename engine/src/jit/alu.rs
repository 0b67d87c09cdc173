//! ALU and ALU64 instructions (RFC 9669 §4.1–4.2) with the kernel's
//! answers where the RFC leaves a choice (SEMANTICS.md): 32-bit results
//! zero-extended, shift amounts masked, division by zero and INT_MIN / -1
//! handled without a CPU exception.

use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};

use super::compile::{x64, Compiler, DivFix, StubValue};
use super::context::SiteAddr;
use super::regs::*;
use crate::decode::Instruction;
use crate::interp::FaultKind;
use crate::opcode::{Class, Operation, Size, Source};

/// The second operand of an ALU instruction.
#[derive(Clone, Copy, Debug)]
enum Operand {
    /// An x86 register.
    Reg(u8),
    /// The immediate (sign-extended by the CPU for 64-bit operations,
    /// used as is for 32-bit ones).
    Imm(i32),
}

/// Shift kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shift {
    Left,
    Logical,
    Arithmetic,
}

impl Compiler<'_> {
    /// Compiles an ALU or ALU64 instruction.
    pub(super) fn alu(&mut self, ins: &Instruction) {
        use Operation as O;
        let wide = ins.row.class == Class::Alu64;
        let d = host(ins.dst);
        let operand = if ins.row.source == Source::Reg {
            Operand::Reg(host(ins.src))
        } else {
            Operand::Imm(ins.imm)
        };
        match ins.row.operation {
            O::Add | O::Sub | O::Mul | O::Or | O::And | O::Xor => {
                self.binary(ins.row.operation, wide, d, operand)
            }
            O::Mov => self.mov(wide, d, operand),
            O::Lsh => self.shift(Shift::Left, wide, d, operand),
            O::Rsh => self.shift(Shift::Logical, wide, d, operand),
            O::Arsh => self.shift(Shift::Arithmetic, wide, d, operand),
            O::Div | O::SDiv | O::Mod | O::SMod => self.divmod(ins.row.operation, wide, d, operand),
            O::Neg => {
                if wide {
                    x64!(self.ops ; neg Rq(d));
                } else {
                    x64!(self.ops ; neg Rd(d));
                }
            }
            O::MovSx => self.movsx(wide, d, host(ins.src), ins.row.size),
            O::Le | O::Be | O::Bswap => self.endian(ins.row.operation, d, ins.row.size),
            _ => {
                // Not an ALU operation: the table has no such row; fault
                // rather than emit nonsense.
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

    fn binary(&mut self, op: Operation, wide: bool, d: u8, operand: Operand) {
        use Operand::{Imm, Reg};
        use Operation as O;
        if let Imm(i) = operand {
            if let Ok(b) = i8::try_from(i) {
                // The short forms sign-extend an 8-bit immediate (3 bytes
                // shorter, which matters to the decoders on long
                // straight-line code).
                match (op, wide) {
                    (O::Add, true) => x64!(self.ops ; add Rq(d), BYTE b),
                    (O::Add, false) => x64!(self.ops ; add Rd(d), BYTE b),
                    (O::Sub, true) => x64!(self.ops ; sub Rq(d), BYTE b),
                    (O::Sub, false) => x64!(self.ops ; sub Rd(d), BYTE b),
                    (O::Mul, true) => x64!(self.ops ; imul Rq(d), Rq(d), BYTE b),
                    (O::Mul, false) => x64!(self.ops ; imul Rd(d), Rd(d), BYTE b),
                    (O::Or, true) => x64!(self.ops ; or Rq(d), BYTE b),
                    (O::Or, false) => x64!(self.ops ; or Rd(d), BYTE b),
                    (O::And, true) => x64!(self.ops ; and Rq(d), BYTE b),
                    (O::And, false) => x64!(self.ops ; and Rd(d), BYTE b),
                    (O::Xor, true) => x64!(self.ops ; xor Rq(d), BYTE b),
                    (O::Xor, false) => x64!(self.ops ; xor Rd(d), BYTE b),
                    _ => unreachable!("binary() is only called for add/sub/mul/or/and/xor"),
                }
                return;
            }
        }
        match (op, wide, operand) {
            (O::Add, true, Reg(s)) => x64!(self.ops ; add Rq(d), Rq(s)),
            (O::Add, true, Imm(i)) => x64!(self.ops ; add Rq(d), i),
            (O::Add, false, Reg(s)) => x64!(self.ops ; add Rd(d), Rd(s)),
            (O::Add, false, Imm(i)) => x64!(self.ops ; add Rd(d), i),
            (O::Sub, true, Reg(s)) => x64!(self.ops ; sub Rq(d), Rq(s)),
            (O::Sub, true, Imm(i)) => x64!(self.ops ; sub Rq(d), i),
            (O::Sub, false, Reg(s)) => x64!(self.ops ; sub Rd(d), Rd(s)),
            (O::Sub, false, Imm(i)) => x64!(self.ops ; sub Rd(d), i),
            (O::Mul, true, Reg(s)) => x64!(self.ops ; imul Rq(d), Rq(s)),
            (O::Mul, true, Imm(i)) => x64!(self.ops ; imul Rq(d), Rq(d), i),
            (O::Mul, false, Reg(s)) => x64!(self.ops ; imul Rd(d), Rd(s)),
            (O::Mul, false, Imm(i)) => x64!(self.ops ; imul Rd(d), Rd(d), i),
            (O::Or, true, Reg(s)) => x64!(self.ops ; or Rq(d), Rq(s)),
            (O::Or, true, Imm(i)) => x64!(self.ops ; or Rq(d), i),
            (O::Or, false, Reg(s)) => x64!(self.ops ; or Rd(d), Rd(s)),
            (O::Or, false, Imm(i)) => x64!(self.ops ; or Rd(d), i),
            (O::And, true, Reg(s)) => x64!(self.ops ; and Rq(d), Rq(s)),
            (O::And, true, Imm(i)) => x64!(self.ops ; and Rq(d), i),
            (O::And, false, Reg(s)) => x64!(self.ops ; and Rd(d), Rd(s)),
            (O::And, false, Imm(i)) => x64!(self.ops ; and Rd(d), i),
            (O::Xor, true, Reg(s)) => x64!(self.ops ; xor Rq(d), Rq(s)),
            (O::Xor, true, Imm(i)) => x64!(self.ops ; xor Rq(d), i),
            (O::Xor, false, Reg(s)) => x64!(self.ops ; xor Rd(d), Rd(s)),
            (O::Xor, false, Imm(i)) => x64!(self.ops ; xor Rd(d), i),
            _ => unreachable!("binary() is only called for add/sub/mul/or/and/xor"),
        }
    }

    fn mov(&mut self, wide: bool, d: u8, operand: Operand) {
        match (wide, operand) {
            (true, Operand::Reg(s)) => {
                if s != d {
                    x64!(self.ops ; mov Rq(d), Rq(s));
                }
            }
            (false, Operand::Reg(s)) => x64!(self.ops ; mov Rd(d), Rd(s)),
            (_, Operand::Imm(0)) => x64!(self.ops ; xor Rd(d), Rd(d)),
            // A 32-bit move zero-extends: the same for a non-negative value.
            (true, Operand::Imm(i)) if i > 0 => x64!(self.ops ; mov Rd(d), DWORD i),
            (true, Operand::Imm(i)) => x64!(self.ops ; mov Rq(d), DWORD i),
            (false, Operand::Imm(i)) => x64!(self.ops ; mov Rd(d), DWORD i),
        }
    }

    /// Loads a 64-bit constant into `d` with the shortest encoding.
    pub(super) fn load_constant(&mut self, d: u8, value: u64) {
        if value == 0 {
            x64!(self.ops ; xor Rd(d), Rd(d));
        } else if value <= u32::MAX as u64 {
            x64!(self.ops ; mov Rd(d), DWORD value as u32 as i32);
        } else if value as i64 == value as i32 as i64 {
            x64!(self.ops ; mov Rq(d), DWORD value as i32);
        } else {
            x64!(self.ops ; mov Rq(d), QWORD value as i64);
        }
    }

    /// Zero-extends the low 32 bits of `d` into the whole register.
    fn zero_extend(&mut self, d: u8) {
        x64!(self.ops ; mov Rd(d), Rd(d));
    }

    fn shift(&mut self, kind: Shift, wide: bool, d: u8, operand: Operand) {
        match operand {
            Operand::Imm(i) => {
                let mask = if wide { 63 } else { 31 };
                self.shift_by(kind, wide, d, (i as u32 & mask) as i8);
            }
            Operand::Reg(s) if self.features.bmi2 => match (kind, wide) {
                // BMI2 shifts mask the amount to 6 (5) bits, like eBPF, and
                // always write (zero-extend) the destination.
                (Shift::Left, true) => x64!(self.ops ; shlx Rq(d), Rq(d), Rq(s)),
                (Shift::Left, false) => x64!(self.ops ; shlx Rd(d), Rd(d), Rd(s)),
                (Shift::Logical, true) => x64!(self.ops ; shrx Rq(d), Rq(d), Rq(s)),
                (Shift::Logical, false) => x64!(self.ops ; shrx Rd(d), Rd(d), Rd(s)),
                (Shift::Arithmetic, true) => x64!(self.ops ; sarx Rq(d), Rq(d), Rq(s)),
                (Shift::Arithmetic, false) => x64!(self.ops ; sarx Rd(d), Rd(d), Rd(s)),
            },
            Operand::Reg(s) => {
                // Legacy shifts take the amount in cl (masked the same way);
                // rcx holds the counter meanwhile in r10.
                x64!(self.ops
                    ; mov r10, rcx
                    ; mov ecx, Rd(s)
                );
                match (kind, wide) {
                    (Shift::Left, true) => x64!(self.ops ; shl Rq(d), cl),
                    (Shift::Left, false) => x64!(self.ops ; shl Rd(d), cl),
                    (Shift::Logical, true) => x64!(self.ops ; shr Rq(d), cl),
                    (Shift::Logical, false) => x64!(self.ops ; shr Rd(d), cl),
                    (Shift::Arithmetic, true) => x64!(self.ops ; sar Rq(d), cl),
                    (Shift::Arithmetic, false) => x64!(self.ops ; sar Rd(d), cl),
                }
                x64!(self.ops ; mov rcx, r10);
                if !wide {
                    // A shift by 0 leaves the register unwritten: make sure
                    // the upper half is cleared as eBPF requires.
                    self.zero_extend(d);
                }
            }
        }
    }

    /// Shifts `d` by a constant amount already masked to the width.
    fn shift_by(&mut self, kind: Shift, wide: bool, d: u8, count: i8) {
        if count == 0 {
            if !wide {
                self.zero_extend(d);
            }
            return;
        }
        match (kind, wide) {
            (Shift::Left, true) => x64!(self.ops ; shl Rq(d), count),
            (Shift::Left, false) => x64!(self.ops ; shl Rd(d), count),
            (Shift::Logical, true) => x64!(self.ops ; shr Rq(d), count),
            (Shift::Logical, false) => x64!(self.ops ; shr Rd(d), count),
            (Shift::Arithmetic, true) => x64!(self.ops ; sar Rq(d), count),
            (Shift::Arithmetic, false) => x64!(self.ops ; sar Rd(d), count),
        }
    }

    fn movsx(&mut self, wide: bool, d: u8, s: u8, size: Option<Size>) {
        match (wide, size) {
            (true, Some(Size::B)) => x64!(self.ops ; movsx Rq(d), Rb(s)),
            (true, Some(Size::H)) => x64!(self.ops ; movsx Rq(d), Rw(s)),
            (true, _) => x64!(self.ops ; movsxd Rq(d), Rd(s)),
            (false, Some(Size::B)) => x64!(self.ops ; movsx Rd(d), Rb(s)),
            // The table has 8 and 16 only for 32-bit MOVSX.
            (false, _) => x64!(self.ops ; movsx Rd(d), Rw(s)),
        }
    }

    fn endian(&mut self, op: Operation, d: u8, size: Option<Size>) {
        let bits = size.map_or(64, Size::bits);
        match (op, bits) {
            (Operation::Le, 16) => x64!(self.ops ; movzx Rd(d), Rw(d)),
            (Operation::Le, 32) => self.zero_extend(d),
            (Operation::Le, _) => {}
            (_, 16) => x64!(self.ops
                ; rol Rw(d), 8
                ; movzx Rd(d), Rw(d)
            ),
            (_, 32) => x64!(self.ops ; bswap Rd(d)),
            (_, _) => x64!(self.ops ; bswap Rq(d)),
        }
    }

    /// Applies a division special case to `d`.
    pub(super) fn div_fix(&mut self, d: u8, fix: DivFix) {
        match fix {
            DivFix::Zero => x64!(self.ops ; xor Rd(d), Rd(d)),
            DivFix::Keep => {}
            DivFix::Truncate => self.zero_extend(d),
            DivFix::Neg64 => x64!(self.ops ; neg Rq(d)),
            DivFix::Neg32 => x64!(self.ops ; neg Rd(d)),
        }
    }

    fn divmod(&mut self, op: Operation, wide: bool, d: u8, operand: Operand) {
        let signed = matches!(op, Operation::SDiv | Operation::SMod);
        let quotient = matches!(op, Operation::Div | Operation::SDiv);
        // SEMANTICS.md: x / 0 = 0; x % 0 = x (64-bit) or its low half (32-bit).
        let by_zero = match (quotient, wide) {
            (true, _) => DivFix::Zero,
            (false, true) => DivFix::Keep,
            (false, false) => DivFix::Truncate,
        };
        // INT_MIN s/ -1 = INT_MIN (= -x wrapping), x s% -1 = 0.
        let by_minus_one = match (quotient, wide) {
            (true, true) => DivFix::Neg64,
            (true, false) => DivFix::Neg32,
            (false, _) => DivFix::Zero,
        };
        match operand {
            Operand::Imm(i) => {
                let divisor = if wide {
                    i as i64 as u64
                } else {
                    i as u32 as u64
                };
                let minus_one = if wide { u64::MAX } else { u32::MAX as u64 };
                if divisor == 0 {
                    self.div_fix(d, by_zero);
                } else if signed && divisor == minus_one {
                    self.div_fix(d, by_minus_one);
                } else if !signed && divisor.is_power_of_two() && divisor <= 1 << 31 {
                    if quotient {
                        self.shift_by(Shift::Logical, wide, d, divisor.trailing_zeros() as i8);
                    } else {
                        let mask = (divisor - 1) as i32;
                        if wide {
                            x64!(self.ops ; and Rq(d), mask);
                        } else {
                            x64!(self.ops ; and Rd(d), mask);
                        }
                    }
                } else {
                    if wide {
                        x64!(self.ops ; mov r11, DWORD i);
                    } else {
                        x64!(self.ops ; mov r11d, DWORD i);
                    }
                    self.divide(d, wide, signed, quotient);
                }
            }
            Operand::Reg(s) => {
                let resume = self.ops.new_dynamic_label();
                let zero = self.div_stub(d, by_zero, resume);
                if wide {
                    x64!(self.ops
                        ; mov r11, Rq(s)
                        ; test r11, r11
                        ; jz =>zero
                    );
                } else {
                    x64!(self.ops
                        ; mov r11d, Rd(s)
                        ; test r11d, r11d
                        ; jz =>zero
                    );
                }
                if signed {
                    let minus_one = self.div_stub(d, by_minus_one, resume);
                    if wide {
                        x64!(self.ops ; cmp r11, -1 ; je =>minus_one);
                    } else {
                        x64!(self.ops ; cmp r11d, -1 ; je =>minus_one);
                    }
                }
                self.divide(d, wide, signed, quotient);
                x64!(self.ops ; =>resume);
            }
        }
    }

    /// `d = d / r11` or `d % r11` with x86 `div`/`idiv`, which need rdx:rax
    /// (eBPF r3 and r0): both are saved around it unless `d` is one of them.
    /// The divisor is neither 0 nor (for signed division) -1.
    fn divide(&mut self, d: u8, wide: bool, signed: bool, quotient: bool) {
        if d != RAX {
            x64!(self.ops ; mov r10, rax);
        }
        if d != RDX {
            x64!(self.ops ; push rdx);
        }
        if wide {
            if d != RAX {
                x64!(self.ops ; mov rax, Rq(d));
            }
        } else {
            x64!(self.ops ; mov eax, Rd(d));
        }
        match (wide, signed) {
            (true, false) => x64!(self.ops ; xor edx, edx ; div r11),
            (true, true) => x64!(self.ops ; cqo ; idiv r11),
            (false, false) => x64!(self.ops ; xor edx, edx ; div r11d),
            (false, true) => x64!(self.ops ; cdq ; idiv r11d),
        }
        let result = if quotient { RAX } else { RDX };
        if wide {
            if d != result {
                x64!(self.ops ; mov Rq(d), Rq(result));
            }
        } else {
            x64!(self.ops ; mov Rd(d), Rd(result));
        }
        if d != RDX {
            x64!(self.ops ; pop rdx);
        }
        if d != RAX {
            x64!(self.ops ; mov rax, r10);
        }
    }
}
