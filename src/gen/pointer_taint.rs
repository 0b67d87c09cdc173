//! Which programs let an address decide their control flow, or forge one.
//!
//! Every implementation puts the input memory and the stack at its own
//! addresses (the engine's interpreter at `MEM_BASE`/`STACK_TOP`, its JIT,
//! rbpf and the kernel at host addresses), and helpers 5 and 7 return
//! implementation-specific numbers. The comparison never compares such
//! pointer-derived values as numbers, but a program that *branches* on one
//! (`if w1 == 0 goto …` with r1 the input pointer) may take different paths
//! on two correct implementations; and a program that accesses memory
//! through a number it computed (`r7 = 0x100000000`, the interpreter's
//! input address) reaches memory only by the accident of one layout. This
//! module finds both with a static over-approximation, so that the harness
//! can call those cases inconclusive instead of reporting a divergence.
//!
//! The analysis is a forward data flow over the decoded program. Per
//! instruction it keeps three register sets: the registers that may hold a
//! pointer-derived or opaque value (r10, r1 when there is input,
//! `ld_imm64` of a map value or address, helper results, r1–r5 after a
//! helper), the registers that may point into the stack (r10 and what is
//! computed from it), and the registers whose address may be mangled
//! (shifted, truncated, multiplied: anything but plus or minus a plain
//! number), which, like plain numbers, make a forged address.
//! Program-wide it records where memory may hold tainted bytes: which 8-byte stack slots (stores through r10 at a
//! constant offset, as spills are), whether a store through another stack
//! pointer did, whether a store elsewhere did, and whether a stack pointer
//! or a mangled value was stored at all. Local calls pass the caller's sets to the callee and
//! return the union of every `exit`'s r0–r5.
//!
//! A pointer survives a trip through memory only when it is stored and
//! loaded whole: 8 bytes at an address that is a multiple of 8 in every
//! implementation (each puts its stack top and input start at one). So a
//! fourth register set holds the pointers whose offset from such an
//! address may not be a multiple of 8 (r10 − 12, r1 + r3), and a store of
//! fewer bytes, or of 8 at such an offset (`*(u64 *)(r10 - 12) = …`,
//! which covers half of the slot at r10 − 8), over memory that may hold a
//! pointer makes every later load a mangled value.
//!
//! `callx` jumps to a code address held in a register, which the analysis
//! does not track: any slot may be its target. So a reachable `callx`
//! passes the caller's sets (r10 a stack pointer among them, as at every
//! function's entry) to every slot of the program, and all functions then
//! share one record of written stack slots, since code reached that way
//! runs in a frame the layout into functions does not predict.

use bpfdiff_engine::opcode::{Class, Operation, Source};
use bpfdiff_engine::{Instruction, Program};

const R0: u16 = 1;
const CALLER_SAVED: u16 = 0b11_1111; // r0..r5
const CALLEE_SAVED: u16 = 0b11_1100_0000; // r6..r9
const R10: u16 = 1 << 10;

fn bit(r: u8) -> u16 {
    1 << r
}

/// The registers that may hold a tainted value, those that may point into
/// the stack, and those whose value may be an address transformed by more
/// than adding or subtracting plain numbers (or an opaque number), which
/// makes it useless as an address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Regs {
    tainted: u16,
    stack: u16,
    mangled: u16,
    /// Pointers whose offset from an 8-byte-aligned address may not be a
    /// multiple of 8.
    unaligned: u16,
}

fn assign(mask: &mut u16, reg: u16, on: bool) {
    *mask = if on { *mask | reg } else { *mask & !reg };
}

impl Regs {
    fn union(self, other: Regs) -> Regs {
        Regs {
            tainted: self.tainted | other.tainted,
            stack: self.stack | other.stack,
            mangled: self.mangled | other.mangled,
            unaligned: self.unaligned | other.unaligned,
        }
    }

    fn only(self, mask: u16) -> Regs {
        Regs {
            tainted: self.tainted & mask,
            stack: self.stack & mask,
            mangled: self.mangled & mask,
            unaligned: self.unaligned & mask,
        }
    }

    /// Sets `reg`'s first three bits; it may be unaligned when it may be
    /// a pointer (what is mangled is no usable address either way).
    fn set(&mut self, reg: u16, tainted: bool, stack: bool, mangled: bool) {
        self.set_with_unaligned(reg, tainted, stack, mangled, tainted);
    }

