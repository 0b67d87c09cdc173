//! Memory accesses through a pointer register: loads, stores, atomics,
//! sign-extending loads, load-acquire and store-release, checked against
//! the pointer's region, size and alignment. Models `check_mem_access`,
//! `check_ptr_alignment`, `check_stack_access_within_bounds`,
//! `check_mem_region_access` / `__check_mem_access` (map values) and the
//! stack read/write paths of Linux 6.18 `kernel/bpf/verifier.c`, for a
//! privileged loader on x86-64 (no strict alignment except on the stack
//! and for atomics).

use crate::verifier::scalar::ScalarBounds;
use crate::verifier::state::{Pointer, PtrKind, Reg, State};
use crate::verifier::tnum::Tnum;
use crate::verifier::verdict::{RejectClass, Rejection};

/// `BPF_MAX_VAR_OFF`: the largest variable offset a pointer may carry.
pub const MAX_VAR_OFF: i64 = 1 << 29;
/// `MAX_BPF_STACK`.
const STACK_SIZE: i64 = 512;

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access<'a> {
    /// A read.
    Read,
    /// A write of a register's value (`STX`, store-release).
    WriteReg(&'a Reg),
    /// A write of an immediate (`ST`).
    WriteImm(i32),
    /// A write of an unknown value (the write half of an atomic).
    WriteUnknown,
}

/// What an access did, for the exploration's bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessResult {
    /// The loaded value (before size coercion) for a read.
    pub loaded: Option<Reg>,
    /// `(frame, depth)`: a stack access reached `depth` bytes below that
    /// frame's `fp`.
    pub stack_depth: Option<(usize, u32)>,
}

/// The kernel's `tnum_strn`: `(0x1; 0x2)`.
pub fn tnum_str(t: Tnum) -> String {
    format!("({:#x}; {:#x})", t.value, t.mask)
}

/// A `var_off` as the 6.18 alignment messages print it: a constant as one
/// number (`0`, measured; `0x10`), else [`tnum_str`] (`(0x0; 0xf0)`,
/// measured).
fn var_off_str(t: Tnum) -> String {
    if t.is_const() {
        match t.value {
            0 => "0".to_string(),
            v => format!("{v:#x}"),
        }
    } else {
        tnum_str(t)
    }
}

fn reject(pc: usize, class: RejectClass, msg: String) -> Rejection {
    Rejection::new(pc, class, msg)
}

