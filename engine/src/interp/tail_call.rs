//! `bpf_tail_call` (helper 12) for the native packet types: r1 the ctx,
//! r2 a prog_array's map pointer, r3 the index (its low 32 bits). Facts
//! from Linux 6.18 (kernel/bpf/core.c `___bpf_prog_run` `JMP_TAIL_CALL`,
//! arch/x86/net/bpf_jit_comp.c `emit_bpf_tail_call_indirect` and
//! `emit_bpf_tail_call_direct`):
//!
//! - an index not below `max_entries`, or an empty slot, makes the call
//!   fall through to the next instruction;
//! - at most `MAX_TAIL_CALL_CNT` (33) tail calls succeed in one run
//!   (the count is shared by every frame); later ones fall through. A
//!   call to an empty slot does not count;
//! - a successful call enters the slot's program at instruction 0 with
//!   r1 = the same ctx, in place of the current frame: its stack is fresh
//!   (unwritten), the caller's code never continues, and its `exit`
//!   returns where the replaced frame would have (from a subprogram, to
//!   that subprogram's caller, as the x86 JIT's tail call from a
//!   subprogram does).
//!
//! After a call that fell through, r0..r5 are not defined (the verifier
//! marks r0 `NOT_INIT` for `RET_VOID` and r1..r5 as after any helper
//! call), so they are marked opaque. In the target, only r1 and r10 are
//! defined; the others are opaque too.
//!
//! Only native program types run it (a ctx is present): the input model
//! is shared with the engine's JIT, which has no tail calls.

use super::exec::{next_via_driver, Step, Vm};
use super::prepared::Op;
use super::provenance::{CTX, OPAQUE, STACK};
use super::{FaultKind, CTX_BASE, STACK_SIZE, STACK_TOP};
use crate::maps::MapType;

/// Helper id of `bpf_tail_call`.
pub(super) const HELPER_TAIL_CALL: u64 = 12;

/// `MAX_TAIL_CALL_CNT` (include/linux/bpf.h): tail calls per run.
pub const MAX_TAIL_CALL_CNT: u32 = 33;

/// Runs `bpf_tail_call` for the call `op` after `n` instructions: the
/// step into the target program, the step past the call when it fell
/// through, or a fault when r1 is not the ctx or r2 not a prog_array (the
/// kernel's verifier refuses both). Out of line and returning to the
/// driver, so that the helper-call handlers keep tail-calling.
#[inline(never)]
pub(super) fn tail_call(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let ctx = vm.regs[1] == CTX_BASE && vm.derived[1] == CTX;
    let map = match vm.mem.map_index(vm.regs[2]) {
        Some(m) if ctx && vm.derived[2] == OPAQUE => m,
        _ => return vm.fault(op, FaultKind::Unsupported, HELPER_TAIL_CALL, 0, n),
    };
    let index = vm.regs[3] as u32;
    let state = &vm.mem.maps().expect("a map index has maps").maps[map];
    let (prog_array, slot) = (
        state.def.map_type == MapType::ProgArray,
        state.prog_at(index),
    );
    if !prog_array {
        return vm.fault(op, FaultKind::Unsupported, HELPER_TAIL_CALL, 0, n);
    }
    let target = match slot {
        Some(prog) if vm.tail_calls < MAX_TAIL_CALL_CNT => prog,
        _ => {
            vm.regs[0..6].fill(0);
            vm.derived[0..6].fill(OPAQUE);
            return next_via_driver(op, n);
        }
    };
    debug_assert_eq!(target, crate::maps::text::SELF_INDEX, "one program");
    // The program starts over: a place where a run can repeat itself.
    if n > vm.budget {
        return vm.out_of_budget(n);
    }
    vm.tail_calls += 1;
    for r in [0, 2, 3, 4, 5, 6, 7, 8, 9] {
        vm.regs[r] = 0;
        vm.derived[r] = OPAQUE;
    }
    vm.regs[10] = STACK_TOP - (vm.depth * STACK_SIZE) as u64;
    vm.derived[10] = STACK;
    vm.mem.enter_frame(vm.depth);
    Step {
        executed: n,
        next: vm.op_at(0),
    }
}
