//! Self-soundness: a concrete run of a program the verifier accepted,
//! checked against the abstract states the verifier explored.
//!
//! The verifier records, per instruction, every state a path had on
//! reaching it ([`super::explore::Explored`]; a pruned path's state is
//! contained in the state that pruned it, which was recorded too). The
//! checking interpreter runs the program with the harness's input model
//! (r1 = the input, r2 = its length; [`State::entry`]) and records the
//! registers before every executed instruction
//! ([`crate::interp::trace_program_sampling`]), with the current frame's
//! stack slots that some recorded state at that instruction constrains.
//!
//! A step is inside a state when the call chain matches (same depth, same
//! call instructions) and every register of the current frame is inside
//! the state's register:
//! - not initialised: anything;
//! - a scalar: the tnum contains the value and all eight bounds contain it
//!   ([`ScalarBounds::contains`]), whether or not the concrete value is
//!   pointer-derived (the verifier may turn a pointer into an unknown
//!   scalar, but what it learns from branches holds for the value the
//!   run computed);
//! - a pointer: the value is pointer-derived, and its distance from the
//!   region's base (the input region at [`MEM_BASE`] for a map value,
//!   frame `k`'s `r10` for a stack pointer of frame `k`) minus the fixed
//!   offset lies in the variable offset's tnum and 64-bit bounds. Ctx and
//!   packet pointers (not in the input model) are checked for the mark
//!   only.
//!
//! Stack slots of the current frame are checked where the state says what
//! they hold and the run's bytes are plain numbers: a slot whose 8 bytes
//! are a spilled scalar must hold a value inside it, a slot of 8
//! `STACK_ZERO` bytes must hold 0. A step is sound when SOME recorded
//! state at its instruction contains it. Running out of budget is allowed;
//! a fault of an accepted program is a violation.

use super::explore::Explored;
use super::log;
use super::scalar::ScalarBounds;
use super::stack::{ByteType, Slot};
use super::state::{PtrKind, Reg, State};
use super::verify::{verify, verify_recording, VerifyOptions};
use crate::interp::{trace_program_sampling, ExecResult, Trace, MEM_BASE, STACK_SIZE, STACK_TOP};
use crate::program::Program;
use std::fmt;

/// Limits of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckLimits {
    /// The interpreter's instruction budget.
    pub budget: u64,
    /// Steps checked at most (later steps run unchecked).
    pub max_steps: usize,
    /// States the verifier records at most; a program whose exploration
    /// needs more is not checked ([`Outcome::TooManyStates`]).
    pub max_states: usize,
    /// Comparisons of a step with a state at most; the steps after the one
    /// that reaches it are not checked (the run counts as truncated).
    pub max_comparisons: u64,
}

impl Default for CheckLimits {
    fn default() -> CheckLimits {
        CheckLimits {
            budget: crate::interp::DEFAULT_BUDGET,
            max_steps: 100_000,
            max_states: 50_000,
            max_comparisons: 2_000_000,
        }
    }
}

/// A concrete step outside every state the verifier explored there, or a
/// fault of an accepted program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The instruction (slot).
    pub pc: usize,
    /// The executed step's index (the number of instructions before it).
    pub step: usize,
    /// What is outside what, against the closest recorded state.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn {} (step {}): {}", self.pc, self.step, self.detail)
    }
}

/// The result of checking one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The verifier refused the program: nothing to check.
    Rejected,
    /// The interpreter's loader refuses the program (an encoding the
    /// verifier accepts in dead code): nothing runs.
    NotRunnable,
    /// The exploration reached more states than [`CheckLimits::max_states`].
    TooManyStates,
    /// Every checked step lay inside a recorded state.
    Sound {
        /// Steps checked.
        steps: usize,
        /// True when the run went on past [`CheckLimits::max_steps`].
        truncated: bool,
        /// True when the run ran out of budget.
        out_of_budget: bool,
    },
    /// A self-soundness violation.
    Violation(Violation),
}