/// `check_mem_access` for register `regno` (`reg`, already known to be
/// readable), instruction offset `off`, `size` bytes. `strict` asks for
/// the alignment check even where the kernel does not require it (atomics:
/// `strict_alignment_once`). `notes` receives log lines the kernel prints
/// before its final error line.
#[allow(clippy::too_many_arguments)]
pub fn check_mem_access(
    state: &mut State,
    pc: usize,
    regno: u8,
    reg: &Reg,
    off: i16,
    size: usize,
    access: Access<'_>,
    strict: bool,
    notes: &mut Vec<String>,
) -> Result<AccessResult, Rejection> {
    let p = match reg {
        Reg::Ptr(p) => *p,
        Reg::Scalar(s) if strict => {
            check_scalar_alignment(pc, s, off, size)?;
            return Err(reject(
                pc,
                RejectClass::InvalidMemoryAccess,
                format!("R{regno} invalid mem access 'scalar'"),
            ));
        }
        _ => {
            return Err(reject(
                pc,
                RejectClass::InvalidMemoryAccess,
                format!("R{regno} invalid mem access '{}'", reg.type_name()),
            ))
        }
    };
    if super::pkt::is_native_kind(p.kind) {
        return super::pkt::check_access(pc, regno, &p, off, size, access, strict, notes);
    }
    check_alignment(pc, &p, off, size, strict)?;
    let off = off as i64 + p.off as i64;
    match p.kind {
        PtrKind::Mem { size: value_size } => {
            check_region(pc, regno, &p.var, off, size, value_size as i64, notes)?;
            Ok(AccessResult {
                loaded: matches!(access, Access::Read).then(Reg::unknown),
                stack_depth: None,
            })
        }
        PtrKind::Ctx(_) | PtrKind::Packet { .. } | PtrKind::PacketEnd => {
            unreachable!("handled by transfer::pkt")
        }
        // Loads from a map pointer read `struct bpf_map` through its BTF
        // (check_ptr_to_map_access), which the engine does not model.
        PtrKind::MapPtr { .. } => Err(reject(
            pc,
            RejectClass::Unsupported,
            format!("R{regno}: accesses through a map_ptr (struct bpf_map fields) are not modeled"),
        )),
        PtrKind::MapValueOrNull { .. } => Err(reject(
            pc,
            RejectClass::InvalidMemoryAccess,
            format!("R{regno} invalid mem access '{}'", p.type_name()),
        )),
        PtrKind::Stack { frame } => {
            let (min_off, max_end) = stack_bounds(pc, regno, &p, off, size, access)?;
            let f = &mut state.frames[frame as usize].stack;
            let fixed = p.var.var_off.is_const();
            let loaded = match access {
                Access::Read if fixed => Some(
                    f.read_fixed(min_off, size)
                        .map_err(|m| reject(pc, RejectClass::InvalidMemoryAccess, m))?,
                ),
                Access::Read => Some(f.read_var(min_off, max_end)),
                Access::WriteReg(v) if fixed => {
                    f.write_fixed(min_off, size, Some(v), None)
                        .map_err(|m| reject(pc, RejectClass::InvalidMemoryAccess, m))?;
                    None
                }
                Access::WriteImm(imm) if fixed => {
                    f.write_fixed(min_off, size, None, Some(imm))
                        .map_err(|m| reject(pc, RejectClass::InvalidMemoryAccess, m))?;
                    None
                }
                Access::WriteUnknown if fixed => {
                    f.write_fixed(min_off, size, None, None)
                        .map_err(|m| reject(pc, RejectClass::InvalidMemoryAccess, m))?;
                    None
                }
                Access::WriteReg(v) => {
                    let zero =
                        matches!(v, Reg::Scalar(s) if s.var_off.is_const() && s.var_off.value == 0);
                    f.write_var(min_off, max_end, zero);
                    None
                }
                Access::WriteImm(imm) => {
                    f.write_var(min_off, max_end, imm == 0);
                    None
                }
                Access::WriteUnknown => {
                    f.write_var(min_off, max_end, false);
                    None
                }
            };
            Ok(AccessResult {
                loaded,
                stack_depth: Some((frame as usize, (-min_off) as u32)),
            })
        }
    }
}

/// `check_ptr_alignment`: stack accesses are always strict (the kernel's
/// spill tracking needs it); map values only when `strict`.
fn check_alignment(
    pc: usize,
    p: &Pointer,
    off: i16,
    size: usize,
    strict: bool,
) -> Result<(), Rejection> {
    let (desc, class) = match p.kind {
        PtrKind::Stack { .. } => ("stack ", RejectClass::MisalignedStackAccess),
        PtrKind::Mem { .. } if strict => ("value ", RejectClass::MisalignedAccess),
        _ => return Ok(()),
    };
    let t = p
        .var
        .var_off
        .add(Tnum::constant((p.off as i64 + off as i64) as u64));
    if (t.value | t.mask) & (size as u64 - 1) != 0 {
        return Err(reject(
            pc,
            class,
            format!(
                "misaligned {desc}access off {}+{}+{} size {size}",
                var_off_str(p.var.var_off),
                p.off,
                off
            ),
        ));
    }
    Ok(())
}

/// `check_generic_ptr_alignment` for a scalar used as an address under
/// strict alignment (atomics): the kernel checks the alignment of
/// `var_off + off` before it refuses the scalar as a pointer. A constant
/// `var_off` prints as one number.
fn check_scalar_alignment(
    pc: usize,
    s: &ScalarBounds,
    off: i16,
    size: usize,
) -> Result<(), Rejection> {
    let t = s.var_off.add(Tnum::constant(off as i64 as u64));
    if (t.value | t.mask) & (size as u64 - 1) == 0 {
        return Ok(());
    }
    let var = var_off_str(s.var_off);
    Err(reject(
        pc,
        RejectClass::MisalignedAccess,
        format!("misaligned access off {var}+0+{off} size {size}"),
    ))
}

