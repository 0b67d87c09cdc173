//! What each eBPF stack frame needs when it is entered, found statically so
//! that a local call costs little more than a host `call`.
//!
//! The interpreter's frames read as zero when they are entered
//! (interp/memory.rs) and a call preserves r6–r10. Literally, that is a
//! 512-byte clear and five saves per call. Both are needed only where the
//! frame's code can tell the difference:
//!
//! - The stack **escapes** when some value other than r10 itself can point
//!   into it: r10 is written, copied, stored or used as an operand (its
//!   value may then reach any register or memory), or an r10-based access
//!   reaches above the current frame's top (into the callers' frames). An
//!   escaping program gets the literal treatment: every frame is cleared
//!   whole and the generic bounds checks consider the stack too.
//! - Otherwise only `r10 + constant` accesses touch the stack, each within
//!   the frame of the code that makes it. A frame entered at instruction
//!   `t` can then read only the bytes that the instructions reachable from
//!   `t` (without following calls, which get their own frames) read, so
//!   clearing from the lowest such read up to r10 is enough; and only the
//!   r6–r9 those instructions write need saving. Code that never reads r10
//!   and makes no call does not even need r10 moved.

use std::collections::HashMap;

use super::analysis::Target;
use crate::decode::Instruction;
use crate::interp::STACK_SIZE;
use crate::opcode::{Class, Operation as O, Size, Source};

/// Bits of r6–r9 in a register mask.
const CALLEE_SAVED: u16 = 0b11_1100_0000;

/// Reachability work (instructions visited) above which the per-call-target
/// analysis gives up and every call gets the whole program's needs.
const WORK_LIMIT: usize = 1 << 22;

/// What a frame entered at some instruction needs, for a program whose
/// stack does not escape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct FrameNeeds {
    /// Bytes just below r10 that must read as zero: from the lowest
    /// r10-relative read of the frame's code up to r10, a multiple of 8.
    pub zero_bytes: u32,
    /// eBPF registers among r6–r9 that the frame's code may write (bit r).
    pub saves: u16,
    /// True when the frame's code reads r10 or calls a subprogram (so r10
    /// must be the new frame's top).
    pub uses_frame: bool,
}

impl FrameNeeds {
    /// What the frame of a program whose stack escapes needs: everything.
    pub const ALL: FrameNeeds = FrameNeeds {
        zero_bytes: STACK_SIZE as u32,
        saves: CALLEE_SAVED,
        uses_frame: true,
    };

    fn merge(&mut self, other: FrameNeeds) {
        self.zero_bytes = self.zero_bytes.max(other.zero_bytes);
        self.saves |= other.saves;
        self.uses_frame |= other.uses_frame;
    }

    /// The eBPF registers to save, in push order.
    pub fn saved_registers(&self) -> impl DoubleEndedIterator<Item = u8> + '_ {
        (6u8..=9).filter(move |r| self.saves & (1 << r) != 0)
    }
}

/// The frame analysis of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FrameAnalysis {
    /// True when a stack address may be held anywhere but r10 (see the
    /// module documentation); then every `needs` answer is [`FrameNeeds::ALL`].
    pub stack_escapes: bool,
    /// Frame 0's needs (code reachable from instruction 0).
    pub entry: FrameNeeds,
    /// Needs of a frame entered anywhere (`callx`): the whole program's.
    pub anywhere: FrameNeeds,
    /// Needs of the frame of each static call target, by slot.
    by_target: HashMap<usize, FrameNeeds>,
}

impl FrameAnalysis {
    /// The needs of a frame entered at slot `target` by a local call.
    pub fn at(&self, target: usize) -> FrameNeeds {
        self.by_target
            .get(&target)
            .copied()
            .unwrap_or(self.anywhere)
    }
}

/// The x86-independent facts about one memory access.
struct Access {
    /// The eBPF base register.
    base: u8,
    /// Offset from the base.
    off: i32,
    /// Width in bytes.
    bytes: i32,
    /// True when it reads memory (loads and atomics).
    reads: bool,
    /// The eBPF register whose value is written to memory, if any.
    value: Option<u8>,
}

/// The access an LDX/ST/STX instruction makes.
fn access(ins: &Instruction) -> Option<Access> {
    if !matches!(ins.row.class, Class::Ldx | Class::St | Class::Stx) {
        return None;
    }
    let op = ins.row.operation;
    let loads = matches!(op, O::Load | O::LoadSx | O::LoadAcquire);
    Some(Access {
        base: if loads { ins.src } else { ins.dst },
        off: i32::from(ins.off),
        bytes: ins.row.size.unwrap_or(Size::DW).bytes() as i32,
        reads: !matches!(op, O::StoreImm | O::StoreReg | O::StoreRelease),
        value: (!loads && op != O::StoreImm).then_some(ins.src),
    })
}

