//! The benchmark programs shared by the engine's benches (`interp`, `jit`),
//! built from opcode-table rows, and the input they all receive.
//!
//! Input convention: r1 points to the input; rbpf's `EbpfVmRaw` does not
//! pass the length in r2, so no program reads r2 before writing it.

// Each bench uses its own subset of these items.
#![allow(dead_code)]

use bpfdiff_engine::decode::Instruction;
use bpfdiff_engine::opcode::{self, Class, Operation, Size, Source};
use bpfdiff_engine::Program;

/// Length of the input buffer every program receives.
pub const INPUT_LEN: usize = 256;

/// The input buffer: a fixed byte pattern.
pub fn input() -> Vec<u8> {
    (0..INPUT_LEN).map(|i| (i * 37 + 11) as u8).collect()
}

fn row(
    class: Class,
    op: Operation,
    source: Source,
    size: Option<Size>,
) -> &'static opcode::OpcodeRow {
    opcode::find(class, op, source, size)
        .unwrap_or_else(|| panic!("no row for {class:?} {op:?} {source:?} {size:?}"))
}

/// A jump or call target, bound to an instruction index before or after
/// its use and patched when the program is finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// A small assembler over opcode-table rows. No program here uses
/// `ld_imm64`, so one instruction is one slot.
#[derive(Default)]
pub struct Asm {
    insns: Vec<Instruction>,
    /// Instruction index of each bound label.
    labels: Vec<Option<usize>>,
    /// (instruction, label, offset in imm rather than off).
    fixups: Vec<(usize, Label, bool)>,
}

impl Asm {
    /// Instructions so far.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// A new, unbound label.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Binds `label` to the next instruction.
    pub fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.insns.len());
    }

    /// `dst op= imm`, 64-bit (`wide`) or 32-bit.
    pub fn alu(&mut self, wide: bool, op: Operation, dst: u8, imm: i32) {
        let class = if wide { Class::Alu64 } else { Class::Alu };
        let r = row(class, op, Source::Imm, None);
        self.insns.push(Instruction::new(r, dst, 0, 0, imm));
    }

    /// `dst op= src`, 64-bit (`wide`) or 32-bit.
    pub fn alu_reg(&mut self, wide: bool, op: Operation, dst: u8, src: u8) {
        let class = if wide { Class::Alu64 } else { Class::Alu };
        let r = row(class, op, Source::Reg, None);
        self.insns.push(Instruction::new(r, dst, src, 0, 0));
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, size: Size, dst: u8, src: u8, off: i16) {
        let r = row(Class::Ldx, Operation::Load, Source::None, Some(size));
        self.insns.push(Instruction::new(r, dst, src, off, 0));
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store(&mut self, size: Size, dst: u8, off: i16, src: u8) {
        let r = row(Class::Stx, Operation::StoreReg, Source::None, Some(size));
        self.insns.push(Instruction::new(r, dst, src, off, 0));
    }

    /// `if dst < imm goto target` (64-bit compare).
    pub fn jlt(&mut self, dst: u8, imm: i32, target: Label) {
        self.fixups.push((self.insns.len(), target, false));
        let r = row(Class::Jmp, Operation::Jlt, Source::Imm, None);
        self.insns.push(Instruction::new(r, dst, 0, 0, imm));
    }

    /// bpf-to-bpf call (`call` with src = 1) to `target`.
    pub fn call(&mut self, target: Label) {
        self.fixups.push((self.insns.len(), target, true));
        let r = row(Class::Jmp, Operation::CallLocal, Source::Imm, None);
        self.insns.push(Instruction::new(r, 0, 1, 0, 0));
    }

    /// `exit`.
    pub fn exit(&mut self) {
        let r = row(Class::Jmp, Operation::Exit, Source::Imm, None);
        self.insns.push(Instruction::new(r, 0, 0, 0, 0));
    }

    /// The program, with every jump and call offset patched.
    pub fn finish(mut self) -> Program {
        for &(at, label, in_imm) in &self.fixups {
            let target = self.labels[label.0]
                .unwrap_or_else(|| panic!("label {} used at insn {at} is never bound", label.0));
            let delta = target as i64 - (at as i64 + 1);
            if in_imm {
                self.insns[at].imm = i32::try_from(delta).expect("call distance fits imm");
            } else {
                self.insns[at].off = i16::try_from(delta).expect("jump distance fits off");
            }
        }
        Program::from_instructions(&self.insns)
    }
}

/// splitmix64, for reproducible instruction mixes.
pub struct Mix(pub u64);

