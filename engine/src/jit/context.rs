//! The per-run context the generated code reads through r12, and the table
//! of exit sites that turns how the code stopped into an [`Execution`].

use std::mem::offset_of;

use crate::interp::{
    ExecResult, Execution, Fault, FaultKind, MAX_FRAMES, MEM_BASE, STACK_SIZE, STACK_TOP,
};

/// Sizes of the four access widths, indexed like [`Context::mem_lim`].
pub(super) const ACCESS_SIZES: [u64; 4] = [1, 2, 4, 8];

/// `site` value of a run that returned from frame 0.
pub(super) const NO_SITE: u64 = u64::MAX;

/// Site index of the shared out-of-budget exit.
pub(super) const OUT_OF_BUDGET_SITE: u32 = 0;

/// The largest budget the down-counter represents exactly; larger budgets
/// are clamped to it (2^62 instructions never run to their end anyway).
pub(super) const MAX_BUDGET: u64 = 1 << 62;

/// Everything the generated code reads or writes besides registers and the
/// program's memory. Field order is free; the code uses `offset_of!`.
#[repr(C)]
#[derive(Debug, Default)]
pub(super) struct Context {
    /// Host address of the input memory.
    pub mem_ptr: u64,
    /// Length of the input memory.
    pub mem_len: u64,
    /// Per access size (1, 2, 4, 8): `addr - mem_ptr` must be below this.
    pub mem_lim: [u64; 4],
    /// Lowest addressable stack byte (bottom of the deepest live frame).
    pub stack_low: u64,
    /// Per access size: `addr - stack_low` must be below this.
    pub stack_lim: [u64; 4],
    /// One past frame 0's stack (frame 0's r10).
    pub stack_top: u64,
    /// r10 of the deepest frame there can be: a local call from a frame
    /// whose r10 is at or below it exceeds the call depth.
    pub last_frame_top: u64,
    /// Current call depth (0 = frame 0), kept only by programs whose stack
    /// escapes (see `frames`).
    pub depth: u64,
    /// The budget, clamped to [`MAX_BUDGET`]; rcx counts down from it.
    pub budget: u64,
    /// Host stack pointer of the trampoline, restored on every exit.
    pub saved_rsp: u64,
    /// Which exit site stopped the run, or [`NO_SITE`].
    pub site: u64,
    /// A value the exit site reports (address, helper id, call target).
    pub fault_value: u64,
    /// Host code address of each program slot, for `callx` (0 = not an
    /// instruction start).
    pub callx_table: u64,
}

/// Byte offsets of the context fields, as displacements from r12.
pub(super) mod off {
    use super::*;

    pub const MEM_PTR: i32 = offset_of!(Context, mem_ptr) as i32;
    pub const MEM_LEN: i32 = offset_of!(Context, mem_len) as i32;
    pub const MEM_LIM: i32 = offset_of!(Context, mem_lim) as i32;
    pub const STACK_LOW: i32 = offset_of!(Context, stack_low) as i32;
    pub const STACK_LIM: i32 = offset_of!(Context, stack_lim) as i32;
    pub const STACK_TOP: i32 = offset_of!(Context, stack_top) as i32;
    pub const LAST_FRAME_TOP: i32 = offset_of!(Context, last_frame_top) as i32;
    pub const DEPTH: i32 = offset_of!(Context, depth) as i32;
    pub const BUDGET: i32 = offset_of!(Context, budget) as i32;
    pub const SAVED_RSP: i32 = offset_of!(Context, saved_rsp) as i32;
    pub const SITE: i32 = offset_of!(Context, site) as i32;
    pub const FAULT_VALUE: i32 = offset_of!(Context, fault_value) as i32;
    pub const CALLX_TABLE: i32 = offset_of!(Context, callx_table) as i32;
}

/// What the entry trampoline returns (in rax:rdx): r0 when the program
/// returned, and the instruction counter (rcx) however it stopped.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Stopped {
    /// r0 (meaningless when the run left through a site).
    pub r0: u64,
    /// The counter when the run stopped.
    pub counter: u64,
}

/// The generated entry point: runs the program on the context with the
/// initial r1, r2 and the instruction counter (unsafe: the code accesses
/// the memory the context describes).
pub(super) type Entry = unsafe extern "sysv64" fn(*mut Context, u64, u64, u64) -> Stopped;

/// How a run that left through a site ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SiteOutcome {
    /// A fault of this kind.
    Fault(FaultKind),
    /// The budget ran out (at a backward jump or a local call).
    OutOfBudget,
    /// A legacy packet load out of bounds: the program returns 0.
    ReturnZero,
}

/// Where a site's fault address comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SiteAddr {
    /// Known when compiling (jump target, pc, helper id of `call imm`).
    Fixed(u64),
    /// The context's `fault_value` (callx target or helper id).
    Value,
    /// The context's `fault_value` is a host address; it is mapped back to
    /// the interpreter's virtual layout when it lies near a region.
    HostAddress,
    /// The context's `fault_value` is a host address computed from the
    /// input memory's: mapped back by its offset from the input.
    InputAddress,
    /// The context's `fault_value` is a host address computed from the
    /// stack's: mapped back by its offset from frame 0's top.
    StackAddress,
}

/// One place where the generated code can leave the program early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Site {
    /// How the run ends there.
    pub outcome: SiteOutcome,
    /// Slot index of the instruction.
    pub pc: usize,
    /// The fault's address.
    pub addr: SiteAddr,
    /// The access size (memory faults).
    pub size: u8,
    /// Instructions executed in the current block that the counter has
    /// not been charged for yet at this site.
    pub extra: u64,
}

