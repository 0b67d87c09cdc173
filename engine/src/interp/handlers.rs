//! One handler per prepared [`Kind`]: what the instruction does, then a tail
//! call to the op that runs next (see [`super::exec`] for the threading).
//!
//! Every handler first counts itself (`n + 1`), except the sentinels, which
//! are not instructions. The budget is compared with the count where a
//! program can repeat itself: at each taken backward jump and at each local
//! call, before the jump or call.

use super::exec::{
    next, next_via_driver, skip_next, skip_next_via_driver, transfer, Handler, Step, Vm,
};
use super::helper_call;
use super::map_helpers;
use super::prepared::{Kind, Op, PreparedCode};
use super::probe_read;
use super::provenance::{Tag, INPUT, MAP, OPAQUE};
use super::semantics as sem;
use super::skb_helpers;
use super::tail_call;
use super::xdp_adjust;
use super::{ExecResult, FaultKind, CODE_BASE, MAP_PTR_BASE, MAP_VALUE_BASE, MAX_FRAMES, MEM_BASE};

/// The register index of a 4-bit field (always < 16, so array accesses
/// need no bounds check).
#[inline(always)]
fn reg(field: u8) -> usize {
    (field & 15) as usize
}

// ---------------------------------------------------------------------------
// ALU
// ---------------------------------------------------------------------------

/// `dst = f(dst, src)`; the result is pointer-derived if either input was.
#[inline(always)]
fn alu_reg(vm: &mut Vm<'_>, op: &Op, n: u64, f: fn(u64, u64) -> u64) -> Step {
    let (d, s) = (reg(op.dst), reg(op.src));
    vm.regs[d] = f(vm.regs[d], vm.regs[s]);
    vm.derived[d] |= vm.derived[s];
    next(vm, op, n + 1)
}

/// `dst = f(dst, imm)`; the mark of `dst` is kept.
#[inline(always)]
fn alu_imm(vm: &mut Vm<'_>, op: &Op, n: u64, f: fn(u64, u64) -> u64) -> Step {
    let d = reg(op.dst);
    vm.regs[d] = f(vm.regs[d], op.imm);
    next(vm, op, n + 1)
}

/// `dst = f(src, aux)`, copying the mark of `src`.
#[inline(always)]
fn mov_reg(vm: &mut Vm<'_>, op: &Op, n: u64, f: fn(u64, u32) -> u64) -> Step {
    let (d, s) = (reg(op.dst), reg(op.src));
    vm.regs[d] = f(vm.regs[s], op.aux as u32);
    vm.derived[d] = vm.derived[s];
    next(vm, op, n + 1)
}

/// `dst = f(dst, aux)` for the unary operations (neg, le, be, bswap).
#[inline(always)]
fn unary(vm: &mut Vm<'_>, op: &Op, n: u64, f: fn(u64, u32) -> u64) -> Step {
    let d = reg(op.dst);
    vm.regs[d] = f(vm.regs[d], op.aux as u32);
    next(vm, op, n + 1)
}

/// Defines handlers for a register form and an immediate form of one binary
/// ALU operation.
macro_rules! alu_handlers {
    ($($reg_form:ident, $imm_form:ident => $f:expr;)*) => {$(
        fn $reg_form(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
            alu_reg(vm, op, n, $f)
        }
        fn $imm_form(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
            alu_imm(vm, op, n, $f)
        }
    )*};
}

fn add32(a: u64, b: u64) -> u64 {
    (a as u32).wrapping_add(b as u32) as u64
}
fn sub32(a: u64, b: u64) -> u64 {
    (a as u32).wrapping_sub(b as u32) as u64
}
fn mul32(a: u64, b: u64) -> u64 {
    (a as u32).wrapping_mul(b as u32) as u64
}

alu_handlers! {
    add64_r, add64_i => u64::wrapping_add;
    sub64_r, sub64_i => u64::wrapping_sub;
    mul64_r, mul64_i => u64::wrapping_mul;
    div64_r, div64_i => sem::div64;
    sdiv64_r, sdiv64_i => sem::sdiv64;
    mod64_r, mod64_i => sem::mod64;
    smod64_r, smod64_i => sem::smod64;
    or64_r, or64_i => |a, b| a | b;
    and64_r, and64_i => |a, b| a & b;
    xor64_r, xor64_i => |a, b| a ^ b;
    lsh64_r, lsh64_i => sem::lsh64;
    rsh64_r, rsh64_i => sem::rsh64;
    arsh64_r, arsh64_i => sem::arsh64;
    add32_r, add32_i => add32;
    sub32_r, sub32_i => sub32;
    mul32_r, mul32_i => mul32;
    div32_r, div32_i => sem::div32;
    sdiv32_r, sdiv32_i => sem::sdiv32;
    mod32_r, mod32_i => sem::mod32;
    smod32_r, smod32_i => sem::smod32;
    or32_r, or32_i => |a, b| (a as u32 | b as u32) as u64;
    and32_r, and32_i => |a, b| (a as u32 & b as u32) as u64;
    xor32_r, xor32_i => |a, b| (a as u32 ^ b as u32) as u64;
    lsh32_r, lsh32_i => sem::lsh32;
    rsh32_r, rsh32_i => sem::rsh32;
    arsh32_r, arsh32_i => sem::arsh32;
}