    /// Sets `reg`'s four bits.
    fn set_with_unaligned(
        &mut self,
        reg: u16,
        tainted: bool,
        stack: bool,
        mangled: bool,
        unaligned: bool,
    ) {
        assign(&mut self.tainted, reg, tainted);
        assign(&mut self.stack, reg, stack);
        assign(&mut self.mangled, reg, mangled);
        assign(&mut self.unaligned, reg, unaligned);
    }

    fn any(mask: u16, regs: u16) -> bool {
        mask & regs != 0
    }
}

/// Where memory may hold tainted bytes or stack pointers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Mem {
    /// Per function (0 = the main program, then local-call targets in
    /// order): its frame's stack slots (bit k: bytes `[-8(k+1), -8k)` below
    /// r10) written through r10 at a constant offset.
    slots: Vec<u64>,
    /// A store through another stack pointer.
    stack_elsewhere: bool,
    /// A store through a pointer that cannot point into the stack.
    other: bool,
    /// A stack pointer was stored somewhere.
    stack_ptrs: bool,
    /// A mangled value, or part of a pointer, may be in memory.
    mangled: bool,
    /// A pointer at an offset that may not be a multiple of 8 was stored.
    unaligned_ptrs: bool,
}

/// True when a `size`-byte access at `base + off` covers whole 8-byte
/// slots: 8 bytes at an offset from an aligned address that is a multiple
/// of 8.
fn whole_slot(regs: &Regs, base: u8, off: i16, size: usize) -> bool {
    size == 8 && off % 8 == 0 && !Regs::any(regs.unaligned, bit(base))
}

/// The stack slots `[r10 + off, r10 + off + size)` touches, or `None` when
/// the access is not within 512 bytes below r10.
fn stack_slots(off: i16, size: usize) -> Option<u64> {
    let lo = off as i64;
    let hi = lo + size as i64;
    if lo < -512 || hi > 0 || size == 0 {
        return None;
    }
    Some((lo..hi).fold(0u64, |bits, byte| bits | 1 << ((-byte - 1) / 8)))
}

impl Mem {
    /// Records a store of `src` at `base + off` in function `func`; true
    /// when something changed.
    fn store(
        &mut self,
        func: usize,
        regs: &Regs,
        base: u8,
        src: u8,
        off: i16,
        size: usize,
    ) -> bool {
        let before = self.clone();
        let b = bit(base);
        let value = bit(src);
        let slots = match (base, stack_slots(off, size)) {
            (10, Some(bits)) => Some(bits),
            _ => None,
        };
        if Regs::any(regs.stack, value) {
            self.stack_ptrs = true;
        }
        let tainted = Regs::any(regs.tainted, value);
        if tainted && Regs::any(regs.unaligned, value) {
            self.unaligned_ptrs = true;
        }
        // A mangled value, part of a pointer, or data over part of a
        // spilled pointer: what a later load reads is no usable address.
        let whole = whole_slot(regs, base, off, size);
        let partial_over_pointer = !whole && self.may_hold_pointer(func, regs, base, off, size);
        if Regs::any(regs.mangled, value) || (tainted && !whole) || partial_over_pointer {
            self.mangled = true;
        }
        if tainted {
            match slots {
                Some(bits) => self.slots[func] |= bits,
                None if Regs::any(regs.stack, b) => self.stack_elsewhere = true,
                None => self.other = true,
            }
        }
        *self != before
    }

    /// Records a store of an immediate (it can only overwrite part of a
    /// pointer); true when something changed.
    fn store_imm(&mut self, func: usize, regs: &Regs, base: u8, off: i16, size: usize) -> bool {
        let partial = !whole_slot(regs, base, off, size)
            && self.may_hold_pointer(func, regs, base, off, size);
        if partial && !self.mangled {
            self.mangled = true;
            return true;
        }
        false
    }

    /// True when `[base + off, + size)` may overlap a stored pointer.
    fn may_hold_pointer(&self, func: usize, regs: &Regs, base: u8, off: i16, size: usize) -> bool {
        match (base, stack_slots(off, size)) {
            (10, Some(bits)) => self.slots[func] & bits != 0 || self.stack_elsewhere,
            _ if Regs::any(regs.stack, bit(base)) => {
                self.other || self.stack_elsewhere || self.slots.iter().any(|&s| s != 0)
            }
            _ => self.other,
        }
    }

