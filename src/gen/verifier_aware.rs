//! The verifier-aware tier: programs that the Linux verifier accepts at a
//! high rate when the `kernel` backend runs them, and that the engine runs
//! without a fault and without reading stack it never wrote, so that every
//! backend's answer can be compared.
//!
//! The environment is the kernel backend's (oracle/src/backend/kernel): the
//! program is a subprogram called with r1 = pointer to a map value of the
//! input's size (r1 = 0 without input) and r2 = the length; it has at most 7
//! frames, and its whole call chain at most 512 bytes of stack (less the
//! wrapper's frame). The generator keeps, per function, a model of what the
//! verifier knows:
//!
//! - which registers hold initialised scalars (read only those; r0 must be
//!   one at `exit`); the map-value pointer lives in r9, the stack pointer
//!   in r10, and neither is ever used in arithmetic;
//! - a stack region initialised by the function's prologue; accesses stay
//!   inside it, aligned to their size (the verifier's rule for the stack);
//! - input accesses through r9 at constant offsets in `[0, len - size]`
//!   (atomics aligned);
//! - forward jumps only, as structured `if` / `if-else` blocks whose join
//!   keeps the registers initialised on both paths; bounded loops (a
//!   reserved counter compared with a small constant, no calls inside), and
//!   loops over the input through a pointer advanced by the counter;
//! - local calls to later functions only (no recursion), arguments in
//!   r1..r3 (r1 may be the input pointer), r1..r5 dead after the call;
//! - helpers 5 and 7 only (`bpf_ktime_get_ns`, `bpf_get_prandom_u32`, both
//!   allowed in `BPF_PROG_TYPE_SYSCALL`); their results are opaque, so r0 is
//!   treated as dead after them;
//! - division by an immediate: never 0; immediate shifts: below the width.
//!
//! Every function is reachable (a function nobody called is called from the
//! end of the main function), and ends with `exit`, so there is no
//! unreachable code.

use super::boundary;
use super::layout::{self, Item};
use super::values;
use super::{Case, Knobs};
use arbitrary::{Result, Unstructured};
use bpfdiff_engine::opcode::{self, Class, Group, OpcodeRow, Operation, Size, Source};
use bpfdiff_engine::Instruction;
use std::cell::RefCell;
use std::rc::Rc;

/// Stack bytes the whole call chain may use: 512 less the wrapper's frame
/// (which the kernel rounds up to 32 bytes).
pub const CHAIN_STACK: usize = 480;
/// The register that holds the input pointer.
const MAP_REG: u8 = 9;
/// Where a function spills the input pointer when it does.
const PTR_SLOT: i16 = -8;

/// A jump or call target inside one function under construction.
#[derive(Clone, Copy, Debug)]
enum Tgt {
    /// An item of the same function.
    Local(usize),
    /// The first item of function N.
    Func(usize),
}

#[derive(Clone, Copy, Debug)]
struct FItem {
    ins: Instruction,
    tgt: Option<Tgt>,
}

/// What a function expects from its caller.
#[derive(Clone, Copy, Debug)]
struct FuncSpec {
    /// Scalar arguments (after the pointer, when there is one).
    scalar_args: u8,
    /// r1 is the input pointer.
    takes_ptr: bool,
    /// Stack bytes its prologue initialises (a multiple of 8).
    stack: i16,
}

/// Rows the generator may choose, by role.
struct Ops {
    alu: Vec<&'static OpcodeRow>,
    loads: Vec<&'static OpcodeRow>,
    stores: Vec<&'static OpcodeRow>,
    atomics: Vec<&'static OpcodeRow>,
    cond: Vec<&'static OpcodeRow>,
    ja: Vec<&'static OpcodeRow>,
    fold: Vec<&'static OpcodeRow>,
    /// What a loop over the input needs: its condition, the pointer
    /// increment and the ways to fold a loaded byte in.
    input_loop: Option<(
        &'static OpcodeRow,
        &'static OpcodeRow,
        Vec<&'static OpcodeRow>,
    )>,
    call_local: bool,
    helpers: bool,
    lddw: bool,
    map_value: bool,
}

fn find(class: Class, op: Operation, source: Source, size: Option<Size>) -> &'static OpcodeRow {
    opcode::find(class, op, source, size).expect("the opcode table has this row")
}

fn sel(opcode: u8, src: u8, off: i16, imm: i32) -> &'static OpcodeRow {
    opcode::lookup(opcode, src, off, imm).expect("the opcode table has this row")
}