/// Verifies `program` for an input of `input.len()` bytes and, when it is
/// accepted, runs it on a copy of `input` and checks every step.
pub fn check_program(program: &Program, input: &[u8], limits: &CheckLimits) -> Outcome {
    let opts = VerifyOptions {
        privileged: true,
        input_len: Some(input.len()),
        log_level: 0,
    };
    // Recording hashes the state at every processed instruction; a
    // refused program (often one that ran to the complexity limit) needs
    // none of that, so the plain verdict comes first.
    if !verify(program, &opts).verdict.is_accepted() {
        return Outcome::Rejected;
    }
    let (result, explored) = verify_recording(program, &opts, limits.max_states);
    if !result.verdict.is_accepted() {
        return Outcome::Rejected;
    }
    let Some(explored) = explored.filter(|e| e.complete) else {
        return Outcome::TooManyStates;
    };
    let mut mem = input.to_vec();
    let slots = stack_slots(&explored);
    let Ok(trace) =
        trace_program_sampling(program, &mut mem, limits.budget, limits.max_steps, slots)
    else {
        return Outcome::NotRunnable;
    };
    let steps = match check_trace(&explored, &trace, limits.max_comparisons) {
        Ok(n) => n,
        Err(Stop::Violation(v)) => return Outcome::Violation(v),
        Err(Stop::TooCostly { steps }) => {
            return Outcome::Sound {
                steps,
                truncated: true,
                out_of_budget: trace.execution.result == ExecResult::OutOfBudget,
            }
        }
    };
    match trace.execution.result {
        ExecResult::Fault(f) => Outcome::Violation(Violation {
            pc: f.pc,
            step: trace.execution.insns_executed.saturating_sub(1) as usize,
            detail: format!("accepted, but the run faults: {f}"),
        }),
        r => Outcome::Sound {
            steps,
            truncated: trace.truncated,
            out_of_budget: r == ExecResult::OutOfBudget,
        },
    }
}

/// What a slot of a recorded state says about its 8 bytes, if anything the
/// check can compare with a plain number.
fn slot_claim(slot: &Slot) -> Option<ScalarBounds> {
    if slot.types.iter().all(|&t| t == ByteType::Zero) {
        return Some(ScalarBounds::constant(0));
    }
    match slot.spilled {
        Reg::Scalar(s) if slot.types.iter().all(|&t| t == ByteType::Spill) => Some(s),
        _ => None,
    }
}

/// Per instruction, the current frame's stack slots (bit `spi`) that some
/// recorded state there constrains: the slots a traced run must sample.
pub fn stack_slots(explored: &Explored) -> Vec<u64> {
    explored
        .states
        .iter()
        .map(|states| {
            states.iter().fold(0u64, |m, st| {
                st.cur()
                    .stack
                    .slots
                    .iter()
                    .take(64)
                    .enumerate()
                    .filter(|(_, s)| slot_claim(s).is_some())
                    .fold(m, |m, (spi, _)| m | 1 << spi)
            })
        })
        .collect()
}

/// True when the variable part `x` of a pointer's offset is inside `var`
/// (tnum and 64-bit bounds; pointers carry no 32-bit bounds).
fn var_contains(var: &ScalarBounds, x: u64) -> bool {
    var.var_off.contains(x)
        && var.umin <= x
        && x <= var.umax
        && var.smin <= x as i64
        && x as i64 <= var.smax
}

/// Why the concrete `v` is outside `reg`, or `None` when it is inside.
fn reg_outside(reg: &Reg, v: u64, derived: bool) -> Option<&'static str> {
    match reg {
        Reg::NotInit => None,
        Reg::Scalar(s) => (!s.contains(v)).then_some("outside the scalar"),
        Reg::Ptr(_) if !derived => Some("a plain number where the state has a pointer"),
        Reg::Ptr(p) => {
            let base = match p.kind {
                PtrKind::Stack { frame } => STACK_TOP - frame as u64 * STACK_SIZE as u64,
                PtrKind::Mem { .. } => MEM_BASE,
                _ => return None,
            };
            let x = v.wrapping_sub(base).wrapping_sub(p.off as i64 as u64);
            (!var_contains(&p.var, x)).then_some("outside the pointer's region and offset")
        }
    }
}

/// A concrete step: registers, marks and the sampled slots.
struct Concrete<'t> {
    regs: &'t [u64; 11],
    derived: u16,
    /// `(spi, value)` of the slots sampled with a plain value.
    slots: Vec<(u8, u64)>,
}

