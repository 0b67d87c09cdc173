//! Which regions each register may address, before each instruction: the
//! static counterpart of the interpreter's provenance tags
//! (`crate::interp::provenance`).
//!
//! The interpreter checks an access only against the regions its base's
//! value was derived from. For the JIT to agree on every program, a bounds
//! check must not accept an access the interpreter refuses: an address
//! computed from an input pointer that lands in the host stack (or the
//! other way round) must fault, whatever the distance between the host
//! buffers. This forward data-flow analysis computes, for every
//! instruction, the set of tags each register can hold over all paths
//! ([`TagSet`]), with the interpreter's tag rules (a move copies the source's tag,
//! a binary ALU operation with a register source adds it, immediate and
//! unary operations keep the destination's tag, a constant is a number,
//! helper results are opaque). A value loaded from memory can carry any
//! tag the program stores into memory anywhere (memory starts unmarked),
//! and everything in a program with `callx` any tag (any slot can be
//! entered with any registers).
//!
//! An access whose base can only carry input tags is checked against the
//! input memory alone, one whose base can only carry stack tags against
//! the stack alone, and one whose base carries no region on any path faults
//! without a check (the interpreter faults there too). Only a base that
//! may point into either region (on different paths, from a value loaded
//! from memory, or computed from both) is checked against both, by address.
//! A base that holds exactly an input (stack) pointer on every path faults
//! at the interpreter's address, mapped back relative to that region.

use super::analysis::{falls_through, Target};
use crate::decode::Instruction;
use crate::interp::provenance::{Tag, CTX, INPUT, OPAQUE, STACK};
use crate::opcode::{Class, Operation as O, Source};

/// A set of tags (bit `k` set: the tag `k` is possible), so that "on every
/// path exactly an input pointer" differs from "an input pointer or a
/// number".
pub(super) type TagSet = u16;

/// The set holding only `tag`.
pub(super) const fn only(tag: Tag) -> TagSet {
    1 << tag
}

/// A number on every path.
const NUMBER: TagSet = only(0);

/// Every tag the JIT's programs can produce (no ctx): a register the
/// analysis knows nothing about.
pub(super) const ANY: TagSet = {
    let mut set = 0;
    let mut k = 0;
    while k < 16 {
        if k & CTX == 0 {
            set |= 1 << k;
        }
        k += 1;
    }
    set
};

/// The tags of `a op b` for values with tags in `a` and `b` (the union of
/// one tag of each).
fn combine(a: TagSet, b: TagSet) -> TagSet {
    let mut out = 0;
    let mut xs = a;
    while xs != 0 {
        let x = xs.trailing_zeros();
        xs &= xs - 1;
        let mut ys = b;
        while ys != 0 {
            let y = ys.trailing_zeros();
            ys &= ys - 1;
            out |= 1 << (x | y);
        }
    }
    out
}

/// Every region bit some tag of `set` has.
pub(super) fn regions(set: TagSet) -> Tag {
    (0..16u8)
        .filter(|&k| set & (1 << k) != 0)
        .fold(0, |r, k| r | k)
}

/// Per register r0..r10: the tags it may hold.
pub(super) type Tags = [TagSet; 11];

/// The registers at program entry: r1 the input (without input 0, which
/// the JIT's input bounds and address mapping treat alike), r10 the stack,
/// every other register a number.
fn entry() -> Tags {
    let mut t = [NUMBER; 11];
    t[1] = only(INPUT);
    t[10] = only(STACK);
    t
}

/// The tags after `ins` runs on `t` and continues to the next instruction;
/// a value read from memory may carry any tag in `memory`.
fn step(ins: &Instruction, t: &Tags, memory: TagSet) -> Tags {
    let mut out = *t;
    let (d, s) = (usize::from(ins.dst.min(10)), usize::from(ins.src.min(10)));
    let reg = ins.row.source == Source::Reg;
    match (ins.row.class, ins.row.operation) {
        (Class::Alu | Class::Alu64, O::Mov | O::MovSx) => out[d] = if reg { t[s] } else { NUMBER },
        (Class::Alu | Class::Alu64, O::Neg | O::Le | O::Be | O::Bswap) => {}
        (Class::Alu | Class::Alu64, _) => {
            if reg {
                out[d] = combine(t[d], t[s]);
            }
        }
        (_, O::LdImm64) => out[d] = NUMBER,
        (_, O::LdMapValue) => out[d] = only(INPUT),
        (_, O::LdFunc) => out[d] = only(OPAQUE),
        (_, O::Call | O::Callx) => out[..6].fill(only(OPAQUE)),
        // A local call continues after the callee returns: r6..r10 are
        // restored, r0..r5 hold whatever the callee left.
        (_, O::CallLocal) => out[..6].fill(ANY),
        (_, O::Load | O::LoadSx | O::LoadAcquire) => out[d] = memory,
        (_, O::LdAbs) => out[0] = memory,
        (_, O::LdInd) => out[0] = combine(memory, t[s]),
        (_, O::AtomicCmpxchg) => out[0] = memory,
        (
            _,
            O::AtomicFetchAdd
            | O::AtomicFetchOr
            | O::AtomicFetchAnd
            | O::AtomicFetchXor
            | O::AtomicXchg,
        ) => out[s] = memory,
        _ => {
            let written = ins.written_registers();
            for (r, tag) in out.iter_mut().enumerate() {
                if written & (1 << r) != 0 {
                    *tag = ANY;
                }
            }
        }
    }
    out
}