    /// True when a load at `base + off` may yield a mangled value: the
    /// memory may hold one, or the load takes part of a pointer.
    fn load_mangled(&self, tainted: bool, regs: &Regs, base: u8, off: i16, size: usize) -> bool {
        self.mangled || (tainted && !whole_slot(regs, base, off, size))
    }

    /// True when a load at `base + off` in function `func` may yield a
    /// tainted value.
    fn load(&self, func: usize, regs: &Regs, base: u8, off: i16, size: usize) -> bool {
        match (base, stack_slots(off, size)) {
            (10, Some(bits)) => self.stack_elsewhere || self.slots[func] & bits != 0,
            _ if regs.stack & bit(base) != 0 => {
                self.other || self.stack_elsewhere || self.slots.iter().any(|&s| s != 0)
            }
            _ => self.other,
        }
    }
}

/// What the analysis found, as slot indices of the first such instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressDependence {
    /// A branch decision or call target that may depend on a
    /// pointer-derived or opaque value.
    pub branch: Option<usize>,
    /// A memory access whose address is computed from plain numbers only
    /// (a forged pointer, such as the constant `0x100000000`, which is the
    /// engine's virtual input address but nothing in other implementations).
    pub forged_access: Option<usize>,
}

/// The first instruction (slot index) whose branch decision, or call
/// target, may depend on a pointer-derived or opaque value; `None` when no
/// such instruction is reachable (or the program does not decode).
pub fn branch_on_pointer(program: &Program, has_input: bool) -> Option<usize> {
    analyze(program, has_input).branch
}

/// Both findings of the analysis; nothing when the program does not decode.
pub fn analyze(program: &Program, has_input: bool) -> AddressDependence {
    let mut out = AddressDependence::default();
    let Ok(decoded) = program.decode() else {
        return out;
    };
    if decoded.is_empty() {
        return out;
    }
    let n_slots = program.len();
    let mut index_of = vec![usize::MAX; n_slots];
    for (i, (slot, _)) in decoded.iter().enumerate() {
        index_of[*slot] = i;
    }
    let entry = Regs {
        tainted: R10 | if has_input { bit(1) } else { 0 },
        stack: R10,
        mangled: 0,
        unaligned: 0,
    };
    // Functions: the program and every local-call target, each running to
    // the next one's first slot.
    let mut entries: Vec<usize> = decoded
        .iter()
        .filter(|(_, i)| i.row.operation == Operation::CallLocal)
        .filter_map(|(slot, i)| usize::try_from(*slot as i64 + 1 + i.imm as i64).ok())
        .filter(|&t| t < n_slots)
        .chain([0])
        .collect();
    entries.sort_unstable();
    entries.dedup();
    // With `callx`, any slot may start a frame: one record for all.
    if decoded
        .iter()
        .any(|(_, i)| i.row.operation == Operation::Callx)
    {
        entries = vec![0];
    }
    let func_of = |slot: usize| entries.partition_point(|&e| e <= slot) - 1;
    let mut state: Vec<Option<Regs>> = vec![None; decoded.len()];
    state[0] = Some(entry);
    let mut mem = Mem {
        slots: vec![0; entries.len()],
        ..Mem::default()
    };
    let mut exits = Regs::default();
    // Sets only grow and are finite, so this ends.
    loop {
        let mut changed = false;
        for i in 0..decoded.len() {
            let Some(regs) = state[i] else { continue };
            let (slot, ins) = decoded[i];
            let step = transfer(
                &ins,
                func_of(slot),
                regs,
                &mut mem,
                &mut exits,
                &mut changed,
            );
            let first = |f: Option<usize>| Some(f.map_or(slot, |f| f.min(slot)));
            if step.sensitive {
                out.branch = first(out.branch);
            }
            if step.forged {
                out.forged_access = first(out.forged_access);
            }
            let mut flow = |target: i64, set: Regs| {
                if target < 0 || target as usize >= n_slots {
                    return;
                }
                let j = index_of[target as usize];
                if j == usize::MAX {
                    return;
                }
                let merged = state[j].map_or(set, |old| old.union(set));
                if state[j] != Some(merged) {
                    state[j] = Some(merged);
                    changed = true;
                }
            };
            if step.falls_through {
                flow((slot + ins.slots()) as i64, step.after);
            }
            if let Some(rel) = step.jumps_to {
                flow(slot as i64 + 1 + rel, step.jump_set);
            }
            if step.calls_anywhere {
                for &(target, _) in &decoded {
                    flow(target as i64, step.jump_set);
                }
            }
        }
        if !changed {
            break;
        }
    }
    out
}