impl Mix {
    /// The next 64 pseudo-random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Appends `n` ALU instructions (add/sub/mul/xor/or/and/lsh/rsh/arsh/mov,
/// both widths, both sources) on r0..r9 except `keep`. Immediate shift
/// amounts stay below the width, and `and` immediates keep most bits, so
/// the mix does not collapse to zero.
pub fn alu_body(a: &mut Asm, mix: &mut Mix, n: usize, keep: &[u8]) {
    const OPS: [Operation; 10] = [
        Operation::Add,
        Operation::Sub,
        Operation::Mul,
        Operation::Xor,
        Operation::Or,
        Operation::And,
        Operation::Lsh,
        Operation::Rsh,
        Operation::Arsh,
        Operation::Mov,
    ];
    let regs: Vec<u8> = (0..=9).filter(|r| !keep.contains(r)).collect();
    for _ in 0..n {
        let op = OPS[mix.below(OPS.len() as u64) as usize];
        let wide = mix.below(2) == 0;
        let dst = regs[mix.below(regs.len() as u64) as usize];
        let shift = matches!(op, Operation::Lsh | Operation::Rsh | Operation::Arsh);
        if mix.below(2) == 0 {
            let imm = if shift {
                mix.below(if wide { 64 } else { 32 }) as i32
            } else if op == Operation::And {
                (mix.next() as u32 | 0x8001_0101) as i32
            } else {
                mix.next() as i32
            };
            a.alu(wide, op, dst, imm);
        } else {
            let src = regs[mix.below(regs.len() as u64) as usize];
            a.alu_reg(wide, op, dst, src);
        }
    }
}

/// (a) Straight-line ALU mix: r0..r9 seeded with constants, then 1000
/// instructions of `alu_body`, r1..r9 folded into r0, exit (1020 insns).
pub fn alu_mix() -> Program {
    let mut a = Asm::default();
    let mut mix = Mix(0xbdf);
    for r in 0..=9u8 {
        a.alu(true, Operation::Mov, r, mix.next() as i32 | 1);
    }
    alu_body(&mut a, &mut mix, 1000, &[]);
    for r in 1..=9u8 {
        a.alu_reg(true, Operation::Xor, 0, r);
    }
    a.exit();
    a.finish()
}

/// (b) A loop over the 256-byte input: for each byte i, add it to r0
/// (`ldxb`), copy the input's aligned dword holding byte i to the stack and
/// read it back (`ldxdw`, `stxdw`, `ldxdw`), accumulating into r9. About 16
/// instructions per byte. The stack is reached through `r5 = r10 + r4`.
pub fn byte_loop() -> Program {
    let mut a = Asm::default();
    let top = a.label();
    a.alu_reg(true, Operation::Mov, 6, 1); // r6 = input
    a.alu(true, Operation::Mov, 0, 0); // byte sum
    a.alu(true, Operation::Mov, 7, 0); // i
    a.alu(true, Operation::Mov, 9, 0); // dword accumulator
    a.bind(top);
    a.alu_reg(true, Operation::Mov, 2, 6);
    a.alu_reg(true, Operation::Add, 2, 7);
    a.load(Size::B, 3, 2, 0); // r3 = input[i]
    a.alu_reg(true, Operation::Add, 0, 3);
    a.alu_reg(true, Operation::Mov, 4, 7);
    a.alu(true, Operation::And, 4, 0xf8); // r4 = i & !7
    a.alu_reg(true, Operation::Mov, 5, 6);
    a.alu_reg(true, Operation::Add, 5, 4);
    a.load(Size::DW, 3, 5, 0); // r3 = *(u64 *)(input + r4)
    a.alu_reg(true, Operation::Mov, 5, 10);
    a.alu_reg(true, Operation::Add, 5, 4);
    a.store(Size::DW, 5, -256, 3); // stack[r4] = r3
    a.load(Size::DW, 8, 5, -256); // r8 = stack[r4]
    a.alu_reg(true, Operation::Add, 9, 8);
    a.alu(true, Operation::Add, 7, 1);
    a.jlt(7, INPUT_LEN as i32, top);
    a.alu_reg(true, Operation::Xor, 0, 9);
    a.exit();
    a.finish()
}

/// (c) Many local calls: the main loop calls `f` 200 times; `f` spills its
/// arguments and a temporary to its own stack frame and calls `g`; `g` is a
/// leaf without stack use (rbpf gives nested frames 256 of its 512 stack
/// bytes each, so only two frames may touch the stack there).
pub fn local_calls() -> Program {
    let mut a = Asm::default();
    let (top, f, g) = (a.label(), a.label(), a.label());
    a.alu(true, Operation::Mov, 6, 0); // counter
    a.alu(true, Operation::Mov, 7, 0); // accumulator
    a.bind(top);
    a.alu_reg(true, Operation::Mov, 1, 6);
    a.alu_reg(true, Operation::Mov, 2, 7);
    a.call(f);
    a.alu_reg(true, Operation::Mov, 7, 0);
    a.alu(true, Operation::Add, 6, 1);
    a.jlt(6, 200, top);
    a.alu_reg(true, Operation::Mov, 0, 7);
    a.exit();

    a.bind(f);
    a.store(Size::DW, 10, -8, 1);
    a.store(Size::DW, 10, -16, 2);
    a.load(Size::DW, 3, 10, -8);
    a.load(Size::DW, 4, 10, -16);
    a.alu(true, Operation::Mul, 3, 3);
    a.alu_reg(true, Operation::Add, 4, 3);
    a.store(Size::DW, 10, -24, 4);
    a.alu_reg(true, Operation::Mov, 1, 4);
    a.call(g);
    a.load(Size::DW, 4, 10, -24);
    a.alu_reg(true, Operation::Add, 0, 4);
    a.exit();

    a.bind(g);
    a.alu_reg(true, Operation::Mov, 0, 1);
    a.alu(true, Operation::Xor, 0, 0x55);
    a.alu(true, Operation::Lsh, 0, 1);
    a.exit();
    a.finish()
}
