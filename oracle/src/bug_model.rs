//! Bug models: a known bug of another implementation written as a rewrite
//! of the program, so that a rule can check that the bug explains a
//! difference exactly instead of guessing from the shape of the values.
//!
//! A rule with `"emulate": MODEL` matches a difference only when the
//! engine's interpreter, running the program rewritten by MODEL on the same
//! input, differs from the unmodified run in the same aspect with the same
//! detail as the backend did: the bug reproduces the backend's outcome, not
//! merely a value of a related shape. A different bug in a program that
//! happens to use the same instructions gives another outcome, and stays a
//! new divergence. The values may flow through any later instructions
//! (`w1 = le16 w1; r0 += r1`), which a relation on r0 cannot follow.

use crate::backend::interp::{engine_outcome, InterpBackend};
use crate::backend::Backend;
use crate::compare::{compare_pair, Difference};
use crate::outcome::Execution;
use bpfdiff_engine::interp::{Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::opcode::Operation;
use bpfdiff_engine::opcode::Size;
use bpfdiff_engine::{Insn, Program};
use serde::{Deserialize, Serialize};

/// A bug that a rewrite of the program reproduces on the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BugModel {
    /// `le16`/`le32` leave the register as it is (RFC 9669 §4.2 says they
    /// truncate to the width): each becomes `mov dst, dst`.
    LeWithoutTruncation,
    /// MOVSX (`off` 8/16/32, RFC 9669 §4.1) runs as a plain MOV: the offset
    /// is cleared.
    MovsxAsMov,
    /// SDIV/SMOD (`off` 1, RFC 9669 §4.1) run as unsigned DIV/MOD: the
    /// offset is cleared.
    SdivSmodAsUnsigned,
    /// A 32-bit MOV from a register copies all 64 bits (RFC 9669 §4.1
    /// zero-extends): `w0 = w1` becomes `r0 = r1`.
    Mov32RegAsMov64,
    /// A 32-bit MOD by zero leaves the whole 64-bit register as it was
    /// (RFC 9669 §4.1 keeps the low 32 bits, zero-extended): `w0 %= 0`
    /// becomes `r0 = r0`, and `w0 %= w1` gets `if w1 == 0 goto +1` before
    /// it, with every jump and call across it repaired.
    Mod32ByZeroKeepsRegister,
    /// LD_ABS/LD_IND return the packet bytes in host (little-endian) order
    /// (the kernel converts from network order, SEMANTICS.md): `r0 = be16
    /// r0` or `be32` is put after each 2- or 4-byte one.
    LdAbsInHostOrder,
}

/// The bug models of a rule, applied in order: the first is the rule's own
/// bug and must change the program; the others are further bugs of the same
/// implementation that the wrong value may pass through (rbpf's JIT runs a
/// MOVSX as a 32-bit MOV, and its 32-bit MOV does not zero-extend).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "OneOrMany", into = "Vec<BugModel>")]
pub struct Emulation(pub Vec<BugModel>);

/// A bug model or a list of them, as a rules file writes `emulate`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(BugModel),
    Many(Vec<BugModel>),
}

impl From<OneOrMany> for Emulation {
    fn from(v: OneOrMany) -> Emulation {
        match v {
            OneOrMany::One(m) => Emulation(vec![m]),
            OneOrMany::Many(ms) => Emulation(ms),
        }
    }
}

impl From<Emulation> for Vec<BugModel> {
    fn from(e: Emulation) -> Vec<BugModel> {
        e.0
    }
}

impl Emulation {
    /// True when no model is given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The program with every bug written in, or `None` when the program
    /// does not decode or the first model (the rule's own bug) changes
    /// nothing. The models are applied in the order of [`BugModel`]'s
    /// variants, whatever the list's order, since one bug can make the
    /// instruction another acts on (SMOD run as MOD, then MOD by zero).
    pub fn rewrite(&self, program: &Program) -> Option<Program> {
        self.rewrite_tracked(program).map(|(p, _)| p)
    }