fn mov64_r(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    mov_reg(vm, op, n, |v, _| v)
}
fn mov32_r(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    mov_reg(vm, op, n, |v, _| v as u32 as u64)
}
fn movsx64(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    mov_reg(vm, op, n, sem::sign_extend)
}
fn movsx32(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    mov_reg(vm, op, n, |v, bits| sem::sign_extend(v, bits) as u32 as u64)
}

/// `mov64 dst, imm` and `mov32 dst, imm` (the immediate is pre-extended).
fn mov_imm(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let d = reg(op.dst);
    vm.regs[d] = op.imm;
    vm.derived[d] = 0;
    next(vm, op, n + 1)
}

fn neg64(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    unary(vm, op, n, |v, _| v.wrapping_neg())
}
fn neg32(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    unary(vm, op, n, |v, _| (v as u32).wrapping_neg() as u64)
}
fn to_le(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    unary(vm, op, n, sem::to_le)
}
fn swap(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    unary(vm, op, n, sem::byte_swap)
}

// ---------------------------------------------------------------------------
// Jumps
// ---------------------------------------------------------------------------

/// Goes to the op's target when `taken`, else to the next op. A backward
/// target (`aux` = 1, see `PreparedCode`) checks the budget first and goes
/// through the driver.
#[inline(always)]
fn jump(vm: &mut Vm<'_>, op: &Op, n: u64, taken: bool) -> Step {
    if !taken {
        return next(vm, op, n);
    }
    let target = vm.op_at(op.off as usize);
    if op.aux != 0 {
        if n > vm.budget {
            return vm.out_of_budget(n);
        }
        return Step {
            executed: n,
            next: target,
        };
    }
    (target.handler)(vm, target, n)
}

/// Defines handlers for the register and immediate forms of one condition.
macro_rules! jump_handlers {
    ($($reg_form:ident, $imm_form:ident => $cond:expr;)*) => {$(
        fn $reg_form(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
            let cond: fn(u64, u64) -> bool = $cond;
            let taken = cond(vm.regs[reg(op.dst)], vm.regs[reg(op.src)]);
            jump(vm, op, n + 1, taken)
        }
        fn $imm_form(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
            let cond: fn(u64, u64) -> bool = $cond;
            let taken = cond(vm.regs[reg(op.dst)], op.imm);
            jump(vm, op, n + 1, taken)
        }
    )*};
}

jump_handlers! {
    jeq64_r, jeq64_i => |a, b| a == b;
    jgt64_r, jgt64_i => |a, b| a > b;
    jge64_r, jge64_i => |a, b| a >= b;
    jset64_r, jset64_i => |a, b| a & b != 0;
    jne64_r, jne64_i => |a, b| a != b;
    jsgt64_r, jsgt64_i => |a, b| (a as i64) > (b as i64);
    jsge64_r, jsge64_i => |a, b| (a as i64) >= (b as i64);
    jlt64_r, jlt64_i => |a, b| a < b;
    jle64_r, jle64_i => |a, b| a <= b;
    jslt64_r, jslt64_i => |a, b| (a as i64) < (b as i64);
    jsle64_r, jsle64_i => |a, b| (a as i64) <= (b as i64);
    jeq32_r, jeq32_i => |a, b| a as u32 == b as u32;
    jgt32_r, jgt32_i => |a, b| a as u32 > b as u32;
    jge32_r, jge32_i => |a, b| a as u32 >= b as u32;
    jset32_r, jset32_i => |a, b| a as u32 & b as u32 != 0;
    jne32_r, jne32_i => |a, b| a as u32 != b as u32;
    jsgt32_r, jsgt32_i => |a, b| (a as i32) > (b as i32);
    jsge32_r, jsge32_i => |a, b| (a as i32) >= (b as i32);
    jlt32_r, jlt32_i => |a, b| (a as u32) < b as u32;
    jle32_r, jle32_i => |a, b| a as u32 <= b as u32;
    jslt32_r, jslt32_i => |a, b| (a as i32) < (b as i32);
    jsle32_r, jsle32_i => |a, b| (a as i32) <= (b as i32);
}

fn ja(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    jump(vm, op, n + 1, true)
}

// ---------------------------------------------------------------------------
// Calls and exit
// ---------------------------------------------------------------------------

