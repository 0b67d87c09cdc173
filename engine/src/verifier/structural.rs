//! The structural pass: the checks the kernel's verifier (Linux 6.18,
//! `kernel/bpf/verifier.c`) makes before it explores any path, in the
//! kernel's order, so that the first error found is the one the kernel
//! reports.
//!
//! The kernel's order (`bpf_prog_load`, then `bpf_check`):
//! 1. size: no instructions, or more than [`MAX_INSNS_PRIVILEGED`]
//!    (root) / [`MAX_INSNS_UNPRIVILEGED`]: `E2BIG`, nothing logged;
//! 2. `add_subprog_and_kfunc`: every local call and `ld_imm64 src=4` adds a
//!    subprogram at its target (`call to invalid destination`); unprivileged
//!    programs may not have them;
//! 3. `check_subprogs`: every jump stays inside its subprogram (`jump out of
//!    range from insn %d to %d`), every subprogram ends with `exit` or `ja`
//!    (`last insn is not an exit or jmp`);
//! 4. `check_btf_info` without BTF: no `LD_ABS`/`LD_IND` or tail call in a
//!    subprogram other than the entry;
//! 5. `resolve_pseudo_ldimm64`, one slot after another: `BPF_LDX uses
//!    reserved fields`, the `ld_imm64` rules (`invalid bpf_ld_imm64 insn`,
//!    `unrecognized bpf_ld_imm64 insn`, map and BTF references), then
//!    `unknown opcode %02x`;
//! 6. `check_cfg`: a depth-first walk from slot 0 (`back-edge from insn %d
//!    to %d` for unprivileged programs only; root may loop), then in slot
//!    order `unreachable insn %d` and `jump into the middle of ldimm64 insn
//!    %d`.
//!
//! All of these work on the raw opcode bytes, as the kernel does: an
//! instruction's other fields (reserved fields, selectors, register numbers,
//! `div by zero`, `invalid shift`, writes to r10) are checked only when the
//! exploration reaches it (see [`super::insn_rules`]), and the combined
//! stack depth only after exploration ([`super::subprog::check_max_stack_depth`]).

use super::subprog::{self, Subprogram, MAX_SUBPROGS};
use super::verdict::{RejectClass, Rejection};
use crate::insn::Insn;
use crate::opcode::{self, LD_IMM64_OPCODE};
use crate::program::Program;
use std::collections::BTreeSet;

/// `BPF_COMPLEXITY_LIMIT_INSNS`: the most instructions a program loaded with
/// `CAP_BPF` may have.
pub const MAX_INSNS_PRIVILEGED: usize = 1_000_000;
/// `BPF_MAXINSNS`: the most instructions an unprivileged program may have.
pub const MAX_INSNS_UNPRIVILEGED: usize = 4096;

const CLASS_LDX: u8 = 0x01;
const CLASS_JMP: u8 = 0x05;
const CLASS_JMP32: u8 = 0x06;
const OP_JA: u8 = 0x00;
const OP_CALL: u8 = 0x80;
const OP_EXIT: u8 = 0x90;
const OP_JCOND: u8 = 0xe0;
const MODE_MEM: u8 = 0x60;
const MODE_MEMSX: u8 = 0x80;
/// `BPF_JMP | BPF_JCOND` (`may_goto`): known to the kernel, not modeled.
const MAY_GOTO: u8 = 0xe5;
/// `BPF_JMP | BPF_CALL | BPF_X` (`callx`): in the engine's table (RFC 9669
/// group `callx`) but not in the kernel's (measured: `unknown opcode 8d`).
const CALLX: u8 = 0x8d;
/// The helper id of `bpf_tail_call`.
const FUNC_TAIL_CALL: i32 = 12;

/// What an `ld_imm64` with a nonzero `src` refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LdImm64Kind {
    /// `src=1` (`BPF_PSEUDO_MAP_FD`): a map by fd in `imm`.
    MapFd,
    /// `src=2` (`BPF_PSEUDO_MAP_VALUE`): a map value by fd in `imm`, offset
    /// in the second slot's `imm`.
    MapValue,
    /// `src=3` (`BPF_PSEUDO_BTF_ID`): a kernel variable by BTF id.
    BtfId,
    /// `src=4` (`BPF_PSEUDO_FUNC`): a subprogram's address.
    Func,
    /// `src=5` (`BPF_PSEUDO_MAP_IDX`): a map by index into `fd_array`.
    MapIdx,
    /// `src=6` (`BPF_PSEUDO_MAP_IDX_VALUE`): a map value by `fd_array` index.
    MapIdxValue,
}