/// True when `ins` lets a stack address leave r10, or reaches above the
/// current frame through r10.
fn lets_stack_escape(ins: &Instruction) -> bool {
    if ins.written_registers() & (1 << 10) != 0 {
        return true;
    }
    if let Some(a) = access(ins) {
        let above_frame = a.base == 10 && a.off + a.bytes > 0;
        return above_frame || a.value == Some(10);
    }
    match ins.row.class {
        // Comparisons and `callx` (a helper id or a code address) produce
        // no pointer.
        Class::Jmp | Class::Jmp32 => false,
        Class::Alu | Class::Alu64 => {
            ins.src == 10 && (ins.row.source == Source::Reg || ins.row.operation == O::MovSx)
        }
        // `ld_ind` reads its source as a packet offset.
        _ => ins.row.operation == O::LdInd && ins.src == 10,
    }
}

/// What one instruction contributes to its frame's needs.
fn contribution(ins: &Instruction) -> FrameNeeds {
    let mut needs = FrameNeeds {
        zero_bytes: 0,
        saves: ins.written_registers() & CALLEE_SAVED,
        uses_frame: ins.dst == 10
            || ins.src == 10
            || matches!(ins.row.operation, O::CallLocal | O::Callx),
    };
    if let Some(a) = access(ins) {
        // Below -512 the access faults (no frame is live there).
        if a.base == 10 && a.reads && a.off >= -(STACK_SIZE as i32) && a.off < 0 {
            needs.zero_bytes = ((-a.off) as u32).div_ceil(8) * 8;
        }
    }
    needs
}

/// Indices of the instructions control can reach next from instruction `j`
/// in the same frame (a call returns to the next instruction).
fn successors(
    insns: &[(usize, Instruction)],
    targets: &[Target],
    index_of: &[usize],
    j: usize,
) -> [Option<usize>; 2] {
    let ins = &insns[j].1;
    let next = (j + 1 < insns.len()).then_some(j + 1);
    let target = match targets[j] {
        Target::Valid(t) if ins.row.is_jump() => index(index_of, t),
        _ => None,
    };
    match ins.row.operation {
        O::Exit => [None, None],
        O::Ja if matches!(ins.row.class, Class::Jmp | Class::Jmp32) => [target, None],
        _ => [next, target],
    }
}

/// The index of the instruction starting at `slot`, if one does.
fn index(index_of: &[usize], slot: usize) -> Option<usize> {
    index_of.get(slot).copied().filter(|&j| j != usize::MAX)
}

/// Analyses the frames of a decoded program.
pub(super) fn analyse(insns: &[(usize, Instruction)], targets: &[Target]) -> FrameAnalysis {
    let stack_escapes = insns.iter().any(|(_, ins)| lets_stack_escape(ins));
    if stack_escapes {
        return FrameAnalysis {
            stack_escapes,
            entry: FrameNeeds::ALL,
            anywhere: FrameNeeds::ALL,
            by_target: HashMap::new(),
        };
    }
    let contributions: Vec<FrameNeeds> = insns.iter().map(|(_, ins)| contribution(ins)).collect();
    let mut anywhere = FrameNeeds::default();
    for c in &contributions {
        anywhere.merge(*c);
    }
    // Instruction index by slot (slots that start no instruction keep
    // `usize::MAX`; no valid target names them).
    let slots = insns.last().map_or(0, |(pc, ins)| pc + ins.slots());
    let mut index_of = vec![usize::MAX; slots];
    for (j, (pc, _)) in insns.iter().enumerate() {
        index_of[*pc] = j;
    }
    let mut call_targets: Vec<usize> = insns
        .iter()
        .zip(targets)
        .filter(|((_, ins), _)| ins.row.operation == O::CallLocal)
        .filter_map(|(_, t)| match t {
            Target::Valid(t) => Some(*t),
            _ => None,
        })
        .collect();
    call_targets.sort_unstable();
    call_targets.dedup();
    let mut reach = Reach {
        insns,
        targets,
        index_of: &index_of,
        contributions: &contributions,
        seen: vec![0; insns.len()],
        stamp: 0,
        work: 0,
        stack: Vec::new(),
    };
    let entry = if insns.is_empty() {
        FrameNeeds::default()
    } else {
        reach.needs_from(0).unwrap_or(anywhere)
    };
    let mut by_target = HashMap::new();
    for t in call_targets {
        let Some(j) = index(index_of.as_slice(), t) else {
            continue;
        };
        match reach.needs_from(j) {
            Some(needs) => by_target.insert(t, needs),
            None => break,
        };
    }
    FrameAnalysis {
        stack_escapes,
        entry,
        anywhere,
        by_target,
    }
}

/// A reusable depth-first walk over one frame's instructions.
struct Reach<'a> {
    insns: &'a [(usize, Instruction)],
    targets: &'a [Target],
    index_of: &'a [usize],
    contributions: &'a [FrameNeeds],
    /// Per instruction: the stamp of the last walk that visited it.
    seen: Vec<u32>,
    stamp: u32,
    /// Instructions visited by all walks so far.
    work: usize,
    stack: Vec<usize>,
}

