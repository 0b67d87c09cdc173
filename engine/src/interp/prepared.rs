//! Prepared code: each decoded instruction turned into a compact [`Op`]
//! whose [`Kind`] names exactly what its handler does (and which carries
//! that handler), with immediates pre-extended and jump targets resolved.
//!
//! The table row decides the kind; nothing here matches opcode bytes.
//! Jumps whose target is invalid point at a sentinel op appended after the
//! program, which faults with the jumping instruction's pc when (and only
//! when) the jump is taken.

use super::exec::Handler;
use super::handlers::handler_of;
use super::{FaultKind, STACK_SIZE};
use crate::decode::{DecodeError, Instruction};
use crate::opcode::{Class, Operation, Size, Source};
use crate::program::Program;

/// What an [`Op`] does. `R` forms read the `src` register, `I` forms the
/// pre-extended immediate; `64`/`32` is the operation width.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Add64R,
    Add64I,
    Sub64R,
    Sub64I,
    Mul64R,
    Mul64I,
    Div64R,
    Div64I,
    SDiv64R,
    SDiv64I,
    Mod64R,
    Mod64I,
    SMod64R,
    SMod64I,
    Or64R,
    Or64I,
    And64R,
    And64I,
    Xor64R,
    Xor64I,
    Lsh64R,
    Lsh64I,
    Rsh64R,
    Rsh64I,
    Arsh64R,
    Arsh64I,
    Mov64R,
    Mov64I,
    Add32R,
    Add32I,
    Sub32R,
    Sub32I,
    Mul32R,
    Mul32I,
    Div32R,
    Div32I,
    SDiv32R,
    SDiv32I,
    Mod32R,
    Mod32I,
    SMod32R,
    SMod32I,
    Or32R,
    Or32I,
    And32R,
    And32I,
    Xor32R,
    Xor32I,
    Lsh32R,
    Lsh32I,
    Rsh32R,
    Rsh32I,
    Arsh32R,
    Arsh32I,
    Mov32R,
    Mov32I,
    Neg64,
    Neg32,
    /// Sign-extending move; `aux` is the source width in bits.
    MovSx64,
    /// 32-bit sign-extending move, zero-extended; `aux` is the width.
    MovSx32,
    /// Truncate to `aux` bits (le16/le32/le64).
    ToLe,
    /// Swap the low `aux` bits' bytes (be*, bswap*).
    Swap,
    Ja,
    Jeq64R,
    Jeq64I,
    Jgt64R,
    Jgt64I,
    Jge64R,
    Jge64I,
    Jset64R,
    Jset64I,
    Jne64R,
    Jne64I,
    Jsgt64R,
    Jsgt64I,
    Jsge64R,
    Jsge64I,
    Jlt64R,
    Jlt64I,
    Jle64R,
    Jle64I,
    Jslt64R,
    Jslt64I,
    Jsle64R,
    Jsle64I,
    Jeq32R,
    Jeq32I,
    Jgt32R,
    Jgt32I,
    Jge32R,
    Jge32I,
    Jset32R,
    Jset32I,
    Jne32R,
    Jne32I,
    Jsgt32R,
    Jsgt32I,
    Jsge32R,
    Jsge32I,
    Jlt32R,
    Jlt32I,
    Jle32R,
    Jle32I,
    Jslt32R,
    Jslt32I,
    Jsle32R,
    Jsle32I,
    /// Helper call; `imm` is the helper id.
    CallHelper,
    /// Local call to `target`.
    CallLocal,
    /// Call through `dst` (subprogram address or helper id).
    Callx,
    Exit,
    /// `dst = imm` (the full 64-bit value).
    LdImm64,
    /// `dst = MEM_BASE + imm` (pointer-derived); with maps, the address
    /// of map `off`'s element 0 plus `imm`.
    LdMapValue,
    /// `dst = MAP_PTR_BASE + imm`: the pointer of map `imm`.
    LdMapFd,
    /// `dst = CODE_BASE + 8 * target` (pointer-derived).
    LdFunc,
    /// Legacy packet load of `aux` bytes at `imm`.
    LdAbs,
    /// Legacy packet load of `aux` bytes at `src + imm`.
    LdInd,
    LdxB,
    LdxH,
    LdxW,
    LdxDW,
    LdxSB,
    LdxSH,
    LdxSW,
    StB,
    StH,
    StW,
    StDW,
    StxB,
    StxH,
    StxW,
    StxDW,
    /// Atomic read-modify-write of `aux` bytes; `imm` is the atomic op.
    Atomic,
    /// Load-acquire of `aux` bytes.
    LoadAcquire,
    /// Store-release of `aux` bytes.
    StoreRelease,
    /// Decodes but cannot run yet.
    Unsupported,
    /// The second slot of an `ld_imm64`; never reached by fall-through.
    LdImm64Second,
    /// Sentinel after the last slot: control fell off the end.
    FellOffEnd,
    /// Sentinel for an invalid jump target; `target` is the jump's pc and
    /// `aux` selects the fault (0 out of range, 1 into `ld_imm64`).
    BadTarget,
    /// Fused pair: `Mov64R` then `Add64R` on the same dst (reads the next
    /// op's fields; the next op stays in place for jumps that land on it).
    MovAdd64R,
    /// Fused pair: `Mov64R` then `Add64I` on the same dst.
    MovAdd64I,
    /// Fused pair: `Mov64R` then `And64I` on the same dst.
    MovAnd64I,
    /// Fused pair: `Add64I` then `Jlt64I` on the same register (a loop step).
    AddJlt64I,
    /// Fused pair: `Add64I` then `Jne64I` on the same register.
    AddJne64I,
    /// Loads and stores at `r10 + off` in a program that never writes r10,
    /// with `off` inside the frame and the access inside one word of the
    /// stack bitmaps (see `frame_access_kind`): r10 is then the frame's top
    /// and the bounds are known before the run.
    FpLdxB,
    FpLdxH,
    FpLdxW,
    FpLdxDW,
    FpLdxSB,
    FpLdxSH,
    FpLdxSW,
    FpStB,
    FpStH,
    FpStW,
    FpStDW,
    FpStxB,
    FpStxH,
    FpStxW,
    FpStxDW,
}