impl LdImm64Kind {
    fn from_src(src: u8) -> Option<LdImm64Kind> {
        Some(match src {
            1 => LdImm64Kind::MapFd,
            2 => LdImm64Kind::MapValue,
            3 => LdImm64Kind::BtfId,
            4 => LdImm64Kind::Func,
            5 => LdImm64Kind::MapIdx,
            6 => LdImm64Kind::MapIdxValue,
            _ => return None,
        })
    }
}

/// An `ld_imm64` whose value the kernel resolves at load time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LdImm64Ref {
    /// The slot of the first half.
    pub pc: usize,
    /// What it refers to.
    pub kind: LdImm64Kind,
    /// The first slot's `imm` (fd, index, BTF id or call offset).
    pub imm: i32,
    /// The second slot's `imm` (value offset, BTF object fd, or 0).
    pub next_imm: i32,
}

/// What the structural pass learned, for the exploration that follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructureInfo {
    /// The subprograms in slot order; subprogram 0 is the entry.
    pub subprogs: Vec<Subprogram>,
    /// The slot where each instruction starts (the second slot of an
    /// `ld_imm64` is not one).
    pub insn_starts: Vec<usize>,
    /// Every slot some jump, local call or `ld_imm64 src=4` targets (the
    /// kernel's jump points, where it keeps states for pruning).
    pub jump_targets: BTreeSet<usize>,
    /// Every slot the walk of `check_cfg` reached, in slot order.
    pub reachable: Vec<bool>,
    /// The `ld_imm64` references to maps, BTF and functions, in slot order.
    pub ld_imm64_refs: Vec<LdImm64Ref>,
}

/// Runs the structural pass with the default treatment of `ld_imm64`
/// references: map fds (`src=1`, `src=2`) are accepted and listed in
/// [`StructureInfo::ld_imm64_refs`] for the map model to resolve; `fd_array`
/// indices (`src=5`, `src=6`) are refused as the kernel refuses them when no
/// `fd_array` is given; BTF ids (`src=3`) are [`RejectClass::Unsupported`].
pub fn check(program: &Program, privileged: bool) -> Result<StructureInfo, Rejection> {
    check_with(program, privileged, &mut default_ld_imm64)
}

/// The default resolver of [`check`].
pub fn default_ld_imm64(r: &LdImm64Ref) -> Result<(), Rejection> {
    match r.kind {
        LdImm64Kind::MapIdx | LdImm64Kind::MapIdxValue => Err(Rejection::new(
            r.pc,
            RejectClass::FdArrayMissing,
            "fd_idx without fd_array is invalid",
        )),
        LdImm64Kind::BtfId => Err(Rejection::new(
            r.pc,
            RejectClass::Unsupported,
            format!(
                "ld_imm64 src=3 (pseudo btf_id {}): the engine models no kernel BTF",
                r.imm
            ),
        )),
        _ => Ok(()),
    }
}

/// Runs the structural pass; `resolve` is called for each map or BTF
/// `ld_imm64` at the point of the kernel's `resolve_pseudo_ldimm64` where the
/// kernel resolves it, and may refuse it (e.g. `fd %d is not pointing to
/// valid bpf_map`).
pub fn check_with(
    program: &Program,
    privileged: bool,
    resolve: &mut dyn FnMut(&LdImm64Ref) -> Result<(), Rejection>,
) -> Result<StructureInfo, Rejection> {
    check_as(program, privileged, false, resolve)
}

