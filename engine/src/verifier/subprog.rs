//! Subprograms and the combined stack depth of a call chain, as the
//! kernel's `add_subprog`, `check_subprogs` and `check_max_stack_depth`
//! (Linux 6.18, `kernel/bpf/verifier.c`) see them.

use super::verdict::{RejectClass, Rejection};
use crate::insn::Insn;

/// `BPF_MAX_SUBPROGS`: at most this many subprograms (entry included).
pub const MAX_SUBPROGS: usize = 256;
/// `MAX_CALL_FRAMES`: at most this many frames may be live at once.
pub const MAX_CALL_FRAMES: usize = 8;
/// `MAX_BPF_STACK`: the combined stack of a call chain, in bytes.
pub const MAX_BPF_STACK: u32 = 512;
/// The granularity each frame's stack depth is rounded up to in the
/// combined check. With the JIT requested (always, on this project's
/// kernels) `round_up_stack_depth` rounds to 16 bytes; measured on 6.18: a
/// 257-byte and a 255-byte frame combine to 528.
pub const STACK_ROUND: u32 = 16;

/// One subprogram: the slots `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subprogram {
    /// First slot (the entry for subprogram 0 is slot 0).
    pub start: usize,
    /// One past the last slot.
    pub end: usize,
    /// The subprogram calls the `tail_call` helper (id 12).
    pub has_tail_call: bool,
    /// The subprogram uses legacy `LD_ABS`/`LD_IND` packet loads.
    pub has_ld_abs: bool,
}

/// `bpf_pseudo_call`: `call` with `src = 1` (a local call).
pub(crate) fn is_pseudo_call(i: &Insn) -> bool {
    i.opcode == 0x85 && i.src == 1
}

/// `bpf_pseudo_kfunc_call`: `call` with `src = 2`.
pub(crate) fn is_kfunc_call(i: &Insn) -> bool {
    i.opcode == 0x85 && i.src == 2
}

/// `bpf_pseudo_func`: `ld_imm64` with `src = 4` (a subprogram address).
pub(crate) fn is_pseudo_func(i: &Insn) -> bool {
    i.opcode == crate::opcode::LD_IMM64_OPCODE && i.src == 4
}

/// The index of the subprogram that starts at `slot`, if one does.
pub fn subprog_starting_at(subprogs: &[Subprogram], slot: usize) -> Option<usize> {
    subprogs.binary_search_by_key(&slot, |s| s.start).ok()
}

/// The index of the subprogram that contains `slot`.
pub fn subprog_containing(subprogs: &[Subprogram], slot: usize) -> Option<usize> {
    subprogs
        .iter()
        .position(|s| s.start <= slot && slot < s.end)
}

/// `round_up_stack_depth` with the JIT requested.
pub const fn round_stack_depth(depth: u32) -> u32 {
    depth.div_ceil(STACK_ROUND) * STACK_ROUND
}

/// The kernel's frame limit for a local call explored at `pc` from frame
/// `curframe` (0 for the entry): the callee's frame must be below
/// [`MAX_CALL_FRAMES`], else `the call stack of %d frames is too deep`
/// (`E2BIG`), counting the frames the call would make live (curframe + 2,
/// as setup_func_entry prints it).
pub fn check_call_depth(pc: usize, curframe: usize) -> Result<(), Rejection> {
    if curframe + 1 >= MAX_CALL_FRAMES {
        return Err(Rejection::new(
            pc,
            RejectClass::CallStackTooDeep,
            format!("the call stack of {} frames is too deep", curframe + 2),
        ));
    }
    Ok(())
}

