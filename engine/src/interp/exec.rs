//! The run state of one execution and the driver that threads prepared ops.
//!
//! The interpreter is *threaded code*: every prepared [`Op`] carries the
//! [`Handler`] that executes it, and a handler ends by calling the next op's
//! handler in tail position. Optimised builds turn these calls into jumps,
//! so each op has its own dispatch jump (which predicts far better than one
//! shared `match`) and there is no loop bookkeeping.
//!
//! A handler returns to [`execute`] (instead of calling on) whenever a jump
//! or a local call moves control to a slot at or before its own — at every
//! loop and every recursion. Without those, each frame's pc only grows
//! between its calls, so a chain of handler calls stays finite and in
//! practice short even where the tail calls were not turned into jumps.
//! `tests::threaded_code_runs_in_constant_stack` checks that the chain
//! really is made of jumps in the test profile (the workspace builds the
//! engine with `opt-level = 3` and release's 16 codegen units in every
//! profile, so the test sees the inlining a release build does). Handlers
//! whose bodies call into memory or helper code, and returns, continue
//! through the driver instead ([`next_via_driver`]): a release build did
//! not leave their calls of the next handler in tail position.

use super::memory::Memory;
use super::prepared::{Op, PreparedCode};
use super::provenance::{Tag, CTX, INPUT, STACK};
use super::trace::{StackSample, TraceStep};
use super::{
    ExecResult, Execution, Fault, FaultKind, CTX_BASE, MAX_FRAMES, MEM_BASE, STACK_SIZE, STACK_TOP,
};

/// Executes one op: `(state, the op, instructions executed before it)`.
pub(super) type Handler = fn(&mut Vm<'_>, &Op, u64) -> Step;

/// What a handler hands back to the driver: the instruction count so far
/// and the op to continue at, or null when the run has stopped (the result
/// is then in [`Vm::result`]).
pub(super) struct Step {
    pub executed: u64,
    pub next: *const Op,
}

/// Registers saved by a local call: r6..r10 and their derived marks, and
/// the op after the call.
#[derive(Clone, Copy)]
pub(super) struct Frame {
    pub return_to: *const Op,
    pub saved: [u64; 5],
    pub saved_derived: [Tag; 5],
}

impl Default for Frame {
    fn default() -> Frame {
        Frame {
            return_to: std::ptr::null(),
            saved: [0; 5],
            saved_derived: [0; 5],
        }
    }
}

/// The state of one run.
pub(super) struct Vm<'m> {
    /// r0..r10 (indices 11..15 exist so that a masked register index never
    /// needs a bounds check).
    pub regs: [u64; 16],
    /// Register i's provenance tag: non-zero when it holds a
    /// pointer-derived value, whose bits name the regions it may address.
    pub derived: [Tag; 16],
    pub mem: Memory<'m>,
    pub frames: [Frame; MAX_FRAMES],
    /// Number of live frames above frame 0.
    pub depth: usize,
    pub budget: u64,
    /// Slot 0 of the prepared ops.
    base: *const Op,
    /// Number of program slots.
    pub slots: usize,
    /// Set when a handler stops the run.
    pub result: Option<ExecResult>,
    /// Successful `bpf_tail_call`s so far (see `super::tail_call`).
    pub tail_calls: u32,
    /// A traced run only (null otherwise, and never read): where
    /// [`traced_step`] records each step, and each op's own handler.
    trace: *mut Tracer,
}