impl Ops {
    /// The operations for `knobs`, built once per thread and knobs: a
    /// campaign asks for the same knobs for every case, and building the
    /// lists costs as much as generating a program.
    fn cached(knobs: &Knobs) -> Rc<Ops> {
        thread_local! {
            static LAST: RefCell<Option<(Knobs, Rc<Ops>)>> = const { RefCell::new(None) };
        }
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            match &*last {
                Some((k, ops)) if k == knobs => ops.clone(),
                _ => {
                    let ops = Rc::new(Ops::new(knobs));
                    *last = Some((knobs.clone(), ops.clone()));
                    ops
                }
            }
        })
    }

    fn new(knobs: &Knobs) -> Ops {
        let rows: Vec<&'static OpcodeRow> = knobs
            .rows()
            .into_iter()
            .filter(|r| !matches!(r.group, Group::Packet | Group::Callx))
            .collect();
        let pick = |f: &dyn Fn(&OpcodeRow) -> bool| -> Vec<&'static OpcodeRow> {
            rows.iter().copied().filter(|r| f(r)).collect()
        };
        let alu = pick(&|r| matches!(r.class, Class::Alu | Class::Alu64));
        let fold = pick(&|r| {
            r.class == Class::Alu64
                && r.source == Source::Reg
                && matches!(
                    r.operation,
                    Operation::Add | Operation::Xor | Operation::Sub
                )
        });
        let allowed = |r: &'static OpcodeRow| rows.iter().any(|x| std::ptr::eq(*x, r));
        let jlt = find(Class::Jmp, Operation::Jlt, Source::Imm, None);
        let add_reg = find(Class::Alu64, Operation::Add, Source::Reg, None);
        let folds = pick(&|r| {
            r.class == Class::Alu64
                && r.source == Source::Reg
                && matches!(
                    r.operation,
                    Operation::Add | Operation::Xor | Operation::Mul | Operation::Or
                )
        });
        let input_loop = (allowed(jlt) && allowed(add_reg) && !folds.is_empty())
            .then_some((jlt, add_reg, folds));
        Ops {
            input_loop,
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
            cond: pick(&|r| r.is_conditional_jump()),
            ja: pick(&|r| r.operation == Operation::Ja),
            call_local: rows.iter().any(|r| r.operation == Operation::CallLocal),
            helpers: knobs.helpers && rows.iter().any(|r| r.operation == Operation::Call),
            lddw: rows.iter().any(|r| r.operation == Operation::LdImm64),
            map_value: rows.iter().any(|r| r.operation == Operation::LdMapValue),
            alu,
            fold,
        }
    }
}

/// What the verifier knows in one function at one point.
#[derive(Clone, Copy, Debug)]
struct Frame {
    /// Registers holding initialised scalars (bit n = rn).
    scalars: u16,
    /// Registers that must not be written (r9 as the pointer, loop counters).
    reserved: u16,
    /// True when r9 holds the input pointer.
    has_ptr: bool,
    /// True when the input pointer is spilled at [`PTR_SLOT`].
    ptr_spilled: bool,
    /// The initialised scalar stack region `[lo, hi)` relative to r10.
    stack: (i16, i16),
    /// Enclosing loops.
    loops: u8,
    /// Enclosing `if` blocks and loops.
    nest: u8,
}

const fn bit(r: u8) -> u16 {
    1 << r
}

/// r1..r5: dead after any call.
const CALLER_SAVED: u16 = 0b11_1110;

struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    ops: Rc<Ops>,
    knobs: &'a Knobs,
    input_len: usize,
    specs: Vec<FuncSpec>,
    callees: Vec<Vec<usize>>,
    /// Items of the function being generated.
    items: Vec<FItem>,
    /// Body instructions left for the function being generated.
    budget: usize,
    func: usize,
}

impl<'a, 'b> Gen<'a, 'b> {
    fn emit(&mut self, ins: Instruction) {
        self.items.push(FItem { ins, tgt: None });
        self.budget = self.budget.saturating_sub(1);
    }

    fn emit_to(&mut self, ins: Instruction, tgt: Tgt) -> usize {
        self.items.push(FItem {
            ins,
            tgt: Some(tgt),
        });
        self.budget = self.budget.saturating_sub(1);
        self.items.len() - 1
    }