    /// [`Self::rewrite`], with the original slot of each rewritten slot.
    fn rewrite_tracked(&self, program: &Program) -> Option<(Program, Vec<usize>)> {
        let first = self.0.first()?;
        first.rewrite(program)?;
        let mut models = self.0.clone();
        models.sort();
        models.dedup();
        let mut out = program.clone();
        let mut origin: Vec<usize> = (0..program.insns.len()).collect();
        for m in models {
            if let Some((p, from)) = m.rewrite_tracked(&out) {
                origin = from.iter().map(|&k| origin[k]).collect();
                out = p;
            }
        }
        Some((out, origin))
    }

    /// [`BugModel::reproduces`] for the models together.
    pub fn reproduces(&self, program: &Program, input: &[u8], d: &Difference) -> bool {
        self.rewrite_tracked(program)
            .is_some_and(|(rewritten, origin)| {
                reproduces_with(program, &rewritten, &origin, input, d)
            })
    }
}

impl BugModel {
    /// The program with the bug written in, or `None` when the program does
    /// not decode or has no instruction the bug touches.
    pub fn rewrite(self, program: &Program) -> Option<Program> {
        self.rewrite_tracked(program).map(|(p, _)| p)
    }

    /// [`Self::rewrite`], with the original slot of each rewritten slot (a
    /// slot a model inserts belongs to the instruction it was put next to).
    fn rewrite_tracked(self, program: &Program) -> Option<(Program, Vec<usize>)> {
        match self {
            BugModel::Mod32ByZeroKeepsRegister => return guard_mod32_by_zero(program),
            BugModel::LdAbsInHostOrder => return ldabs_in_host_order(program),
            _ => {}
        }
        let decoded = program.decode().ok()?;
        let mut out = program.clone();
        let mut touched = false;
        for (at, i) in decoded {
            let op = i.row.operation;
            let slot = &mut out.insns[at];
            match self {
                BugModel::LeWithoutTruncation
                    if op == Operation::Le && matches!(i.row.size, Some(Size::H | Size::W)) =>
                {
                    *slot = Insn {
                        opcode: 0xbf,
                        dst: i.dst,
                        src: i.dst,
                        off: 0,
                        imm: 0,
                    };
                }
                BugModel::MovsxAsMov if op == Operation::MovSx => slot.off = 0,
                BugModel::SdivSmodAsUnsigned if matches!(op, Operation::SDiv | Operation::SMod) => {
                    slot.off = 0
                }
                BugModel::Mov32RegAsMov64 if slot.opcode == MOV32_REG && slot.off == 0 => {
                    slot.opcode = MOV64_REG
                }
                _ => continue,
            }
            touched = true;
        }
        touched.then(|| (out, (0..program.insns.len()).collect()))
    }

    /// True when the rewritten program, run by the engine's interpreter on
    /// `input`, differs from the unmodified run exactly as `d` says the
    /// backend did (same aspect, same detail; a time-out of the backend
    /// counts as the emulation running out of budget).
    pub fn reproduces(self, program: &Program, input: &[u8], d: &Difference) -> bool {
        self.rewrite_tracked(program)
            .is_some_and(|(rewritten, origin)| {
                reproduces_with(program, &rewritten, &origin, input, d)
            })
    }
}

/// How one instruction is rewritten: slots put before it (where jumps to it
/// land), its own first slot, and slots put after it.
struct Expansion {
    before: Option<Insn>,
    first: Insn,
    after: Option<Insn>,
}