/// The first difference between `st` and the concrete step, as text, or
/// `None` when `st` contains the step. `callsites`: the call instructions
/// of the live frames above frame 0.
fn outside(st: &State, c: &Concrete<'_>, callsites: &[usize]) -> Option<String> {
    if st.frames.len() != callsites.len() + 1 {
        return Some(format!(
            "{} frames where the state has {}",
            callsites.len() + 1,
            st.frames.len()
        ));
    }
    for (f, &cs) in st.frames[1..].iter().zip(callsites) {
        if f.callsite != Some(cs) {
            return Some(format!("called from insn {cs}, not {:?}", f.callsite));
        }
    }
    let frame = st.cur();
    for (r, reg) in frame.regs.iter().enumerate() {
        let v = c.regs[r];
        let derived = c.derived & (1 << r) != 0;
        if let Some(why) = reg_outside(reg, v, derived) {
            let mark = if derived { " (pointer-derived)" } else { "" };
            return Some(format!("R{r}={v:#x}{mark} is {why} R{r}={}", log::reg(reg)));
        }
    }
    for &(spi, v) in &c.slots {
        let claim = frame.stack.slots.get(spi as usize).and_then(slot_claim);
        if let Some(s) = claim {
            if !s.contains(v) {
                let off = -8 * (spi as i64 + 1);
                return Some(format!(
                    "fp{off}={v:#x} is outside the slot's fp{off}={}",
                    log::reg(&Reg::Scalar(s))
                ));
            }
        }
    }
    None
}

/// Why [`check_trace`] stopped before the trace's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A step outside every recorded state.
    Violation(Violation),
    /// The comparison limit was reached after `steps` sound steps.
    TooCostly {
        /// Steps checked (all inside a recorded state).
        steps: usize,
    },
}