/// How far from a region base a host address may lie and still be mapped
/// back to the interpreter's virtual address space.
const MAP_BACK_WINDOW: u64 = 1 << 31;

/// Turns a stopped run's context into the interpreter's [`Execution`].
/// Inlined so that the result is built in place (moving it from a
/// temporary costs a store-forwarding stall per run).
#[inline(always)]
pub(super) fn execution(
    ctx: &Context,
    stopped: Stopped,
    sites: &[Site],
    counting: bool,
) -> Execution {
    // The generated code stored these with 8-byte stores; read them the
    // same way (a wider load merging two fields would stall).
    // SAFETY: plain reads of initialised fields of a live reference.
    let (site, fault_value) = unsafe {
        (
            std::ptr::read_volatile(&ctx.site),
            std::ptr::read_volatile(&ctx.fault_value),
        )
    };
    let charged = ctx.budget.wrapping_sub(stopped.counter);
    let site = usize::try_from(site).ok().and_then(|i| sites.get(i));
    let executed = match (counting, site) {
        (false, _) => 0,
        (true, Some(site)) => charged.wrapping_add(site.extra),
        (true, None) => charged,
    };
    let result = match site {
        None => ExecResult::Returned {
            r0: stopped.r0,
            r0_derived: false,
        },
        Some(site) => match site.outcome {
            SiteOutcome::OutOfBudget => ExecResult::OutOfBudget,
            SiteOutcome::ReturnZero => ExecResult::Returned {
                r0: 0,
                r0_derived: false,
            },
            SiteOutcome::Fault(kind) => ExecResult::Fault(Fault {
                kind,
                pc: site.pc,
                addr: match site.addr {
                    SiteAddr::Fixed(v) => v,
                    SiteAddr::Value => fault_value,
                    SiteAddr::HostAddress => virtual_address(ctx, fault_value),
                    SiteAddr::InputAddress => {
                        MEM_BASE.wrapping_add(fault_value.wrapping_sub(ctx.mem_ptr))
                    }
                    SiteAddr::StackAddress => {
                        STACK_TOP.wrapping_add(fault_value.wrapping_sub(ctx.stack_top))
                    }
                },
                size: site.size,
            }),
        },
    };
    Execution {
        result,
        insns_executed: executed,
        uninit_stack_read: None,
        mem_derived: Vec::new(),
    }
}

/// The interpreter's address for a host address near the input memory or
/// the stack (pointer plus a moderate offset): relative to the nearer of
/// the two regions. Other values are returned unchanged.
fn virtual_address(ctx: &Context, addr: u64) -> u64 {
    // Distance from `addr` to the region [start, end], if within the window.
    let distance = |start: u64, end: u64| {
        let d = if addr < start {
            start - addr
        } else {
            addr.saturating_sub(end)
        };
        (d < MAP_BACK_WINDOW).then_some(d)
    };
    let stack_bottom = ctx.stack_top - (MAX_FRAMES * STACK_SIZE) as u64;
    let to_stack = distance(stack_bottom, ctx.stack_top);
    let to_mem = (ctx.mem_len > 0)
        .then(|| distance(ctx.mem_ptr, ctx.mem_ptr.saturating_add(ctx.mem_len)))
        .flatten();
    match (to_mem, to_stack) {
        (Some(m), Some(s)) if m <= s => MEM_BASE.wrapping_add(addr.wrapping_sub(ctx.mem_ptr)),
        (Some(_), None) => MEM_BASE.wrapping_add(addr.wrapping_sub(ctx.mem_ptr)),
        (_, Some(_)) => STACK_TOP.wrapping_add(addr.wrapping_sub(ctx.stack_top)),
        (None, None) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_addresses_map_back_near_regions_only() {
        let ctx = Context {
            mem_ptr: 0x5555_0000_1000,
            mem_len: 16,
            stack_top: 0x7fff_0000_0000,
            ..Context::default()
        };
        assert_eq!(virtual_address(&ctx, 0x5555_0000_1006), MEM_BASE + 6);
        assert_eq!(virtual_address(&ctx, 0x5555_0000_0fff), MEM_BASE - 1);
        assert_eq!(
            virtual_address(&ctx, 0x7fff_0000_0000 - 520),
            STACK_TOP - 520
        );
        assert_eq!(virtual_address(&ctx, 42), 42);
        // Regions close together: the nearer one wins.
        let ctx = Context {
            mem_ptr: 0x5555_0000_1000,
            mem_len: 16,
            stack_top: 0x5555_0010_0000,
            ..Context::default()
        };
        assert_eq!(virtual_address(&ctx, 0x5555_0010_0002), STACK_TOP + 2);
        assert_eq!(virtual_address(&ctx, 0x5555_0000_1011), MEM_BASE + 0x11);
    }

    #[test]
    fn executed_adds_the_site_s_uncharged_instructions() {
        let ctx = Context {
            budget: 100,
            site: 1,
            ..Context::default()
        };
        let stopped = Stopped { r0: 0, counter: 90 };
        let sites = [
            Site {
                outcome: SiteOutcome::OutOfBudget,
                pc: 0,
                addr: SiteAddr::Fixed(0),
                size: 0,
                extra: 0,
            },
            Site {
                outcome: SiteOutcome::Fault(FaultKind::Unsupported),
                pc: 3,
                addr: SiteAddr::Fixed(0),
                size: 0,
                extra: 2,
            },
        ];
        let e = execution(&ctx, stopped, &sites, true);
        assert_eq!(e.insns_executed, 12);
        assert!(matches!(
            e.result,
            ExecResult::Fault(Fault {
                kind: FaultKind::Unsupported,
                pc: 3,
                ..
            })
        ));
    }
}