/// Rewrites each instruction with `f` (`None`: unchanged), inserting the
/// slots it asks for and repairing every jump, local call and function
/// address so that it still reaches the same instruction (a jump to an
/// instruction with a slot before it lands on that slot, so that it runs
/// too). `None` when `f` changes nothing, the program does not decode, or a
/// repaired offset no longer fits its field. With the program comes the
/// original slot of each of its slots.
fn expand(
    program: &Program,
    f: impl Fn(&bpfdiff_engine::Instruction) -> Option<Expansion>,
) -> Option<(Program, Vec<usize>)> {
    use bpfdiff_engine::opcode::Class;
    let decoded = program.decode().ok()?;
    let plans: Vec<Option<Expansion>> = decoded.iter().map(|(_, i)| f(i)).collect();
    if plans.iter().all(Option::is_none) {
        return None;
    }
    // The new index of each original slot's first emitted slot.
    let mut start = vec![0usize; program.insns.len() + 1];
    let mut next = 0;
    for ((at, i), plan) in decoded.iter().zip(&plans) {
        start[*at] = next;
        let before = plan.as_ref().is_some_and(|p| p.before.is_some());
        let after = plan.as_ref().is_some_and(|p| p.after.is_some());
        for k in 1..i.slots() {
            start[at + k] = next + usize::from(before) + k;
        }
        next += usize::from(before) + i.slots() + usize::from(after);
    }
    let len = program.insns.len() as i64;
    start[program.insns.len()] = next;
    let landing = |slot: i64| -> i64 {
        match slot {
            s if s < 0 => s,
            s if s <= len => start[s as usize] as i64,
            s => s - len + next as i64,
        }
    };
    let mut out = Vec::with_capacity(next);
    let mut origin = Vec::with_capacity(next);
    for ((at, i), plan) in decoded.iter().zip(plans) {
        let at = *at;
        let (before, mut first, after) = match plan {
            Some(p) => (p.before, p.first, p.after),
            None => (None, program.insns[at], None),
        };
        let here = start[at] + usize::from(before.is_some());
        if let Some(target) = i.branch_target(at) {
            // Offsets count from the next slot (RFC 9669 §4.3); `gotol`,
            // local calls and function addresses keep theirs in `imm`.
            let offset = landing(target) - here as i64 - 1;
            let in_imm = (i.row.class == Class::Jmp32 && i.row.operation == Operation::Ja)
                || matches!(i.row.operation, Operation::CallLocal | Operation::LdFunc);
            if in_imm {
                first.imm = i32::try_from(offset).ok()?;
            } else {
                first.off = i16::try_from(offset).ok()?;
            }
        }
        out.extend(before);
        out.push(first);
        out.extend_from_slice(&program.insns[at + 1..at + i.slots()]);
        out.extend(after);
        origin.extend(
            (0..usize::from(before.is_some()))
                .map(|_| at)
                .chain(at..at + i.slots())
                .chain((0..usize::from(after.is_some())).map(|_| at)),
        );
    }
    Some((Program::new(out), origin))
}

/// [`BugModel::Mod32ByZeroKeepsRegister`]: each 32-bit MOD by a register
/// gets a guard that skips it when the divisor's low half is zero; a MOD
/// by the immediate 0 becomes `r = r`.
fn guard_mod32_by_zero(program: &Program) -> Option<(Program, Vec<usize>)> {
    use bpfdiff_engine::opcode::{Class, Source};
    expand(program, |i| {
        if i.row.class != Class::Alu || i.row.operation != Operation::Mod {
            return None;
        }
        let same = |opcode| Insn {
            opcode,
            dst: i.dst,
            src: i.src,
            off: i.off,
            imm: i.imm,
        };
        match i.row.source {
            Source::Reg => Some(Expansion {
                before: Some(Insn {
                    opcode: JEQ32_IMM,
                    dst: i.src,
                    src: 0,
                    off: 1,
                    imm: 0,
                }),
                first: same(i.row.opcode),
                after: None,
            }),
            _ if i.imm == 0 => Some(Expansion {
                before: None,
                first: Insn {
                    opcode: MOV64_REG,
                    dst: i.dst,
                    src: i.dst,
                    off: 0,
                    imm: 0,
                },
                after: None,
            }),
            _ => None,
        }
    })
}