/// Calls helper `id`: r0 gets its result, r1..r5 are clobbered (marked
/// opaque so that no comparison reads them).
#[inline(always)]
fn call_helper_id(vm: &mut Vm<'_>, op: &Op, n: u64, id: u64) -> Step {
    // An skb program's packet helper (elsewhere unknown, as in the JIT).
    if id == skb_helpers::HELPER_SKB_LOAD_BYTES && vm.mem.has_skb_ctx() {
        if run_skb_helper(vm, op, n) {
            return next_via_driver(op, n);
        }
        return Step {
            executed: n,
            next: std::ptr::null(),
        };
    }
    // A native type's kernel-memory read (elsewhere unknown, as in the JIT).
    if id == probe_read::HELPER_PROBE_READ_KERNEL && vm.mem.has_ctx() {
        if run_probe_read(vm, op, n) {
            return next_via_driver(op, n);
        }
        return Step {
            executed: n,
            next: std::ptr::null(),
        };
    }
    // A native type's tail call (elsewhere unknown, as in the JIT).
    if id == tail_call::HELPER_TAIL_CALL && vm.mem.has_ctx() && vm.mem.has_maps() {
        return tail_call::tail_call(vm, op, n);
    }
    // XDP's packet-resizing helpers (elsewhere unknown, as in the JIT).
    if xdp_adjust::is_xdp_adjust(id) && vm.mem.has_xdp_frame() {
        if run_xdp_adjust(vm, op, n, id) {
            return next_via_driver(op, n);
        }
        return Step {
            executed: n,
            next: std::ptr::null(),
        };
    }
    // Without maps a map helper is an unknown helper, as in the JIT.
    if map_helpers::is_map_helper(id) && vm.mem.has_maps() {
        if run_map_helper(vm, op, n, id) {
            return next_via_driver(op, n);
        }
        return Step {
            executed: n,
            next: std::ptr::null(),
        };
    }
    match helper_call::call(id, n) {
        Ok(r0) => {
            vm.regs[0] = r0;
            vm.regs[1..6].fill(0);
            vm.derived[0..6].fill(OPAQUE);
            next_via_driver(op, n)
        }
        Err(kind) => vm.fault(op, kind, id, 0, n),
    }
}

/// Runs `bpf_skb_load_bytes` for the call `op`, as [`run_map_helper`].
#[inline(never)]
fn run_skb_helper(vm: &mut Vm<'_>, op: &Op, n: u64) -> bool {
    let pc = vm.pc_of(op);
    let (regs, derived) = (vm.regs, vm.derived);
    let result = skb_helpers::skb_load_bytes(&mut vm.mem, pc, &regs[..5], &derived[..5]);
    helper_returned(vm, op, n, result)
}

/// Runs `bpf_probe_read_kernel` for the call `op`, as [`run_map_helper`].
#[inline(never)]
fn run_probe_read(vm: &mut Vm<'_>, op: &Op, n: u64) -> bool {
    let pc = vm.pc_of(op);
    let (regs, derived) = (vm.regs, vm.derived);
    let result = probe_read::probe_read_kernel(&mut vm.mem, pc, &regs[..5], &derived[..5]);
    helper_returned(vm, op, n, result)
}

/// Runs `bpf_xdp_adjust_head` or `_tail` (`id`) for the call `op`, as
/// [`run_map_helper`].
#[inline(never)]
fn run_xdp_adjust(vm: &mut Vm<'_>, op: &Op, n: u64, id: u64) -> bool {
    let result = xdp_adjust::xdp_adjust(&mut vm.mem, id, vm.regs[2]);
    helper_returned(vm, op, n, result)
}

/// A helper's end: r0 and its tag set and r1..r5 clobbered (true), or
/// the fault recorded (false: the run has stopped).
fn helper_returned(
    vm: &mut Vm<'_>,
    op: &Op,
    n: u64,
    result: Result<(u64, Tag), (FaultKind, u64, usize)>,
) -> bool {
    match result {
        Ok((r0, tag)) => {
            vm.regs[0] = r0;
            vm.regs[1..6].fill(0);
            vm.derived[1..6].fill(OPAQUE);
            vm.derived[0] = tag;
            true
        }
        Err((kind, addr, size)) => {
            vm.fault(op, kind, addr, size, n);
            false
        }
    }
}

/// Runs map helper `id` for the call `op`: true when it returned (r0 set,
/// r1..r5 clobbered), false when it faulted (the run has stopped). Out of
/// line, so that the helper-call handlers keep tail-calling.
#[inline(never)]
fn run_map_helper(vm: &mut Vm<'_>, op: &Op, n: u64, id: u64) -> bool {
    let pc = vm.pc_of(op);
    let (regs, derived) = (vm.regs, vm.derived);
    let result = map_helpers::call(&mut vm.mem, pc, id, &regs[..5], &derived[..5]);
    helper_returned(vm, op, n, result)
}

fn call_helper(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    call_helper_id(vm, op, n + 1, op.imm)
}

