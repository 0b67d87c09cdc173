//! The verifier log in the kernel's format (Linux 6.18 `kernel/bpf/log.c`
//! and `print_verifier_state`): level 1 keeps the failing path's
//! instruction lines and the error, level 2 adds the state after every
//! instruction, branch starts (`from 6 to 9: …`), pruning (`N: safe`) and
//! the closing statistics line.
//!
//! Scalars are printed by [`super::scalar_text`], the kernel's exact
//! format.

use super::scalar::ScalarBounds;
use super::scalar_text::{scalar_to_string, ScalarTag};
use super::stack::ByteType;
use super::state::{Frame, PtrKind, Reg, State};
use std::fmt::Write;

/// How the kernel prints a number in a state: decimal within ±32767,
/// else hex.
fn num(v: i64) -> String {
    if (-32767..=32767).contains(&v) {
        v.to_string()
    } else {
        format!("{:#x}", v as u64)
    }
}

/// A scalar as the kernel prints it (`scalar_text`'s exact format,
/// without ids or precision marks, which this verifier does not track).
pub fn scalar(s: &ScalarBounds) -> String {
    scalar_to_string(s, &ScalarTag::default())
}

/// One register's value as the log prints it.
pub fn reg(r: &Reg) -> String {
    match r {
        Reg::NotInit => "?".into(),
        Reg::Scalar(s) => scalar(s),
        Reg::Ptr(p) => {
            let var = if p.var.var_off.is_const() && p.var.var_off.value == 0 {
                String::new()
            } else {
                format!(
                    ",smin={},smax={},umax={},var_off=({:#x}; {:#x})",
                    num(p.var.smin),
                    num(p.var.smax),
                    num(p.var.umax as i64),
                    p.var.var_off.value,
                    p.var.var_off.mask
                )
            };
            match p.kind {
                PtrKind::Stack { .. } if var.is_empty() => format!("fp{}", p.off),
                PtrKind::Stack { .. } => format!("fp(off={}{var})", p.off),
                PtrKind::Mem { size } => {
                    format!(
                        "map_value(map=bpfdiff_mem,ks=4,vs={size},off={}{var})",
                        p.off
                    )
                }
                PtrKind::Ctx(_) if var.is_empty() && p.off == 0 => "ctx()".to_string(),
                PtrKind::Ctx(_) => format!("ctx(off={}{var})", p.off),
                PtrKind::PacketEnd => "pkt_end()".to_string(),
                PtrKind::MapPtr { map } => format!("map_ptr(map=map{map})"),
                PtrKind::MapValueOrNull { size, id } => {
                    format!("map_value_or_null(id={id},vs={size},off={}{var})", p.off)
                }
                PtrKind::Packet { id, range, .. } => {
                    let id = if id != 0 {
                        format!("id={id},")
                    } else {
                        String::new()
                    };
                    let off = if p.off != 0 {
                        format!("off={},", p.off)
                    } else {
                        String::new()
                    };
                    format!("{}({id}{off}r={range}{var})", p.type_name())
                }
            }
        }
    }
}

/// A frame's registers and non-empty stack slots.
pub fn frame(f: &Frame) -> String {
    let mut out = String::new();
    for (i, r) in f.regs.iter().enumerate() {
        if *r != Reg::NotInit {
            let _ = write!(out, " R{i}={}", reg(r));
        }
    }
    for (spi, slot) in f.stack.slots.iter().enumerate() {
        if slot.types.iter().all(|t| *t == ByteType::Invalid) {
            continue;
        }
        let off = -8 * (spi as i64 + 1);
        if slot.is_spill() && slot.types.iter().all(|t| *t == ByteType::Spill) {
            let _ = write!(out, " fp{off}={}", reg(&slot.spilled));
        } else {
            let s: String = slot.types.iter().rev().map(|t| t.letter()).collect();
            let _ = write!(out, " fp{off}={s}");
        }
    }
    out
}

/// The whole state: the current frame, prefixed `frameN:` when nested.
pub fn state(s: &State) -> String {
    let n = s.frames.len() - 1;
    let body = frame(s.cur());
    if n == 0 {
        body.trim_start().to_string()
    } else {
        format!("frame{}:{body}", n + 1)
    }
}