/// [`BugModel::LdAbsInHostOrder`]: each 2- and 4-byte LD_ABS/LD_IND gets a
/// byte swap of r0 after it (`be16`/`be32`, which swap on this
/// little-endian host), so that r0 holds the bytes in host order.
fn ldabs_in_host_order(program: &Program) -> Option<(Program, Vec<usize>)> {
    expand(program, |i| {
        if !matches!(i.row.operation, Operation::LdAbs | Operation::LdInd) {
            return None;
        }
        let width = match i.row.size {
            Some(Size::H) => 16,
            Some(Size::W) => 32,
            _ => return None,
        };
        Some(Expansion {
            before: None,
            first: Insn {
                opcode: i.row.opcode,
                dst: i.dst,
                src: i.src,
                off: i.off,
                imm: i.imm,
            },
            after: Some(Insn {
                opcode: BE_SWAP,
                dst: 0,
                src: 0,
                off: 0,
                imm: width,
            }),
        })
    })
}

/// `BPF_ALU | BPF_END | BPF_TO_BE` (RFC 9669 §4.2).
const BE_SWAP: u8 = 0xdc;

/// `BPF_JMP32 | BPF_JEQ | BPF_K` (RFC 9669 §3, §4.3).
const JEQ32_IMM: u8 = 0x16;

/// `BPF_ALU | BPF_MOV | BPF_X` and `BPF_ALU64 | BPF_MOV | BPF_X` (RFC 9669
/// §3, §4.1).
const MOV32_REG: u8 = 0xbc;
const MOV64_REG: u8 = 0xbf;

/// True when `rewritten` run on `input` differs from `program` as `d` says.
/// `origin` gives the original slot of each slot of `rewritten`: a fault
/// in the emulation is reported at the user's instruction, as the backend
/// reports it.
fn reproduces_with(
    program: &Program,
    rewritten: &Program,
    origin: &[usize],
    input: &[u8],
    d: &Difference,
) -> bool {
    let mut interp = InterpBackend::default();
    // The reference run, once: its outcome and its first read of unwritten
    // stack (which makes a comparison inconclusive, as in `diff`).
    let mut mem = input.to_vec();
    let run = Interpreter::new(program).map(|vm| vm.run(&mut mem, DEFAULT_BUDGET));
    let uninit = run.as_ref().ok().and_then(|r| r.uninit_stack_read);
    let reference = engine_outcome("interp", run, mem);
    let mut emulated = interp.run(rewritten, input);
    emulated.backend = d.backend.clone();
    if let Execution::Fault { pc: Some(pc), .. } = &mut emulated.execution {
        *pc = origin.get(*pc).copied().unwrap_or(*pc);
    }
    let Ok(differences) = compare_pair(&reference, uninit, &emulated, &interp.capabilities())
    else {
        return false;
    };
    differences
        .iter()
        .any(|e| e.aspect == d.aspect && same_detail(&e.detail, &d.detail, &emulated.execution))
}