/// One prepared instruction (24 bytes): the handler that runs it and its
/// decoded fields.
#[derive(Clone, Copy, Debug)]
pub(super) struct Op {
    /// Runs this op (chosen from `kind`; see `handlers::handler_of`).
    pub handler: Handler,
    /// Pre-extended immediate (or the 64-bit value of `ld_imm64`).
    pub imm: u64,
    /// Memory offset, or the resolved jump / call target slot.
    pub off: i32,
    pub kind: Kind,
    pub dst: u8,
    pub src: u8,
    /// Access size in bytes, width in bits (sign extension, byte swaps), or
    /// for conditional and unconditional jumps 1 when the target is at or
    /// before the jump (a backward jump, where the budget is checked).
    pub aux: u8,
}

impl Op {
    fn new(kind: Kind) -> Op {
        Op {
            handler: handler_of(kind),
            imm: 0,
            off: 0,
            kind,
            dst: 0,
            src: 0,
            aux: 0,
        }
    }
}

/// A program prepared for the interpreter's handlers.
#[derive(Clone, Debug)]
pub(super) struct PreparedCode {
    /// One op per slot, then the fell-off-end sentinel, then bad-target sentinels.
    pub ops: Vec<Op>,
    /// Number of program slots.
    pub slots: usize,
}

impl PreparedCode {
    /// The fault carried by a bad-target sentinel.
    pub fn bad_target_fault(op: &Op) -> FaultKind {
        if op.aux == 0 {
            FaultKind::JumpOutOfRange
        } else {
            FaultKind::JumpIntoLdImm64
        }
    }

    /// Prepares `program`, failing on the first undecodable slot.
    pub fn new(program: &Program) -> Result<PreparedCode, DecodeError> {
        PreparedCode::build(program, true)
    }

