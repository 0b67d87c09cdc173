//! The ctx and packet pointers of native program types (docs/program-types.md),
//! modeled on Linux 6.18 `kernel/bpf/verifier.c`: `check_ctx_access` and
//! `check_ptr_off_reg` for `PTR_TO_CTX`, `check_packet_access` for
//! `PTR_TO_PACKET[_META]`, the packet half of `adjust_ptr_min_max_vals`
//! (a variable offset gives a new id and no range), `find_good_pkt_pointers`
//! / `mark_pkt_end` (`try_match_pkt_pointers`), `is_pkt_ptr_branch_taken`,
//! and the packet case of `regsafe`.

use super::mem::{tnum_str, Access, AccessResult};
use crate::opcode::Operation;
use crate::prog_type::ctx::{valid_access, Loaded};
use crate::verifier::state::{Pointer, PtrKind, Reg, State};
use crate::verifier::verdict::{RejectClass, Rejection};

/// A packet pointer id not yet drawn from the explorer's counter.
pub const FRESH_ID: u32 = u32::MAX;
/// `MAX_PACKET_OFF`.
const MAX_PACKET_OFF: u64 = 0xffff;
/// `AT_PKT_END`: the pointer equals `data_end`.
const AT_PKT_END: i32 = -1;
/// `BEYOND_PKT_END`: the pointer is past `data_end`.
const BEYOND_PKT_END: i32 = -2;

fn deny(pc: usize, msg: String) -> Rejection {
    Rejection::new(pc, RejectClass::InvalidMemoryAccess, msg)
}

/// True for the kinds this file handles.
pub fn is_native_kind(kind: PtrKind) -> bool {
    matches!(
        kind,
        PtrKind::Ctx(_) | PtrKind::Packet { .. } | PtrKind::PacketEnd
    )
}

/// `check_mem_access` for a ctx or packet pointer `p` in register `regno`,
/// instruction offset `off`, `size` bytes. `strict` marks an atomic
/// access (`check_atomic`: never on ctx or packet).
#[allow(clippy::too_many_arguments)]
pub fn check_access(
    pc: usize,
    regno: u8,
    p: &Pointer,
    off: i16,
    size: usize,
    access: Access<'_>,
    strict: bool,
    notes: &mut Vec<String>,
) -> Result<AccessResult, Rejection> {
    let write = !matches!(access, Access::Read);
    if strict && !matches!(p.kind, PtrKind::PacketEnd) {
        return Err(deny(
            pc,
            format!(
                "BPF_ATOMIC stores into R{regno} {} is not allowed",
                p.type_name()
            ),
        ));
    }
    let off = off as i64 + p.off as i64;
    let loaded = match p.kind {
        PtrKind::Ctx(prog_type) => {
            check_ptr_off(pc, regno, p)?;
            let kind = valid_access(prog_type, off, size, write).ok_or_else(|| {
                deny(
                    pc,
                    format!("invalid bpf_context access off={off} size={size}"),
                )
            })?;
            let writable = prog_type.may_write_packet();
            let packet = |meta| {
                Reg::Ptr(Pointer::fixed(
                    PtrKind::Packet {
                        id: 0,
                        range: 0,
                        meta,
                        writable,
                    },
                    0,
                ))
            };
            match kind {
                Loaded::Scalar => Reg::unknown(),
                Loaded::PacketStart => packet(false),
                Loaded::PacketMeta => packet(true),
                Loaded::PacketEnd => Reg::Ptr(Pointer::fixed(PtrKind::PacketEnd, 0)),
                Loaded::Socket => return Err(Rejection::new(
                    pc,
                    RejectClass::Unsupported,
                    "__sk_buff->sk (sock_common_or_null) is not modeled by the engine's verifier",
                )),
            }
        }
        PtrKind::Packet {
            id,
            range,
            writable,
            ..
        } => {
            if write && !writable {
                return Err(deny(pc, "cannot write into packet".to_string()));
            }
            if p.var.smin < 0 {
                return Err(deny(pc, format!("R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")));
            }
            let fits = off >= 0 && off + size as i64 <= range as i64;
            if range < 0 || !fits {
                if range >= 0 {
                    notes.push(format!(
                        "invalid access to packet, off={off} size={size}, R{regno}(id={id},off={off},r={range})"
                    ));
                }
                return Err(deny(
                    pc,
                    format!("R{regno} offset is outside of the packet"),
                ));
            }
            Reg::unknown()
        }
        _ => {
            return Err(deny(
                pc,
                format!("R{regno} invalid mem access '{}'", p.type_name()),
            ))
        }
    };
    Ok(AccessResult {
        loaded: (!write).then_some(loaded),
        stack_depth: None,
    })
}

