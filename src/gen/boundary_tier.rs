//! The boundary tier: programs that are valid except that their memory
//! accesses sit at, just inside and just outside the edges of a region, so
//! that an off-by-one bounds check in one implementation shows as a fault
//! (or a refusal) where the others run, or the reverse.
//!
//! - Regions: the stack frame (`[r10 - 512, r10)`, and `r10 - 480`, the
//!   bottom the kernel backend's wrapper leaves) and the input memory
//!   (`[r1, r1 + len)`).
//! - Edges, for an access of `s` bytes: the stack's `-512`, `-513`, `-480`,
//!   `-s`, `-s + 1`, `0` and `-1..-8`; the input's `0`, `-1`, `len - s`,
//!   `len - s + 1`, `len` and `-s`; and now and then any in-range offset.
//! - Accesses: every load (`ldx`, `ldsx`), store (`st`, `stx`) and atomic
//!   row the knobs allow, at every size.
//! - Addressing: through r10 or r1 at a fixed offset; through a copy
//!   (`r9 = r10; r9 += a`) with the rest in the offset; or through a
//!   variable index added to a copy, either a constant in r7 or an input
//!   byte in r8 bounded by an `and` mask or by `if r8 > K goto exit`.
//!
//! Everything else is valid: every register is initialised in the prologue
//! (with wide values, see [`values`](super::values)), a stack load or
//! atomic in bounds reads bytes a store of the same size wrote just before,
//! loaded values are folded into r0, and the program ends with `exit`. So
//! the engine, the kernel and the other backends all get to the access.
//!
//! Registers: r1 and r6 the input pointer, r8 the bounded index, r9 the
//! pointer under construction, r7 a constant index, r0 and r2..r5 scalars.

use super::boundary;
use super::layout::{self, Item};
use super::values;
use super::{Case, Knobs};
use arbitrary::{Result, Unstructured};
use bpfdiff_engine::opcode::{self, Class, OpcodeRow, Operation, Size, Source};
use bpfdiff_engine::Instruction;

/// The engine's (and RFC 9669's usual) stack frame size.
pub const STACK: i64 = 512;
/// The deepest offset the kernel backend accepts: its wrapper's frame takes
/// 32 of the chain's 512 bytes.
pub const KERNEL_STACK: i64 = 480;

/// Where the pointer points before the access's own offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Stack,
    Input,
}

/// A target that is patched to the final `exit`.
const TO_EXIT: usize = usize::MAX;

fn row(class: Class, op: Operation, source: Source, size: Option<Size>) -> &'static OpcodeRow {
    opcode::find(class, op, source, size).expect("the opcode table has this row")
}

struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    knobs: &'a Knobs,
    items: Vec<Item>,
    input_len: usize,
    /// The input memory (the index byte is read from it).
    input: Vec<u8>,
    /// Where r8's byte is read from.
    index_at: usize,
    /// Set that byte to the bound's maximum.
    index_max: bool,
    /// The bounded index's value at run time, when r8 holds one.
    index: Option<i64>,
    loads: Vec<&'static OpcodeRow>,
    stores: Vec<&'static OpcodeRow>,
    atomics: Vec<&'static OpcodeRow>,
    folds: Vec<&'static OpcodeRow>,
}

/// Scalar registers: load destinations, store sources.
const SCALARS: [u8; 5] = [0, 2, 3, 4, 5];

impl Gen<'_, '_> {
    fn emit(&mut self, ins: Instruction) {
        self.items.push(Item::plain(ins));
    }

    fn mov_imm(&mut self, dst: u8, imm: i32) {
        let mov = row(Class::Alu64, Operation::Mov, Source::Imm, None);
        self.emit(Instruction::new(mov, dst, 0, 0, imm));
    }

    fn mov_reg(&mut self, dst: u8, src: u8) {
        let mov = row(Class::Alu64, Operation::Mov, Source::Reg, None);
        self.emit(Instruction::new(mov, dst, src, 0, 0));
    }

    fn add_imm(&mut self, dst: u8, imm: i32) {
        let add = row(Class::Alu64, Operation::Add, Source::Imm, None);
        self.emit(Instruction::new(add, dst, 0, 0, imm));
    }

    fn add_reg(&mut self, dst: u8, src: u8) {
        let add = row(Class::Alu64, Operation::Add, Source::Reg, None);
        self.emit(Instruction::new(add, dst, src, 0, 0));
    }

