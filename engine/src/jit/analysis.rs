//! What the compiler needs to know about a program before emitting code:
//! resolved jump and call targets (mirroring the interpreter's preparation,
//! including the numbering of its bad-target sentinels), basic blocks for
//! instruction counting, which registers the program ever writes, what
//! its stack frames need (`frames`) and which regions each register may
//! address (`provenance`).

use super::frames::{self, FrameAnalysis};
use super::provenance::{self, Tags};
use crate::decode::{DecodeError, Instruction};
use crate::interp::FaultKind;
use crate::opcode::{Class, Operation};
use crate::program::Program;

/// Where a jump, local call or `ld_imm64` src 4 leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// The instruction has no target.
    None,
    /// An instruction start.
    Valid(usize),
    /// Outside the program or into the second slot of an `ld_imm64`.
    Bad {
        /// The fault taking it raises.
        kind: FaultKind,
        /// The target slot as computed (may be negative).
        target: i64,
        /// The interpreter's sentinel index for it (used as the
        /// address of a call-depth fault on such a call).
        sentinel: usize,
    },
}

/// The analysed program.
pub(super) struct Analysis {
    /// Decoded instructions with their slot index.
    pub insns: Vec<(usize, Instruction)>,
    /// Number of slots.
    pub slots: usize,
    /// Per instruction: its target.
    pub targets: Vec<Target>,
    /// Per instruction: index of the first instruction of its block.
    pub block_start: Vec<usize>,
    /// Per instruction: number of instructions in its block.
    pub block_len: Vec<u64>,
    /// Per slot: true when some jump or call targets it statically.
    pub is_target: Vec<bool>,
    /// Per slot: true when a local call or a backward jump targets it
    /// statically (the start of a subprogram or a loop).
    pub is_hot_target: Vec<bool>,
    /// Bit `r` set when some instruction may write eBPF register `r`.
    pub written: u16,
    /// True when a helper can be called (`call` src 0 or `callx`).
    pub calls_helpers: bool,
    /// True when the program contains `callx`.
    pub has_callx: bool,
    /// True when the program can make a local call (`call` src=1 or `callx`).
    pub has_local_calls: bool,
    /// What its stack frames need when entered.
    pub frames: FrameAnalysis,
    /// Per slot: the provenance tags each register may hold before it
    /// (`provenance`).
    pub regions: Vec<Tags>,
}

/// True for instructions that end a basic block: every jump, call and exit.
pub(super) fn is_terminator(ins: &Instruction) -> bool {
    matches!(ins.row.class, Class::Jmp | Class::Jmp32)
}

/// True when control can continue with the next instruction.
pub(super) fn falls_through(ins: &Instruction) -> bool {
    !matches!(ins.row.operation, Operation::Exit | Operation::Ja)
}