    fn pick_reg(&mut self, mask: u16) -> Result<Option<u8>> {
        let mut regs = [0u8; 11];
        let mut n = 0;
        for r in (0..=10).filter(|&r| mask & bit(r) != 0) {
            regs[n] = r;
            n += 1;
        }
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(*self.u.choose(&regs[..n])?))
    }

    /// A register holding an initialised scalar (there always is one after
    /// the prologue).
    fn scalar(&mut self, f: &Frame) -> Result<Option<u8>> {
        self.pick_reg(f.scalars)
    }

    /// A register the program may overwrite.
    fn writable(&mut self, f: &Frame) -> Result<u8> {
        let mask = 0b01_1111_1111 & !f.reserved;
        Ok(self.pick_reg(mask)?.unwrap_or(0))
    }

    fn mov_imm(&mut self, f: &mut Frame, dst: u8, imm: i32) {
        self.emit(Instruction::new(
            find(Class::Alu64, Operation::Mov, Source::Imm, None),
            dst,
            0,
            0,
            imm,
        ));
        f.scalars |= bit(dst);
    }

    fn mov_reg(&mut self, dst: u8, src: u8) {
        self.emit(Instruction::new(
            find(Class::Alu64, Operation::Mov, Source::Reg, None),
            dst,
            src,
            0,
            0,
        ));
    }

    /// Sets `dst` to a fresh scalar: a constant, a 64-bit constant or a load.
    fn init_reg(&mut self, f: &mut Frame, dst: u8) -> Result<()> {
        match self.u.int_in_range(0u8..=7)? {
            // A value that stresses every width (see `values`): half of the
            // constants, so that 32-bit ops meet nonzero upper halves.
            2..=4 => {
                let set = values::set_register(self.knobs, self.u, dst)?;
                if set.is_empty() {
                    let imm = boundary::imm32(self.u)?;
                    self.mov_imm(f, dst, imm);
                } else {
                    for ins in set {
                        self.emit(ins);
                    }
                    f.scalars |= bit(dst);
                }
            }
            0 if self.ops.lddw => {
                let v = boundary::imm64(self.u)?;
                self.emit(Instruction::wide(
                    sel(opcode::LD_IMM64_OPCODE, 0, 0, 0),
                    dst,
                    v,
                ));
                f.scalars |= bit(dst);
            }
            1 if f.has_ptr && !self.ops.loads.is_empty() => {
                let row = *self.u.choose(&self.ops.loads)?;
                if !self.load_from(f, row, dst)? {
                    let imm = boundary::imm32(self.u)?;
                    self.mov_imm(f, dst, imm);
                }
            }
            _ => {
                let imm = boundary::imm32(self.u)?;
                self.mov_imm(f, dst, imm);
            }
        }
        Ok(())
    }

    /// A constant offset for a `size`-byte access to the input, if it fits.
    fn input_off(&mut self, size: usize, aligned: bool) -> Result<Option<i16>> {
        if self.input_len < size {
            return Ok(None);
        }
        let last = self.input_len - size;
        let step = if aligned { size } else { 1 };
        let slots = last / step;
        let k = match self.u.int_in_range(0u8..=3)? {
            0 => 0,
            1 => slots,
            _ => self.u.int_in_range(0..=slots)?,
        };
        Ok(Some((k * step) as i16))
    }

    /// An aligned offset for a `size`-byte access to the initialised stack.
    fn stack_off(&mut self, f: &Frame, size: usize) -> Result<Option<i16>> {
        let (lo, hi) = f.stack;
        let room = (hi - lo) as usize;
        if room < size {
            return Ok(None);
        }
        let slots = room / size - 1;
        let k = self.u.int_in_range(0..=slots)?;
        Ok(Some(lo + (k * size) as i16))
    }

    /// A base register and offset for a `size`-byte access.
    fn place(&mut self, f: &Frame, size: usize, aligned: bool) -> Result<Option<(u8, i16)>> {
        let to_input = f.has_ptr && self.input_len >= size && self.u.ratio(3u8, 5)?;
        if to_input {
            if let Some(off) = self.input_off(size, aligned)? {
                return Ok(Some((MAP_REG, off)));
            }
        }
        Ok(self.stack_off(f, size)?.map(|off| (10, off)))
    }

    fn load_from(&mut self, f: &mut Frame, row: &'static OpcodeRow, dst: u8) -> Result<bool> {
        let size = row.size.map_or(8, |s| s.bytes());
        let Some((base, off)) = self.place(f, size, false)? else {
            return Ok(false);
        };
        self.emit(Instruction::new(row, dst, base, off, 0));
        f.scalars |= bit(dst);
        Ok(true)
    }

    fn alu(&mut self, f: &mut Frame) -> Result<()> {
        if self.ops.alu.is_empty() {
            return Ok(());
        }
        let row = *self.u.choose(&self.ops.alu)?;
        let width = if row.class == Class::Alu64 { 64 } else { 32 };
        let writes_only = matches!(row.operation, Operation::Mov | Operation::MovSx);
        let dst = if writes_only {
            self.writable(f)?
        } else {
            match self.scalar(f)? {
                Some(r) if f.reserved & bit(r) == 0 => r,
                _ => return Ok(()),
            }
        };
        let mut src = 0;
        let mut imm = 0;
        if row.source == Source::Reg && !matches!(row.operation, Operation::Be) {
            match self.scalar(f)? {
                Some(r) => src = r,
                None => return Ok(()),
            }
        } else {
            imm = match row.operation {
                Operation::Lsh | Operation::Rsh | Operation::Arsh => {
                    boundary::valid_shift(self.u, width)?
                }
                Operation::Div | Operation::Mod | Operation::SDiv | Operation::SMod => {
                    boundary::nonzero_divisor(self.u)?
                }
                _ => boundary::imm32(self.u)?,
            };
        }
        self.emit(Instruction::new(row, dst, src, 0, imm));
        f.scalars |= bit(dst);
        Ok(())
    }

    fn load(&mut self, f: &mut Frame) -> Result<()> {
        if self.ops.loads.is_empty() {
            return Ok(());
        }
        let row = *self.u.choose(&self.ops.loads)?;
        let dst = self.writable(f)?;
        self.load_from(f, row, dst)?;
        Ok(())
    }

    fn store(&mut self, f: &mut Frame) -> Result<()> {
        if self.ops.stores.is_empty() {
            return Ok(());
        }
        let row = *self.u.choose(&self.ops.stores)?;
        let size = row.size.map_or(8, |s| s.bytes());
        let Some((base, off)) = self.place(f, size, false)? else {
            return Ok(());
        };
        if row.operation == Operation::StoreReg {
            let Some(src) = self.scalar(f)? else {
                return Ok(());
            };
            self.emit(Instruction::new(row, base, src, off, 0));
        } else {
            let imm = boundary::imm32(self.u)?;
            self.emit(Instruction::new(row, base, 0, off, imm));
        }
        Ok(())
    }

    fn atomic(&mut self, f: &mut Frame) -> Result<()> {
        if self.ops.atomics.is_empty() {
            return Ok(());
        }
        let row = *self.u.choose(&self.ops.atomics)?;
        let size = row.size.map_or(8, |s| s.bytes());
        let Some((base, off)) = self.place(f, size, true)? else {
            return Ok(());
        };
        match row.operation {
            Operation::LoadAcquire => {
                let dst = self.writable(f)?;
                self.emit(Instruction::new(row, dst, base, off, 0));
                f.scalars |= bit(dst);
            }
            Operation::AtomicCmpxchg => {
                let Some(src) = self.scalar(f)? else {
                    return Ok(());
                };
                if f.scalars & bit(0) == 0 || f.reserved & bit(0) != 0 {
                    return Ok(());
                }
                self.emit(Instruction::new(row, base, src, off, 0));
            }
            _ => {
                let Some(src) = self.scalar(f)? else {
                    return Ok(());
                };
                let fetches = matches!(
                    row.operation,
                    Operation::AtomicFetchAdd
                        | Operation::AtomicFetchOr
                        | Operation::AtomicFetchAnd
                        | Operation::AtomicFetchXor
                        | Operation::AtomicXchg
                );
                if fetches && f.reserved & bit(src) != 0 {
                    return Ok(());
                }
                self.emit(Instruction::new(row, base, src, off, 0));
            }
        }
        Ok(())
    }

    /// A conditional jump on initialised scalars, to `tgt`.
    fn cond_jump(&mut self, f: &Frame, tgt: Tgt) -> Result<Option<usize>> {
        if self.ops.cond.is_empty() {
            return Ok(None);
        }
        let row = *self.u.choose(&self.ops.cond)?;
        let Some(dst) = self.scalar(f)? else {
            return Ok(None);
        };
        let (src, imm) = if row.source == Source::Reg {
            match self.scalar(f)? {
                Some(r) => (r, 0),
                None => return Ok(None),
            }
        } else {
            (0, boundary::imm32(self.u)?)
        };
        Ok(Some(
            self.emit_to(Instruction::new(row, dst, src, 0, imm), tgt),
        ))
    }

    fn retarget(&mut self, at: usize, tgt: Tgt) {
        self.items[at].tgt = Some(tgt);
    }

    fn if_block(&mut self, f: &mut Frame) -> Result<()> {
        let Some(jump) = self.cond_jump(f, Tgt::Local(0))? else {
            return Ok(());
        };
        let before = *f;
        let mut inner = Frame {
            nest: f.nest + 1,
            ..*f
        };
        let n = self.u.int_in_range(1u8..=4)?;
        self.body(&mut inner, n)?;
        let end = self.items.len();
        self.retarget(jump, Tgt::Local(end));
        f.scalars = before.scalars & inner.scalars;
        Ok(())
    }

    fn if_else(&mut self, f: &mut Frame) -> Result<()> {
        if self.ops.ja.is_empty() {
            return self.if_block(f);
        }
        let Some(jump) = self.cond_jump(f, Tgt::Local(0))? else {
            return Ok(());
        };
        let mut then = Frame {
            nest: f.nest + 1,
            ..*f
        };
        let n = self.u.int_in_range(1u8..=3)?;
        self.body(&mut then, n)?;
        let ja_row = *self.u.choose(&self.ops.ja)?;
        let skip = self.emit_to(Instruction::new(ja_row, 0, 0, 0, 0), Tgt::Local(0));
        self.retarget(jump, Tgt::Local(self.items.len()));
        let mut other = Frame {
            nest: f.nest + 1,
            ..*f
        };
        let n = self.u.int_in_range(1u8..=3)?;
        self.body(&mut other, n)?;
        self.retarget(skip, Tgt::Local(self.items.len()));
        f.scalars = then.scalars & other.scalars;
        Ok(())
    }

    /// A loop condition row: (row, counts up).
    fn loop_condition(&mut self) -> Result<Option<(&'static OpcodeRow, bool)>> {
        let usable: Vec<(&'static OpcodeRow, bool)> = self
            .ops
            .cond
            .iter()
            .filter_map(|r| match r.operation {
                Operation::Jlt | Operation::Jle | Operation::Jslt | Operation::Jsle => {
                    Some((*r, true))
                }
                Operation::Jgt | Operation::Jge | Operation::Jsgt | Operation::Jsge => {
                    Some((*r, false))
                }
                Operation::Jne => Some((*r, true)),
                _ => None,
            })
            .collect();
        if usable.is_empty() {
            return Ok(None);
        }
        Ok(Some(*self.u.choose(&usable)?))
    }

    /// `c = start; L: body; c += step; if c <cond> bound goto L`.
    fn counted_loop(&mut self, f: &mut Frame) -> Result<()> {
        let Some((row, up)) = self.loop_condition()? else {
            return Ok(());
        };
        let c = self.writable(f)?;
        let trips: i32 = self.u.int_in_range(1..=if f.loops > 0 { 4 } else { 8 })?;
        // Continue while the condition holds; stop after `trips` passes.
        let (start, step, bound) = match (row.operation, up) {
            (Operation::Jlt | Operation::Jslt | Operation::Jne, _) => (0, 1, trips),
            (Operation::Jle | Operation::Jsle, _) => (0, 1, trips - 1),
            (Operation::Jgt | Operation::Jsgt, _) => (trips, -1, 0),
            _ => (trips, -1, 1), // Jge, Jsge
        };
        self.mov_imm(f, c, start);
        let mut reserved = f.reserved | bit(c);
        let bound_reg = if row.source == Source::Reg {
            let r = self.pick_reg(0b01_1111_1111 & !reserved)?.unwrap_or(0);
            if r == c {
                return Ok(());
            }
            self.mov_imm(f, r, bound);
            reserved |= bit(r);
            Some(r)
        } else {
            None
        };
        let head = self.items.len();
        let mut inner = Frame {
            reserved,
            loops: f.loops + 1,
            nest: f.nest + 1,
            ..*f
        };
        let n = self.u.int_in_range(1u8..=4)?;
        self.body(&mut inner, n)?;
        self.emit(Instruction::new(
            find(Class::Alu64, Operation::Add, Source::Imm, None),
            c,
            0,
            0,
            step,
        ));
        let (src, imm) = match bound_reg {
            Some(r) => (r, 0),
            None => (0, bound),
        };
        self.emit_to(Instruction::new(row, c, src, 0, imm), Tgt::Local(head));
        f.scalars = inner.scalars;
        Ok(())
    }

    /// `i = 0; L: p = r9; p += i; x = *(size *)(p + 0); acc op= x; i += size;
    /// if i < len - size + 1 goto L`.
    fn input_loop(&mut self, f: &mut Frame) -> Result<()> {
        let Some((jlt, add_reg, folds)) = self.ops.input_loop.clone() else {
            return Ok(());
        };
        if !f.has_ptr || self.ops.loads.is_empty() {
            return Ok(());
        }
        let row = *self.u.choose(&self.ops.loads)?;
        let size = row.size.map_or(8, |s| s.bytes());
        if self.input_len < size {
            return Ok(());
        }
        let step = if self.u.ratio(1u8, 2)? { size } else { 1 };
        let limit = self.input_len - size + 1;
        if limit.div_ceil(step) > 64 {
            return Ok(());
        }
        let free = 0b01_1111_1111 & !f.reserved;
        let Some(i) = self.pick_reg(free)? else {
            return Ok(());
        };
        let Some(p) = self.pick_reg(free & !bit(i))? else {
            return Ok(());
        };
        let Some(x) = self.pick_reg(free & !bit(i) & !bit(p))? else {
            return Ok(());
        };
        let Some(acc) = self.pick_reg(f.scalars & free & !bit(i) & !bit(p) & !bit(x))? else {
            return Ok(());
        };
        self.mov_imm(f, i, 0);
        let head = self.items.len();
        self.mov_reg(p, MAP_REG);
        self.emit(Instruction::new(add_reg, p, i, 0, 0));
        self.emit(Instruction::new(row, x, p, 0, 0));
        let fold = *self.u.choose(&folds)?;
        self.emit(Instruction::new(fold, acc, x, 0, 0));
        self.emit(Instruction::new(
            find(Class::Alu64, Operation::Add, Source::Imm, None),
            i,
            0,
            0,
            step as i32,
        ));
        self.emit_to(
            Instruction::new(jlt, i, 0, 0, limit as i32),
            Tgt::Local(head),
        );
        f.scalars |= bit(x) | bit(i);
        f.scalars &= !bit(p);
        Ok(())
    }

    fn call_local(&mut self, f: &mut Frame) -> Result<()> {
        let later: Vec<usize> = (self.func + 1..self.specs.len()).collect();
        if later.is_empty() || f.loops > 0 {
            return Ok(());
        }
        let callee = *self.u.choose(&later)?;
        self.call(f, callee)
    }

    fn call(&mut self, f: &mut Frame, callee: usize) -> Result<()> {
        let spec = self.specs[callee];
        if spec.takes_ptr && !f.has_ptr {
            return Ok(());
        }
        let first = if spec.takes_ptr {
            self.mov_reg(1, MAP_REG);
            f.scalars &= !bit(1);
            2
        } else {
            1
        };
        for r in first..first + spec.scalar_args {
            match self.scalar(f)? {
                Some(s) if self.u.ratio(2u8, 3)? => {
                    if s != r {
                        self.mov_reg(r, s);
                    }
                    f.scalars |= bit(r);
                }
                _ => {
                    let imm = boundary::imm32(self.u)?;
                    self.mov_imm(f, r, imm);
                }
            }
        }
        self.emit_to(
            Instruction::new(sel(0x85, 1, 0, 0), 0, 1, 0, 0),
            Tgt::Func(callee),
        );
        self.callees[self.func].push(callee);
        f.scalars &= !CALLER_SAVED;
        f.scalars |= bit(0);
        Ok(())
    }

    fn helper(&mut self, f: &mut Frame) -> Result<()> {
        if !self.ops.helpers || f.loops > 0 || f.reserved & (CALLER_SAVED | 1) != 0 {
            return Ok(());
        }
        let id = *self.u.choose(&[5, 7])?;
        self.emit(Instruction::new(sel(0x85, 0, 0, 0), 0, 0, 0, id));
        // The result is opaque (a clock, a random number): never read it.
        f.scalars &= !(CALLER_SAVED | 1);
        Ok(())
    }

    fn lddw(&mut self, f: &mut Frame) -> Result<()> {
        if !self.ops.lddw {
            return Ok(());
        }
        let dst = self.writable(f)?;
        let v = boundary::imm64(self.u)?;
        self.emit(Instruction::wide(
            sel(opcode::LD_IMM64_OPCODE, 0, 0, 0),
            dst,
            v,
        ));
        f.scalars |= bit(dst);
        Ok(())
    }

    /// Reloads the input pointer into r9: from its spill slot, or with
    /// `ld_imm64 src=2` (the kernel backend points it at the input map).
    fn reload_ptr(&mut self, f: &mut Frame) -> Result<()> {
        if !f.has_ptr {
            return Ok(());
        }
        if f.ptr_spilled && self.u.ratio(2u8, 3)? {
            self.emit(Instruction::new(
                find(Class::Ldx, Operation::Load, Source::None, Some(Size::DW)),
                MAP_REG,
                10,
                PTR_SLOT,
                0,
            ));
        } else if self.ops.map_value {
            let mut ld = Instruction::new(sel(opcode::LD_IMM64_OPCODE, 2, 0, 0), MAP_REG, 0, 0, 0);
            ld.next_imm = 0;
            self.emit(ld);
        }
        Ok(())
    }

    fn block(&mut self, f: &mut Frame) -> Result<()> {
        let nested = f.nest < 3;
        match self.u.int_in_range(0u8..=99)? {
            0..=34 => self.alu(f),
            35..=46 => self.load(f),
            47..=56 => self.store(f),
            57..=61 => self.atomic(f),
            62..=69 if nested => self.if_block(f),
            70..=74 if nested => self.if_else(f),
            75..=77 if nested && self.knobs.loops && f.loops < 2 => self.counted_loop(f),
            78..=80 if self.knobs.loops && f.loops == 0 => self.input_loop(f),
            81..=86 => self.call_local(f),
            87..=88 => self.helper(f),
            89..=93 => self.lddw(f),
            94 => self.reload_ptr(f),
            _ => self.alu(f),
        }
    }

    /// Up to `blocks` blocks while the function's budget lasts.
    fn body(&mut self, f: &mut Frame, blocks: u8) -> Result<()> {
        for _ in 0..blocks {
            if self.budget == 0 {
                break;
            }
            self.attempt(f)?;
        }
        Ok(())
    }

    /// One block; an attempt that emits nothing still costs one unit of
    /// budget, so generation always ends.
    fn attempt(&mut self, f: &mut Frame) -> Result<()> {
        let before = self.items.len();
        self.block(f)?;
        if self.items.len() == before {
            self.budget = self.budget.saturating_sub(1);
        }
        Ok(())
    }

    fn prologue(&mut self, f: &mut Frame, spec: FuncSpec) -> Result<()> {
        if f.has_ptr {
            self.mov_reg(MAP_REG, 1);
            f.reserved |= bit(MAP_REG);
            if spec.stack >= 8 && self.u.ratio(1u8, 3)? {
                self.emit(Instruction::new(
                    find(
                        Class::Stx,
                        Operation::StoreReg,
                        Source::None,
                        Some(Size::DW),
                    ),
                    10,
                    MAP_REG,
                    PTR_SLOT,
                    0,
                ));
                f.ptr_spilled = true;
            }
        }
        let hi = if f.ptr_spilled { PTR_SLOT } else { 0 };
        f.stack = (-spec.stack, hi);
        let st = find(Class::St, Operation::StoreImm, Source::None, Some(Size::DW));
        let stx = find(
            Class::Stx,
            Operation::StoreReg,
            Source::None,
            Some(Size::DW),
        );
        let mut off = -spec.stack;
        while off < hi {
            match self.scalar(f)? {
                Some(r) if self.u.ratio(1u8, 3)? => {
                    self.items.push(FItem {
                        ins: Instruction::new(stx, 10, r, off, 0),
                        tgt: None,
                    });
                }
                _ => {
                    let imm = boundary::imm32(self.u)?;
                    self.items.push(FItem {
                        ins: Instruction::new(st, 10, 0, off, imm),
                        tgt: None,
                    });
                }
            }
            off += 8;
        }
        let inits = self.u.int_in_range(2u8..=5)?;
        for _ in 0..inits {
            let dst = self.writable(f)?;
            self.init_reg(f, dst)?;
        }
        Ok(())
    }

    fn epilogue(&mut self, f: &mut Frame) -> Result<()> {
        if self.func == 0 {
            self.call_unreachable(f)?;
        }
        if f.scalars & bit(0) == 0 {
            match self.scalar(f)? {
                Some(r) if self.u.ratio(1u8, 2)? => self.mov_reg(0, r),
                _ => {
                    let imm = boundary::imm32(self.u)?;
                    self.mov_imm(f, 0, imm)
                }
            }
            f.scalars |= bit(0);
        }
        if !self.ops.fold.is_empty() {
            let folds = self.u.int_in_range(0u8..=4)?;
            for _ in 0..folds {
                let Some(r) = self.pick_reg(f.scalars & !bit(0))? else {
                    break;
                };
                let row = *self.u.choose(&self.ops.fold)?;
                self.emit(Instruction::new(row, 0, r, 0, 0));
            }
        }
        self.emit(layout::exit());
        Ok(())
    }

    /// Calls every function that nothing reachable calls yet.
    fn call_unreachable(&mut self, f: &mut Frame) -> Result<()> {
        let n = self.specs.len();
        let mut reached = vec![false; n];
        let mut stack = vec![0];
        loop {
            while let Some(g) = stack.pop() {
                if !reached[g] {
                    reached[g] = true;
                    stack.extend(self.callees[g].iter().copied());
                }
            }
            let Some(missing) = (1..n).find(|&g| !reached[g]) else {
                return Ok(());
            };
            // Pointer-taking functions exist only with input, so main can
            // always call them.
            self.call(f, missing)?;
            stack.push(missing);
        }
    }

    fn function(&mut self, func: usize, budget: usize) -> Result<Vec<FItem>> {
        self.func = func;
        self.items = Vec::new();
        self.budget = budget;
        let spec = self.specs[func];
        let mut f = Frame {
            scalars: 0,
            reserved: bit(10),
            has_ptr: false,
            ptr_spilled: false,
            stack: (0, 0),
            loops: 0,
            nest: 0,
        };
        if func == 0 {
            f.has_ptr = self.input_len > 0;
            f.scalars = bit(2) | if f.has_ptr { 0 } else { bit(1) };
        } else {
            f.has_ptr = spec.takes_ptr;
            let first = if spec.takes_ptr { 2 } else { 1 };
            for r in first..first + spec.scalar_args {
                f.scalars |= bit(r);
            }
        }
        self.prologue(&mut f, spec)?;
        while self.budget > 0 {
            self.attempt(&mut f)?;
        }
        self.epilogue(&mut f)?;
        Ok(std::mem::take(&mut self.items))
    }
}