struct Step {
    after: Regs,
    falls_through: bool,
    /// Relative target of a jump or call.
    jumps_to: Option<i64>,
    /// The sets flowing to the target.
    jump_set: Regs,
    /// A `callx`: every slot may be the target, entered with `jump_set`.
    calls_anywhere: bool,
    sensitive: bool,
    /// A memory access through a register that holds no pointer.
    forged: bool,
}

fn transfer(
    ins: &Instruction,
    func: usize,
    regs: Regs,
    mem: &mut Mem,
    exits: &mut Regs,
    changed: &mut bool,
) -> Step {
    let row = ins.row;
    let (d, s) = (bit(ins.dst), bit(ins.src));
    let size = row.size.map_or(8, |z| z.bytes());
    let tainted = |m: u16| Regs::any(regs.tainted, m);
    let stack = |m: u16| Regs::any(regs.stack, m);
    let mangled = |m: u16| Regs::any(regs.mangled, m);
    let unaligned = |m: u16| Regs::any(regs.unaligned, m);
    let mut step = Step {
        after: regs,
        falls_through: true,
        jumps_to: None,
        jump_set: regs,
        calls_anywhere: false,
        sensitive: false,
        forged: false,
    };
    let base = match (row.class, row.operation) {
        (Class::Ldx, _) | (Class::Stx, Operation::LoadAcquire) => Some(ins.src),
        (Class::St | Class::Stx, _) => Some(ins.dst),
        _ => None,
    };
    // No pointer in the base, or one mangled beyond an offset.
    step.forged = base.is_some_and(|b| !tainted(bit(b)) || mangled(bit(b)));
    // What a load of `size` bytes at `base + off` yields.
    let loaded = |mem: &Mem, base: u8| {
        let t = mem.load(func, &regs, base, ins.off, size);
        let m = mem.load_mangled(t, &regs, base, ins.off, size);
        (t, mem.stack_ptrs, m, t && mem.unaligned_ptrs)
    };
    match row.class {
        Class::Alu | Class::Alu64 => {
            let wide = row.class == Class::Alu64;
            let a = &mut step.after;
            match (row.operation, row.source) {
                (Operation::Mov, Source::Imm) => a.set(d, false, false, false),
                // A 64-bit copy keeps an address; truncations mangle it.
                (Operation::Mov, Source::Reg) if wide => {
                    a.set_with_unaligned(d, tainted(s), stack(s), mangled(s), unaligned(s))
                }
                (Operation::Mov | Operation::MovSx, _) => {
                    a.set(d, tainted(s), stack(s), tainted(s))
                }
                // Pointer plus or minus a plain number stays an address,
                // aligned when the number is a multiple of 8.
                (Operation::Add | Operation::Sub, Source::Imm) if wide => {
                    if ins.imm % 8 != 0 {
                        a.unaligned |= d & a.tainted;
                    }
                }
                (Operation::Add, Source::Reg) if wide => a.set(
                    d,
                    tainted(d | s),
                    stack(d | s),
                    mangled(d | s) || (tainted(d) && tainted(s)),
                ),
                (Operation::Sub, Source::Reg) if wide => a.set(
                    d,
                    tainted(d | s),
                    stack(d | s),
                    mangled(d | s) || tainted(s),
                ),
                (_, Source::Reg) if row.operation != Operation::Be => {
                    a.set(d, tainted(d | s), stack(d | s), tainted(d | s))
                }
                _ => a.set(d, tainted(d), stack(d), tainted(d)),
            }
        }
        Class::Ldx => {
            let (t, st, m, u) = loaded(mem, ins.src);
            step.after.set_with_unaligned(d, t, st, m, u);
        }
        Class::St => *changed |= mem.store_imm(func, &regs, ins.dst, ins.off, size),
        Class::Stx => match row.operation {
            Operation::StoreReg | Operation::StoreRelease => {
                *changed |= mem.store(func, &regs, ins.dst, ins.src, ins.off, size)
            }
            Operation::LoadAcquire => {
                let (t, st, m, u) = loaded(mem, ins.src);
                step.after.set_with_unaligned(d, t, st, m, u);
            }
            Operation::AtomicCmpxchg => {
                step.sensitive = tainted(R0);
                *changed |= mem.store(func, &regs, ins.dst, ins.src, ins.off, size);
                let (t, st, m, u) = loaded(mem, ins.dst);
                step.after.set_with_unaligned(R0, t, st, m, u);
            }
            Operation::AtomicFetchAdd
            | Operation::AtomicFetchOr
            | Operation::AtomicFetchAnd
            | Operation::AtomicFetchXor
            | Operation::AtomicXchg => {
                *changed |= mem.store(func, &regs, ins.dst, ins.src, ins.off, size);
                let (t, st, m, u) = loaded(mem, ins.dst);
                step.after.set_with_unaligned(s, t, st, m, u);
            }
            _ => *changed |= mem.store(func, &regs, ins.dst, ins.src, ins.off, size),
        },
        Class::Ld => match row.operation {
            Operation::LdImm64 | Operation::LdFunc => step.after.set(d, false, false, false),
            Operation::LdAbs | Operation::LdInd => {
                // An out-of-bounds packet load ends the program: with an
                // address in the index register, that is a branch on it.
                let indexed = row.operation == Operation::LdInd && tainted(s);
                step.sensitive = indexed;
                for r in 1..=5 {
                    step.after.set(bit(r), true, false, true);
                }
                // The packet is the input: it holds pointer bytes when a
                // tainted value was stored outside the stack. The load
                // swaps bytes, so what it yields is no usable address.
                let from_input = mem.other;
                let t = indexed || from_input;
                step.after.set(R0, t, false, t);
            }
            // A map value: an address the kernel and the engine both know.
            Operation::LdMapValue => step.after.set_with_unaligned(d, true, false, false, false),
            _ => step.after.set(d, true, false, true),
        },
        Class::Jmp | Class::Jmp32 => match row.operation {
            Operation::Exit => {
                step.falls_through = false;
                let merged = exits.union(regs.only(CALLER_SAVED));
                if merged != *exits {
                    *exits = merged;
                    *changed = true;
                }
            }
            Operation::Ja => {
                step.falls_through = false;
                step.jumps_to = Some(if row.class == Class::Jmp32 {
                    ins.imm as i64
                } else {
                    ins.off as i64
                });
            }
            // Helper results are opaque numbers; r1-r5 are left undefined.
            Operation::Call | Operation::CallKfunc => {
                for r in 0..=5 {
                    step.after.set(bit(r), true, false, true);
                }
            }
            Operation::CallLocal => {
                step.jumps_to = Some(ins.imm as i64);
                step.after = regs
                    .only(CALLEE_SAVED | R10)
                    .union(exits.only(CALLER_SAVED));
            }
            Operation::Callx => {
                step.sensitive = tainted(d);
                step.calls_anywhere = true;
                step.after = regs.only(CALLEE_SAVED | R10).union(Regs {
                    tainted: CALLER_SAVED,
                    stack: exits.stack & CALLER_SAVED,
                    mangled: CALLER_SAVED,
                    unaligned: CALLER_SAVED,
                });
            }
            _ => {
                step.sensitive = tainted(d) || (row.source == Source::Reg && tainted(s));
                step.jumps_to = Some(ins.off as i64);
            }
        },
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::Insn;

    fn prog(insns: &[Insn]) -> Program {
        Program::new(insns.to_vec())
    }

    const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

    #[test]
    fn branch_on_the_input_pointer_is_found() {
        // if w1 == 0 goto +1: the interpreter's MEM_BASE has low half 0, a
        // host pointer usually does not.
        let p = prog(&[
            Insn::new(0x16, 1, 0, 1, 0),
            Insn::new(0xb7, 0, 0, 0, 1),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, true), Some(0));
        // Without input r1 = 0 is a plain number.
        assert_eq!(branch_on_pointer(&p, false), None);
    }

    #[test]
    fn a_packet_load_of_stored_pointer_bytes_is_tainted() {
        // *(u64 *)(r1 +0) = r1 (the input pointer into the input itself);
        // r0 = *(u32 *)skb[0]; if w0 == 0 goto +0: the packet load reads
        // the pointer's bytes (issue 9), so the branch depends on an address.
        let p = prog(&[
            Insn::new(0x7b, 1, 1, 0, 0),
            Insn::new(0x20, 0, 0, 0, 0),
            Insn::new(0x16, 0, 0, 0, 0),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, true), Some(2));
        // Without a pointer stored in the input the loaded value is a number.
        let p = prog(&[
            Insn::new(0x7a, 1, 0, 0, 7),
            Insn::new(0x20, 0, 0, 0, 0),
            Insn::new(0x16, 0, 0, 0, 0),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, true), None);
    }

    #[test]
    fn overwriting_the_pointer_clears_it() {
        let p = prog(&[
            Insn::new(0xb7, 1, 0, 0, 5),
            Insn::new(0x15, 1, 0, 1, 0),
            Insn::new(0xb7, 0, 0, 0, 1),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, true), None);
    }

    #[test]
    fn helper_results_and_spilled_pointers_are_opaque() {
        // call bpf_get_prandom_u32; if r0 > 5 goto +0
        let p = prog(&[
            Insn::new(0x85, 0, 0, 0, 7),
            Insn::new(0x25, 0, 0, 0, 5),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, false), Some(1));
        // *(u64 *)(r10 -8) = r10; r3 = *(u64 *)(r10 -8); if r3 > 1 goto +0
        let p = prog(&[
            Insn::new(0x7b, 10, 10, -8, 0),
            Insn::new(0x79, 3, 10, -8, 0),
            Insn::new(0x25, 3, 0, 0, 1),
            Insn::new(0xb7, 0, 0, 0, 0),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, false), Some(2));
    }

    #[test]
    fn a_spill_taints_its_slot_only() {
        // *(u64 *)(r10 -8) = r1 (the input pointer); r3 = *(u64 *)(r10 -16);
        // r4 = *(u8 *)(r1 +0); branches on r3 and r4 are plain.
        let p = prog(&[
            Insn::new(0x7b, 10, 1, -8, 0),
            Insn::new(0x79, 3, 10, -16, 0),
            Insn::new(0x71, 4, 1, 0, 0),
            Insn::new(0x2d, 3, 4, 0, 0),
            Insn::new(0xb7, 0, 0, 0, 0),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, true), None);
        // Through a copy of r10 the slot can be read back: tainted.
        let p = prog(&[
            Insn::new(0x7b, 10, 1, -8, 0),
            Insn::new(0xbf, 5, 10, 0, 0),
            Insn::new(0x79, 3, 5, -8, 0),
            Insn::new(0x25, 3, 0, 0, 1),
            Insn::new(0xb7, 0, 0, 0, 0),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, true), Some(3));
    }

    #[test]
    fn memory_accesses_through_plain_numbers_are_forged() {
        // r7 = 0x100000000 (the engine's input address); *(u16 *)(r7 +2) = 1
        let p = prog(&[
            Insn::new(0x18, 7, 0, 0, 0),
            Insn::new(0, 0, 0, 0, 1),
            Insn::new(0x6a, 7, 0, 2, 1),
            Insn::new(0x71, 0, 1, 0, 0),
            EXIT,
        ]);
        let a = analyze(&p, true);
        assert_eq!(a.forged_access, Some(2));
        assert_eq!(a.branch, None);
        // Through the input pointer (r1) the load at insn 3 is not forged.
        let p = prog(&[Insn::new(0x71, 0, 1, 0, 0), EXIT]);
        assert_eq!(analyze(&p, true).forged_access, None);
    }

    #[test]
    fn a_packet_load_indexed_by_a_pointer_is_a_branch() {
        // r0 = *(u8 *)skb[r1 + 10]: in bounds or not depends on r1's address.
        let p = prog(&[Insn::new(0x50, 0, 1, 0, 10), EXIT]);
        assert_eq!(branch_on_pointer(&p, true), Some(0));
        assert_eq!(branch_on_pointer(&p, false), None);
    }

    #[test]
    fn pointers_shifted_or_truncated_are_forged_addresses() {
        // r9 = r1; r9 s>>= r9; r0 = *(u32 *)(r9 +0): the address depends on
        // the layout. r9 = r1; r9 += 4; r0 = *(u32 *)(r9 +0) is fine.
        let p = prog(&[
            Insn::new(0xbf, 9, 1, 0, 0),
            Insn::new(0xcf, 9, 9, 0, 0),
            Insn::new(0x61, 0, 9, 0, 0),
            EXIT,
        ]);
        assert_eq!(analyze(&p, true).forged_access, Some(2));
        let p = prog(&[
            Insn::new(0xbf, 9, 1, 0, 0),
            Insn::new(0x07, 9, 0, 0, 4),
            Insn::new(0x61, 0, 9, 0, 0),
            EXIT,
        ]);
        assert_eq!(analyze(&p, true).forged_access, None);
        // A pointer spilled whole and filled back is still an address; one
        // read back in halves is not.
        let p = prog(&[
            Insn::new(0x7b, 10, 1, -8, 0),
            Insn::new(0x79, 9, 10, -8, 0),
            Insn::new(0x61, 0, 9, 0, 0),
            Insn::new(0x61, 3, 10, -8, 0),
            Insn::new(0x61, 0, 3, 0, 0),
            EXIT,
        ]);
        assert_eq!(analyze(&p, true).forged_access, Some(4));
    }

    #[test]
    fn an_eight_byte_store_across_a_spilled_pointer_forges_it() {
        // *(u64 *)(r10 -8) = r1; *(u64 *)(r10 -12) = 0x20000001 (bytes
        // -12..-5: the low half of the spill); r9 = *(u64 *)(r10 -8);
        // r0 = *(u32 *)(r9 +0). The engine's input address has a zero low
        // half and survives; a host address does not.
        let clobbered = |store: Insn| {
            prog(&[
                Insn::new(0x7b, 10, 1, -8, 0),
                store,
                Insn::new(0x79, 9, 10, -8, 0),
                Insn::new(0x61, 0, 9, 0, 0),
                EXIT,
            ])
        };
        let forged = |p: &Program| analyze(p, true).forged_access;
        assert_eq!(
            forged(&clobbered(Insn::new(0x7a, 10, 0, -12, 0x2000_0001))),
            Some(3)
        );
        assert_eq!(forged(&clobbered(Insn::new(0x7a, 10, 0, -4, 1))), Some(3));
        // The same through a copy of r10 moved by 4: its slots are unaligned.
        let p = prog(&[
            Insn::new(0x7b, 10, 1, -8, 0),
            Insn::new(0xbf, 2, 10, 0, 0),
            Insn::new(0x07, 2, 0, 0, -12),
            Insn::new(0x7b, 2, 3, 0, 0),
            Insn::new(0x79, 9, 10, -8, 0),
            Insn::new(0x61, 0, 9, 0, 0),
            EXIT,
        ]);
        assert_eq!(forged(&p), Some(5));
        // A whole, aligned store next to the spill leaves it intact, also
        // through a copy of r10 moved by a multiple of 8.
        assert_eq!(forged(&clobbered(Insn::new(0x7a, 10, 0, -16, 1))), None);
        let p = prog(&[
            Insn::new(0x7b, 10, 1, -8, 0),
            Insn::new(0xbf, 2, 10, 0, 0),
            Insn::new(0x07, 2, 0, 0, -16),
            Insn::new(0x7b, 2, 3, 0, 0),
            Insn::new(0x79, 9, 10, -8, 0),
            Insn::new(0x61, 0, 9, 0, 0),
            EXIT,
        ]);
        assert_eq!(forged(&p), None);
    }

    #[test]
    fn a_pointer_spilled_across_two_slots_comes_back_in_pieces() {
        // *(u64 *)(r10 -12) = r1; r9 = *(u64 *)(r10 -8): the high half of
        // the pointer and four other bytes.
        let p = prog(&[
            Insn::new(0x7b, 10, 1, -12, 0),
            Insn::new(0x79, 9, 10, -8, 0),
            Insn::new(0x61, 0, 9, 0, 0),
            EXIT,
        ]);
        assert_eq!(analyze(&p, true).forged_access, Some(2));
        // A pointer moved off alignment, spilled whole and filled back, is
        // still an address.
        let p = prog(&[
            Insn::new(0xbf, 2, 1, 0, 0),
            Insn::new(0x07, 2, 0, 0, 3),
            Insn::new(0x7b, 10, 2, -8, 0),
            Insn::new(0x79, 9, 10, -8, 0),
            Insn::new(0x71, 0, 9, 0, 0),
            EXIT,
        ]);
        assert_eq!(analyze(&p, true).forged_access, None);
    }

    #[test]
    fn each_function_has_its_own_frame() {
        // main: *(u64 *)(r10 -8) = r1; call f; exit
        // f: r0 = *(u64 *)(r10 -8) (its own slot, never tainted); if r0 > 1 goto +0
        let p = prog(&[
            Insn::new(0x7b, 10, 1, -8, 0),
            Insn::new(0x85, 0, 1, 0, 1),
            EXIT,
            Insn::new(0x7a, 10, 0, -8, 3),
            Insn::new(0x79, 0, 10, -8, 0),
            Insn::new(0x25, 0, 0, 0, 1),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, true), None);
    }

    #[test]
    fn values_returned_by_a_callee_carry_its_taint() {
        // call f; if r0 == 0 goto +0; exit; f: r0 = r10; exit
        let p = prog(&[
            Insn::new(0x85, 0, 1, 0, 3),
            Insn::new(0x15, 0, 0, 0, 0),
            Insn::new(0xb7, 0, 0, 0, 0),
            EXIT,
            Insn::new(0xbf, 0, 10, 0, 0),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, false), Some(1));
    }

    #[test]
    fn code_reached_only_through_callx_starts_with_r10_a_stack_pointer() {
        // r0 = func f; callx r0; exit; f: if w0 s>= w10 goto -2 (found by
        // the interp_vs_jit fuzz target): the branch compares the low half
        // of the stack address, which differs between the engine's
        // interpreter and its JIT. No local call reaches f.
        let p = prog(&[
            Insn::new(0x18, 0, 4, 0, 3),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(0x8d, 0, 0, 0, 0),
            EXIT,
            Insn::new(0x7e, 0, 10, -2, 0),
        ]);
        assert_eq!(branch_on_pointer(&p, false), Some(4));
        // The same with a 64-bit branch on r10 copied into a 32-bit
        // register, and the callx target not named by any ld_imm64 (the
        // address is computed): every slot may be the target.
        let p = prog(&[
            Insn::new(0x18, 0, 4, 0, 2),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(0x07, 0, 0, 0, 8),
            Insn::new(0x8d, 0, 0, 0, 0),
            EXIT,
            Insn::new(0xbc, 3, 10, 0, 0),
            Insn::new(0x55, 3, 0, -3, 0),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, false), Some(6));
        // Without the callx the function is dead code: nothing is found.
        let p = prog(&[
            Insn::new(0xb7, 0, 0, 0, 0),
            EXIT,
            Insn::new(0x7e, 0, 10, -2, 0),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, false), None);
    }

    #[test]
    fn with_callx_a_spill_in_one_function_reaches_every_frame() {
        // r0 = func x; callx r0; call g; exit;
        // x: *(u64 *)(r10 -8) = r10; goto y;
        // g: r0 = 0; exit;
        // y: r0 = *(u64 *)(r10 -8); if r0 > 1 goto +0; exit.
        // x and y run in one frame (the callx's), though x lies in the main
        // program's range and y in g's: y reads back the spilled r10.
        let p = prog(&[
            Insn::new(0x18, 0, 4, 0, 4),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(0x8d, 0, 0, 0, 0),
            Insn::new(0x85, 0, 1, 0, 3),
            EXIT,
            Insn::new(0x7b, 10, 10, -8, 0),
            Insn::new(0x05, 0, 0, 2, 0),
            Insn::new(0xb7, 0, 0, 0, 0),
            EXIT,
            Insn::new(0x79, 0, 10, -8, 0),
            Insn::new(0x25, 0, 0, 0, 1),
            EXIT,
        ]);
        assert_eq!(branch_on_pointer(&p, false), Some(10));
    }
}