impl Analysis {
    /// Decodes and analyses `program`.
    pub fn new(program: &Program) -> Result<Analysis, DecodeError> {
        let insns = program.decode()?;
        let slots = program.len();
        let mut starts = vec![false; slots];
        for (pc, _) in &insns {
            starts[*pc] = true;
        }
        let mut targets = Vec::with_capacity(insns.len());
        let mut is_target = vec![false; slots];
        let mut is_hot_target = vec![false; slots];
        let mut bad = 0usize;
        let mut written = 0u16;
        let mut calls_helpers = false;
        let mut has_callx = false;
        let mut has_local_calls = false;
        for (pc, ins) in &insns {
            has_local_calls |= matches!(ins.row.operation, Operation::CallLocal | Operation::Callx);
            written |= ins.written_registers();
            calls_helpers |= matches!(ins.row.operation, Operation::Call | Operation::Callx);
            has_callx |= ins.row.operation == Operation::Callx;
            let Some(target) = ins.branch_target(*pc) else {
                targets.push(Target::None);
                continue;
            };
            let in_range = target >= 0 && (target as usize) < slots;
            if in_range && starts[target as usize] {
                if ins.row.operation != Operation::LdFunc {
                    is_target[target as usize] = true;
                }
                if ins.row.operation == Operation::CallLocal || target as usize <= *pc {
                    is_hot_target[target as usize] = true;
                }
                targets.push(Target::Valid(target as usize));
            } else {
                bad += 1;
                targets.push(Target::Bad {
                    kind: if in_range {
                        FaultKind::JumpIntoLdImm64
                    } else {
                        FaultKind::JumpOutOfRange
                    },
                    target,
                    sentinel: slots + bad,
                });
            }
        }
        // Blocks: a new one starts at 0, at every static target and after
        // every terminator.
        let n = insns.len();
        let mut block_start = vec![0usize; n];
        let mut block_len = vec![0u64; n];
        let mut start = 0;
        for j in 0..n {
            let leader = j == 0 || is_target[insns[j].0] || is_terminator(&insns[j - 1].1);
            if leader {
                start = j;
            }
            block_start[j] = start;
        }
        let mut j = 0;
        while j < n {
            let s = block_start[j];
            let mut e = j;
            while e < n && block_start[e] == s {
                e += 1;
            }
            for slot in &mut block_len[s..e] {
                *slot = (e - s) as u64;
            }
            j = e;
        }
        let frames = frames::analyse(&insns, &targets);
        let regions = provenance::analyse(&insns, &targets, slots, has_callx);
        Ok(Analysis {
            frames,
            regions,
            insns,
            slots,
            targets,
            block_start,
            block_len,
            is_target,
            is_hot_target,
            written,
            calls_helpers,
            has_callx,
            has_local_calls,
        })
    }

    /// True when no instruction writes eBPF register `r`.
    pub fn never_written(&self, r: u8) -> bool {
        self.written & (1 << r) == 0
    }

    /// True when instruction `j` is the last of its block.
    pub fn ends_block(&self, j: usize) -> bool {
        j + 1 == self.insns.len() || self.block_start[j + 1] != self.block_start[j]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Insn;

    fn analyse(insns: &[Insn]) -> Analysis {
        Analysis::new(&Program::new(insns.to_vec())).unwrap()
    }

    #[test]
    fn blocks_split_at_targets_and_after_terminators() {
        let a = analyse(&[
            Insn::new(0xb7, 0, 0, 0, 0),  // 0
            Insn::new(0x07, 0, 0, 0, 1),  // 1  <- target of 3
            Insn::new(0x07, 0, 0, 0, 1),  // 2
            Insn::new(0xa5, 0, 0, -3, 9), // 3  jlt r0, 9, -3
            Insn::new(0x95, 0, 0, 0, 0),  // 4
        ]);
        assert_eq!(a.block_start, vec![0, 1, 1, 1, 4]);
        assert_eq!(a.block_len, vec![1, 3, 3, 3, 1]);
        assert!(a.ends_block(0) && !a.ends_block(1) && a.ends_block(3));
        assert_eq!(a.targets[3], Target::Valid(1));
    }

    #[test]
    fn bad_targets_are_numbered_like_the_interpreter_s_sentinels() {
        let a = analyse(&[
            Insn::new(0x05, 0, 0, 5, 0), // out of range
            Insn::new(0x85, 0, 1, 0, 1), // call pc+1+1 -> 3 (second slot of ld_imm64)
            Insn::new(0x18, 1, 0, 0, 0),
            Insn::new(0x00, 0, 0, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        assert_eq!(
            a.targets[0],
            Target::Bad {
                kind: FaultKind::JumpOutOfRange,
                target: 6,
                sentinel: 6
            }
        );
        assert_eq!(
            a.targets[1],
            Target::Bad {
                kind: FaultKind::JumpIntoLdImm64,
                target: 3,
                sentinel: 7
            }
        );
    }

    #[test]
    fn written_registers() {
        let a = analyse(&[
            Insn::new(0xbf, 3, 1, 0, 0),     // r3 = r1
            Insn::new(0xdb, 10, 4, 0, 0x01), // r4 = atomic fetch add
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        assert!(a.never_written(1) && a.never_written(10));
        assert!(!a.never_written(3) && !a.never_written(4));
        assert!(!a.calls_helpers);
    }
}