impl Vm<'_> {
    /// The op at `index` (a program slot or a sentinel).
    #[inline(always)]
    pub fn op_at<'o>(&self, index: usize) -> &'o Op {
        // SAFETY: every index handed here was resolved by `PreparedCode::new`
        // (a program slot or a sentinel) or range-checked against `slots`;
        // the ops outlive the run (`execute` borrows them for its duration),
        // and the returned reference is never kept past it.
        unsafe { &*self.base.add(index) }
    }

    /// The slot index of `op`.
    #[inline(always)]
    pub fn pc_of(&self, op: &Op) -> usize {
        // SAFETY: `op` is an element of the ops slice that starts at `base`.
        unsafe { (op as *const Op).offset_from(self.base) as usize }
    }

    /// Stops the run with `result` after `executed` instructions.
    #[cold]
    #[inline(never)]
    pub fn stop(&mut self, result: ExecResult, executed: u64) -> Step {
        self.result = Some(result);
        Step {
            executed,
            next: std::ptr::null(),
        }
    }

    /// Stops the run: the budget is spent.
    #[cold]
    #[inline(never)]
    pub fn out_of_budget(&mut self, executed: u64) -> Step {
        self.stop(ExecResult::OutOfBudget, executed)
    }

    /// Stops the run with a fault at `op`.
    #[cold]
    #[inline(never)]
    pub fn fault(&mut self, op: &Op, kind: FaultKind, addr: u64, size: usize, n: u64) -> Step {
        let pc = self.pc_of(op);
        self.fault_at(pc, kind, addr, size, n)
    }

    /// Stops the run with a fault at slot `pc`.
    #[cold]
    #[inline(never)]
    pub fn fault_at(&mut self, pc: usize, kind: FaultKind, addr: u64, size: usize, n: u64) -> Step {
        let fault = Fault {
            kind,
            pc,
            addr,
            size: size as u8,
        };
        self.stop(ExecResult::Fault(fault), n)
    }

    /// Saves the caller's r6..r10 and enters a fresh frame; `call` is the
    /// calling op (a program slot, so the op after it exists). The caller
    /// has checked the depth.
    #[inline(always)]
    pub fn push_frame(&mut self, call: &Op) {
        let frame = &mut self.frames[self.depth];
        frame.return_to = (call as *const Op).wrapping_add(1);
        frame.saved.copy_from_slice(&self.regs[6..11]);
        frame.saved_derived.copy_from_slice(&self.derived[6..11]);
        self.depth += 1;
        self.regs[10] = STACK_TOP - (self.depth * STACK_SIZE) as u64;
        self.derived[10] = STACK;
        self.mem.enter_frame(self.depth);
    }

    /// Leaves the current frame; returns the op to continue at.
    #[inline(always)]
    pub fn pop_frame<'o>(&mut self) -> &'o Op {
        self.depth -= 1;
        let frame = &self.frames[self.depth];
        self.regs[6..11].copy_from_slice(&frame.saved);
        self.derived[6..11].copy_from_slice(&frame.saved_derived);
        self.mem.set_depth(self.depth);
        // SAFETY: `return_to` was set by `push_frame` to the op after a
        // call, inside the ops slice, which outlives the run.
        unsafe { &*frame.return_to }
    }
}

/// The recording side of a traced run.
pub(super) struct Tracer {
    /// The ops' own handlers, indexed like the ops.
    pub own: Vec<Handler>,
    /// The steps recorded so far.
    pub steps: Vec<TraceStep>,
    /// Steps to record at most; later steps run unrecorded.
    pub limit: usize,
    /// Per slot: bit `spi` set: sample the current frame's stack slot
    /// `spi` (`fp - 8*(spi+1)`) at that step (empty: sample nothing).
    pub stack_slots: Vec<u64>,
    /// The samples taken.
    pub stack: Vec<StackSample>,
}

/// The handler of every op in a traced run: records the registers before
/// the op's instruction runs (program slots only), then runs the op's own
/// handler in tail position.
pub(super) fn traced_step(vm: &mut Vm<'_>, op: &Op, executed: u64) -> Step {
    let pc = vm.pc_of(op);
    let own = record_step(vm, pc);
    own(vm, op, executed)
}

/// Records the step at slot `pc` (if it is a program slot and the limit is
/// not reached) and returns the op's own handler. Kept out of line so that
/// `traced_step` has no locals whose address escapes and its final call
/// stays a jump.
#[inline(never)]
fn record_step(vm: &mut Vm<'_>, pc: usize) -> Handler {
    // SAFETY: `trace` is set by `execute_traced` to a tracer that outlives
    // the run, and only traced code (whose ops all have this handler) runs
    // with it; nothing else holds a reference to it during the run.
    let tracer = unsafe { &mut *vm.trace };
    if pc < vm.slots && tracer.steps.len() < tracer.limit {
        let mut regs = [0u64; 11];
        regs.copy_from_slice(&vm.regs[..11]);
        let derived = (0..11).fold(0u16, |m, i| m | (u16::from(vm.derived[i] != 0) << i));
        tracer.steps.push(TraceStep {
            pc,
            depth: vm.depth,
            regs,
            derived,
        });
        if let Some(&mask) = tracer.stack_slots.get(pc) {
            if mask != 0 {
                sample_stack(vm, tracer, mask);
            }
        }
    }
    tracer.own[pc]
}