/// Enters the subprogram at slot `target` from the call `op`.
#[inline(always)]
fn call_local_at(vm: &mut Vm<'_>, op: &Op, target: usize, n: u64) -> Step {
    if n > vm.budget {
        return vm.out_of_budget(n);
    }
    if vm.depth + 1 >= MAX_FRAMES {
        return vm.fault(op, FaultKind::CallDepthExceeded, target as u64, 0, n);
    }
    vm.push_frame(op);
    transfer(vm, op, target, n)
}

fn call_local(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    call_local_at(vm, op, op.off as usize, n + 1)
}

/// `callx dst`: a subprogram address made by `ld_imm64` src=4 calls that
/// subprogram; any other value is a helper id.
fn callx(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let n = n + 1;
    let value = vm.regs[reg(op.dst)];
    let code_off = value.wrapping_sub(CODE_BASE);
    if code_off < (vm.slots as u64) * 8 && code_off % 8 == 0 {
        let target = (code_off / 8) as usize;
        if n > vm.budget {
            return vm.out_of_budget(n);
        }
        if vm.op_at(target).kind == Kind::LdImm64Second {
            return vm.fault(op, FaultKind::JumpIntoLdImm64, target as u64, 0, n);
        }
        if vm.depth + 1 >= MAX_FRAMES {
            return vm.fault(op, FaultKind::CallDepthExceeded, target as u64, 0, n);
        }
        // Through the driver (`next_via_driver`): a release build kept the
        // forward call of `call_local_at` here as a call.
        vm.push_frame(op);
        return Step {
            executed: n,
            next: vm.op_at(target),
        };
    }
    call_helper_id(vm, op, n, value)
}

fn exit(vm: &mut Vm<'_>, _op: &Op, n: u64) -> Step {
    let n = n + 1;
    if vm.depth == 0 {
        let result = ExecResult::Returned {
            r0: vm.regs[0],
            r0_derived: vm.derived[0] != 0,
        };
        return vm.stop(result, n);
    }
    // Through the driver (`next_via_driver`): a release build kept this
    // call of the caller's next handler as a call.
    let target = vm.pop_frame();
    Step {
        executed: n,
        next: target,
    }
}

// ---------------------------------------------------------------------------
// Wide loads and legacy packet loads
// ---------------------------------------------------------------------------

fn ld_imm64(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let d = reg(op.dst);
    vm.regs[d] = op.imm;
    vm.derived[d] = 0;
    skip_next(vm, op, n + 1)
}

fn ld_map_fd(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let d = reg(op.dst);
    if vm.mem.map_index(MAP_PTR_BASE + op.imm).is_none() {
        return vm.fault(op, FaultKind::Unsupported, 0, 0, n + 1);
    }
    vm.regs[d] = MAP_PTR_BASE + op.imm;
    vm.derived[d] = OPAQUE;
    skip_next_via_driver(op, n + 1)
}

fn ld_map_value(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let d = reg(op.dst);
    if let Some(maps) = vm.mem.maps() {
        // With maps: map `off`'s element 0 (array maps only, as the
        // kernel's `map_direct_value_addr`).
        let m = op.off as u32 as usize;
        if !maps.maps.get(m).is_some_and(|x| x.def.map_type.is_array()) {
            return vm.fault(op, FaultKind::Unsupported, 0, 0, n + 1);
        }
        vm.regs[d] = (MAP_VALUE_BASE + ((m as u64) << 32)).wrapping_add(op.imm);
        vm.derived[d] = MAP;
        return skip_next_via_driver(op, n + 1);
    }
    vm.regs[d] = MEM_BASE.wrapping_add(op.imm);
    vm.derived[d] = INPUT;
    skip_next_via_driver(op, n + 1)
}

fn ld_func(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let d = reg(op.dst);
    let index = op.off as usize;
    // A target outside the program resolved to a sentinel that keeps the
    // raw slot number in `imm`.
    let slot = if index < vm.slots {
        index as u64
    } else {
        vm.op_at(index).imm
    };
    vm.regs[d] = CODE_BASE.wrapping_add(slot.wrapping_mul(8));
    vm.derived[d] = OPAQUE;
    skip_next(vm, op, n + 1)
}

/// Legacy packet load of `aux` bytes at `offset` into r0. r0 is
/// pointer-derived when a byte read is, or when the offset is (`ld_ind`
/// with a pointer-derived index): the same rule as [`load`].
#[inline(always)]
fn packet_load(vm: &mut Vm<'_>, op: &Op, n: u64, offset: i64, base_derived: Tag) -> Step {
    match vm.mem.load_packet_be(offset, op.aux as usize) {
        Some((v, tag)) => {
            vm.regs[0] = v;
            vm.derived[0] = tag | base_derived;
            next_via_driver(op, n)
        }
        // SEMANTICS.md: out-of-bounds legacy packet loads exit with r0 = 0
        // (whether a pointer-derived offset is out of bounds depends on the
        // implementation's addresses, so that 0 is pointer-derived too).
        None => vm.stop(
            ExecResult::Returned {
                r0: 0,
                r0_derived: base_derived != 0,
            },
            n,
        ),
    }
}