/// A sign-extending load (`BPF_MEMSX`) of a ctx field that loads a
/// pointer (`data`, `data_end`, `data_meta` of `__sk_buff` and `xdp_md`)
/// is refused: `bpf_skb_is_valid_access` and `xdp_is_valid_access` return
/// false when `info->is_ldsx` (net/core/filter.c, 6.18; measured on every
/// field of the three packet types). Sign-extending loads of scalar fields
/// are valid.
pub fn refuse_sign_extended_pointer_load(
    pc: usize,
    base: &Reg,
    off: i16,
    size: usize,
    loaded: &Option<Reg>,
) -> Result<(), Rejection> {
    match (base, loaded) {
        (Reg::Ptr(p), Some(Reg::Ptr(_))) if matches!(p.kind, PtrKind::Ctx(_)) => {
            let off = off as i64 + p.off as i64;
            Err(deny(
                pc,
                format!("invalid bpf_context access off={off} size={size}"),
            ))
        }
        _ => Ok(()),
    }
}

/// `check_ptr_off_reg` (`fixed_off_ok = false`).
fn check_ptr_off(pc: usize, regno: u8, p: &Pointer) -> Result<(), Rejection> {
    let t = p.type_name();
    if p.off < 0 {
        return Err(deny(
            pc,
            format!("negative offset {t} ptr R{regno} off={} disallowed", p.off),
        ));
    }
    if p.off != 0 {
        return Err(deny(
            pc,
            format!(
                "dereference of modified {t} ptr R{regno} off={} disallowed",
                p.off
            ),
        ));
    }
    if !p.var.var_off.is_const() || p.var.var_off.value != 0 {
        return Err(deny(
            pc,
            format!(
                "variable {t} access var_off={} disallowed",
                tnum_str(p.var.var_off)
            ),
        ));
    }
    Ok(())
}

/// The pointer kinds `adjust_ptr_min_max_vals` refuses to move.
pub fn check_arithmetic(pc: usize, dst_regno: u8, ptr: &Pointer) -> Result<(), Rejection> {
    if ptr.kind == PtrKind::PacketEnd {
        return Err(Rejection::new(
            pc,
            RejectClass::InvalidPointerArithmetic,
            format!("R{dst_regno} pointer arithmetic on pkt_end prohibited"),
        ));
    }
    Ok(())
}

/// After `ptr op= scalar` on a packet pointer: a variable offset (the
/// constant path not taken) gives a new id, and the range is dropped for
/// an addition or a subtraction of a possibly negative value.
pub fn after_arithmetic(out: &mut Pointer, op: Operation, constant_path: bool, smin_val: i64) {
    if let PtrKind::Packet { id, range, .. } = &mut out.kind {
        if constant_path {
            return;
        }
        *id = FRESH_ID;
        if op == Operation::Add || smin_val < 0 {
            *range = 0;
        }
    }
}

/// Replaces a [`FRESH_ID`] in `reg` with the next id of `id_gen`.
pub fn assign_fresh_id(reg: &mut Reg, id_gen: &mut u32) {
    if let Reg::Ptr(Pointer {
        kind: PtrKind::Packet { id, .. },
        ..
    }) = reg
    {
        if *id == FRESH_ID {
            *id_gen += 1;
            *id = *id_gen;
        }
    }
}

/// `is_branch_taken` for two pointers: packet against `pkt_end` with a
/// negative (`mark_pkt_end`) range; `None` when unknown.
pub fn branch_taken(a: &Reg, b: &Reg, op: Operation) -> Option<bool> {
    let (Reg::Ptr(a), Reg::Ptr(b)) = (a, b) else {
        return None;
    };
    let (pkt, op) = if b.kind == PtrKind::PacketEnd {
        (a, op)
    } else if a.kind == PtrKind::PacketEnd {
        (b, flip(op)?)
    } else {
        return None;
    };
    let PtrKind::Packet { range, .. } = pkt.kind else {
        return None;
    };
    if range >= 0 {
        return None;
    }
    match op {
        Operation::Jle | Operation::Jgt if range == BEYOND_PKT_END => Some(op == Operation::Jgt),
        Operation::Jlt | Operation::Jge => Some(op == Operation::Jge),
        _ => None,
    }
}

/// `flip_opcode` for the unsigned orderings.
fn flip(op: Operation) -> Option<Operation> {
    Some(match op {
        Operation::Jgt => Operation::Jlt,
        Operation::Jlt => Operation::Jgt,
        Operation::Jge => Operation::Jle,
        Operation::Jle => Operation::Jge,
        Operation::Jeq | Operation::Jne => op,
        _ => return None,
    })
}

fn is_pkt(r: &Reg) -> Option<&Pointer> {
    match r {
        Reg::Ptr(p) if matches!(p.kind, PtrKind::Packet { meta: false, .. }) => Some(p),
        _ => None,
    }
}

fn is_meta(r: &Reg) -> bool {
    matches!(r, Reg::Ptr(p) if matches!(p.kind, PtrKind::Packet { meta: true, .. }))
}