/// Joins `t` into the state before slot `pc` (an instruction start, per
/// `index_of`); marks the instruction pending when its state grew and
/// returns its index then.
fn join(
    before: &mut [Option<Tags>],
    pending: &mut [bool],
    index_of: &[usize],
    pc: usize,
    t: Tags,
) -> Option<usize> {
    let j = index_of[pc];
    if j == usize::MAX {
        return None;
    }
    let grown = match &mut before[pc] {
        Some(old) => {
            let mut grown = false;
            for (o, n) in old.iter_mut().zip(t) {
                grown |= *o | n != *o;
                *o |= n;
            }
            grown
        }
        slot @ None => {
            *slot = Some(t);
            true
        }
    };
    pending[j] |= grown;
    grown.then_some(j)
}

/// The tag a store (or atomic) `ins` can give the memory bytes it writes,
/// given the registers `t` before it (0 for an instruction that writes no
/// memory or writes a number).
fn stored(ins: &Instruction, t: &Tags) -> TagSet {
    let s = usize::from(ins.src.min(10));
    match (ins.row.class, ins.row.operation) {
        (Class::Stx, _) | (_, O::StoreRelease) => t[s],
        _ => NUMBER,
    }
}

/// The tags before each slot's instruction (indexed by slot; [`ANY`] for
/// every register of a slot no path reaches, of a slot that starts no
/// instruction, and of every slot of a program with `callx`).
///
/// Memory starts without pointer-derived bytes (the input unmarked, the
/// stack unwritten), so a value read from memory carries at most the tags
/// of the values the program stores; that union is found by iterating
/// until it no longer grows (at most once per tag bit).
pub(super) fn analyse(
    insns: &[(usize, Instruction)],
    targets: &[Target],
    slots: usize,
    has_callx: bool,
) -> Vec<Tags> {
    if has_callx || insns.is_empty() {
        return vec![[ANY; 11]; slots];
    }
    // Memory holds numbers (unwritten stack, the input) and what is
    // stored; a load may combine bytes of several stores.
    let mut memory: TagSet = NUMBER;
    loop {
        let before = flow(insns, targets, slots, memory);
        let mut written = insns
            .iter()
            .filter_map(|(pc, ins)| before[*pc].map(|t| stored(ins, &t)))
            .fold(memory, |m, t| m | t);
        loop {
            let closed = combine(written, written);
            if closed == written {
                break;
            }
            written = closed;
        }
        if written == memory {
            return before.into_iter().map(|t| t.unwrap_or([ANY; 11])).collect();
        }
        memory = written;
    }
}