/// Checks every step of `trace` against the states `explored` recorded
/// at its instruction (see the module documentation), with at most
/// `max_comparisons` comparisons of a step with a state. Returns the number
/// of steps checked, or why it stopped.
pub fn check_trace(
    explored: &Explored,
    trace: &Trace,
    max_comparisons: u64,
) -> Result<usize, Stop> {
    let mut comparisons = 0u64;
    let mut callsites: Vec<usize> = Vec::new();
    let mut last_match = vec![0usize; explored.states.len()];
    let mut samples = trace.stack.iter().peekable();
    for (i, step) in trace.steps.iter().enumerate() {
        // The call chain: a step one frame deeper than the one before
        // follows a local call at the previous step's instruction.
        if i > 0 {
            let prev = &trace.steps[i - 1];
            if step.depth > prev.depth {
                callsites.push(prev.pc);
            }
        }
        callsites.truncate(step.depth);
        let mut slots = Vec::new();
        while let Some(s) = samples.next_if(|s| s.step <= i) {
            if let (true, Some(v)) = (s.step == i, s.value) {
                slots.push((s.spi, v));
            }
        }
        let c = Concrete {
            regs: &step.regs,
            derived: step.derived,
            slots,
        };
        let states = explored.states.get(step.pc).map_or(&[][..], |v| &v[..]);
        let violation = |detail: String| Violation {
            pc: step.pc,
            step: i,
            detail,
        };
        if states.is_empty() {
            return Err(Stop::Violation(violation(
                "the run reached an instruction the verifier never explored".into(),
            )));
        }
        if comparisons >= max_comparisons {
            return Err(Stop::TooCostly { steps: i });
        }
        // Loops visit the states of an instruction in order: try the one
        // that matched last, then its successor, then all.
        let last = last_match[step.pc];
        let order = [last, last + 1]
            .into_iter()
            .filter(|&k| k < states.len())
            .chain(0..states.len());
        let mut first_miss = None;
        let mut found = false;
        for k in order {
            comparisons += 1;
            match outside(&states[k], &c, &callsites) {
                None => {
                    last_match[step.pc] = k;
                    found = true;
                    break;
                }
                Some(why) => {
                    first_miss.get_or_insert((k, why));
                }
            }
        }
        if !found {
            let (k, why) = first_miss.expect("states is not empty");
            return Err(Stop::Violation(violation(format!(
                "outside all {} recorded states; e.g. state {k}: {why}",
                states.len()
            ))));
        }
    }
    Ok(trace.steps.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::Insn;
    use crate::verifier::state::{Frame, Pointer};

    fn limits() -> CheckLimits {
        CheckLimits::default()
    }

    #[test]
    fn a_bounded_loop_with_calls_and_spills_is_sound() {
        // A loop that spills its counter, passes a pointer to its own
        // stack into a subprogram (frame 1), and reads the spill back.
        let p = Program::new(vec![
            Insn::new(0xb7, 6, 0, 0, 0),   // 0: r6 = 0
            Insn::new(0x7b, 10, 6, -8, 0), // 1: *(u64 *)(r10 - 8) = r6
            Insn::new(0x07, 6, 0, 0, 1),   // 2: r6 += 1
            Insn::new(0xbf, 1, 10, 0, 0),  // 3: r1 = r10
            Insn::new(0x85, 0, 1, 0, 4),   // 4: call pc+4 (insn 9)
            Insn::new(0xa5, 6, 0, -5, 4),  // 5: if r6 < 4 goto 1
            Insn::new(0x79, 0, 10, -8, 0), // 6: r0 = *(u64 *)(r10 - 8)
            Insn::new(0x95, 0, 0, 0, 0),   // 7: exit
            Insn::new(0x05, 0, 0, 0, 0),   // 8: goto +0 (never reached: see below)
            Insn::new(0x79, 0, 1, -8, 0),  // 9: r0 = *(u64 *)(r1 - 8)
            Insn::new(0x95, 0, 0, 0, 0),   // 10: exit
        ]);
        let mut insns = p.insns.clone();
        insns.remove(8); // unreachable insns are refused
        insns[4] = Insn::new(0x85, 0, 1, 0, 3); // call pc+3 (now insn 8)
        let p = Program::new(insns);
        match check_program(&p, &[1, 2, 3, 4], &limits()) {
            Outcome::Sound {
                steps, truncated, ..
            } => {
                assert!(steps > 20, "{steps}");
                assert!(!truncated);
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn a_refused_program_is_not_run() {
        // r0 = *(u8 *)(r1 + 8) with 4 input bytes: out of the map value.
        let p = Program::new(vec![
            Insn::new(0x71, 0, 1, 8, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        assert_eq!(check_program(&p, &[0; 4], &limits()), Outcome::Rejected);
    }

    /// The checker finds a wrong state: the recorded states of a sound
    /// program, with one scalar bound narrowed by hand, no longer contain
    /// the run (so a transfer function that computed that bound would be
    /// reported).
    #[test]
    fn a_state_too_narrow_for_the_run_is_a_violation() {
        // r0 = *(u8 *)(r1 + 0); r0 += 1; exit — with input byte 200.
        let p = Program::new(vec![
            Insn::new(0x71, 0, 1, 0, 0),
            Insn::new(0x07, 0, 0, 0, 1),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let opts = VerifyOptions {
            privileged: true,
            input_len: Some(1),
            log_level: 0,
        };
        let (r, explored) = verify_recording(&p, &opts, 1000);
        assert!(r.verdict.is_accepted());
        let mut explored = explored.unwrap();
        let mut mem = [200u8];
        let trace =
            trace_program_sampling(&p, &mut mem, 1000, 100, stack_slots(&explored)).unwrap();
        assert_eq!(check_trace(&explored, &trace, u64::MAX), Ok(3));
        // At insn 1, r0 is a byte (umax 255); claim umax 100 instead.
        let st = &mut explored.states[1][0];
        let Reg::Scalar(s) = &mut st.cur_mut().regs[0] else {
            panic!("r0 is a scalar after a byte load")
        };
        assert_eq!(s.umax, 255);
        s.umax = 100;
        let Err(Stop::Violation(v)) = check_trace(&explored, &trace, u64::MAX) else {
            panic!("the narrowed state contains the run")
        };
        assert_eq!((v.pc, v.step), (1, 1));
        assert!(v.detail.contains("R0=0xc8 is outside the scalar"), "{v}");
    }

    #[test]
    fn pointers_must_be_derived_and_inside_their_region() {
        let mut var = ScalarBounds::constant(0);
        var.mark32_unbounded();
        let map = Reg::Ptr(Pointer {
            kind: PtrKind::Mem { size: 16 },
            off: 4,
            var,
        });
        assert_eq!(reg_outside(&map, MEM_BASE + 4, true), None);
        assert!(reg_outside(&map, MEM_BASE + 4, false).is_some());
        assert!(reg_outside(&map, MEM_BASE + 5, true).is_some());
        // A stack pointer of frame 1 is relative to frame 1's r10.
        let fp1 = Reg::Ptr(Pointer::fixed(PtrKind::Stack { frame: 1 }, -8));
        let r10_1 = STACK_TOP - STACK_SIZE as u64;
        assert_eq!(reg_outside(&fp1, r10_1 - 8, true), None);
        assert!(reg_outside(&fp1, STACK_TOP - 8, true).is_some());
        // Uninitialised registers impose nothing.
        assert_eq!(reg_outside(&Reg::NotInit, 7, true), None);
        let f = Frame::new(0, None, 0);
        assert_eq!(reg_outside(&f.regs[10], STACK_TOP, true), None);
    }
}