/// [`check_with`] for a program that the kernel sees as a static
/// subprogram of a wrapper (the kernel backend's harness): with
/// `entry_is_subprog`, the entry is held to the subprogram rules too
/// (`LD_ABS is not allowed in subprogs without BTF`, `tail_call …`).
pub fn check_as(
    program: &Program,
    privileged: bool,
    entry_is_subprog: bool,
    resolve: &mut dyn FnMut(&LdImm64Ref) -> Result<(), Rejection>,
) -> Result<StructureInfo, Rejection> {
    let insns = &program.insns;
    check_size(insns.len(), privileged)?;
    let starts = add_subprogs(insns, privileged)?;
    let subprogs = check_subprogs(insns, &starts)?;
    check_abnormal_return(&subprogs, entry_is_subprog)?;
    let (ld_imm64_refs, insn_starts) = resolve_ld_imm64(insns, resolve)?;
    let (reachable, jump_targets) = check_cfg(insns, privileged)?;
    if let Some(pc) = insn_starts
        .iter()
        .copied()
        .find(|&pc| insns[pc].opcode == MAY_GOTO)
    {
        return Err(Rejection::new(
            pc,
            RejectClass::Unsupported,
            "may_goto (0xe5) is not modeled by the engine",
        ));
    }
    Ok(StructureInfo {
        subprogs,
        insn_starts,
        jump_targets,
        reachable,
        ld_imm64_refs,
    })
}

/// `bpf_prog_load`'s size check.
fn check_size(len: usize, privileged: bool) -> Result<(), Rejection> {
    let limit = if privileged {
        MAX_INSNS_PRIVILEGED
    } else {
        MAX_INSNS_UNPRIVILEGED
    };
    if len == 0 || len > limit {
        return Err(Rejection::new(
            0,
            RejectClass::ProgramTooLarge,
            format!(
                "program of {len} insns is outside 1..={limit} (bpf() fails with E2BIG and logs nothing)"
            ),
        ));
    }
    Ok(())
}

/// `add_subprog_and_kfunc`: the sorted subprogram starts.
fn add_subprogs(insns: &[Insn], privileged: bool) -> Result<Vec<usize>, Rejection> {
    let mut starts = vec![0usize];
    for (i, ins) in insns.iter().enumerate() {
        let call = subprog::is_pseudo_call(ins);
        let func = subprog::is_pseudo_func(ins);
        let kfunc = subprog::is_kfunc_call(ins);
        if !call && !func && !kfunc {
            continue;
        }
        if !privileged {
            return Err(Rejection::new(
                i,
                RejectClass::SubprogramsNeedPrivilege,
                "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
            ));
        }
        if kfunc {
            return Err(Rejection::new(
                i,
                RejectClass::Unsupported,
                format!(
                    "kfunc call (BTF id {}) is not modeled by the engine",
                    ins.imm
                ),
            ));
        }
        let target = i as i64 + ins.imm as i64 + 1;
        if target < 0 || target >= insns.len() as i64 {
            return Err(Rejection::new(
                i,
                RejectClass::CallToInvalidDestination,
                "call to invalid destination",
            ));
        }
        let target = target as usize;
        if let Err(at) = starts.binary_search(&target) {
            if starts.len() >= MAX_SUBPROGS {
                return Err(Rejection::new(
                    i,
                    RejectClass::TooManySubprograms,
                    "too many subprograms",
                ));
            }
            starts.insert(at, target);
        }
    }
    Ok(starts)
}

/// The jump target of a raw jump slot, as `check_subprogs` computes it
/// (`None` for non-jumps, `exit` and `call`).
fn raw_jump_target(i: usize, ins: &Insn) -> Option<i64> {
    let class = ins.opcode & 0x07;
    if class != CLASS_JMP && class != CLASS_JMP32 {
        return None;
    }
    let op = ins.opcode & 0xf0;
    if op == OP_EXIT || op == OP_CALL {
        return None;
    }
    // Only the exact `gotol` byte takes its offset from imm: 0x0e (JMP32 JA
    // with the X bit, unknown to the kernel) still uses off here (measured).
    let offset = if ins.opcode == 0x06 {
        ins.imm as i64
    } else {
        ins.off as i64
    };
    Some(i as i64 + offset + 1)
}

