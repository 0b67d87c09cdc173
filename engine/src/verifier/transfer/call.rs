//! Calls and returns (helper calls are `helper_args`, over the one helper
//! table): local
//! bpf-to-bpf calls (a new frame, r1–r5 passed, r0–r5 of the caller
//! cleared) and the exit of a frame. Models `check_helper_call`,
//! `check_func_call` / `setup_func_entry` / `set_callee_state` and
//! `prepare_func_exit` of Linux 6.18 `kernel/bpf/verifier.c`.

use crate::verifier::state::{Frame, PtrKind, Reg, State};
use crate::verifier::subprog::{check_call_depth, subprog_starting_at, Subprogram};
use crate::verifier::verdict::{RejectClass, Rejection};

/// The frames the harness wrapper adds below the program (the program is
/// the wrapper's callee, kernel frame 1).
pub const HARNESS_FRAMES: usize = 1;

/// `check_func_call` for `call pc+imm` at `pc`: pushes the callee's frame
/// (r1–r5 copied, the rest not initialised) and clears the caller's r0–r5.
/// Returns the callee's first instruction.
pub fn local_call(
    state: &mut State,
    subprogs: &[Subprogram],
    pc: usize,
    imm: i32,
) -> Result<usize, Rejection> {
    local_call_below(state, subprogs, pc, imm, HARNESS_FRAMES)
}

/// [`local_call`] under `frames_above` frames the program does not see
/// (1: the harness's wrapper; 0: a program loaded as itself).
pub fn local_call_below(
    state: &mut State,
    subprogs: &[Subprogram],
    pc: usize,
    imm: i32,
    frames_above: usize,
) -> Result<usize, Rejection> {
    check_call_depth(pc, state.curframe() + frames_above)?;
    let target = (pc as i64 + imm as i64 + 1) as usize;
    let subprog = subprog_starting_at(subprogs, target).ok_or_else(|| {
        Rejection::new(
            pc,
            RejectClass::CallToInvalidDestination,
            "call to invalid destination",
        )
    })?;
    let frameno = state.frames.len() as u8;
    let mut callee = Frame::new(frameno, Some(pc), subprog);
    let caller = state.cur_mut();
    for i in 1..=5 {
        callee.regs[i] = caller.regs[i];
    }
    for r in caller.regs.iter_mut().take(6) {
        *r = Reg::NotInit;
    }
    state.frames.push(callee);
    Ok(target)
}

/// What an `exit` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitResult {
    /// Returned to the caller; continue at this instruction.
    Return(usize),
    /// The program (the harness's callee) returned.
    ProgramDone,
}

/// `prepare_func_exit` (and, for the program's own frame, what the
/// harness does with r0: it stores it, so it must be readable). A stack
/// pointer may not be returned (`cannot return stack pointer to the
/// caller`).
pub fn exit(state: &mut State, pc: usize) -> Result<ExitResult, Rejection> {
    let r0 = state.cur().regs[0];
    if let Reg::Ptr(p) = r0 {
        if matches!(p.kind, PtrKind::Stack { .. }) {
            return Err(Rejection::new(
                pc,
                RejectClass::InvalidReturnValue,
                "cannot return stack pointer to the caller",
            ));
        }
    }
    if state.frames.len() == 1 {
        // The wrapper's `*(u64 *)(r6 + 0) = r0` reads r0.
        if r0 == Reg::NotInit {
            return Err(Rejection::new(
                pc,
                RejectClass::R0NotReadableAtExit,
                "R0 !read_ok",
            ));
        }
        return Ok(ExitResult::ProgramDone);
    }
    let callee = state.frames.pop().expect("a frame");
    let caller = state.cur_mut();
    caller.regs[0] = r0;
    Ok(ExitResult::Return(
        callee.callsite.expect("a callee has a callsite") + 1,
    ))
}