/// Samples the current frame's stack slots in `mask` for the step just
/// recorded: each slot's 8 bytes when all are written and none carries a
/// pointer mark (`Memory::load_fast`, which has no side effects).
#[cold]
fn sample_stack(vm: &Vm<'_>, tracer: &mut Tracer, mask: u64) {
    let step = tracer.steps.len() - 1;
    let fp = STACK_TOP - (vm.depth * STACK_SIZE) as u64;
    for spi in 0..64u8 {
        if mask & (1 << spi) != 0 {
            let addr = fp - 8 * (spi as u64 + 1);
            tracer.stack.push(StackSample {
                step,
                spi,
                value: vm.mem.load_fast(addr, 8, STACK),
            });
        }
    }
}

/// Continues at the op after `op` (a tail call).
#[inline(always)]
pub(super) fn next(vm: &mut Vm<'_>, op: &Op, executed: u64) -> Step {
    // SAFETY: sequential flow never passes the fell-off-end sentinel, whose
    // handler stops the run, so `op + 1` is inside the ops slice.
    let next = unsafe { &*(op as *const Op).add(1) };
    (next.handler)(vm, next, executed)
}

/// Continues at the op after `op` by returning to the driver instead of a
/// tail call. For the handlers around memory accesses, helper calls and
/// returns: the compiler did not turn their call of the next handler into
/// a jump in every build (a release build kept 10 of them as calls, and a
/// long straight-line program overflowed the stack), so they do not rely
/// on it.
#[inline(always)]
pub(super) fn next_via_driver(op: &Op, executed: u64) -> Step {
    // SAFETY: as in `next`.
    let next = unsafe { (op as *const Op).add(1) };
    Step { executed, next }
}

/// [`skip_next`] through the driver, as [`next_via_driver`].
#[inline(always)]
pub(super) fn skip_next_via_driver(op: &Op, executed: u64) -> Step {
    // SAFETY: as in `skip_next`.
    let next = unsafe { (op as *const Op).add(2) };
    Step { executed, next }
}

/// Continues at the op two slots after `op` (after an `ld_imm64`, or a
/// fused pair).
#[inline(always)]
pub(super) fn skip_next(vm: &mut Vm<'_>, op: &Op, executed: u64) -> Step {
    // SAFETY: the second slot of an `ld_imm64` or of a fused pair is a
    // program slot, so the slot after it is a slot or the sentinel.
    let next = unsafe { &*(op as *const Op).add(2) };
    (next.handler)(vm, next, executed)
}

/// Transfers control from `from` to the op at slot `to`: forward by a tail
/// call, otherwise back through the driver (which bounds the handler chain).
#[inline(always)]
pub(super) fn transfer(vm: &mut Vm<'_>, from: &Op, to: usize, executed: u64) -> Step {
    let target = vm.op_at(to);
    if (target as *const Op) > (from as *const Op) {
        (target.handler)(vm, target, executed)
    } else {
        Step {
            executed,
            next: target,
        }
    }
}

/// Runs prepared code on `input` with at most `budget` instructions.
pub(super) fn execute(code: &PreparedCode, input: &mut [u8], budget: u64) -> Execution {
    run(
        code,
        Memory::new(input),
        Entry::Input,
        budget,
        std::ptr::null_mut(),
    )
}

/// What r1 (and r2) hold when the program starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// The harness's model: r1 = the input region (0 when empty), r2 = its length.
    Input,
    /// A native type whose ctx is the input region (`syscall`): r1 = it.
    CtxInMem,
    /// A packet type: r1 = the ctx at `CTX_BASE`.
    Ctx,
}

