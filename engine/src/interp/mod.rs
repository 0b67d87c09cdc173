//! The checking interpreter: the project's reference semantics.
//!
//! - 11 registers, a 512-byte stack per frame (zeroed when the frame is
//!   entered), up to [`MAX_FRAMES`] frames.
//! - The input memory region: r1 points to it and r2 holds its length (both
//!   0 when there is no input).
//! - Every load, store and atomic is checked against the region its base
//!   register's value was derived from (input memory, live stack frames,
//!   ctx; see [`provenance`]); a bad access is a [`Fault`]. A number that
//!   merely equals one of the engine's virtual addresses addresses nothing
//!   (the kernel refuses such programs, and other runtimes' addresses
//!   differ), and neither does an address computed from one region's
//!   pointer that lands in another region: both fault out of bounds.
//! - An instruction budget turns endless programs into
//!   [`ExecResult::OutOfBudget`]. Every executed instruction counts; the
//!   count is compared with the budget only where a program can repeat
//!   itself: at each taken backward jump (target ≤ pc) and at each local
//!   call (`call` src=1, `callx` to a subprogram), before the jump or call.
//!   A program without loops or calls always runs to its end. The JIT counts
//!   per basic block and checks at the same points, so both agree exactly.
//! - Registers and memory bytes carry a "pointer-derived" mark so that
//!   results computed from addresses are never compared as numbers.
//!
//! Addresses are virtual and deterministic: the input memory starts at
//! [`MEM_BASE`] and frame 0's r10 is [`STACK_TOP`].

mod byte_bits;
mod exec;
mod handlers;
pub(crate) mod helper_call;
mod map_helpers;
mod memory;
mod outcome;
mod prepared;
mod probe_read;
pub(crate) mod provenance;
pub mod semantics;
mod skb_helpers;
mod tail_call;
mod trace;
mod xdp_adjust;

pub use helper_call::{HELPER_GET_PRANDOM_U32, HELPER_GET_SMP_PROCESSOR_ID, HELPER_KTIME_GET_NS};
pub use outcome::{ExecResult, Execution, Fault, FaultKind};
pub use tail_call::MAX_TAIL_CALL_CNT;
pub use trace::{trace_program, trace_program_sampling, StackSample, Trace, TraceStep};

use crate::decode::DecodeError;
use crate::prog_type::{env::RunEnv, ProgType};
use crate::program::Program;

/// Default instruction budget.
pub const DEFAULT_BUDGET: u64 = 1_000_000;
/// Stack bytes per frame.
pub const STACK_SIZE: usize = 512;
/// Maximum call depth (frame 0 plus 7 nested local calls).
pub const MAX_FRAMES: usize = 8;
/// Virtual address of the first byte of input memory.
pub const MEM_BASE: u64 = 0x0000_0001_0000_0000;
/// Virtual address one past frame 0's stack (frame 0's r10).
pub const STACK_TOP: u64 = 0x0000_0002_0000_0000;
/// Virtual address of slot 0 of the program (for `ld_imm64` src 4 and
/// `callx`). `callx` on a value `CODE_BASE + 8 * slot` inside the program
/// calls the subprogram at `slot`; on any other value it calls the helper
/// with that id (bpf_conformance's and uBPF's reading of `callx`).
pub const CODE_BASE: u64 = 0x0000_0003_0000_0000;
/// Virtual address of the ctx of a packet program type (r1 at entry;
/// docs/program-types.md). The packet itself is the region at [`MEM_BASE`].
pub const CTX_BASE: u64 = 0x0000_0004_0000_0000;
/// Virtual value of the map pointer of map `i` (`ld_imm64` src 1 imm i):
/// `MAP_PTR_BASE + i`. It addresses nothing; the map helpers take it.
pub const MAP_PTR_BASE: u64 = 0x0000_0005_0000_0000;
/// Virtual address of map values: element slot `s` of map `i` is at
/// `MAP_VALUE_BASE + (i << 32) + (s << 16)`, and only its `value_size`
/// bytes are addressable (docs/program-types.md, "Maps").
pub const MAP_VALUE_BASE: u64 = 0x0000_0100_0000_0000;

/// A program prepared for repeated execution.
#[derive(Clone, Debug)]
pub struct Interpreter {
    code: prepared::PreparedCode,
}

impl Interpreter {
    /// Decodes and prepares `program`. Fails on the first undecodable slot.
    pub fn new(program: &Program) -> Result<Interpreter, DecodeError> {
        Ok(Interpreter {
            code: prepared::PreparedCode::new(program)?,
        })
    }

    /// Runs the program on `mem` (modified in place) with an instruction budget.
    pub fn run(&self, mem: &mut [u8], budget: u64) -> Execution {
        exec::execute(&self.code, mem, budget)
    }

    /// Runs the program as a program of `env.prog_type`: r1 = the ctx
    /// (packet types: a ctx region whose `data`/`data_end` fields load as
    /// pointers into `env.mem`, the packet; `syscall`: `env.mem`),
    /// `LD_ABS`/`LD_IND` read `env.mem`. `env.mem` and the ctx bytes are
    /// modified in place. `ProgType::Input` is [`Interpreter::run`].
    pub fn run_env(&self, env: &mut RunEnv, budget: u64) -> Execution {
        let maps = (!env.maps.is_empty()).then_some(&mut env.maps);
        match (env.prog_type, env.ctx.as_mut()) {
            (ProgType::Input, _) if maps.is_none() => {
                exec::execute(&self.code, &mut env.mem, budget)
            }
            (ProgType::Input, _) => exec::execute_env(
                &self.code,
                memory::Memory::new(&mut env.mem).with_maps(maps),
                exec::Entry::Input,
                budget,
            ),
            (ProgType::Xdp, Some(ctx)) => {
                let (mut frame, linear) = crate::prog_type::xdp::test_run_frame(&env.mem);
                let frags = env.mem[linear.len()..].to_vec();
                let mem = memory::Memory::with_ctx(&mut frame, ctx, &env.hidden_head)
                    .with_xdp_window(linear, !frags.is_empty())
                    .with_maps(maps);
                let (mut execution, (data, data_end)) = exec::execute_xdp(&self.code, mem, budget);
                // `data_out`: the linear part, then the fragments.
                env.mem = [&frame[data..data_end], &frags[..]].concat();
                // The marks of the frame's bytes, cut to the same packet.
                let marks = &execution.mem_derived;
                if marks[data.min(marks.len())..data_end.min(marks.len())].contains(&true) {
                    let mut packet_marks = marks[data..data_end].to_vec();
                    packet_marks.resize(env.mem.len(), false);
                    execution.mem_derived = packet_marks;
                } else {
                    execution.mem_derived = Vec::new();
                }
                execution
            }
            (_, Some(ctx)) => exec::execute_env(
                &self.code,
                memory::Memory::with_ctx(&mut env.mem, ctx, &env.hidden_head).with_maps(maps),
                exec::Entry::Ctx,
                budget,
            ),
            (_, None) => exec::execute_env(
                &self.code,
                memory::Memory::new(&mut env.mem).with_maps(maps),
                exec::Entry::CtxInMem,
                budget,
            ),
        }
    }
}

/// Decodes, prepares and runs `program` once.
pub fn run_program(
    program: &Program,
    mem: &mut [u8],
    budget: u64,
) -> Result<Execution, DecodeError> {
    Ok(Interpreter::new(program)?.run(mem, budget))
}