    /// Initialises every scalar, r7 and (with input) the bounded index r8.
    fn prologue(&mut self) -> Result<()> {
        self.mov_reg(6, 1);
        for r in [0u8, 3, 4, 5, 7, 2] {
            if r == 2 && self.u.ratio(2u8, 3)? {
                continue; // keep the length
            }
            let set = values::set_register(self.knobs, self.u, r)?;
            if set.is_empty() || self.u.ratio(1u8, 3)? {
                let imm = boundary::imm32(self.u)?;
                self.mov_imm(r, imm);
            } else {
                for ins in set {
                    self.emit(ins);
                }
            }
        }
        if self.input_len > 0 && self.u.ratio(2u8, 3)? {
            self.bounded_index()?;
        }
        Ok(())
    }

    /// r8 = an input byte, bounded by a mask or by a comparison that jumps
    /// to the exit; records its run-time value.
    fn bounded_index(&mut self) -> Result<()> {
        let at = self.index_at;
        let ldxb = row(Class::Ldx, Operation::Load, Source::None, Some(Size::B));
        self.emit(Instruction::new(ldxb, 8, 1, at as i16, 0));
        // The generator knows the input (nothing writes it before this
        // load), so it knows the index; the verifier knows only the bound.
        if self.u.ratio(1u8, 2)? {
            let mask = *self.u.choose(&[0u8, 1, 3, 7, 8, 15, 16, 31, 63, 255])?;
            if self.index_max {
                self.input[at] |= mask;
            }
            let and = row(Class::Alu64, Operation::And, Source::Imm, None);
            self.emit(Instruction::new(and, 8, 0, 0, mask as i32));
            self.index = Some((self.input[at] & mask) as i64);
        } else {
            let bound = self.u.arbitrary::<u8>()?;
            if self.index_max {
                self.input[at] = bound;
            }
            let byte = self.input[at];
            let jgt = row(Class::Jmp, Operation::Jgt, Source::Imm, None);
            self.items.push(Item::to(
                Instruction::new(jgt, 8, 0, 0, bound as i32),
                TO_EXIT,
            ));
            // Past the jump only when byte <= bound.
            self.index = (byte <= bound).then_some(byte as i64);
        }
        Ok(())
    }

    /// An effective offset from the region's start (r1) or top (r10) for an
    /// access of `size` bytes, at or near an edge.
    fn edge(&mut self, region: Region, size: i64) -> Result<i64> {
        let s = size;
        Ok(match region {
            Region::Stack => match self.u.int_in_range(0u8..=11)? {
                0 => -STACK,
                1 => -STACK - 1,
                2 => -STACK - s,
                3 => -KERNEL_STACK,
                4 | 5 => -s,
                6 => -s + 1,
                7 => 0,
                8 => self.u.int_in_range(-8i64..=-1)?,
                _ => -s * self.u.int_in_range(1..=STACK / s)?,
            },
            Region::Input => {
                let len = self.input_len as i64;
                match self.u.int_in_range(0u8..=9)? {
                    0 | 1 => 0,
                    2 => -1,
                    3 | 4 => len - s,
                    5 => len - s + 1,
                    6 => len,
                    7 => -s,
                    _ if len >= s => self.u.int_in_range(0..=len - s)?,
                    _ => len - s,
                }
            }
        })
    }

    fn in_bounds(&self, region: Region, eff: i64, size: i64) -> bool {
        match region {
            Region::Stack => eff >= -STACK && eff + size <= 0,
            Region::Input => eff >= 0 && eff + size <= self.input_len as i64,
        }
    }