/// The emulated detail equals the observed one; for an ending, an emulation
/// that ran out of the engine's budget stands for a backend that timed out
/// (the bug turned a finite loop into an endless one).
fn same_detail(emulated: &str, observed: &str, emulated_execution: &Execution) -> bool {
    if emulated == observed {
        return true;
    }
    let (Some((e_ref, _)), Some((o_ref, o_side))) =
        (emulated.split_once(" vs "), observed.split_once(" vs "))
    else {
        return false;
    };
    e_ref == o_ref
        && matches!(emulated_execution, Execution::OutOfBudget)
        && o_side.starts_with("timed out")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Aspect;
    use bpfdiff_engine::asm::kernel::assemble;

    fn program(text: &str) -> Program {
        assemble(text).expect("assembles")
    }

    fn difference(backend: &str, aspect: Aspect, detail: &str) -> Difference {
        Difference {
            backend: backend.into(),
            aspect,
            detail: detail.into(),
            known: None,
        }
    }

    #[test]
    fn le16_without_truncation_follows_the_value_through_later_arithmetic() {
        // RFC 9669 §4.2: le16 truncates to 16 bits, so r0 = 1 + 0xffff.
        // Without truncation r1 stays -1 and r0 = 0: exactly rbpf-jit's r0.
        let p = program("r1 = -1\nr0 = 1\nr1 = le16 r1\nr0 += r1\nexit");
        let m = BugModel::LeWithoutTruncation;
        assert!(m.reproduces(
            &p,
            &[],
            &difference("rbpf-jit", Aspect::R0, "0x10000 vs 0x0")
        ));
        // Another value is another bug.
        assert!(!m.reproduces(
            &p,
            &[],
            &difference("rbpf-jit", Aspect::R0, "0x10000 vs 0x1")
        ));
        // A program without le16/le32 is never explained by it.
        let q = program("r0 = 1\nexit");
        assert!(!m.reproduces(&q, &[], &difference("rbpf-jit", Aspect::R0, "0x1 vs 0x0")));
    }

    #[test]
    fn movsx_as_mov_explains_a_xor_of_the_unextended_value() {
        // RFC 9669 §4.1 MOVSX: w1 = (s16)w0 with w0 = 0x02000000 gives 0;
        // as a plain MOV it gives 0x02000000, and r0 ^ r1 = 0.
        let p = program("r0 = 0x2000000 ll\nw1 = (s16)w0\nr0 ^= r1\nexit");
        let d = difference("rbpf", Aspect::R0, "0x2000000 vs 0x0");
        assert!(BugModel::MovsxAsMov.reproduces(&p, &[], &d));
        assert!(!BugModel::SdivSmodAsUnsigned.reproduces(&p, &[], &d));
    }

    #[test]
    fn models_compose_in_order_rbpf_jit_movsx_is_a_mov32_that_keeps_the_upper_half() {
        // RFC 9669 §4.1: w0 = (s16)w1 of 0xffffffffffff7ffe is 0x7ffe. rbpf's
        // JIT runs it as w0 = w1, and its 32-bit MOV copies all 64 bits.
        let p = program("r1 = 0xffffffffffff7ffe ll\nw0 = (s16)w1\nexit");
        let d = difference("rbpf-jit", Aspect::R0, "0x7ffe vs 0xffffffffffff7ffe");
        assert!(!BugModel::MovsxAsMov.reproduces(&p, &[], &d));
        let both = Emulation(vec![BugModel::MovsxAsMov, BugModel::Mov32RegAsMov64]);
        assert!(both.reproduces(&p, &[], &d));
        // The first model is the rule's bug: without a MOVSX nothing matches.
        let q = program("r1 = 0xffffffffffff7ffe ll\nw0 = w1\nexit");
        let e = difference("rbpf-jit", Aspect::R0, "0xffff7ffe vs 0xffffffffffff7ffe");
        assert!(!both.reproduces(&q, &[], &e));
        // A rules file may write one model or a list.
        let one: Emulation = serde_json::from_str("\"movsx-as-mov\"").unwrap();
        assert_eq!(one, Emulation(vec![BugModel::MovsxAsMov]));
        let many: Emulation =
            serde_json::from_str("[\"movsx-as-mov\", \"mov32-reg-as-mov64\"]").unwrap();
        assert_eq!(many, both);
    }

    #[test]
    fn mod32_by_a_zero_register_keeps_the_register_and_jumps_across_it_still_land() {
        // RFC 9669 §4.1: w0 %= w1 with w1 = 0 leaves w0 zero-extended, so
        // r0 = 0 and then 0 - 0xffffffff; rbpf keeps 0x100000000, and the
        // subtraction gives 1.
        let p = program("r0 = 0x100000000 ll\nw0 %= w1\nw1 -= 1\nr0 -= r1\nexit");
        let d = difference("rbpf", Aspect::R0, "0xffffffff00000001 vs 0x1");
        let m = BugModel::Mod32ByZeroKeepsRegister;
        assert!(m.reproduces(&p, &[], &d));
        // A jump over the MOD and one onto it: both still land where they
        // did (the second on the guard, so that it runs).
        let q = program(
            "r1 = 0\nr0 = 5\nif r1 == 0 goto +1\nw0 %= w1\nif r1 != 1 goto +0\nw0 %= w1\nexit",
        );
        let rewritten = m.rewrite(&q).unwrap();
        let text = bpfdiff_engine::asm::kernel::disassemble(&rewritten).unwrap();
        assert!(text.contains("if r1 == 0x0 goto pc+2"), "{text}");
        assert!(text.contains("if r1 != 0x1 goto pc+0"), "{text}");
        assert_eq!(rewritten.len(), q.len() + 2, "{text}");
        // The immediate form: `w0 %= 0` keeps r0.
        let z = program("r0 = 0x100000000 ll\nw0 %= 0\nexit");
        assert!(m.reproduces(
            &z,
            &[],
            &difference("rbpf", Aspect::R0, "0x0 vs 0x100000000")
        ));
    }

    #[test]
    fn inserted_slots_map_back_to_the_instruction_they_belong_to() {
        // w2 s%= w4 becomes a guard and w2 %= w4: every later slot moves
        // by one, and maps back to where it was; the guard belongs to the
        // MOD. The ld_imm64's two slots keep their pairing.
        let p =
            program("r2 = 11\nw4 = -1\nw2 s%= w4\nr3 = 0x100000000 ll\nr0 = *(u8 *)(r1 +8)\nexit");
        let emulation = Emulation(vec![
            BugModel::SdivSmodAsUnsigned,
            BugModel::Mod32ByZeroKeepsRegister,
        ]);
        let (rewritten, origin) = emulation.rewrite_tracked(&p).unwrap();
        assert_eq!(rewritten.insns.len(), p.insns.len() + 1);
        assert_eq!(origin, vec![0, 1, 2, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn ldabs_in_host_order_swaps_r0_after_the_load_and_jumps_still_land() {
        // SEMANTICS.md: legacy packet loads read big-endian, so ldabsh 1 of
        // 11 22 33 .. is 0x2233 and r0 + 1 = 0x2234; in host order it is
        // 0x3322, and r0 + 1 = 0x3323 (what rbpf returns).
        let p = program("r0 = *(u16 *)skb[1]\nr0 += 1\nexit");
        let input = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99];
        let m = BugModel::LdAbsInHostOrder;
        assert!(m.reproduces(
            &p,
            &input,
            &difference("rbpf", Aspect::R0, "0x2234 vs 0x3323")
        ));
        assert!(!m.reproduces(
            &p,
            &input,
            &difference("rbpf", Aspect::R0, "0x2234 vs 0x3324")
        ));
        // A jump past the load lands past the swap too.
        let q =
            program("r0 = 0\nif r0 == 0 goto +1\nr0 = *(u8 *)skb[0]\nr0 = *(u32 *)skb[0]\nexit");
        let text = bpfdiff_engine::asm::kernel::disassemble(&m.rewrite(&q).unwrap()).unwrap();
        assert!(text.contains("if r0 == 0x0 goto pc+1"), "{text}");
        assert!(text.contains("r0 = be32 r0"), "{text}");
        assert!(!text.contains("be16"), "a byte load has no swap: {text}");
    }

    #[test]
    fn sdiv_as_div_that_never_ends_stands_for_a_time_out() {
        // RFC 9669 §4.1 SDIV: 0xffffffff00000000 s/ -2 = 0x80000000; as an
        // unsigned DIV it is 0, and `if w8 s<= w7` then loops for ever.
        let p = program(
            "r8 = 0xffffffff00000000 ll\nr7 = 0\nr8 s/= -2\nif w8 s<= w7 goto -2\nr0 = 0\nexit",
        );
        let m = BugModel::SdivSmodAsUnsigned;
        let timed_out = difference(
            "rbpf",
            Aspect::Ending,
            "r0 = 0x0 vs timed out after 2000 ms",
        );
        assert!(m.reproduces(&p, &[], &timed_out));
        let crashed = difference(
            "rbpf",
            Aspect::Ending,
            "r0 = 0x0 vs crashed: killed by signal 11",
        );
        assert!(!m.reproduces(&p, &[], &crashed));
    }
}