/// `check_stack_read` for a read that does not go to a register (the
/// read half of an atomic): the kernel requires a constant offset, after
/// the alignment and bounds checks have passed.
pub fn check_atomic_stack_offset(
    pc: usize,
    reg: &Reg,
    off: i16,
    size: usize,
) -> Result<(), Rejection> {
    match reg {
        Reg::Ptr(p) if matches!(p.kind, PtrKind::Stack { .. }) && !p.var.var_off.is_const() => {
            Err(reject(
                pc,
                RejectClass::StackOutOfRange,
                format!(
                    "variable offset stack pointer cannot be passed into helper function; var_off={} off={} size={size}",
                    tnum_str(p.var.var_off),
                    off as i64 + p.off as i64
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// `check_stack_access_within_bounds` (root: reads of uninitialised stack
/// are allowed, so reads and writes share the limit `-512`). Returns the
/// lowest offset and one past the highest byte that may be accessed.
pub(super) fn stack_bounds(
    pc: usize,
    regno: u8,
    p: &Pointer,
    off: i64,
    size: usize,
    access: Access<'_>,
) -> Result<(i64, i64), Rejection> {
    let extra = if matches!(access, Access::Read) {
        " read from"
    } else {
        " write to"
    };
    let v = &p.var;
    let (min_off, max_end) = if v.var_off.is_const() {
        let m = v.var_off.value as i64 + off;
        (m, m + size as i64)
    } else {
        if v.smax >= MAX_VAR_OFF || v.smin <= -MAX_VAR_OFF {
            return Err(reject(
                pc,
                RejectClass::StackOutOfRange,
                format!("invalid unbounded variable-offset{extra} stack R{regno}"),
            ));
        }
        (v.smin + off, v.smax + off + size as i64)
    };
    if !(-STACK_SIZE..=-1).contains(&min_off) || max_end > 0 {
        let msg = if v.var_off.is_const() {
            format!("invalid{extra} stack R{regno} off={off} size={size}")
        } else {
            format!(
                "invalid variable-offset{extra} stack R{regno} var_off={} off={off} size={size}",
                tnum_str(v.var_off)
            )
        };
        return Err(reject(pc, RejectClass::StackOutOfRange, msg));
    }
    Ok((min_off, max_end))
}

/// `check_mem_region_access` for a map value of `mem_size` bytes.
fn check_region(
    pc: usize,
    regno: u8,
    v: &ScalarBounds,
    off: i64,
    size: usize,
    mem_size: i64,
    notes: &mut Vec<String>,
) -> Result<(), Rejection> {
    let class = RejectClass::InvalidMemoryAccess;
    if v.smin < 0
        && (v.smin == i64::MIN
            || (off + v.smin) != (off + v.smin) as i32 as i64
            || v.smin + off < 0)
    {
        return Err(reject(pc, class, format!("R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")));
    }
    let ok = |o: i64| o >= 0 && o + size as i64 <= mem_size;
    let lo = v.smin + off;
    if !ok(lo) {
        notes.push(format!(
            "invalid access to map value, value_size={mem_size} off={lo} size={size}"
        ));
        return Err(reject(
            pc,
            class,
            format!("R{regno} min value is outside of the allowed memory range"),
        ));
    }
    if v.umax >= MAX_VAR_OFF as u64 {
        return Err(reject(
            pc,
            class,
            format!("R{regno} unbounded memory access, make sure to bounds check any such access"),
        ));
    }
    let hi = v.umax as i64 + off;
    if !ok(hi) {
        notes.push(format!(
            "invalid access to map value, value_size={mem_size} off={hi} size={size}"
        ));
        return Err(reject(
            pc,
            class,
            format!("R{regno} max value is outside of the allowed memory range"),
        ));
    }
    Ok(())
}