/// Rounded stack use of one frame as the kernel counts it.
fn frame_cost(stack: i16) -> usize {
    (stack.max(1) as usize).div_ceil(32) * 32
}

/// Generates a verifier-aware case.
pub fn generate(knobs: &Knobs, u: &mut Unstructured) -> Result<Case> {
    let ops = Ops::cached(knobs);
    let input_len = match u.int_in_range(0u8..=7)? {
        0 => 0,
        _ => u.int_in_range(knobs.input_len.clone())?,
    };
    let input = boundary::memory(u, input_len)?;
    let nfuncs = if ops.call_local {
        match u.int_in_range(0u8..=9)? {
            0..=4 => 0,
            5..=7 => 1,
            8 => 2,
            _ => 3,
        }
        .min(knobs.max_subprograms)
    } else {
        0
    };
    let mut specs = Vec::with_capacity(nfuncs + 1);
    let main_stack = *u.choose(&[0i16, 8, 16, 24, 32, 48, 64, 96, 128, 256])?;
    specs.push(FuncSpec {
        scalar_args: 0,
        takes_ptr: false,
        stack: main_stack,
    });
    let mut used = frame_cost(main_stack);
    for _ in 0..nfuncs {
        let mut stack = *u.choose(&[0i16, 8, 16, 32, 64])?;
        if used + frame_cost(stack) > CHAIN_STACK {
            stack = 0;
        }
        used += frame_cost(stack);
        specs.push(FuncSpec {
            scalar_args: u.int_in_range(0..=3)?,
            takes_ptr: input_len > 0 && u.ratio(1u8, 2)?,
            stack,
        });
    }
    let budgets: Vec<usize> = (0..specs.len())
        .map(|_| u.int_in_range(knobs.program_len.clone()))
        .collect::<Result<_>>()?;
    let mut g = Gen {
        u,
        ops,
        knobs,
        input_len,
        callees: vec![Vec::new(); specs.len()],
        specs,
        items: Vec::new(),
        budget: 0,
        func: 0,
    };
    let mut bodies = vec![Vec::new(); g.specs.len()];
    for func in (0..g.specs.len()).rev() {
        let budget = if func == 0 {
            budgets[0]
        } else {
            budgets[func] / 2 + 1
        };
        bodies[func] = g.function(func, budget)?;
    }
    Ok(Case::new(finish(&bodies), input))
}