    /// Emits what points a register at the region and returns the base
    /// register and the access's own offset, so that base + off is `eff`
    /// from the region's start (input) or top (stack).
    fn address(&mut self, region: Region, eff: i64) -> Result<(u8, i16)> {
        let origin = match region {
            Region::Stack => 10,
            Region::Input => *self.u.choose(&[1u8, 6])?,
        };
        let (base, off) = match self.u.int_in_range(0u8..=5)? {
            // Fixed offset from the region's own register.
            0 | 1 => (origin, eff),
            // A copy moved by a constant: r9 = r10; r9 += -8.
            2 | 3 => {
                let a = match region {
                    Region::Stack => *self.u.choose(&[-8i64, -16, -256, -512, -480, eff])?,
                    Region::Input => *self.u.choose(&[1i64, 8, self.input_len as i64, eff])?,
                };
                self.mov_reg(9, origin);
                self.add_imm(9, a as i32);
                (9, eff - a)
            }
            // A constant index in a register, added to a copy.
            4 => {
                let v = match region {
                    Region::Stack => *self.u.choose(&[-8i64, -512, eff, eff + 1])?,
                    Region::Input => *self.u.choose(&[0i64, 1, 8, eff])?,
                };
                self.mov_imm(7, v as i32);
                self.mov_reg(9, origin);
                self.add_reg(9, 7);
                (9, eff - v)
            }
            // The bounded input byte as the index.
            _ => match self.index {
                Some(v) => {
                    self.mov_reg(9, origin);
                    self.add_reg(9, 8);
                    (9, eff - v)
                }
                None => (origin, eff),
            },
        };
        Ok((base, off.clamp(i16::MIN as i64, i16::MAX as i64) as i16))
    }

    /// A store of `size` bytes at base + off, so that a following read of
    /// the same bytes reads written stack.
    fn init_store(&mut self, size: Size, base: u8, off: i16) -> Result<()> {
        let st = row(Class::St, Operation::StoreImm, Source::None, Some(size));
        let imm = boundary::imm32(self.u)?;
        self.emit(Instruction::new(st, base, 0, off, imm));
        Ok(())
    }

    fn fold(&mut self, r: u8) -> Result<()> {
        if r == 0 || self.folds.is_empty() {
            return Ok(());
        }
        let f = *self.u.choose(&self.folds)?;
        self.emit(Instruction::new(f, 0, r, 0, 0));
        Ok(())
    }

    /// One access at an edge.
    fn access(&mut self) -> Result<()> {
        let kinds: Vec<u8> = [
            (0u8, !self.loads.is_empty()),
            (1, !self.stores.is_empty()),
            (2, !self.atomics.is_empty()),
        ]
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(k, _)| k)
        .collect();
        if kinds.is_empty() {
            return Ok(());
        }
        let kind = *self.u.choose(&kinds)?;
        let r = match kind {
            0 => *self.u.choose(&self.loads)?,
            1 => *self.u.choose(&self.stores)?,
            _ => *self.u.choose(&self.atomics)?,
        };
        let size = r.size.unwrap_or(Size::DW);
        let s = size.bytes() as i64;
        let region = if self.input_len == 0 || self.u.ratio(1u8, 2)? {
            if self.input_len == 0 && self.u.ratio(1u8, 16)? {
                Region::Input // r1 is no pointer at all: refused / a fault
            } else {
                Region::Stack
            }
        } else {
            Region::Input
        };
        let eff = self.edge(region, s)?;
        let (base, off) = self.address(region, eff)?;
        let reads = kind == 0
            || (kind == 2 && r.operation != Operation::StoreRelease)
            || r.operation == Operation::LoadAcquire;
        if region == Region::Stack && reads && self.in_bounds(region, eff, s) {
            self.init_store(size, base, off)?;
        }
        let dst = *self.u.choose(&SCALARS[1..])?;
        let src = *self.u.choose(&SCALARS)?;
        match (kind, r.operation) {
            (0, _) | (_, Operation::LoadAcquire) => {
                self.emit(Instruction::new(r, dst, base, off, 0));
                self.fold(dst)?;
            }
            (1, Operation::StoreImm) => {
                let imm = boundary::imm32(self.u)?;
                self.emit(Instruction::new(r, base, 0, off, imm));
            }
            _ => {
                self.emit(Instruction::new(r, base, src, off, 0));
                if r.is_atomic_rmw() {
                    self.fold(src)?;
                }
            }
        }
        Ok(())
    }
}