fn ld_abs(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    packet_load(vm, op, n + 1, op.imm as i32 as i64, 0)
}

/// The offset is the 32-bit sum of the index register's low half and the
/// immediate, as a signed int: the kernel rewrites `LD_IND` to
/// `w2 = wSRC; w2 += imm` and calls its load helper with an `int` offset
/// (`bpf_gen_ld_abs`, net/core/filter.c), so `r8 = -16` with `imm` 18
/// reads offset 2 (measured on Linux 6.18, tc and socket filter).
fn ld_ind(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let s = reg(op.src);
    let offset = (vm.regs[s] as u32).wrapping_add(op.imm as u32) as i32;
    packet_load(vm, op, n + 1, i64::from(offset), vm.derived[s])
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

/// `dst = *(size *)(src + off)`, sign-extended for `ldsx`. The access must
/// lie in a region the base is derived from (its provenance tag; a number
/// has none). Plain cases run here; the rest (pointer marks in the
/// region, unwritten stack, faults) in [`load_general`], reached by a tail
/// call so that this handler needs no stack frame of its own.
#[inline(always)]
fn load(vm: &mut Vm<'_>, op: &Op, n: u64, size: usize, signed: bool) -> Step {
    let (d, base) = (reg(op.dst), reg(op.src));
    let addr = vm.regs[base].wrapping_add(op.off as i64 as u64);
    if let Some(v) = vm.mem.load_fast(addr, size, vm.derived[base]) {
        vm.regs[d] = extend(v, size, signed);
        vm.derived[d] = 0;
        return next(vm, op, n);
    }
    load_general(vm, op, n, size, signed)
}

/// Zero- or sign-extends a loaded value of `size` bytes.
#[inline(always)]
fn extend(v: u64, size: usize, signed: bool) -> u64 {
    if signed {
        sem::sign_extend(v, size as u32 * 8)
    } else {
        v
    }
}

/// [`load`] for every case.
#[inline(never)]
fn load_general(vm: &mut Vm<'_>, op: &Op, n: u64, size: usize, signed: bool) -> Step {
    let (d, base) = (reg(op.dst), reg(op.src));
    let addr = vm.regs[base].wrapping_add(op.off as i64 as u64);
    if vm.derived[base] == 0 {
        return vm.fault(op, FaultKind::OutOfBounds, addr, size, n);
    }
    let pc = vm.pc_of(op);
    match vm.mem.load(addr, size, pc, vm.derived[base]) {
        Some((v, tag)) => {
            vm.regs[d] = extend(v, size, signed);
            vm.derived[d] = tag;
            next_via_driver(op, n)
        }
        None => vm.fault(op, FaultKind::OutOfBounds, addr, size, n),
    }
}

/// `*(size *)(dst + off) = value` (whose provenance tag is `tag`). The
/// access must lie in a region the base is derived from, as for [`load`].
/// As with loads, the general case is a tail call to [`store_general`].
#[inline(always)]
fn store(vm: &mut Vm<'_>, op: &Op, n: u64, size: usize, value: u64, tag: Tag) -> Step {
    let base = reg(op.dst);
    let addr = vm.regs[base].wrapping_add(op.off as i64 as u64);
    if tag == 0 && vm.mem.store_fast(addr, size, value, vm.derived[base]) {
        return next(vm, op, n);
    }
    store_general(vm, op, n, size, value, tag)
}

/// [`store`] for every case.
#[inline(never)]
fn store_general(vm: &mut Vm<'_>, op: &Op, n: u64, size: usize, value: u64, tag: Tag) -> Step {
    let base = reg(op.dst);
    let addr = vm.regs[base].wrapping_add(op.off as i64 as u64);
    let regions = vm.derived[base];
    if regions == 0 || vm.mem.store(addr, size, value, tag, regions).is_none() {
        return vm.fault(op, FaultKind::OutOfBounds, addr, size, n);
    }
    next_via_driver(op, n)
}

/// Defines load handlers: `name => access, size, sign-extending?`.
macro_rules! load_handlers {
    ($($name:ident => $access:ident, $size:expr, $signed:expr;)*) => {$(
        fn $name(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
            $access(vm, op, n + 1, $size, $signed)
        }
    )*};
}

load_handlers! {
    ldx_b => load, 1, false;
    ldx_h => load, 2, false;
    ldx_w => load, 4, false;
    ldx_dw => load, 8, false;
    ldx_sb => load, 1, true;
    ldx_sh => load, 2, true;
    ldx_sw => load, 4, true;
}

/// Defines store handlers: `name => access, size, from a register?`.
macro_rules! store_handlers {
    ($($name:ident => $access:ident, $size:expr, $from_reg:expr;)*) => {$(
        fn $name(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
            let (value, tag) = if $from_reg {
                let s = reg(op.src);
                (vm.regs[s], vm.derived[s])
            } else {
                (op.imm, 0)
            };
            $access(vm, op, n + 1, $size, value, tag)
        }
    )*};
}

store_handlers! {
    st_b => store, 1, false;
    st_h => store, 2, false;
    st_w => store, 4, false;
    st_dw => store, 8, false;
    stx_b => store, 1, true;
    stx_h => store, 2, true;
    stx_w => store, 4, true;
    stx_dw => store, 8, true;
}

/// `dst = *(size *)(r10 + off)` for an op prepared as a frame-pointer
/// access (`Kind::FpLdx*`): r10 is the frame's top and `off` is in range,
/// so only the stack bitmaps are checked. Anything unusual takes
/// [`load_general`], which computes the address from r10 like any load.
#[inline(always)]
fn frame_load(vm: &mut Vm<'_>, op: &Op, n: u64, size: usize, signed: bool) -> Step {
    if let Some(v) = vm.mem.frame_load_fast(op.off, size) {
        let d = reg(op.dst);
        vm.regs[d] = extend(v, size, signed);
        vm.derived[d] = 0;
        return next(vm, op, n);
    }
    load_general(vm, op, n, size, signed)
}

/// `*(size *)(r10 + off) = value` for an op prepared as a frame-pointer
/// access (`Kind::FpSt*`, `Kind::FpStx*`).
#[inline(always)]
fn frame_store(vm: &mut Vm<'_>, op: &Op, n: u64, size: usize, value: u64, tag: Tag) -> Step {
    if tag == 0 && vm.mem.frame_store_fast(op.off, size, value) {
        return next(vm, op, n);
    }
    store_general(vm, op, n, size, value, tag)
}

load_handlers! {
    fp_ldx_b => frame_load, 1, false;
    fp_ldx_h => frame_load, 2, false;
    fp_ldx_w => frame_load, 4, false;
    fp_ldx_dw => frame_load, 8, false;
    fp_ldx_sb => frame_load, 1, true;
    fp_ldx_sh => frame_load, 2, true;
    fp_ldx_sw => frame_load, 4, true;
}

store_handlers! {
    fp_st_b => frame_store, 1, false;
    fp_st_h => frame_store, 2, false;
    fp_st_w => frame_store, 4, false;
    fp_st_dw => frame_store, 8, false;
    fp_stx_b => frame_store, 1, true;
    fp_stx_h => frame_store, 2, true;
    fp_stx_w => frame_store, 4, true;
    fp_stx_dw => frame_store, 8, true;
}

fn load_acquire(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    load(vm, op, n + 1, op.aux as usize, false)
}

fn store_release(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let s = reg(op.src);
    let (value, tag) = (vm.regs[s], vm.derived[s]);
    store(vm, op, n + 1, op.aux as usize, value, tag)
}

/// Atomic read-modify-write of `aux` bytes at `dst + off`; `imm` selects
/// the operation (SEMANTICS.md: 32-bit forms zero-extend what they fetch;
/// cmpxchg compares with r0, its low half for the 32-bit form).
fn atomic(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let n = n + 1;
    let (d, s) = (reg(op.dst), reg(op.src));
    let size = op.aux as usize;
    let addr = vm.regs[d].wrapping_add(op.off as i64 as u64);
    if vm.derived[d] == 0 {
        return vm.fault(op, FaultKind::OutOfBounds, addr, size, n);
    }
    let pc = vm.pc_of(op);
    let regions = vm.derived[d];
    let Some((old, old_derived)) = vm.mem.load(addr, size, pc, regions) else {
        return vm.fault(op, FaultKind::OutOfBounds, addr, size, n);
    };
    let narrow = |v: u64| if size == 4 { v as u32 as u64 } else { v };
    let src_value = vm.regs[s];
    let src_derived = vm.derived[s];
    let fetch = op.imm & 0x01 != 0;
    let (new, new_derived) = match op.imm & !0x01 {
        0x00 => (old.wrapping_add(src_value), old_derived | src_derived),
        0x40 => (old | src_value, old_derived | src_derived),
        0x50 => (old & src_value, old_derived | src_derived),
        0xa0 => (old ^ src_value, old_derived | src_derived),
        0xe0 => (src_value, src_derived),
        _ => {
            if narrow(vm.regs[0]) == old {
                (src_value, src_derived)
            } else {
                (old, old_derived)
            }
        }
    };
    vm.mem.store(addr, size, narrow(new), new_derived, regions);
    if op.imm == 0xf1 {
        vm.regs[0] = old;
        vm.derived[0] = old_derived;
    } else if fetch {
        vm.regs[s] = old;
        vm.derived[s] = old_derived;
    }
    next_via_driver(op, n)
}

// ---------------------------------------------------------------------------
// Ops that stop the run
// ---------------------------------------------------------------------------

fn unsupported(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    vm.fault(op, FaultKind::Unsupported, 0, 0, n + 1)
}

fn ld_imm64_second(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let pc = vm.pc_of(op);
    vm.fault_at(pc, FaultKind::JumpIntoLdImm64, pc as u64, 0, n + 1)
}

/// The sentinel after the last slot (not an instruction: not counted).
fn fell_off_end(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let pc = vm.pc_of(op);
    vm.fault_at(pc, FaultKind::FellOffEnd, pc as u64, 0, n)
}

/// The sentinel of an invalid jump target: the fault is the jump's (not
/// counted).
fn bad_target(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let kind = PreparedCode::bad_target_fault(op);
    vm.fault_at(op.off as usize, kind, op.imm, 0, n)
}

// ---------------------------------------------------------------------------
// Fused pairs: the first op reads the second's fields and skips it
// ---------------------------------------------------------------------------

/// The op after `op`, which a fused pair reads.
#[inline(always)]
fn second_of_pair(op: &Op) -> &Op {
    // SAFETY: fused kinds are only given to an op whose partner is the
    // program slot right after it (see `fuse_pairs`).
    unsafe { &*(op as *const Op).add(1) }
}

/// `mov64 dst, src; add64 dst, t`.
fn mov_add64_r(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let second = second_of_pair(op);
    let (d, s, t) = (reg(op.dst), reg(op.src), reg(second.src));
    // `t` reads the register after the move.
    let (value, mark) = if t == d {
        (vm.regs[s], vm.derived[s])
    } else {
        (vm.regs[t], vm.derived[t])
    };
    vm.regs[d] = vm.regs[s].wrapping_add(value);
    vm.derived[d] = vm.derived[s] | mark;
    skip_next(vm, op, n + 2)
}

/// `mov64 dst, src; add64 dst, imm`.
fn mov_add64_i(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let imm = second_of_pair(op).imm;
    let (d, s) = (reg(op.dst), reg(op.src));
    vm.regs[d] = vm.regs[s].wrapping_add(imm);
    vm.derived[d] = vm.derived[s];
    skip_next(vm, op, n + 2)
}

/// `mov64 dst, src; and64 dst, imm`.
fn mov_and64_i(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let imm = second_of_pair(op).imm;
    let (d, s) = (reg(op.dst), reg(op.src));
    vm.regs[d] = vm.regs[s] & imm;
    vm.derived[d] = vm.derived[s];
    skip_next(vm, op, n + 2)
}

/// `add64 dst, imm; if dst < imm2 goto target`.
fn add_jlt64_i(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let second = second_of_pair(op);
    let d = reg(op.dst);
    vm.regs[d] = vm.regs[d].wrapping_add(op.imm);
    let taken = vm.regs[d] < second.imm;
    jump(vm, second, n + 2, taken)
}

/// `add64 dst, imm; if dst != imm2 goto target`.
fn add_jne64_i(vm: &mut Vm<'_>, op: &Op, n: u64) -> Step {
    let second = second_of_pair(op);
    let d = reg(op.dst);
    vm.regs[d] = vm.regs[d].wrapping_add(op.imm);
    let taken = vm.regs[d] != second.imm;
    jump(vm, second, n + 2, taken)
}

/// The handler of each kind.
pub(super) fn handler_of(kind: Kind) -> Handler {
    use Kind as K;
    match kind {
        K::Add64R => add64_r,
        K::Add64I => add64_i,
        K::Sub64R => sub64_r,
        K::Sub64I => sub64_i,
        K::Mul64R => mul64_r,
        K::Mul64I => mul64_i,
        K::Div64R => div64_r,
        K::Div64I => div64_i,
        K::SDiv64R => sdiv64_r,
        K::SDiv64I => sdiv64_i,
        K::Mod64R => mod64_r,
        K::Mod64I => mod64_i,
        K::SMod64R => smod64_r,
        K::SMod64I => smod64_i,
        K::Or64R => or64_r,
        K::Or64I => or64_i,
        K::And64R => and64_r,
        K::And64I => and64_i,
        K::Xor64R => xor64_r,
        K::Xor64I => xor64_i,
        K::Lsh64R => lsh64_r,
        K::Lsh64I => lsh64_i,
        K::Rsh64R => rsh64_r,
        K::Rsh64I => rsh64_i,
        K::Arsh64R => arsh64_r,
        K::Arsh64I => arsh64_i,
        K::Mov64R => mov64_r,
        K::Mov64I | K::Mov32I => mov_imm,
        K::Add32R => add32_r,
        K::Add32I => add32_i,
        K::Sub32R => sub32_r,
        K::Sub32I => sub32_i,
        K::Mul32R => mul32_r,
        K::Mul32I => mul32_i,
        K::Div32R => div32_r,
        K::Div32I => div32_i,
        K::SDiv32R => sdiv32_r,
        K::SDiv32I => sdiv32_i,
        K::Mod32R => mod32_r,
        K::Mod32I => mod32_i,
        K::SMod32R => smod32_r,
        K::SMod32I => smod32_i,
        K::Or32R => or32_r,
        K::Or32I => or32_i,
        K::And32R => and32_r,
        K::And32I => and32_i,
        K::Xor32R => xor32_r,
        K::Xor32I => xor32_i,
        K::Lsh32R => lsh32_r,
        K::Lsh32I => lsh32_i,
        K::Rsh32R => rsh32_r,
        K::Rsh32I => rsh32_i,
        K::Arsh32R => arsh32_r,
        K::Arsh32I => arsh32_i,
        K::Mov32R => mov32_r,
        K::Neg64 => neg64,
        K::Neg32 => neg32,
        K::MovSx64 => movsx64,
        K::MovSx32 => movsx32,
        K::ToLe => to_le,
        K::Swap => swap,
        K::Ja => ja,
        K::Jeq64R => jeq64_r,
        K::Jeq64I => jeq64_i,
        K::Jgt64R => jgt64_r,
        K::Jgt64I => jgt64_i,
        K::Jge64R => jge64_r,
        K::Jge64I => jge64_i,
        K::Jset64R => jset64_r,
        K::Jset64I => jset64_i,
        K::Jne64R => jne64_r,
        K::Jne64I => jne64_i,
        K::Jsgt64R => jsgt64_r,
        K::Jsgt64I => jsgt64_i,
        K::Jsge64R => jsge64_r,
        K::Jsge64I => jsge64_i,
        K::Jlt64R => jlt64_r,
        K::Jlt64I => jlt64_i,
        K::Jle64R => jle64_r,
        K::Jle64I => jle64_i,
        K::Jslt64R => jslt64_r,
        K::Jslt64I => jslt64_i,
        K::Jsle64R => jsle64_r,
        K::Jsle64I => jsle64_i,
        K::Jeq32R => jeq32_r,
        K::Jeq32I => jeq32_i,
        K::Jgt32R => jgt32_r,
        K::Jgt32I => jgt32_i,
        K::Jge32R => jge32_r,
        K::Jge32I => jge32_i,
        K::Jset32R => jset32_r,
        K::Jset32I => jset32_i,
        K::Jne32R => jne32_r,
        K::Jne32I => jne32_i,
        K::Jsgt32R => jsgt32_r,
        K::Jsgt32I => jsgt32_i,
        K::Jsge32R => jsge32_r,
        K::Jsge32I => jsge32_i,
        K::Jlt32R => jlt32_r,
        K::Jlt32I => jlt32_i,
        K::Jle32R => jle32_r,
        K::Jle32I => jle32_i,
        K::Jslt32R => jslt32_r,
        K::Jslt32I => jslt32_i,
        K::Jsle32R => jsle32_r,
        K::Jsle32I => jsle32_i,
        K::CallHelper => call_helper,
        K::CallLocal => call_local,
        K::Callx => callx,
        K::Exit => exit,
        K::LdImm64 => ld_imm64,
        K::LdMapValue => ld_map_value,
        K::LdMapFd => ld_map_fd,
        K::LdFunc => ld_func,
        K::LdAbs => ld_abs,
        K::LdInd => ld_ind,
        K::LdxB => ldx_b,
        K::LdxH => ldx_h,
        K::LdxW => ldx_w,
        K::LdxDW => ldx_dw,
        K::LdxSB => ldx_sb,
        K::LdxSH => ldx_sh,
        K::LdxSW => ldx_sw,
        K::StB => st_b,
        K::StH => st_h,
        K::StW => st_w,
        K::StDW => st_dw,
        K::StxB => stx_b,
        K::StxH => stx_h,
        K::StxW => stx_w,
        K::StxDW => stx_dw,
        K::Atomic => atomic,
        K::LoadAcquire => load_acquire,
        K::StoreRelease => store_release,
        K::Unsupported => unsupported,
        K::LdImm64Second => ld_imm64_second,
        K::FellOffEnd => fell_off_end,
        K::BadTarget => bad_target,
        K::MovAdd64R => mov_add64_r,
        K::MovAdd64I => mov_add64_i,
        K::MovAnd64I => mov_and64_i,
        K::AddJlt64I => add_jlt64_i,
        K::AddJne64I => add_jne64_i,
        K::FpLdxB => fp_ldx_b,
        K::FpLdxH => fp_ldx_h,
        K::FpLdxW => fp_ldx_w,
        K::FpLdxDW => fp_ldx_dw,
        K::FpLdxSB => fp_ldx_sb,
        K::FpLdxSH => fp_ldx_sh,
        K::FpLdxSW => fp_ldx_sw,
        K::FpStB => fp_st_b,
        K::FpStH => fp_st_h,
        K::FpStW => fp_st_w,
        K::FpStDW => fp_st_dw,
        K::FpStxB => fp_stx_b,
        K::FpStxH => fp_stx_h,
        K::FpStxW => fp_stx_w,
        K::FpStxDW => fp_stx_dw,
    }
}