    /// Prepares `program` for a traced run: no fused pairs (every
    /// instruction is its own op), and every op's handler is
    /// [`super::exec::traced_step`]. Also returns each op's own handler,
    /// which `traced_step` runs after recording the step.
    pub fn new_traced(program: &Program) -> Result<(PreparedCode, Vec<Handler>), DecodeError> {
        let mut code = PreparedCode::build(program, false)?;
        let own = code.ops.iter().map(|op| op.handler).collect();
        for op in &mut code.ops {
            op.handler = super::exec::traced_step;
        }
        Ok((code, own))
    }

    fn build(program: &Program, fuse: bool) -> Result<PreparedCode, DecodeError> {
        let decoded = program.decode()?;
        let slots = program.len();
        let mut starts = vec![false; slots];
        for (i, _) in &decoded {
            starts[*i] = true;
        }
        let mut ops = vec![Op::new(Kind::LdImm64Second); slots];
        ops.push(Op::new(Kind::FellOffEnd));
        let mut sentinels = Vec::new();
        for (pc, ins) in &decoded {
            let mut op = prepare_one(ins);
            if let Some(target) = ins.branch_target(*pc) {
                op.off = if target >= 0 && (target as usize) < slots && starts[target as usize] {
                    if ins.row.is_jump() {
                        op.aux = u8::from(target <= *pc as i64);
                    }
                    target as i32
                } else {
                    let mut s = Op::new(Kind::BadTarget);
                    s.off = *pc as i32;
                    s.imm = target as u64;
                    s.aux = u8::from(target >= 0 && (target as usize) < slots);
                    sentinels.push(s);
                    (slots + sentinels.len()) as i32
                };
            }
            ops[*pc] = op;
        }
        // r10 holds the frame's top throughout when no instruction writes it.
        let fixed_frame_pointer = decoded
            .iter()
            .all(|(_, ins)| ins.written_registers() & (1 << 10) == 0);
        if fixed_frame_pointer {
            for op in &mut ops[..slots] {
                op.kind = frame_access_kind(op);
            }
        }
        if fuse {
            fuse_pairs(&mut ops[..slots]);
        }
        ops.extend(sentinels);
        for op in &mut ops {
            op.handler = handler_of(op.kind);
        }
        Ok(PreparedCode { ops, slots })
    }
}

fn size_bytes(size: Option<Size>) -> u8 {
    size.map_or(0, |s| s.bytes() as u8)
}

fn prepare_one(ins: &Instruction) -> Op {
    use Operation as O;
    let row = ins.row;
    let wide = matches!(row.class, Class::Alu64 | Class::Jmp);
    let reg = row.source == Source::Reg;
    let kind = match row.class {
        Class::Alu | Class::Alu64 => alu_kind(row.operation, wide, reg),
        Class::Jmp | Class::Jmp32 => match row.operation {
            O::Ja => Kind::Ja,
            O::Call => Kind::CallHelper,
            O::CallLocal => Kind::CallLocal,
            O::Callx => Kind::Callx,
            O::CallKfunc => Kind::Unsupported,
            O::Exit => Kind::Exit,
            cond => jump_kind(cond, wide, reg),
        },
        Class::Ld => match row.operation {
            O::LdImm64 => Kind::LdImm64,
            O::LdMapValue => Kind::LdMapValue,
            O::LdMapFd => Kind::LdMapFd,
            O::LdFunc => Kind::LdFunc,
            O::LdAbs => Kind::LdAbs,
            O::LdInd => Kind::LdInd,
            _ => Kind::Unsupported,
        },
        Class::Ldx => match (row.operation, row.size) {
            (O::Load, Some(Size::B)) => Kind::LdxB,
            (O::Load, Some(Size::H)) => Kind::LdxH,
            (O::Load, Some(Size::W)) => Kind::LdxW,
            (O::Load, _) => Kind::LdxDW,
            (_, Some(Size::B)) => Kind::LdxSB,
            (_, Some(Size::H)) => Kind::LdxSH,
            _ => Kind::LdxSW,
        },
        Class::St => match row.size {
            Some(Size::B) => Kind::StB,
            Some(Size::H) => Kind::StH,
            Some(Size::W) => Kind::StW,
            _ => Kind::StDW,
        },
        Class::Stx => match (row.operation, row.size) {
            (O::StoreReg, Some(Size::B)) => Kind::StxB,
            (O::StoreReg, Some(Size::H)) => Kind::StxH,
            (O::StoreReg, Some(Size::W)) => Kind::StxW,
            (O::StoreReg, _) => Kind::StxDW,
            (O::LoadAcquire, _) => Kind::LoadAcquire,
            (O::StoreRelease, _) => Kind::StoreRelease,
            _ => Kind::Atomic,
        },
    };
    let imm = match row.operation {
        O::LdImm64 => ins.imm64(),
        O::LdMapValue => ins.next_imm as u32 as u64,
        O::LdMapFd => ins.imm as u32 as u64,
        _ if row.class.is_32bit() => ins.imm as u32 as u64,
        _ => ins.imm as i64 as u64,
    };
    let aux = match row.operation {
        O::MovSx | O::Le | O::Be | O::Bswap => row.size.map_or(64, |s| s.bits() as u8),
        _ => size_bytes(row.size),
    };
    Op {
        kind,
        dst: ins.dst,
        src: ins.src,
        aux,
        off: if row.operation == O::LdMapValue {
            ins.imm
        } else {
            ins.off as i32
        },
        imm,
        ..Op::new(kind)
    }
}