/// `check_subprogs`: jumps stay inside their subprogram; each subprogram
/// ends with `exit`, `ja` or `gotol`.
fn check_subprogs(insns: &[Insn], starts: &[usize]) -> Result<Vec<Subprogram>, Rejection> {
    let mut subprogs: Vec<Subprogram> = starts
        .iter()
        .enumerate()
        .map(|(k, &start)| Subprogram {
            start,
            end: starts.get(k + 1).copied().unwrap_or(insns.len()),
            has_tail_call: false,
            has_ld_abs: false,
        })
        .collect();
    let mut cur = 0;
    for (i, ins) in insns.iter().enumerate() {
        let sp = &mut subprogs[cur];
        if ins.opcode == 0x85 && ins.src == 0 && ins.imm == FUNC_TAIL_CALL {
            sp.has_tail_call = true;
        }
        let mode = ins.opcode & 0xe0;
        if ins.opcode & 0x07 == 0 && (mode == 0x20 || mode == 0x40) {
            sp.has_ld_abs = true;
        }
        if let Some(to) = raw_jump_target(i, ins) {
            if to < sp.start as i64 || to >= sp.end as i64 {
                return Err(Rejection::new(
                    i,
                    RejectClass::JumpOutOfRange,
                    format!("jump out of range from insn {i} to {to}"),
                ));
            }
        }
        if i + 1 == sp.end {
            if !matches!(ins.opcode, 0x95 | 0x05 | 0x06) {
                return Err(Rejection::new(
                    i,
                    RejectClass::LastInsnNotExitOrJmp,
                    "last insn is not an exit or jmp",
                ));
            }
            cur = (cur + 1).min(subprogs.len() - 1);
        }
    }
    Ok(subprogs)
}

/// `check_btf_info` without BTF (`check_abnormal_return`): subprograms
/// other than the entry may not use `LD_ABS`/`LD_IND` nor call
/// `bpf_tail_call`. The kernel names no instruction; the reported pc is the
/// subprogram's first slot.
fn check_abnormal_return(subprogs: &[Subprogram], entry_too: bool) -> Result<(), Rejection> {
    let skip = if entry_too { 0 } else { 1 };
    for sp in subprogs.iter().skip(skip) {
        let what = if sp.has_ld_abs {
            "LD_ABS"
        } else if sp.has_tail_call {
            "tail_call"
        } else {
            continue;
        };
        return Err(Rejection::new(
            sp.start,
            RejectClass::SubprogNeedsBtf,
            format!("{what} is not allowed in subprogs without BTF"),
        ));
    }
    Ok(())
}

/// True when the kernel's opcode table (`bpf_opcode_in_insntable`) has
/// this byte (consulted after the LDX check, and not for `ld_imm64`).
/// It is the engine's table with two measured differences (Linux 6.18, all
/// 256 bytes tried): the kernel knows `may_goto` (0xe5) and not `callx`
/// (0x8d).
pub fn kernel_knows_opcode(op: u8) -> bool {
    match op {
        MAY_GOTO => true,
        CALLX => false,
        _ => opcode::is_known_opcode(op),
    }
}

/// `resolve_pseudo_ldimm64`, slot by slot.
fn resolve_ld_imm64(
    insns: &[Insn],
    resolve: &mut dyn FnMut(&LdImm64Ref) -> Result<(), Rejection>,
) -> Result<(Vec<LdImm64Ref>, Vec<usize>), Rejection> {
    let mut refs = Vec::new();
    let mut starts = Vec::with_capacity(insns.len());
    let mut i = 0;
    while i < insns.len() {
        let ins = insns[i];
        starts.push(i);
        if ins.opcode & 0x07 == CLASS_LDX {
            let mode = ins.opcode & 0xe0;
            if (mode != MODE_MEM && mode != MODE_MEMSX) || ins.imm != 0 {
                return Err(Rejection::new(
                    i,
                    RejectClass::ReservedFields,
                    "BPF_LDX uses reserved fields",
                ));
            }
        }
        if ins.opcode == LD_IMM64_OPCODE {
            let second = insns.get(i + 1);
            let well_formed = matches!(second, Some(s) if s.opcode == 0 && s.dst == 0 && s.src == 0 && s.off == 0);
            if !well_formed {
                return Err(Rejection::new(
                    i,
                    RejectClass::InvalidLdImm64,
                    "invalid bpf_ld_imm64 insn",
                ));
            }
            let next_imm = insns[i + 1].imm;
            if ins.src != 0 {
                let unrecognized = || {
                    Rejection::new(
                        i,
                        RejectClass::UnrecognizedLdImm64,
                        "unrecognized bpf_ld_imm64 insn",
                    )
                };
                let kind = LdImm64Kind::from_src(ins.src).ok_or_else(unrecognized)?;
                let r = LdImm64Ref {
                    pc: i,
                    kind,
                    imm: ins.imm,
                    next_imm,
                };
                match kind {
                    LdImm64Kind::Func => {}
                    LdImm64Kind::BtfId => resolve(&r)?,
                    LdImm64Kind::MapFd | LdImm64Kind::MapIdx if next_imm != 0 => {
                        return Err(unrecognized())
                    }
                    _ => resolve(&r)?,
                }
                refs.push(r);
            }
            i += 2;
            continue;
        }
        if !kernel_knows_opcode(ins.opcode) {
            return Err(Rejection::new(
                i,
                RejectClass::UnknownOpcode,
                format!("unknown opcode {:02x}", ins.opcode),
            ));
        }
        i += 1;
    }
    Ok((refs, starts))
}