/// One pass of the analysis with the memory's tags fixed at `memory`:
/// the state before each reached slot.
fn flow(
    insns: &[(usize, Instruction)],
    targets: &[Target],
    slots: usize,
    memory: TagSet,
) -> Vec<Option<Tags>> {
    let mut before: Vec<Option<Tags>> = vec![None; slots];
    let mut index_of = vec![usize::MAX; slots];
    for (j, (pc, _)) in insns.iter().enumerate() {
        index_of[*pc] = j;
    }
    // Pending instructions are stepped in program order, sweep after
    // sweep: a state that grows along forward edges is then complete before
    // its instruction is stepped, and only a backward edge (a loop) asks
    // for another sweep. The least fixed point does not depend on the
    // order; this one steps most instructions once.
    let mut pending = vec![false; insns.len()];
    pending[0] = true;
    before[insns[0].0] = Some(entry());
    let mut again = true;
    while again {
        again = false;
        for j in 0..insns.len() {
            if !std::mem::take(&mut pending[j]) {
                continue;
            }
            let (pc, ins) = &insns[j];
            let t = before[*pc].expect("a pending instruction has a state");
            let after = step(ins, &t, memory);
            let next = pc + ins.slots();
            let op = ins.row.operation;
            let mut queued = [None, None];
            if let Target::Valid(target) = targets[j] {
                queued[0] = match op {
                    O::CallLocal => {
                        // The callee starts with the caller's registers and
                        // a new frame in r10.
                        let mut callee = t;
                        callee[10] = only(STACK);
                        join(&mut before, &mut pending, &index_of, target, callee)
                    }
                    O::LdFunc => None,
                    _ => join(&mut before, &mut pending, &index_of, target, after),
                };
            }
            let continues = match op {
                O::Exit => false,
                O::Ja => false,
                _ => falls_through(ins),
            };
            if continues && next < slots {
                queued[1] = join(&mut before, &mut pending, &index_of, next, after);
            }
            again |= queued.into_iter().flatten().any(|k| k <= j);
        }
    }
    before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Insn;
    use crate::jit::analysis::Analysis;
    use crate::program::Program;

    fn tags(insns: &[Insn]) -> Vec<Tags> {
        let a = Analysis::new(&Program::new(insns.to_vec())).unwrap();
        analyse(&a.insns, &a.targets, a.slots, a.has_callx)
    }

    #[test]
    fn combine_is_the_set_of_unions_of_one_tag_of_each() {
        let spec = |a: TagSet, b: TagSet| {
            let mut out = 0;
            for x in 0..16 {
                for y in 0..16 {
                    if a & (1 << x) != 0 && b & (1 << y) != 0 {
                        out |= 1 << (x | y);
                    }
                }
            }
            out
        };
        let sets = [
            0,
            NUMBER,
            only(INPUT),
            only(STACK),
            only(OPAQUE),
            ANY,
            0x8421,
            0x00ff,
            0xffff,
        ];
        for a in sets {
            for b in sets {
                assert_eq!(combine(a, b), spec(a, b), "{a:#x} {b:#x}");
            }
        }
    }

    #[test]
    fn pointer_arithmetic_keeps_the_pointer_s_region() {
        let t = tags(&[
            Insn::new(0xb7, 3, 0, 0, 1),  // r3 = 1
            Insn::new(0xbf, 4, 1, 0, 0),  // r4 = r1
            Insn::new(0x0f, 4, 3, 0, 0),  // r4 += r3
            Insn::new(0xbf, 5, 10, 0, 0), // r5 = r10
            Insn::new(0x07, 5, 0, 0, -8), // r5 += -8
            Insn::new(0x85, 0, 0, 0, 5),  // call 5
            Insn::new(0x95, 0, 0, 0, 0),  // exit
        ]);
        assert_eq!(t[3][4], only(INPUT));
        assert_eq!(t[5][5], only(STACK));
        assert_eq!(t[6][4], only(OPAQUE), "a helper call clobbers r1..r5");
        assert_eq!(t[6][0], only(OPAQUE));
        assert_eq!(t[6][1], only(OPAQUE));
    }

    #[test]
    fn joins_take_the_union_and_loads_are_unknown() {
        let t = tags(&[
            Insn::new(0xbf, 4, 1, 0, 0),  // 0: r4 = r1
            Insn::new(0x15, 2, 0, 1, 0),  // 1: if r2 == 0 goto 3
            Insn::new(0xbf, 4, 10, 0, 0), // 2: r4 = r10
            Insn::new(0x79, 5, 1, 0, 0),  // 3: r5 = *(u64 *)(r1 + 0)
            Insn::new(0x95, 0, 0, 0, 0),  // 4: exit
        ]);
        assert_eq!(t[3][4], only(INPUT) | only(STACK));
        assert_eq!(regions(t[3][4]), INPUT | STACK);
        assert_eq!(t[4][5], NUMBER, "nothing pointer-derived was stored");
    }

    #[test]
    fn loads_carry_the_tags_of_what_the_program_stores() {
        let t = tags(&[
            Insn::new(0x79, 5, 1, 0, 0),   // 0: r5 = *(u64 *)(r1 + 0)
            Insn::new(0x7b, 10, 5, -8, 0), // 1: *(u64 *)(r10 - 8) = r5
            Insn::new(0x7b, 10, 1, -8, 0), // 2: *(u64 *)(r10 - 8) = r1
            Insn::new(0x95, 0, 0, 0, 0),   // 3: exit
        ]);
        assert_eq!(t[1][5], NUMBER | only(INPUT));
    }

    #[test]
    fn local_calls_restore_r6_to_r10() {
        let t = tags(&[
            Insn::new(0xbf, 6, 1, 0, 0),  // 0: r6 = r1
            Insn::new(0x85, 0, 1, 0, 1),  // 1: call 3
            Insn::new(0x95, 0, 0, 0, 0),  // 2: exit
            Insn::new(0xbf, 6, 10, 0, 0), // 3: r6 = r10
            Insn::new(0x95, 0, 0, 0, 0),  // 4: exit
        ]);
        assert_eq!(t[2][6], only(INPUT));
        assert_eq!(t[2][0], ANY);
        assert_eq!(t[3][6], only(INPUT));
        assert_eq!(t[4][6], only(STACK));
    }
}