/// The kind for a width and source among the four forms
/// `[64-bit reg, 64-bit imm, 32-bit reg, 32-bit imm]`.
fn pick_form(wide: bool, reg: bool, forms: [Kind; 4]) -> Kind {
    forms[usize::from(!wide) * 2 + usize::from(!reg)]
}

fn alu_kind(op: Operation, wide: bool, reg: bool) -> Kind {
    use Kind as K;
    use Operation as O;
    let pick = |r64, i64_, r32, i32_| pick_form(wide, reg, [r64, i64_, r32, i32_]);
    match op {
        O::Add => pick(K::Add64R, K::Add64I, K::Add32R, K::Add32I),
        O::Sub => pick(K::Sub64R, K::Sub64I, K::Sub32R, K::Sub32I),
        O::Mul => pick(K::Mul64R, K::Mul64I, K::Mul32R, K::Mul32I),
        O::Div => pick(K::Div64R, K::Div64I, K::Div32R, K::Div32I),
        O::SDiv => pick(K::SDiv64R, K::SDiv64I, K::SDiv32R, K::SDiv32I),
        O::Mod => pick(K::Mod64R, K::Mod64I, K::Mod32R, K::Mod32I),
        O::SMod => pick(K::SMod64R, K::SMod64I, K::SMod32R, K::SMod32I),
        O::Or => pick(K::Or64R, K::Or64I, K::Or32R, K::Or32I),
        O::And => pick(K::And64R, K::And64I, K::And32R, K::And32I),
        O::Xor => pick(K::Xor64R, K::Xor64I, K::Xor32R, K::Xor32I),
        O::Lsh => pick(K::Lsh64R, K::Lsh64I, K::Lsh32R, K::Lsh32I),
        O::Rsh => pick(K::Rsh64R, K::Rsh64I, K::Rsh32R, K::Rsh32I),
        O::Arsh => pick(K::Arsh64R, K::Arsh64I, K::Arsh32R, K::Arsh32I),
        O::Mov => pick(K::Mov64R, K::Mov64I, K::Mov32R, K::Mov32I),
        O::Neg => {
            if wide {
                K::Neg64
            } else {
                K::Neg32
            }
        }
        O::MovSx => {
            if wide {
                K::MovSx64
            } else {
                K::MovSx32
            }
        }
        O::Le => K::ToLe,
        O::Be | O::Bswap => K::Swap,
        _ => K::Unsupported,
    }
}