/// The kernel's `check_max_stack_depth`, run after the exploration pass:
/// walks the calls from the entry through every local call and callback
/// reference (`ld_imm64 src=4`) in slot order, adding each frame's depth
/// rounded up to [`STACK_ROUND`]. `stack_depths[i]` is subprogram `i`'s
/// stack depth as the exploration measured it (the deepest `r10`-relative
/// offset any access reached, e.g. 300 for a store at `r10 - 300`).
///
/// Errors: `the call stack of %d frames is too deep !` (`E2BIG`) when a
/// chain has more than [`MAX_CALL_FRAMES`] frames; `combined stack size of
/// %d calls is %d. Too large` (`EACCES`) for the first chain whose sum
/// exceeds [`MAX_BPF_STACK`]. The kernel prints no instruction for either;
/// the reported pc is the call that entered the offending frame (0 for the
/// entry).
pub fn check_max_stack_depth(
    insns: &[Insn],
    subprogs: &[Subprogram],
    stack_depths: &[u32],
) -> Result<(), Rejection> {
    check_max_stack_depth_below(insns, subprogs, stack_depths, 0)
}

/// [`check_max_stack_depth`] for a program that runs `frames_below` frames
/// above the kernel's frame 0 (the harness wrapper's frame, which uses no
/// stack): the kernel walks from the wrapper, so every frame count it
/// prints (and the frame limit) includes those frames. Measured on 6.18:
/// 512 bytes in the program and 16 in its callee are `combined stack size
/// of 3 calls is 528` under the wrapper, `of 2 calls` loaded alone.
pub fn check_max_stack_depth_below(
    insns: &[Insn],
    subprogs: &[Subprogram],
    stack_depths: &[u32],
    frames_below: usize,
) -> Result<(), Rejection> {
    let depth_of = |idx: usize| round_stack_depth(stack_depths.get(idx).copied().unwrap_or(0));
    // (subprogram, slot to resume the scan at, the call that entered it)
    let mut frames: Vec<(usize, usize, usize)> = vec![(0, subprogs[0].start, 0)];
    let mut depth = depth_of(0);
    let mut first_too_large: Option<(usize, u32, usize)> =
        (depth > MAX_BPF_STACK).then_some((1 + frames_below, depth, 0));
    while let Some(&mut (idx, ref mut i, _)) = frames.last_mut() {
        let end = subprogs[idx].end;
        let mut callee = None;
        while *i < end {
            let slot = *i;
            *i += 1;
            let ins = &insns[slot];
            if !is_pseudo_call(ins) && !is_pseudo_func(ins) {
                continue;
            }
            let target = slot as i64 + ins.imm as i64 + 1;
            if let Some(c) = usize::try_from(target)
                .ok()
                .and_then(|t| subprog_starting_at(subprogs, t))
            {
                callee = Some((c, slot));
                break;
            }
        }
        match callee {
            Some((c, call_pc)) => {
                let frame = frames.len() + frames_below;
                if frame >= MAX_CALL_FRAMES {
                    return Err(Rejection::new(
                        call_pc,
                        RejectClass::CallStackTooDeep,
                        format!("the call stack of {frame} frames is too deep !"),
                    ));
                }
                depth += depth_of(c);
                if depth > MAX_BPF_STACK && first_too_large.is_none() {
                    first_too_large = Some((frame + 1, depth, call_pc));
                }
                frames.push((c, subprogs[c].start, call_pc));
            }
            None => {
                let (done, _, _) = frames.pop().expect("non-empty");
                if !frames.is_empty() {
                    depth -= depth_of(done);
                }
            }
        }
    }
    match first_too_large {
        Some((calls, total, pc)) => Err(Rejection::new(
            pc,
            RejectClass::CombinedStackSize,
            format!("combined stack size of {calls} calls is {total}. Too large"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_16_bytes_with_the_jit() {
        // Measured on Linux 6.18: 300+300 -> 608, 257+255 -> 528, 250+250 fits.
        assert_eq!(round_stack_depth(300), 304);
        assert_eq!(round_stack_depth(257), 272);
        assert_eq!(round_stack_depth(255), 256);
        assert_eq!(round_stack_depth(0), 0);
    }
}