/// Generates a boundary-tier case.
pub fn generate(knobs: &Knobs, u: &mut Unstructured) -> Result<Case> {
    // Mostly a multiple of 8, so that the last in-bounds access of each
    // size is aligned (the kernel refuses misaligned map-value accesses).
    let input_len = match u.int_in_range(0u8..=7)? {
        0 => 0,
        1 | 2 => u.int_in_range(knobs.input_len.clone())?,
        _ => u.int_in_range(knobs.input_len.clone())? / 8 * 8,
    };
    let mut input = boundary::memory(u, input_len)?;
    // The bounded index's byte: half the time its bound's maximum, so that
    // the verifier's range is tight at the upper edges.
    let index_at = if input_len > 0 {
        u.int_in_range(0..=input_len - 1)?
    } else {
        0
    };
    let index_max = u.ratio(1u8, 2)?;
    let rows = knobs.rows();
    let pick = |f: &dyn Fn(&OpcodeRow) -> bool| -> Vec<&'static OpcodeRow> {
        rows.iter().copied().filter(|r| f(r)).collect()
    };
    let mut g = Gen {
        knobs,
        items: Vec::new(),
        input_len,
        index: None,
        loads: pick(&|r| {
            r.class == Class::Ldx && matches!(r.operation, Operation::Load | Operation::LoadSx)
        }),
        stores: pick(&|r| matches!(r.operation, Operation::StoreImm | Operation::StoreReg)),
        atomics: pick(&|r| {
            r.is_atomic_rmw()
                || matches!(
                    r.operation,
                    Operation::LoadAcquire | Operation::StoreRelease
                )
        }),
        folds: pick(&|r| {
            matches!(r.class, Class::Alu | Class::Alu64)
                && r.source == Source::Reg
                && matches!(
                    r.operation,
                    Operation::Add
                        | Operation::Sub
                        | Operation::Xor
                        | Operation::Or
                        | Operation::Mul
                )
        }),
        input: std::mem::take(&mut input),
        index_at,
        index_max,
        u,
    };
    g.prologue()?;
    let accesses = g.u.int_in_range(1u8..=3)?;
    for _ in 0..accesses {
        g.access()?;
    }
    let input = g.input;
    let mut items = g.items;
    let exit_at = items.len();
    for item in &mut items {
        if item.target == Some(TO_EXIT) {
            item.target = Some(exit_at);
        }
    }
    items.push(Item::plain(layout::exit()));
    Ok(Case::new(
        bpfdiff_engine::Program::new(layout::encode(&items)),
        input,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{seeded, Tier};
    use bpfdiff_engine::interp::{ExecResult, FaultKind, Interpreter, DEFAULT_BUDGET};

    #[test]
    fn accesses_reach_both_sides_of_every_edge() {
        // The tier's contract: the engine either returns or faults on a
        // bound (nothing else can go wrong), and the faults land on both
        // regions, at both ends: below the stack, above r10, before the
        // input and past its end.
        let knobs = Knobs::default();
        let (mut returned, mut below, mut above, mut before, mut after) = (0, 0, 0, 0, 0);
        let mut via_copy = 0;
        for seed in 0..1000 {
            let case = seeded::case(Tier::Boundary, &knobs, seed);
            let decoded = case.program.decode().expect("decodes");
            if decoded.iter().any(|(_, i)| {
                i.row.operation == Operation::Mov && i.row.source == Source::Reg && i.src == 10
            }) {
                via_copy += 1;
            }
            let vm = Interpreter::new(&case.program).unwrap();
            let mut mem = case.input.clone();
            match vm.run(&mut mem, DEFAULT_BUDGET).result {
                ExecResult::Returned { .. } => returned += 1,
                ExecResult::Fault(f) => {
                    assert_eq!(f.kind, FaultKind::OutOfBounds, "seed {seed}");
                    let stack_top = bpfdiff_engine::interp::STACK_TOP;
                    let mem_base = bpfdiff_engine::interp::MEM_BASE;
                    let end = f.addr.saturating_add(f.size as u64);
                    if f.addr < stack_top - STACK as u64 && end > stack_top - STACK as u64 - 8 {
                        below += 1;
                    } else if f.addr < stack_top + 8 && end > stack_top {
                        above += 1;
                    } else if f.addr < mem_base && end > mem_base - 8 {
                        before += 1;
                    } else if f.addr >= mem_base && f.addr < mem_base + 0x1_0000 {
                        after += 1;
                    }
                }
                other => panic!("seed {seed}: {other}"),
            }
        }
        for (what, n) in [
            ("returned", returned),
            ("below the stack", below),
            ("at or above r10", above),
            ("before the input", before),
            ("past the input", after),
            ("through a copy of r10", via_copy),
        ] {
            assert!(n >= 20, "{what}: {n} of 1000");
        }
    }
}