fn jump_kind(op: Operation, wide: bool, reg: bool) -> Kind {
    use Kind as K;
    use Operation as O;
    let pick = |r64, i64_, r32, i32_| pick_form(wide, reg, [r64, i64_, r32, i32_]);
    match op {
        O::Jeq => pick(K::Jeq64R, K::Jeq64I, K::Jeq32R, K::Jeq32I),
        O::Jgt => pick(K::Jgt64R, K::Jgt64I, K::Jgt32R, K::Jgt32I),
        O::Jge => pick(K::Jge64R, K::Jge64I, K::Jge32R, K::Jge32I),
        O::Jset => pick(K::Jset64R, K::Jset64I, K::Jset32R, K::Jset32I),
        O::Jne => pick(K::Jne64R, K::Jne64I, K::Jne32R, K::Jne32I),
        O::Jsgt => pick(K::Jsgt64R, K::Jsgt64I, K::Jsgt32R, K::Jsgt32I),
        O::Jsge => pick(K::Jsge64R, K::Jsge64I, K::Jsge32R, K::Jsge32I),
        O::Jlt => pick(K::Jlt64R, K::Jlt64I, K::Jlt32R, K::Jlt32I),
        O::Jle => pick(K::Jle64R, K::Jle64I, K::Jle32R, K::Jle32I),
        O::Jslt => pick(K::Jslt64R, K::Jslt64I, K::Jslt32R, K::Jslt32I),
        O::Jsle => pick(K::Jsle64R, K::Jsle64I, K::Jsle32R, K::Jsle32I),
        _ => K::Unsupported,
    }
}

/// The frame-pointer form of a load or store at `r10 + off` (in a program
/// that never writes r10) when the access lies inside the frame and inside
/// one 64-byte word of the stack bitmaps (frames are 512-byte aligned, so
/// that depends on `off` alone); otherwise the op's own kind.
fn frame_access_kind(op: &Op) -> Kind {
    use Kind as K;
    let (base, size, fp) = match op.kind {
        K::LdxB => (op.src, 1, K::FpLdxB),
        K::LdxH => (op.src, 2, K::FpLdxH),
        K::LdxW => (op.src, 4, K::FpLdxW),
        K::LdxDW => (op.src, 8, K::FpLdxDW),
        K::LdxSB => (op.src, 1, K::FpLdxSB),
        K::LdxSH => (op.src, 2, K::FpLdxSH),
        K::LdxSW => (op.src, 4, K::FpLdxSW),
        K::StB => (op.dst, 1, K::FpStB),
        K::StH => (op.dst, 2, K::FpStH),
        K::StW => (op.dst, 4, K::FpStW),
        K::StDW => (op.dst, 8, K::FpStDW),
        K::StxB => (op.dst, 1, K::FpStxB),
        K::StxH => (op.dst, 2, K::FpStxH),
        K::StxW => (op.dst, 4, K::FpStxW),
        K::StxDW => (op.dst, 8, K::FpStxDW),
        _ => return op.kind,
    };
    let frame = STACK_SIZE as i32;
    let inside = op.off >= -frame && op.off <= -size;
    if base == 10 && inside && (frame + op.off) % 64 + size <= 64 {
        fp
    } else {
        op.kind
    }
}