/// Concatenates the functions and resolves every target.
fn finish(bodies: &[Vec<FItem>]) -> bpfdiff_engine::Program {
    let mut bases = Vec::with_capacity(bodies.len());
    let mut n = 0;
    for b in bodies {
        bases.push(n);
        n += b.len();
    }
    let mut items = Vec::with_capacity(n);
    for (func, body) in bodies.iter().enumerate() {
        for it in body {
            items.push(match it.tgt {
                None => Item::plain(it.ins),
                Some(Tgt::Local(t)) => Item::to(it.ins, bases[func] + t),
                Some(Tgt::Func(g)) => Item::to(it.ins, bases[g]),
            });
        }
    }
    bpfdiff_engine::Program::new(layout::encode(&items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{seeded, Tier};
    use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};

    #[test]
    fn programs_run_on_the_engine_without_faults_or_uninitialised_stack() {
        // The tier's contract: memory accesses in bounds, no endless loops,
        // stack read only after it is written (see the module docs).
        let knobs = Knobs::default();
        for seed in 0..300 {
            let case = seeded::case(Tier::Verifier, &knobs, seed);
            let vm = Interpreter::new(&case.program).expect("decodes");
            let mut mem = case.input.clone();
            let e = vm.run(&mut mem, DEFAULT_BUDGET);
            assert!(
                matches!(e.result, ExecResult::Returned { .. }),
                "seed {seed}: {}",
                e.result
            );
            assert_eq!(e.uninit_stack_read, None, "seed {seed}");
        }
    }

    #[test]
    fn stack_budget_fits_the_kernel_chain_limit() {
        assert_eq!(frame_cost(0), 32);
        assert_eq!(frame_cost(256), 256);
        assert_eq!(frame_cost(48), 64);
    }
}