/// Runs `code` on the memory of a program-type run.
pub(super) fn execute_env(
    code: &PreparedCode,
    mem: Memory<'_>,
    entry: Entry,
    budget: u64,
) -> Execution {
    run(code, mem, entry, budget, std::ptr::null_mut())
}

/// Runs code prepared by [`PreparedCode::new_traced`], recording each step
/// into `tracer`.
pub(super) fn execute_traced(
    code: &PreparedCode,
    input: &mut [u8],
    budget: u64,
    tracer: &mut Tracer,
) -> Execution {
    run(code, Memory::new(input), Entry::Input, budget, tracer)
}

/// Runs a program of a packet type with `mem` (an XDP frame buffer, see
/// [`Memory::with_xdp_window`]): the execution, and where the packet's
/// window (`data..data_end`, offsets into the buffer) ended.
pub(super) fn execute_xdp(
    code: &PreparedCode,
    mem: Memory<'_>,
    budget: u64,
) -> (Execution, (usize, usize)) {
    run_keeping_window(code, mem, Entry::Ctx, budget, std::ptr::null_mut())
}

fn run(
    code: &PreparedCode,
    mem: Memory<'_>,
    entry: Entry,
    budget: u64,
    trace: *mut Tracer,
) -> Execution {
    run_keeping_window(code, mem, entry, budget, trace).0
}

/// [`run`], also returning the input window when the run ended.
fn run_keeping_window(
    code: &PreparedCode,
    mem: Memory<'_>,
    entry: Entry,
    budget: u64,
    trace: *mut Tracer,
) -> (Execution, (usize, usize)) {
    let input_len = mem.input_len() as u64;
    let mut vm = Vm {
        regs: [0; 16],
        derived: [0; 16],
        mem,
        frames: [Frame::default(); MAX_FRAMES],
        depth: 0,
        budget,
        base: code.ops.as_ptr(),
        slots: code.slots,
        result: None,
        tail_calls: 0,
        trace,
    };
    vm.regs[10] = STACK_TOP;
    vm.derived[10] = STACK;
    match entry {
        Entry::Input if input_len > 0 => {
            vm.regs[1] = MEM_BASE;
            vm.regs[2] = input_len;
            vm.derived[1] = INPUT;
        }
        Entry::Input => {}
        Entry::CtxInMem => {
            vm.regs[1] = MEM_BASE;
            vm.derived[1] = INPUT;
        }
        Entry::Ctx => {
            vm.regs[1] = CTX_BASE;
            vm.derived[1] = CTX;
        }
    }
    let mut step = Step {
        executed: 0,
        next: code.ops.as_ptr(),
    };
    while !step.next.is_null() {
        // SAFETY: a non-null `next` always points into `code.ops` (see
        // `Vm::op_at` and `next`).
        let op = unsafe { &*step.next };
        step = (op.handler)(&mut vm, op, step.executed);
    }
    let result = vm
        .result
        .take()
        .unwrap_or_else(|| unreachable!("a handler stops only after setting the result"));
    let execution = Execution {
        result,
        insns_executed: step.executed,
        uninit_stack_read: vm.mem.uninit_read_pc(),
        mem_derived: vm.mem.take_input_shadow(),
    };
    (execution, vm.mem.window())
}

#[cfg(test)]
mod tests {
    use crate::decode::Instruction;
    use crate::insn::Insn;
    use crate::interp::{run_program, ExecResult};
    use crate::opcode::{Class, Operation, OPCODES};
    use crate::program::Program;