/// Turns common adjacent pairs into one op that does both, so the interpreter
/// dispatches once for two instructions. The second op keeps its place and
/// kind-specific fields, so a jump that lands on it still runs it alone; the
/// fused op reads the second op's fields and continues after it.
fn fuse_pairs(ops: &mut [Op]) {
    for pc in 0..ops.len().saturating_sub(1) {
        let (a, b) = (ops[pc], ops[pc + 1]);
        if a.dst != b.dst {
            continue;
        }
        let fused = match (a.kind, b.kind) {
            (Kind::Mov64R, Kind::Add64R) => Kind::MovAdd64R,
            (Kind::Mov64R, Kind::Add64I) => Kind::MovAdd64I,
            (Kind::Mov64R, Kind::And64I) => Kind::MovAnd64I,
            (Kind::Add64I, Kind::Jlt64I) => Kind::AddJlt64I,
            (Kind::Add64I, Kind::Jne64I) => Kind::AddJne64I,
            _ => continue,
        };
        ops[pc].kind = fused;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Insn;
    use crate::interp::{run_program, ExecResult, Fault, DEFAULT_BUDGET, STACK_TOP};

    const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

    fn run(insns: &[Insn]) -> (ExecResult, u64) {
        let e = run_program(&Program::new(insns.to_vec()), &mut [], DEFAULT_BUDGET).unwrap();
        (e.result, e.insns_executed)
    }

    fn returned(r0: u64, derived: bool) -> ExecResult {
        ExecResult::Returned {
            r0,
            r0_derived: derived,
        }
    }

    #[test]
    fn fused_pairs_keep_the_semantics_of_both_instructions() {
        let prog = [
            Insn::new(0xb7, 6, 0, 0, 5), // r6 = 5
            Insn::new(0xbf, 2, 6, 0, 0), // r2 = r6        } fused
            Insn::new(0x0f, 2, 2, 0, 0), // r2 += r2 (10)  }
            Insn::new(0xbf, 0, 2, 0, 0), // r0 = r2
            EXIT,
        ];
        let p = PreparedCode::new(&Program::new(prog.to_vec())).unwrap();
        assert_eq!(p.ops[1].kind, Kind::MovAdd64R);
        assert_eq!(run(&prog), (returned(10, false), 5));
        // r0 = r10; r0 += 8: the mark of the pointer survives the fusion.
        let prog = [
            Insn::new(0xbf, 0, 10, 0, 0),
            Insn::new(0x07, 0, 0, 0, 8),
            EXIT,
        ];
        assert_eq!(run(&prog), (returned(STACK_TOP + 8, true), 3));
        // A jump that lands on the second half runs it alone.
        let prog = [
            Insn::new(0xb7, 0, 0, 0, 1),
            Insn::new(0x05, 0, 0, 1, 0),    // goto +1 (to the and)
            Insn::new(0xbf, 0, 10, 0, 0),   // r0 = r10  } fused, skipped
            Insn::new(0x57, 0, 0, 0, 0xff), // r0 &= 0xff }
            EXIT,
        ];
        assert_eq!(run(&prog), (returned(1, false), 4));
    }

    #[test]
    fn frame_pointer_accesses_are_prepared_only_where_r10_is_fixed() {
        let kinds = |insns: &[Insn]| {
            let p = PreparedCode::new(&Program::new(insns.to_vec())).unwrap();
            p.ops[..p.slots]
                .iter()
                .map(|op| op.kind)
                .collect::<Vec<_>>()
        };
        let prog = [
            Insn::new(0x7a, 10, 0, -8, 7),   // *(u64 *)(r10 - 8) = 7
            Insn::new(0x79, 0, 10, -8, 0),   // r0 = *(u64 *)(r10 - 8)
            Insn::new(0x79, 0, 10, -516, 0), // below the frame
            Insn::new(0x61, 0, 10, -66, 0),  // straddles two bitmap words
            Insn::new(0x61, 0, 10, 8, 0),    // above the frame (a caller's)
            EXIT,
        ];
        assert_eq!(
            kinds(&prog)[..5],
            [
                Kind::FpStDW,
                Kind::FpLdxDW,
                Kind::LdxDW,
                Kind::LdxW,
                Kind::LdxW
            ]
        );
        assert_eq!(
            run(&prog[..2]).0,
            ExecResult::Fault(Fault {
                kind: FaultKind::FellOffEnd,
                pc: 2,
                addr: 2,
                size: 0,
            })
        );
        // A program that writes r10 anywhere gets no frame-pointer forms.
        let mut prog = prog.to_vec();
        prog.insert(0, Insn::new(0x07, 10, 0, 0, 0)); // r10 += 0
        assert!(!kinds(&prog).contains(&Kind::FpStDW));
    }

    #[test]
    fn fused_loop_steps_count_and_budget_like_two_instructions() {
        // r0 = 0; loop: r0 += 1; if r0 < 10 goto loop; exit
        let prog = [
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(0x07, 0, 0, 0, 1),
            Insn::new(0xa5, 0, 0, -2, 10),
            EXIT,
        ];
        assert_eq!(run(&prog), (returned(10, false), 22));
        let e = run_program(&Program::new(prog.to_vec()), &mut [], 5).unwrap();
        assert_eq!((e.result, e.insns_executed), (ExecResult::OutOfBudget, 7));
        // jne form, and a not-taken first round.
        let prog = [
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(0x07, 0, 0, 0, 3),
            Insn::new(0x55, 0, 0, -2, 3),
            EXIT,
        ];
        assert_eq!(run(&prog), (returned(3, false), 4));
    }
}