/// The successors of slot `t` in `check_cfg`'s order (fall-through first),
/// each with whether it is a branch edge.
fn cfg_successors(insns: &[Insn], t: usize) -> ([Option<(i64, bool)>; 2], usize) {
    let ins = &insns[t];
    let next = t as i64 + 1;
    let class = ins.opcode & 0x07;
    if class != CLASS_JMP && class != CLASS_JMP32 {
        if ins.opcode == LD_IMM64_OPCODE {
            let after = t as i64 + 2;
            if subprog::is_pseudo_func(ins) {
                return (
                    [Some((after, false)), Some((next + ins.imm as i64, true))],
                    2,
                );
            }
            return ([Some((after, false)), None], 1);
        }
        return ([Some((next, false)), None], 1);
    }
    match ins.opcode & 0xf0 {
        OP_EXIT => ([None, None], 0),
        OP_CALL if subprog::is_pseudo_call(ins) => (
            [Some((next, false)), Some((next + ins.imm as i64, true))],
            2,
        ),
        OP_CALL => ([Some((next, false)), None], 1),
        OP_JA if class == CLASS_JMP32 => ([Some((next + ins.imm as i64, true)), None], 1),
        OP_JA => ([Some((next + ins.off as i64, true)), None], 1),
        OP_JCOND => (
            [Some((next, false)), Some((next + ins.off as i64, true))],
            2,
        ),
        _ => (
            [Some((next, false)), Some((next + ins.off as i64, true))],
            2,
        ),
    }
}

/// `check_cfg`: the depth-first walk from slot 0, then the slot-order scan
/// for unreachable slots and jumps into an `ld_imm64`.
fn check_cfg(insns: &[Insn], privileged: bool) -> Result<(Vec<bool>, BTreeSet<usize>), Rejection> {
    const NEW: u8 = 0;
    const DISCOVERED: u8 = 1;
    const EXPLORED: u8 = 2;
    let n = insns.len();
    let mut state = vec![NEW; n];
    let mut targets = BTreeSet::new();
    // (slot, index of the next edge to try)
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    state[0] = DISCOVERED;
    while let Some(top) = stack.last_mut() {
        let (t, k) = *top;
        let (succ, count) = cfg_successors(insns, t);
        if k >= count {
            state[t] = EXPLORED;
            stack.pop();
            continue;
        }
        top.1 += 1;
        let (w, branch) = succ[k].expect("edge below count");
        if w < 0 || w >= n as i64 {
            return Err(Rejection::new(
                t,
                RejectClass::JumpOutOfRange,
                format!("jump out of range from insn {t} to {w}"),
            ));
        }
        let w = w as usize;
        if branch {
            targets.insert(w);
        }
        match state[w] {
            NEW => {
                state[w] = DISCOVERED;
                stack.push((w, 0));
            }
            DISCOVERED if !privileged => {
                return Err(Rejection::new(
                    t,
                    RejectClass::BackEdge,
                    format!("back-edge from insn {t} to {w}"),
                ));
            }
            _ => {}
        }
    }
    let mut i = 0;
    while i < n {
        if state[i] != EXPLORED {
            return Err(Rejection::new(
                i,
                RejectClass::UnreachableInsn,
                format!("unreachable insn {i}"),
            ));
        }
        if insns[i].opcode == LD_IMM64_OPCODE {
            if i + 1 < n && state[i + 1] != NEW {
                return Err(Rejection::new(
                    i,
                    RejectClass::JumpIntoLdImm64,
                    format!("jump into the middle of ldimm64 insn {i}"),
                ));
            }
            i += 1;
        }
        i += 1;
    }
    Ok((state.iter().map(|&s| s == EXPLORED).collect(), targets))
}
