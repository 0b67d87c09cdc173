//! Which programs may read a register they never wrote.
//!
//! The engine (interpreter and JIT) and rbpf's interpreter start r0 and
//! r3–r9 at zero; rbpf's JIT leaves whatever the host had there (measured:
//! `exit` alone returns a host address in r0); the kernel's verifier
//! refuses such programs (`R0 !read_ok`). RFC 9669 gives no initial value,
//! so a program that reads a never-written register has no single right
//! answer, and the harness does not compare the results of backends that
//! do not zero registers for it.
//!
//! The analysis is a forward "must be written" data flow over the decoded
//! program, as the kernel's verifier tracks it: r1, r2 and r10 are written
//! at entry; a helper call writes r0 and makes r1–r5 unwritten again; a
//! local call does the same in the caller, and the callee starts with the
//! caller's written r1–r5 and r10 only.

use bpfdiff_engine::opcode::{Class, Operation, Source};
use bpfdiff_engine::{Instruction, Program};

const ENTRY: u16 = 0b100_0000_0110; // r1, r2, r10
const ARGS: u16 = 0b11_1110; // r1..r5

fn bit(r: u8) -> u16 {
    1 << r
}

/// Registers `ins` reads and writes, and how it continues.
struct Effect {
    reads: u16,
    writes: u16,
    /// Registers that become unwritten (calls).
    kills: u16,
    falls_through: bool,
    /// Relative target, with the registers written on arrival (a local
    /// call's callee gets only the arguments).
    jump: Option<(i64, u16)>,
}

fn effect(ins: &Instruction, written: u16) -> Effect {
    let row = ins.row;
    let (d, s) = (bit(ins.dst), bit(ins.src));
    let mut e = Effect {
        reads: 0,
        writes: 0,
        kills: 0,
        falls_through: true,
        jump: None,
    };
    match row.class {
        Class::Alu | Class::Alu64 => {
            e.writes = d;
            e.reads = match (row.operation, row.source) {
                (Operation::Mov, Source::Imm) => 0,
                (Operation::Mov | Operation::MovSx, _) => s,
                (Operation::Neg | Operation::Le | Operation::Be | Operation::Bswap, _) => d,
                (_, Source::Reg) => d | s,
                _ => d,
            };
        }
        Class::Ldx => {
            e.reads = s;
            e.writes = d;
        }
        Class::St => e.reads = d,
        Class::Stx => match row.operation {
            Operation::LoadAcquire => {
                e.reads = s;
                e.writes = d;
            }
            Operation::AtomicCmpxchg => {
                e.reads = d | s | 1;
                e.writes = 1;
            }
            Operation::AtomicFetchAdd
            | Operation::AtomicFetchOr
            | Operation::AtomicFetchAnd
            | Operation::AtomicFetchXor
            | Operation::AtomicXchg => {
                e.reads = d | s;
                e.writes = s;
            }
            _ => e.reads = d | s,
        },
        Class::Ld => match row.operation {
            Operation::LdAbs => e.writes = 1,
            Operation::LdInd => {
                e.reads = s;
                e.writes = 1;
            }
            _ => e.writes = d,
        },
        Class::Jmp | Class::Jmp32 => match row.operation {
            Operation::Exit => {
                e.reads = 1;
                e.falls_through = false;
            }
            Operation::Ja => {
                e.falls_through = false;
                let rel = if row.class == Class::Jmp32 {
                    ins.imm as i64
                } else {
                    ins.off as i64
                };
                e.jump = Some((rel, written));
            }
            Operation::Call | Operation::CallKfunc => {
                e.writes = 1;
                e.kills = ARGS;
            }
            Operation::CallLocal => {
                e.writes = 1;
                e.kills = ARGS;
                e.jump = Some((ins.imm as i64, written & (ARGS | bit(10))));
            }
            Operation::Callx => {
                e.reads = d;
                e.writes = 1;
                e.kills = ARGS;
            }
            _ => {
                e.reads = d | if row.source == Source::Reg { s } else { 0 };
                e.jump = Some((ins.off as i64, written));
            }
        },
    }
    e
}

/// The first instruction (slot index) that may read a register no path to
/// it has written; `None` when there is none or the program does not decode.
pub fn first_unwritten_read(program: &Program) -> Option<usize> {
    let decoded = program.decode().ok()?;
    if decoded.is_empty() {
        return None;
    }
    let n_slots = program.len();
    let mut index_of = vec![usize::MAX; n_slots];
    for (i, (slot, _)) in decoded.iter().enumerate() {
        index_of[*slot] = i;
    }
    // None = not reached yet; sets only shrink, so the loop ends.
    let mut state: Vec<Option<u16>> = vec![None; decoded.len()];
    state[0] = Some(ENTRY);
    let mut found: Option<usize> = None;
    loop {
        let mut changed = false;
        for i in 0..decoded.len() {
            let Some(written) = state[i] else { continue };
            let (slot, ins) = decoded[i];
            let e = effect(&ins, written);
            if e.reads & !written != 0 {
                found = Some(found.map_or(slot, |f| f.min(slot)));
            }
            let after = (written & !e.kills) | e.writes;
            let mut meet = |target: i64, set: u16| {
                if target < 0 || target as usize >= n_slots {
                    return;
                }
                let j = index_of[target as usize];
                if j == usize::MAX {
                    return;
                }
                let merged = state[j].map_or(set, |old| old & set);
                if state[j] != Some(merged) {
                    state[j] = Some(merged);
                    changed = true;
                }
            };
            if e.falls_through {
                meet((slot + ins.slots()) as i64, after);
            }
            if let Some((rel, set)) = e.jump {
                meet(slot as i64 + 1 + rel, set);
            }
        }
        if !changed {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::Insn;

    const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

    fn prog(insns: &[Insn]) -> Program {
        Program::new(insns.to_vec())
    }

    #[test]
    fn exit_without_writing_r0_reads_it() {
        // The kernel refuses this with `R0 !read_ok`.
        assert_eq!(first_unwritten_read(&prog(&[EXIT])), Some(0));
        assert_eq!(
            first_unwritten_read(&prog(&[Insn::new(0xbf, 0, 2, 0, 0), EXIT])),
            None,
            "r2 holds the input length"
        );
    }

    #[test]
    fn a_register_written_on_one_path_only_is_unwritten_at_the_join() {
        // if r2 == 0 goto +1; r3 = 1; r0 = r3; exit
        let p = prog(&[
            Insn::new(0x15, 2, 0, 1, 0),
            Insn::new(0xb7, 3, 0, 0, 1),
            Insn::new(0xbf, 0, 3, 0, 0),
            EXIT,
        ]);
        assert_eq!(first_unwritten_read(&p), Some(2));
    }

    #[test]
    fn calls_make_argument_registers_unwritten() {
        // call bpf_ktime_get_ns; r0 = r2; exit
        let p = prog(&[
            Insn::new(0x85, 0, 0, 0, 5),
            Insn::new(0xbf, 0, 2, 0, 0),
            EXIT,
        ]);
        assert_eq!(first_unwritten_read(&p), Some(1));
        // A callee sees only its arguments: r6 is unwritten there.
        let p = prog(&[
            Insn::new(0xb7, 6, 0, 0, 1),
            Insn::new(0x85, 0, 1, 0, 1),
            EXIT,
            Insn::new(0xbf, 0, 6, 0, 0),
            EXIT,
        ]);
        assert_eq!(first_unwritten_read(&p), Some(3));
    }
}