    /// One instruction of every opcode-table row that continues forward
    /// (everything but exit, local calls, kfunc calls and the map-fd forms
    /// of `ld_imm64`), with operands that run without a fault; memory rows
    /// once through r6 and once through r10 (the frame-pointer forms). Needs
    /// r6 = a stack pointer with 8 written bytes below it, r7 = 1, r8 = 5
    /// (a helper id for `callx`) and an input of at least 16 bytes.
    fn every_forward_row() -> Vec<Instruction> {
        use Operation as O;
        let mut out = Vec::new();
        for row in OPCODES {
            let ins = match (row.class, row.operation) {
                (_, O::Exit | O::CallLocal | O::CallKfunc) => continue,
                (Class::Alu | Class::Alu64, _) => Instruction::new(row, 0, 7, 0, 1),
                (_, O::Call) => Instruction::new(row, 0, 0, 0, 5),
                (_, O::Callx) => Instruction::new(row, 8, 0, 0, 0),
                // Offset 0: taken or not, the next slot runs.
                (Class::Jmp | Class::Jmp32, _) => Instruction::new(row, 0, 7, 0, 0),
                (Class::Ld, O::LdImm64 | O::LdMapValue | O::LdFunc) => {
                    Instruction::new(row, 0, 0, 0, 0)
                }
                (Class::Ld, O::LdAbs | O::LdInd) => Instruction::new(row, 0, 7, 0, 0),
                (Class::Ld, _) => continue,
                (Class::Ldx, _) | (_, O::LoadAcquire) => {
                    // Through r6 and, as frame-pointer accesses, through r10.
                    out.push(Instruction::new(row, 0, 10, -8, 0));
                    Instruction::new(row, 0, 6, -8, 0)
                }
                // Stores and atomics; fetching atomics overwrite r5 (or r0).
                _ => {
                    out.push(Instruction::new(row, 10, 5, -8, 1));
                    Instruction::new(row, 6, 5, -8, 1)
                }
            };
            out.push(ins);
        }
        out
    }

    /// Every forward-continuing handler (all of `every_forward_row`, plus
    /// the fused pairs) thousands of times in one straight line, on a
    /// thread with a 32 KiB stack. A handler that called the next one
    /// without turning the call into a jump would need at least 16 bytes
    /// per execution, far more than that stack, and the test process would
    /// die of a stack overflow.
    #[test]
    fn threaded_code_runs_in_constant_stack() {
        let setup = [
            Insn::new(0xbf, 6, 10, 0, 0),   // r6 = r10
            Insn::new(0x7a, 6, 0, -8, 0),   // *(u64 *)(r6 - 8) = 0
            Insn::new(0xb7, 7, 0, 0, 1),    // r7 = 1
            Insn::new(0xb7, 8, 0, 0, 5),    // r8 = 5
            Insn::new(0xbf, 2, 6, 0, 0),    // r2 = r6       } mov+add imm
            Insn::new(0x07, 2, 0, 0, -16),  // r2 += -16     }
            Insn::new(0xbf, 2, 6, 0, 0),    // r2 = r6       } mov+add reg
            Insn::new(0x0f, 2, 7, 0, 0),    // r2 += r7      }
            Insn::new(0xbf, 3, 7, 0, 0),    // r3 = r7       } mov+and
            Insn::new(0x57, 3, 0, 0, 0xff), // r3 &= 0xff    }
            Insn::new(0x07, 9, 0, 0, 1),    // r9 += 1       } add+jlt
            Insn::new(0xa5, 9, 0, 0, 7),    // if r9 < 7 goto +0
            Insn::new(0x07, 9, 0, 0, 1),    // r9 += 1       } add+jne
            Insn::new(0x55, 9, 0, 0, 7),    // if r9 != 7 goto +0
        ];
        let rows = Program::from_instructions(&every_forward_row());
        let mut insns = Vec::new();
        let mut executed = 0u64;
        for _ in 0..3000 {
            insns.extend_from_slice(&setup);
            insns.extend_from_slice(&rows.insns);
            executed += setup.len() as u64 + rows.decode().unwrap().len() as u64;
        }
        insns.push(Insn::new(0xb7, 0, 0, 0, 1)); // r0 = 1
        insns.push(Insn::new(0x95, 0, 0, 0, 0)); // exit
        let program = Program::new(insns);
        let execution = std::thread::Builder::new()
            .stack_size(32 * 1024)
            .spawn(move || run_program(&program, &mut [0; 16], u64::MAX).unwrap())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            execution.result,
            ExecResult::Returned {
                r0: 1,
                r0_derived: false
            }
        );
        assert_eq!(execution.insns_executed, executed + 2);
    }
}