impl Reach<'_> {
    /// The merged needs of the instructions reachable from index `start`,
    /// or `None` once the work limit is exceeded.
    fn needs_from(&mut self, start: usize) -> Option<FrameNeeds> {
        self.stamp += 1;
        let mut needs = FrameNeeds::default();
        self.stack.clear();
        self.stack.push(start);
        self.seen[start] = self.stamp;
        while let Some(j) = self.stack.pop() {
            self.work += 1;
            if self.work > WORK_LIMIT {
                return None;
            }
            needs.merge(self.contributions[j]);
            for next in successors(self.insns, self.targets, self.index_of, j)
                .into_iter()
                .flatten()
            {
                if self.seen[next] != self.stamp {
                    self.seen[next] = self.stamp;
                    self.stack.push(next);
                }
            }
        }
        Some(needs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Insn;
    use crate::jit::analysis::Analysis;
    use crate::program::Program;

    fn frames(insns: &[Insn]) -> FrameAnalysis {
        Analysis::new(&Program::new(insns.to_vec())).unwrap().frames
    }

    const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

    #[test]
    fn each_call_target_needs_what_its_own_code_reads_and_writes() {
        // interp/memory.rs: a frame reads as zero when entered; r6-r9 are
        // preserved by calls (SEMANTICS.md).
        let f = frames(&[
            Insn::new(0x79, 0, 10, -16, 0),  // 0: r0 = *(u64 *)(r10 -16)
            Insn::new(0x85, 0, 1, 0, 2),     // 1: call 4
            Insn::new(0x85, 0, 1, 0, 4),     // 2: call 7
            EXIT,                            // 3
            Insn::new(0xb7, 7, 0, 0, 1),     // 4: r7 = 1
            Insn::new(0x71, 0, 10, -100, 0), // 5: r0 = *(u8 *)(r10 -100)
            EXIT,                            // 6
            Insn::new(0xbf, 0, 1, 0, 0),     // 7: r0 = r1
            EXIT,                            // 8
        ]);
        assert!(!f.stack_escapes);
        assert_eq!(
            f.entry,
            FrameNeeds {
                zero_bytes: 16,
                saves: 0,
                uses_frame: true
            }
        );
        assert_eq!(
            f.at(4),
            FrameNeeds {
                zero_bytes: 104,
                saves: 1 << 7,
                uses_frame: true
            }
        );
        assert_eq!(f.at(7), FrameNeeds::default());
        assert_eq!(f.anywhere.zero_bytes, 104);
    }

    #[test]
    fn jumps_and_calls_are_followed_within_the_frame() {
        let f = frames(&[
            Insn::new(0x85, 0, 1, 0, 1),     // 0: call 2
            EXIT,                            // 1
            Insn::new(0x05, 0, 0, 2, 0),     // 2: goto 5
            Insn::new(0x79, 0, 10, -512, 0), // 3: unreachable from 2
            EXIT,                            // 4
            Insn::new(0x85, 0, 1, 0, -3),    // 5: call 3 (another frame)
            Insn::new(0x7b, 10, 0, -8, 0),   // 6: store only: nothing to clear
            Insn::new(0xbf, 8, 0, 0, 0),     // 7: r8 = r0
            EXIT,
        ]);
        assert_eq!(
            f.at(2),
            FrameNeeds {
                zero_bytes: 0,
                saves: 1 << 8,
                uses_frame: true
            }
        );
        assert_eq!(f.at(3).zero_bytes, 512);
    }

    #[test]
    fn copies_stores_writes_and_upward_reads_of_r10_escape() {
        for ins in [
            Insn::new(0xbf, 1, 10, 0, 0),  // r1 = r10
            Insn::new(0x0f, 1, 10, 0, 0),  // r1 += r10
            Insn::new(0x07, 10, 0, 0, -8), // r10 -= 8
            Insn::new(0x7b, 1, 10, 0, 0),  // *(u64 *)(r1 +0) = r10
            Insn::new(0xdb, 1, 10, 0, 0),  // atomic add of r10
            Insn::new(0x79, 0, 10, -4, 0), // 8 bytes at r10-4 reach above the frame
            Insn::new(0x79, 0, 10, 8, 0),  // the caller's frame
        ] {
            let f = frames(&[ins, EXIT]);
            assert!(f.stack_escapes, "{ins:?}");
            assert_eq!(f.entry, FrameNeeds::ALL);
        }
        for ins in [
            Insn::new(0x5d, 1, 10, 0, 0),    // if r1 != r10 goto +0
            Insn::new(0x79, 0, 10, -8, 0),   // r0 = *(u64 *)(r10 -8)
            Insn::new(0x72, 10, 0, -1, 7),   // *(u8 *)(r10 -1) = 7
            Insn::new(0x79, 0, 10, -600, 0), // faults, reads nothing
        ] {
            assert!(!frames(&[ins, EXIT]).stack_escapes, "{ins:?}");
        }
    }
}
