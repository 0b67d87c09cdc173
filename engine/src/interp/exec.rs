//! The interpreter loop over prepared code.

use super::helper_call;
use super::memory::Memory;
use super::prepared::{Kind, Op, PreparedCode};
use super::semantics as sem;
use super::{
    ExecResult, Execution, Fault, FaultKind, CODE_BASE, MAX_FRAMES, MEM_BASE, STACK_SIZE, STACK_TOP,
};

/// Registers saved by a local call: r6..r10 and their derived marks.
#[derive(Clone, Copy, Default)]
struct Frame {
    return_pc: usize,
    saved: [u64; 5],
    saved_derived: [u8; 5],
}

/// Runs prepared code on `input` with at most `budget` instructions.
pub(super) fn execute(code: &PreparedCode, input: &mut [u8], budget: u64) -> Execution {
    let mut mem = Memory::new(input);
    let mut regs = [0u64; 16];
    // derived[i] != 0: register i holds a pointer-derived (implementation-specific) value.
    let mut derived = [0u8; 16];
    derived[10] = 1;
    regs[10] = STACK_TOP;
    let input_len = mem_len(&mem);
    if input_len > 0 {
        regs[1] = MEM_BASE;
        regs[2] = input_len;
        derived[1] = 1;
    }
    let mut frames = [Frame::default(); MAX_FRAMES];
    let mut depth = 0usize;
    let mut executed: u64 = 0;
    let mut pc = 0usize;
    let ops = &code.ops[..];

    macro_rules! fault {
        ($kind:expr, $addr:expr, $size:expr) => {{
            let result = ExecResult::Fault(Fault {
                kind: $kind,
                pc,
                addr: $addr,
                size: $size as u8,
            });
            return finish(result, executed, mem);
        }};
    }
    macro_rules! bit {
        ($r:expr) => {
            derived[($r & 15) as usize] != 0
        };
    }
    macro_rules! set_bit {
        ($r:expr, $v:expr) => {
            derived[($r & 15) as usize] = u8::from($v)
        };
    }
    macro_rules! alu_r {
        ($op:expr, $f:expr) => {{
            let d = ($op.dst & 15) as usize;
            let s = ($op.src & 15) as usize;
            regs[d] = $f(regs[d], regs[s]);
            derived[d] |= derived[s];
        }};
    }
    macro_rules! alu_i {
        ($op:expr, $f:expr) => {{
            let d = ($op.dst & 15) as usize;
            regs[d] = $f(regs[d], $op.imm);
        }};
    }
    // The budget is checked where a program can repeat itself: at taken
    // backward jumps and at local calls (see the module docs).
    macro_rules! check_budget {
        () => {
            if executed > budget {
                return finish(ExecResult::OutOfBudget, executed, mem);
            }
        };
    }
    macro_rules! jump_if {
        ($cond:expr, $op:expr) => {{
            if $cond {
                let target = $op.off as usize;
                if target <= pc {
                    check_budget!();
                }
                pc = target;
                continue;
            }
        }};
    }
    macro_rules! load {
        ($op:expr, $size:expr, $extend:expr) => {{
            let d = ($op.dst & 15) as usize;
            let base = ($op.src & 15) as usize;
            let addr = regs[base].wrapping_add($op.off as i64 as u64);
            if derived[base] == 0 {
                fault!(FaultKind::OutOfBounds, addr, $size);
            }
            match mem.load(addr, $size, pc) {
                Some((v, der)) => {
                    regs[d] = $extend(v);
                    set_bit!(d, der);
                }
                None => fault!(FaultKind::OutOfBounds, addr, $size),
            }
        }};
    }
    macro_rules! store {
        ($op:expr, $size:expr, $value:expr, $der:expr) => {{
            let base = ($op.dst & 15) as usize;
            let addr = regs[base].wrapping_add($op.off as i64 as u64);
            if derived[base] == 0 || mem.store(addr, $size, $value, $der).is_none() {
                fault!(FaultKind::OutOfBounds, addr, $size);
            }
        }};
    }

    loop {
        debug_assert!(pc < ops.len());
        // SAFETY: `pc` is always a valid index into `ops`: it starts at 0
        // (there is at least the fell-off-end sentinel), sequential flow
        // stops at that sentinel, every jump and call target was resolved by
        // `PreparedCode::new` to a program slot or a sentinel, and callx
        // targets are range-checked against the program's slots above.
        let op: &Op = unsafe { ops.get_unchecked(pc) };
        executed += 1;
        match op.kind {
            Kind::Add64R => alu_r!(op, u64::wrapping_add),
            Kind::Add64I => alu_i!(op, u64::wrapping_add),
            Kind::Sub64R => alu_r!(op, u64::wrapping_sub),
            Kind::Sub64I => alu_i!(op, u64::wrapping_sub),
            Kind::Mul64R => alu_r!(op, u64::wrapping_mul),
            Kind::Mul64I => alu_i!(op, u64::wrapping_mul),
            Kind::Div64R => alu_r!(op, sem::div64),
            Kind::Div64I => alu_i!(op, sem::div64),
            Kind::SDiv64R => alu_r!(op, sem::sdiv64),
            Kind::SDiv64I => alu_i!(op, sem::sdiv64),
            Kind::Mod64R => alu_r!(op, sem::mod64),
            Kind::Mod64I => alu_i!(op, sem::mod64),
            Kind::SMod64R => alu_r!(op, sem::smod64),
            Kind::SMod64I => alu_i!(op, sem::smod64),
            Kind::Or64R => alu_r!(op, |a, b| a | b),
            Kind::Or64I => alu_i!(op, |a, b| a | b),
            Kind::And64R => alu_r!(op, |a, b| a & b),
            Kind::And64I => alu_i!(op, |a, b| a & b),
            Kind::Xor64R => alu_r!(op, |a, b| a ^ b),
            Kind::Xor64I => alu_i!(op, |a, b| a ^ b),
            Kind::Lsh64R => alu_r!(op, sem::lsh64),
            Kind::Lsh64I => alu_i!(op, sem::lsh64),
            Kind::Rsh64R => alu_r!(op, sem::rsh64),
            Kind::Rsh64I => alu_i!(op, sem::rsh64),
            Kind::Arsh64R => alu_r!(op, sem::arsh64),
            Kind::Arsh64I => alu_i!(op, sem::arsh64),
            Kind::Mov64R => {
                let d = (op.dst & 15) as usize;
                let s = (op.src & 15) as usize;
                regs[d] = regs[s];
                set_bit!(d, bit!(s));
            }
            Kind::Mov64I => {
                let d = (op.dst & 15) as usize;
                regs[d] = op.imm;
                set_bit!(d, false);
            }
            Kind::Add32R => alu_r!(op, |a: u64, b: u64| (a as u32).wrapping_add(b as u32)
                as u64),
            Kind::Add32I => alu_i!(op, |a: u64, b: u64| (a as u32).wrapping_add(b as u32)
                as u64),
            Kind::Sub32R => alu_r!(op, |a: u64, b: u64| (a as u32).wrapping_sub(b as u32)
                as u64),
            Kind::Sub32I => alu_i!(op, |a: u64, b: u64| (a as u32).wrapping_sub(b as u32)
                as u64),
            Kind::Mul32R => alu_r!(op, |a: u64, b: u64| (a as u32).wrapping_mul(b as u32)
                as u64),
            Kind::Mul32I => alu_i!(op, |a: u64, b: u64| (a as u32).wrapping_mul(b as u32)
                as u64),
            Kind::Div32R => alu_r!(op, sem::div32),
            Kind::Div32I => alu_i!(op, sem::div32),
            Kind::SDiv32R => alu_r!(op, sem::sdiv32),
            Kind::SDiv32I => alu_i!(op, sem::sdiv32),
            Kind::Mod32R => alu_r!(op, sem::mod32),
            Kind::Mod32I => alu_i!(op, sem::mod32),
            Kind::SMod32R => alu_r!(op, sem::smod32),
            Kind::SMod32I => alu_i!(op, sem::smod32),
            Kind::Or32R => alu_r!(op, |a: u64, b: u64| (a as u32 | b as u32) as u64),
            Kind::Or32I => alu_i!(op, |a: u64, b: u64| (a as u32 | b as u32) as u64),
            Kind::And32R => alu_r!(op, |a: u64, b: u64| (a as u32 & b as u32) as u64),
            Kind::And32I => alu_i!(op, |a: u64, b: u64| (a as u32 & b as u32) as u64),
            Kind::Xor32R => alu_r!(op, |a: u64, b: u64| (a as u32 ^ b as u32) as u64),
            Kind::Xor32I => alu_i!(op, |a: u64, b: u64| (a as u32 ^ b as u32) as u64),
            Kind::Lsh32R => alu_r!(op, sem::lsh32),
            Kind::Lsh32I => alu_i!(op, sem::lsh32),
            Kind::Rsh32R => alu_r!(op, sem::rsh32),
            Kind::Rsh32I => alu_i!(op, sem::rsh32),
            Kind::Arsh32R => alu_r!(op, sem::arsh32),
            Kind::Arsh32I => alu_i!(op, sem::arsh32),
            Kind::Mov32R => {
                let d = (op.dst & 15) as usize;
                let s = (op.src & 15) as usize;
                regs[d] = regs[s] as u32 as u64;
                set_bit!(d, bit!(s));
            }
            Kind::Mov32I => {
                let d = (op.dst & 15) as usize;
                regs[d] = op.imm;
                set_bit!(d, false);
            }
            Kind::Neg64 => {
                let d = (op.dst & 15) as usize;
                regs[d] = regs[d].wrapping_neg();
            }
            Kind::Neg32 => {
                let d = (op.dst & 15) as usize;
                regs[d] = (regs[d] as u32).wrapping_neg() as u64;
            }
            Kind::MovSx64 => {
                let d = (op.dst & 15) as usize;
                let s = (op.src & 15) as usize;
                regs[d] = sem::sign_extend(regs[s], op.aux as u32);
                set_bit!(d, bit!(s));
            }
            Kind::MovSx32 => {
                let d = (op.dst & 15) as usize;
                let s = (op.src & 15) as usize;
                regs[d] = sem::sign_extend(regs[s], op.aux as u32) as u32 as u64;
                set_bit!(d, bit!(s));
            }
            Kind::ToLe => {
                let d = (op.dst & 15) as usize;
                regs[d] = sem::to_le(regs[d], op.aux as u32);
            }
            Kind::Swap => {
                let d = (op.dst & 15) as usize;
                regs[d] = sem::byte_swap(regs[d], op.aux as u32);
            }
            Kind::Ja => jump_if!(true, op),
            Kind::Jeq64R => jump_if!(
                regs[(op.dst & 15) as usize] == regs[(op.src & 15) as usize],
                op
            ),
            Kind::Jeq64I => jump_if!(regs[(op.dst & 15) as usize] == op.imm, op),
            Kind::Jgt64R => jump_if!(
                regs[(op.dst & 15) as usize] > regs[(op.src & 15) as usize],
                op
            ),
            Kind::Jgt64I => jump_if!(regs[(op.dst & 15) as usize] > op.imm, op),
            Kind::Jge64R => jump_if!(
                regs[(op.dst & 15) as usize] >= regs[(op.src & 15) as usize],
                op
            ),
            Kind::Jge64I => jump_if!(regs[(op.dst & 15) as usize] >= op.imm, op),
            Kind::Jset64R => jump_if!(
                regs[(op.dst & 15) as usize] & regs[(op.src & 15) as usize] != 0,
                op
            ),
            Kind::Jset64I => jump_if!(regs[(op.dst & 15) as usize] & op.imm != 0, op),
            Kind::Jne64R => jump_if!(
                regs[(op.dst & 15) as usize] != regs[(op.src & 15) as usize],
                op
            ),
            Kind::Jne64I => jump_if!(regs[(op.dst & 15) as usize] != op.imm, op),
            Kind::Jsgt64R => jump_if!(
                (regs[(op.dst & 15) as usize] as i64) > (regs[(op.src & 15) as usize] as i64),
                op
            ),
            Kind::Jsgt64I => jump_if!((regs[(op.dst & 15) as usize] as i64) > (op.imm as i64), op),
            Kind::Jsge64R => jump_if!(
                (regs[(op.dst & 15) as usize] as i64) >= (regs[(op.src & 15) as usize] as i64),
                op
            ),
            Kind::Jsge64I => jump_if!((regs[(op.dst & 15) as usize] as i64) >= (op.imm as i64), op),
            Kind::Jlt64R => jump_if!(
                regs[(op.dst & 15) as usize] < regs[(op.src & 15) as usize],
                op
            ),
            Kind::Jlt64I => jump_if!(regs[(op.dst & 15) as usize] < op.imm, op),
            Kind::Jle64R => jump_if!(
                regs[(op.dst & 15) as usize] <= regs[(op.src & 15) as usize],
                op
            ),
            Kind::Jle64I => jump_if!(regs[(op.dst & 15) as usize] <= op.imm, op),
            Kind::Jslt64R => jump_if!(
                (regs[(op.dst & 15) as usize] as i64) < (regs[(op.src & 15) as usize] as i64),
                op
            ),
            Kind::Jslt64I => jump_if!((regs[(op.dst & 15) as usize] as i64) < (op.imm as i64), op),
            Kind::Jsle64R => jump_if!(
                (regs[(op.dst & 15) as usize] as i64) <= (regs[(op.src & 15) as usize] as i64),
                op
            ),
            Kind::Jsle64I => jump_if!((regs[(op.dst & 15) as usize] as i64) <= (op.imm as i64), op),
            Kind::Jeq32R => jump_if!(
                regs[(op.dst & 15) as usize] as u32 == regs[(op.src & 15) as usize] as u32,
                op
            ),
            Kind::Jeq32I => jump_if!(regs[(op.dst & 15) as usize] as u32 == op.imm as u32, op),
            Kind::Jgt32R => jump_if!(
                regs[(op.dst & 15) as usize] as u32 > regs[(op.src & 15) as usize] as u32,
                op
            ),
            Kind::Jgt32I => jump_if!(regs[(op.dst & 15) as usize] as u32 > op.imm as u32, op),
            Kind::Jge32R => jump_if!(
                regs[(op.dst & 15) as usize] as u32 >= regs[(op.src & 15) as usize] as u32,
                op
            ),
            Kind::Jge32I => jump_if!(regs[(op.dst & 15) as usize] as u32 >= op.imm as u32, op),
            Kind::Jset32R => jump_if!(
                regs[(op.dst & 15) as usize] as u32 & regs[(op.src & 15) as usize] as u32 != 0,
                op
            ),
            Kind::Jset32I => jump_if!(regs[(op.dst & 15) as usize] as u32 & op.imm as u32 != 0, op),
            Kind::Jne32R => jump_if!(
                regs[(op.dst & 15) as usize] as u32 != regs[(op.src & 15) as usize] as u32,
                op
            ),
            Kind::Jne32I => jump_if!(regs[(op.dst & 15) as usize] as u32 != op.imm as u32, op),
            Kind::Jsgt32R => jump_if!(
                (regs[(op.dst & 15) as usize] as i32) > (regs[(op.src & 15) as usize] as i32),
                op
            ),
            Kind::Jsgt32I => jump_if!((regs[(op.dst & 15) as usize] as i32) > (op.imm as i32), op),
            Kind::Jsge32R => jump_if!(
                (regs[(op.dst & 15) as usize] as i32) >= (regs[(op.src & 15) as usize] as i32),
                op
            ),
            Kind::Jsge32I => jump_if!((regs[(op.dst & 15) as usize] as i32) >= (op.imm as i32), op),
            Kind::Jlt32R => jump_if!(
                (regs[(op.dst & 15) as usize] as u32) < regs[(op.src & 15) as usize] as u32,
                op
            ),
            Kind::Jlt32I => jump_if!((regs[(op.dst & 15) as usize] as u32) < op.imm as u32, op),
            Kind::Jle32R => jump_if!(
                regs[(op.dst & 15) as usize] as u32 <= regs[(op.src & 15) as usize] as u32,
                op
            ),
            Kind::Jle32I => jump_if!(regs[(op.dst & 15) as usize] as u32 <= op.imm as u32, op),
            Kind::Jslt32R => jump_if!(
                (regs[(op.dst & 15) as usize] as i32) < (regs[(op.src & 15) as usize] as i32),
                op
            ),
            Kind::Jslt32I => jump_if!((regs[(op.dst & 15) as usize] as i32) < (op.imm as i32), op),
            Kind::Jsle32R => jump_if!(
                (regs[(op.dst & 15) as usize] as i32) <= (regs[(op.src & 15) as usize] as i32),
                op
            ),
            Kind::Jsle32I => jump_if!((regs[(op.dst & 15) as usize] as i32) <= (op.imm as i32), op),
            Kind::CallHelper => match helper_call::call(op.imm, executed) {
                Ok(r0) => {
                    regs[0] = r0;
                    regs[1..6].fill(0);
                    derived[0..6].fill(1);
                }
                Err(kind) => fault!(kind, op.imm, 0),
            },
            Kind::Callx => {
                let d = (op.dst & 15) as usize;
                let value = regs[d];
                let code_off = value.wrapping_sub(CODE_BASE);
                if code_off < (code.slots as u64) * 8 && code_off % 8 == 0 {
                    let target = (code_off / 8) as usize;
                    check_budget!();
                    if ops[target].kind == Kind::LdImm64Second {
                        fault!(FaultKind::JumpIntoLdImm64, target as u64, 0);
                    }
                    if depth + 1 >= MAX_FRAMES {
                        fault!(FaultKind::CallDepthExceeded, target as u64, 0);
                    }
                    push_frame(&mut frames[depth], pc, &regs, &derived);
                    depth += 1;
                    enter_frame(&mut regs, &mut derived, &mut mem, depth);
                    pc = target;
                    continue;
                }
                match helper_call::call(value, executed) {
                    Ok(r0) => {
                        regs[0] = r0;
                        regs[1..6].fill(0);
                        derived[0..6].fill(1);
                    }
                    Err(kind) => fault!(kind, value, 0),
                }
            }
            Kind::CallLocal => {
                check_budget!();
                if depth + 1 >= MAX_FRAMES {
                    fault!(FaultKind::CallDepthExceeded, op.off as u64, 0);
                }
                push_frame(&mut frames[depth], pc, &regs, &derived);
                depth += 1;
                enter_frame(&mut regs, &mut derived, &mut mem, depth);
                pc = op.off as usize;
                continue;
            }
            Kind::Exit => {
                if depth == 0 {
                    let result = ExecResult::Returned {
                        r0: regs[0],
                        r0_derived: derived[0] != 0,
                    };
                    return finish(result, executed, mem);
                }
                depth -= 1;
                let frame = &frames[depth];
                regs[6..11].copy_from_slice(&frame.saved);
                derived[6..11].copy_from_slice(&frame.saved_derived);
                mem.set_depth(depth);
                pc = frame.return_pc + 1;
                continue;
            }
            Kind::LdImm64 => {
                let d = (op.dst & 15) as usize;
                regs[d] = op.imm;
                set_bit!(d, false);
                pc += 2;
                continue;
            }
            Kind::LdMapValue => {
                let d = (op.dst & 15) as usize;
                regs[d] = MEM_BASE.wrapping_add(op.imm);
                set_bit!(d, true);
                pc += 2;
                continue;
            }
            Kind::LdFunc => {
                let d = (op.dst & 15) as usize;
                let target = op.off as u64;
                let slot = if (op.off as usize) < code.slots {
                    target
                } else {
                    ops[op.off as usize].imm
                };
                regs[d] = CODE_BASE.wrapping_add(slot.wrapping_mul(8));
                set_bit!(d, true);
                pc += 2;
                continue;
            }
            Kind::LdAbs | Kind::LdInd => {
                let base = if op.kind == Kind::LdInd {
                    regs[(op.src & 15) as usize] as u32 as i64
                } else {
                    0
                };
                let offset = base + op.imm as i64;
                match mem.load_packet_be(offset, op.aux as usize) {
                    Some(v) => {
                        regs[0] = v;
                        set_bit!(0, false);
                    }
                    None => {
                        // SEMANTICS.md: out-of-bounds legacy packet loads exit with r0 = 0.
                        let result = ExecResult::Returned {
                            r0: 0,
                            r0_derived: false,
                        };
                        return finish(result, executed, mem);
                    }
                }
            }
            Kind::LdxB => load!(op, 1, |v| v),
            Kind::LdxH => load!(op, 2, |v| v),
            Kind::LdxW => load!(op, 4, |v| v),
            Kind::LdxDW => load!(op, 8, |v| v),
            Kind::LdxSB => load!(op, 1, |v| sem::sign_extend(v, 8)),
            Kind::LdxSH => load!(op, 2, |v| sem::sign_extend(v, 16)),
            Kind::LdxSW => load!(op, 4, |v| sem::sign_extend(v, 32)),
            Kind::StB => store!(op, 1, op.imm, false),
            Kind::StH => store!(op, 2, op.imm, false),
            Kind::StW => store!(op, 4, op.imm, false),
            Kind::StDW => store!(op, 8, op.imm, false),
            Kind::StxB => store!(op, 1, regs[(op.src & 15) as usize], bit!(op.src & 15)),
            Kind::StxH => store!(op, 2, regs[(op.src & 15) as usize], bit!(op.src & 15)),
            Kind::StxW => store!(op, 4, regs[(op.src & 15) as usize], bit!(op.src & 15)),
            Kind::StxDW => store!(op, 8, regs[(op.src & 15) as usize], bit!(op.src & 15)),
            Kind::LoadAcquire => load!(op, op.aux as usize, |v| v),
            Kind::StoreRelease => {
                store!(
                    op,
                    op.aux as usize,
                    regs[(op.src & 15) as usize],
                    bit!(op.src & 15)
                )
            }
            Kind::Atomic => {
                let d = (op.dst & 15) as usize;
                let s = (op.src & 15) as usize;
                let size = op.aux as usize;
                let addr = regs[d].wrapping_add(op.off as i64 as u64);
                if derived[d] == 0 {
                    fault!(FaultKind::OutOfBounds, addr, size);
                }
                let Some((old, old_derived)) = mem.load(addr, size, pc) else {
                    fault!(FaultKind::OutOfBounds, addr, size);
                };
                let narrow = |v: u64| if size == 4 { v as u32 as u64 } else { v };
                let src_value = regs[s];
                let src_derived = bit!(s);
                let fetch = op.imm & 0x01 != 0;
                let (new, new_derived) = match op.imm & !0x01 {
                    0x00 => (old.wrapping_add(src_value), old_derived | src_derived),
                    0x40 => (old | src_value, old_derived | src_derived),
                    0x50 => (old & src_value, old_derived | src_derived),
                    0xa0 => (old ^ src_value, old_derived | src_derived),
                    0xe0 => (src_value, src_derived),
                    _ => {
                        // cmpxchg: compare with r0 (its low 32 bits for the 32-bit form).
                        if narrow(regs[0]) == old {
                            (src_value, src_derived)
                        } else {
                            (old, old_derived)
                        }
                    }
                };
                mem.store(addr, size, narrow(new), new_derived);
                if op.imm == 0xf1 {
                    regs[0] = old;
                    set_bit!(0, old_derived);
                } else if fetch {
                    regs[s] = old;
                    set_bit!(s, old_derived);
                }
            }
            Kind::Unsupported => fault!(FaultKind::Unsupported, 0, 0),
            Kind::LdImm64Second => fault!(FaultKind::JumpIntoLdImm64, pc as u64, 0),
            Kind::FellOffEnd => {
                executed -= 1;
                fault!(FaultKind::FellOffEnd, pc as u64, 0);
            }
            Kind::MovAdd64R | Kind::MovAdd64I | Kind::MovAnd64I => {
                // SAFETY: fused ops are only made from a pair whose second
                // op is at pc + 1 (see `fuse_pairs`).
                let next: &Op = unsafe { ops.get_unchecked(pc + 1) };
                let d = (op.dst & 15) as usize;
                let s = (op.src & 15) as usize;
                let mut mark = derived[s];
                regs[d] = match op.kind {
                    Kind::MovAdd64R => {
                        // `t` reads the register after the move.
                        let t = (next.src & 15) as usize;
                        let (value, t_mark) = if t == d {
                            (regs[s], derived[s])
                        } else {
                            (regs[t], derived[t])
                        };
                        mark |= t_mark;
                        regs[s].wrapping_add(value)
                    }
                    Kind::MovAdd64I => regs[s].wrapping_add(next.imm),
                    _ => regs[s] & next.imm,
                };
                derived[d] = mark;
                executed += 1;
                pc += 2;
                continue;
            }
            Kind::AddJlt64I | Kind::AddJne64I => {
                // SAFETY: as above.
                let next: &Op = unsafe { ops.get_unchecked(pc + 1) };
                let d = (op.dst & 15) as usize;
                regs[d] = regs[d].wrapping_add(op.imm);
                executed += 1;
                let taken = if op.kind == Kind::AddJlt64I {
                    regs[d] < next.imm
                } else {
                    regs[d] != next.imm
                };
                pc += 1;
                jump_if!(taken, next);
            }
            Kind::BadTarget => {
                executed -= 1;
                pc = op.off as usize;
                fault!(PreparedCode::bad_target_fault(op), op.imm, 0);
            }
        }
        pc += 1;
    }
}

fn mem_len(mem: &Memory<'_>) -> u64 {
    // The input region is the only one whose length a program is told.
    mem.input_len() as u64
}

fn push_frame(frame: &mut Frame, pc: usize, regs: &[u64; 16], derived: &[u8; 16]) {
    frame.return_pc = pc;
    frame.saved.copy_from_slice(&regs[6..11]);
    frame.saved_derived.copy_from_slice(&derived[6..11]);
}

fn enter_frame(regs: &mut [u64; 16], derived: &mut [u8; 16], mem: &mut Memory<'_>, depth: usize) {
    regs[10] = STACK_TOP - (depth * STACK_SIZE) as u64;
    derived[10] = 1;
    mem.enter_frame(depth);
}

fn finish(result: ExecResult, insns_executed: u64, mut mem: Memory<'_>) -> Execution {
    Execution {
        result,
        insns_executed,
        uninit_stack_read: mem.uninit_read_pc(),
        mem_derived: mem.take_input_shadow(),
    }
}