fn is_end(r: &Reg) -> bool {
    matches!(r, Reg::Ptr(p) if p.kind == PtrKind::PacketEnd)
}

/// `reg_is_init_pkt_pointer`: a packet pointer at offset 0 with no
/// variable part.
fn is_init_pkt(r: &Reg) -> bool {
    is_pkt(r).is_some_and(|p| p.off == 0 && p.var.var_off.is_const() && p.var.var_off.value == 0)
}

/// `try_match_pkt_pointers` for `if dst op src goto` (64-bit, register
/// source): refines `fall` (the fall-through state) and `taken`. Returns
/// true when the comparison was a packet comparison.
pub fn try_match(
    op: Operation,
    dst_regno: u8,
    src_regno: u8,
    fall: &mut State,
    taken: &mut State,
) -> bool {
    let dst = fall.cur().regs[dst_regno as usize];
    let src = fall.cur().regs[src_regno as usize];
    // dst is the packet pointer checked against the end (or data checked
    // against meta); else src is.
    let dst_side = (is_pkt(&dst).is_some() && is_end(&src)) || (is_meta(&dst) && is_init_pkt(&src));
    let src_side = (is_end(&dst) && is_pkt(&src).is_some()) || (is_init_pkt(&dst) && is_meta(&src));
    let (good_in_fall, right_open, end_open) = match op {
        // (state refined by find_good_pkt_pointers is the fall-through?,
        //  range_right_open, mark_pkt_end range_open)
        Operation::Jgt if dst_side => (true, false, true),
        Operation::Jgt if src_side => (false, true, false),
        Operation::Jlt if dst_side => (false, true, false),
        Operation::Jlt if src_side => (true, false, true),
        Operation::Jge if dst_side => (true, true, false),
        Operation::Jge if src_side => (false, false, true),
        Operation::Jle if dst_side => (false, false, true),
        Operation::Jle if src_side => (true, true, false),
        _ => return false,
    };
    let (regno, reg) = if dst_side {
        (dst_regno, dst)
    } else {
        (src_regno, src)
    };
    let Reg::Ptr(p) = reg else { return false };
    let (good, end) = if good_in_fall {
        (fall, taken)
    } else {
        (taken, fall)
    };
    find_good_pkt_pointers(good, &p, right_open);
    mark_pkt_end(end, regno, end_open);
    true
}

/// `find_good_pkt_pointers`: every packet pointer of `p`'s kind and id,
/// in registers and spills of every frame, learns the range `p.off`
/// (one more when the comparison is strict, `pkt' < pkt_end`).
fn find_good_pkt_pointers(state: &mut State, p: &Pointer, right_open: bool) {
    if p.off < 0 || (p.off == 0 && right_open) {
        return;
    }
    if p.var.umax > MAX_PACKET_OFF || p.var.umax + p.off as u64 > MAX_PACKET_OFF {
        return;
    }
    // Measured on 6.18: `pkt' < pkt_end` makes byte `off` readable too.
    let new_range = p.off + i32::from(right_open);
    let PtrKind::Packet {
        id: want_id,
        meta: want_meta,
        ..
    } = p.kind
    else {
        return;
    };
    let widen = |r: &mut Reg| {
        if let Reg::Ptr(Pointer {
            kind: PtrKind::Packet {
                id, range, meta, ..
            },
            ..
        }) = r
        {
            if *id == want_id && *meta == want_meta {
                *range = (*range).max(new_range);
            }
        }
    };
    for f in &mut state.frames {
        f.regs.iter_mut().for_each(widen);
        for slot in &mut f.stack.slots {
            if slot.is_spill() {
                widen(&mut slot.spilled);
            }
        }
    }
}

/// `mark_pkt_end`: the compared register (a `PTR_TO_PACKET`) is at or
/// beyond the end in this branch.
fn mark_pkt_end(state: &mut State, regno: u8, range_open: bool) {
    if let Reg::Ptr(Pointer {
        kind: PtrKind::Packet {
            range, meta: false, ..
        },
        ..
    }) = &mut state.cur_mut().regs[regno as usize]
    {
        *range = if range_open {
            BEYOND_PKT_END
        } else {
            AT_PKT_END
        };
    }
}

/// The packet and ctx cases of `regsafe` (ids compared exactly, a
/// stricter form of `check_ids`). `within` is `range_within` + `tnum_in`
/// on the variable offsets.
pub fn regsafe(old: &Pointer, cur: &Pointer, within: bool) -> bool {
    match (old.kind, cur.kind) {
        (
            PtrKind::Packet {
                id: oid,
                range: orange,
                meta: om,
                ..
            },
            PtrKind::Packet {
                id: cid,
                range: crange,
                meta: cm,
                ..
            },
        ) => om == cm && orange <= crange && old.off == cur.off && oid == cid && within,
        (a, b) => a == b && old.off == cur.off && within,
    }
}
