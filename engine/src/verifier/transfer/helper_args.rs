//! `check_helper_call` for the helpers of the one helper table
//! (crate::helpers::HELPER_PROTOS): whether the program type may call
//! it, each argument against its `ARG_*` kind (`check_func_arg`,
//! `check_reg_type`, `check_helper_mem_access` for map keys and values),
//! and the return type (`RET_PTR_TO_MAP_VALUE_OR_NULL` gets a fresh id
//! that a null check resolves, `mark_ptr_or_null_regs`). Models Linux
//! 6.18 `kernel/bpf/verifier.c` for a privileged loader.

use super::mem::{self, Access};
use crate::helpers::{helper_proto, ArgType, RetType, HELPER_NAMES};
use crate::maps::{MapDef, MapType};
use crate::prog_type::ProgType;
use crate::verifier::stack::ByteType;
use crate::verifier::state::{Pointer, PtrKind, Reg, State};
use crate::verifier::verdict::{RejectClass, Rejection};

fn reject(pc: usize, class: RejectClass, msg: String) -> Rejection {
    Rejection::new(pc, class, msg)
}

/// `compatible_reg_types` names for a rejected argument, as
/// `check_reg_type` prints them after `expected=` (measured on Linux
/// 6.18: `map_key_value_types` ends with `trusted_ptr_`, the name of
/// `PTR_TO_BTF_ID | PTR_TRUSTED` without a BTF type).
fn expected_names(arg: ArgType) -> &'static str {
    match arg {
        ArgType::ConstMapPtr => "map_ptr",
        ArgType::PtrToMapKey | ArgType::PtrToMapValue | ArgType::PtrToUninitMem => {
            "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
        }
        ArgType::PtrToCtx => "ctx",
        _ => "scalar",
    }
}

/// What a helper call leaves behind: the stack depth it reached (frame,
/// bytes), if it read the stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallEffect {
    /// The deepest stack byte an argument reached, per frame.
    pub stack_depth: Option<(usize, u32)>,
}

/// `check_helper_mem_access` for `size` bytes at `reg` (argument
/// `regno`): a stack pointer with a constant offset inside the frame, or
/// a map value with room for them. Uninitialised stack is allowed to a
/// privileged loader (`allow_uninit_stack` in
/// `check_stack_range_initialized`).
fn check_mem(
    pc: usize,
    regno: usize,
    p: &Pointer,
    size: u32,
    effect: &mut CallEffect,
    write: Option<&mut State>,
) -> Result<(), Rejection> {
    let unsupported = || {
        reject(
            pc,
            RejectClass::Unsupported,
            format!("R{regno}: a helper memory argument with a variable offset is not modeled"),
        )
    };
    if let PtrKind::Stack { .. } = p.kind {
        // check_stack_access_within_bounds comes first, for every size (0
        // too) and for variable offsets as well: an access outside the
        // frame is refused with the kernel's message.
        let access = if write.is_some() {
            Access::WriteUnknown
        } else {
            Access::Read
        };
        mem::stack_bounds(pc, regno as u8, p, p.off as i64, size as usize, access)?;
    }
    let size = size as i64;
    if !p.var.var_off.is_const() {
        return Err(unsupported());
    }
    let off = p.off as i64 + p.var.var_off.value as i64;
    match p.kind {
        PtrKind::Stack { frame } => {
            if let Some(state) = write {
                // check_stack_range_initialized with clobber: the bytes
                // become STACK_MISC, spilled registers there are lost.
                state.frames[frame as usize]
                    .stack
                    .write_var(off, off + size, false);
            }
            let depth = (-off) as u32;
            effect.stack_depth = Some(match effect.stack_depth {
                Some((f, d)) if f == frame as usize => (f, d.max(depth)),
                _ => (frame as usize, depth),
            });
            Ok(())
        }
        PtrKind::Mem { size: value_size } => {
            if off < 0 || off + size > value_size as i64 {
                return Err(reject(
                    pc,
                    RejectClass::InvalidMemoryAccess,
                    format!(
                        "invalid access to map value, value_size={value_size} off={off} size={size}"
                    ),
                ));
            }
            Ok(())
        }
        _ => Err(reject(
            pc,
            RejectClass::Unsupported,
            format!(
                "R{regno}: a {} helper memory argument is not modeled",
                p.type_name()
            ),
        )),
    }
}

/// `get_constant_map_key` (Linux 6.14 and later): the key at the stack
/// pointer `p` when the verifier knows it: `key_size` `STACK_ZERO` bytes
/// from the key's first byte within its slot (key 0), or a spilled
/// scalar of exactly `key_size` bytes there whose value is constant (the
/// whole spilled register's value, as the kernel reads `spilled_ptr`).
/// `None` when not known (the kernel's `-EOPNOTSUPP`).
fn constant_map_key(state: &State, p: &Pointer, key_size: u32) -> Option<i64> {
    let PtrKind::Stack { frame } = p.kind else {
        return None;
    };
    if !p.var.var_off.is_const() {
        return None;
    }
    let stack_off = p.off as i64 + p.var.var_off.value as i64;
    if stack_off >= 0 {
        return None;
    }
    let k = (-stack_off - 1) as usize;
    let (spi, off) = (k / 8, k % 8);
    let slot = state.frames.get(frame as usize)?.stack.slot(spi)?;
    let run = |t: ByteType| (0..=off).rev().take_while(|&i| slot.types[i] == t).count();
    if run(ByteType::Zero) >= key_size as usize {
        return Some(0);
    }
    // is_spilled_scalar_reg, then a spill of exactly the key's size.
    let Reg::Scalar(s) = slot.spilled else {
        return None;
    };
    if !slot.is_spill() || run(ByteType::Spill) != key_size as usize {
        return None;
    }
    s.var_off.is_const().then_some(s.var_off.value as i64)
}

/// `can_elide_value_nullness`: the map types whose lookup with a constant
/// key below `max_entries` returns a value that cannot be NULL.
fn can_elide_value_nullness(t: MapType) -> bool {
    matches!(t, MapType::Array | MapType::PercpuArray)
}

/// `bpf_tail_call`'s id.
const HELPER_TAIL_CALL: i32 = 12;

/// `record_func_map` and `check_map_func_compatibility` (both after the
/// arguments are checked): `bpf_tail_call` takes only a prog_array, and
/// a prog_array goes only to `bpf_tail_call`. The messages are the
/// kernel's (`expected prog array map for tail call` has no newline in
/// the kernel, so the log runs on into the next line).
fn map_func_compatibility(pc: usize, def: &MapDef, id: i32, name: &str) -> Result<(), Rejection> {
    let prog_array = def.map_type == MapType::ProgArray;
    if id == HELPER_TAIL_CALL && !prog_array {
        return Err(reject(
            pc,
            RejectClass::MapFuncMismatch,
            "expected prog array map for tail call".to_string(),
        ));
    }
    if prog_array && id != HELPER_TAIL_CALL {
        return Err(reject(
            pc,
            RejectClass::MapFuncMismatch,
            format!(
                "cannot pass map_type {} into func {name}#{id}",
                def.map_type.kernel_id()
            ),
        ));
    }
    Ok(())
}

/// `check_helper_call` for helper `id` at `pc` in a program of
/// `prog_type` with `maps`; `id_gen` is `env->id_gen`.
pub fn helper_call(
    state: &mut State,
    pc: usize,
    id: i32,
    prog_type: ProgType,
    maps: &[MapDef],
    id_gen: &mut u32,
) -> Result<CallEffect, Rejection> {
    if id < 0 || id as usize >= HELPER_NAMES.len() {
        return Err(reject(
            pc,
            RejectClass::UnknownHelper,
            format!("invalid func unknown#{id}"),
        ));
    }
    let name = HELPER_NAMES[id as usize];
    let Some(proto) = helper_proto(id).filter(|p| p.runs) else {
        return Err(reject(
            pc,
            RejectClass::Unsupported,
            format!("helper {name}#{id} is not modeled by the engine's verifier"),
        ));
    };
    if !proto.allowed.admits(prog_type) {
        return Err(reject(
            pc,
            RejectClass::UnknownHelper,
            format!("program of this type cannot use helper {name}#{id}"),
        ));
    }
    if proto.id == HELPER_TAIL_CALL && !prog_type.has_packet() {
        // The engine runs tail calls only for the packet types (the
        // input model's JIT has none; `syscall` runs as the input model).
        return Err(reject(
            pc,
            RejectClass::Unsupported,
            format!("helper {name}#{id} is modeled for socket_filter, sched_cls and xdp only"),
        ));
    }
    let mut effect = CallEffect::default();
    let mut map: Option<&MapDef> = None;
    let mut const_map_key: Option<i64> = None;
    let regs = state.cur().regs;
    for (i, &arg) in proto.args.iter().enumerate() {
        let regno = i + 1;
        let reg = regs[regno];
        if reg == Reg::NotInit {
            return Err(reject(
                pc,
                RejectClass::RegisterNotReadable,
                format!("R{regno} !read_ok"),
            ));
        }
        let mismatch = || {
            reject(
                pc,
                RejectClass::InvalidHelperArgument,
                format!(
                    "R{regno} type={} expected={}",
                    reg.type_name(),
                    expected_names(arg)
                ),
            )
        };
        match arg {
            ArgType::Anything => {}
            ArgType::ConstMapPtr => match reg {
                Reg::Ptr(Pointer {
                    kind: PtrKind::MapPtr { map: m },
                    ..
                }) => map = maps.get(m as usize),
                _ => return Err(mismatch()),
            },
            ArgType::PtrToMapKey | ArgType::PtrToMapValue => {
                let Reg::Ptr(p) = reg else {
                    return Err(mismatch());
                };
                let def = map.expect("a map argument precedes its key and value");
                let size = if arg == ArgType::PtrToMapKey {
                    def.key_size
                } else {
                    def.value_size
                };
                check_mem(pc, regno, &p, size, &mut effect, None)?;
                if arg == ArgType::PtrToMapKey && can_elide_value_nullness(def.map_type) {
                    const_map_key = constant_map_key(state, &p, size);
                }
            }
            ArgType::PtrToCtx => match reg {
                Reg::Ptr(p) if matches!(p.kind, PtrKind::Ctx(_)) => {
                    // check_ptr_off_reg: a helper takes the ctx unmodified.
                    if p.off != 0 || !p.var.var_off.is_const() || p.var.var_off.value != 0 {
                        return Err(reject(
                            pc,
                            RejectClass::InvalidHelperArgument,
                            format!(
                                "dereference of modified ctx ptr R{regno} off={} disallowed",
                                p.off
                            ),
                        ));
                    }
                }
                _ => return Err(mismatch()),
            },
            ArgType::PtrToUninitMem => {
                if !matches!(reg, Reg::Ptr(p) if matches!(p.kind, PtrKind::Stack { .. } | PtrKind::Mem { .. } | PtrKind::Packet { .. }))
                {
                    return Err(mismatch());
                }
            }
            ArgType::ConstSize | ArgType::ConstSizeOrZero => {
                let Reg::Scalar(s) = reg else {
                    return Err(reject(
                        pc,
                        RejectClass::InvalidHelperArgument,
                        format!("R{regno} type={} expected=scalar", reg.type_name()),
                    ));
                };
                // check_mem_size_reg.
                if s.smin < 0 {
                    return Err(reject(
                        pc,
                        RejectClass::InvalidHelperArgument,
                        format!(
                            "R{regno} min value is negative, either use unsigned or 'var &= const'"
                        ),
                    ));
                }
                if s.umin == 0 && arg == ArgType::ConstSize {
                    return Err(reject(
                        pc,
                        RejectClass::InvalidHelperArgument,
                        format!(
                            "R{regno} invalid zero-sized read: u64=[{},{}]",
                            s.umin, s.umax
                        ),
                    ));
                }
                if s.umax >= 1 << 29 {
                    return Err(reject(
                        pc,
                        RejectClass::InvalidHelperArgument,
                        format!("R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'"),
                    ));
                }
                let Reg::Ptr(p) = regs[regno - 1] else {
                    unreachable!("a size follows a memory argument")
                };
                // check_mem_size_reg checks the memory for a size of 0
                // as well (check_helper_mem_access with umax).
                check_mem(pc, regno - 1, &p, s.umax as u32, &mut effect, Some(state))?;
            }
        }
    }
    if let Some(def) = map {
        map_func_compatibility(pc, def, proto.id, name)?;
    }
    let ret = match proto.ret {
        RetType::Integer => Reg::unknown(),
        RetType::Void => Reg::NotInit,
        RetType::PtrToMapValueOrNull => {
            let def = map.expect("a lookup has a map argument");
            // check_helper_call: a lookup in an array with a constant key
            // below max_entries cannot return NULL (Linux 6.14+, "bpf:
            // verifier: Support eliding map lookup nullness").
            if proto.name == "bpf_map_lookup_elem"
                && const_map_key.is_some_and(|k| k >= 0 && k < i64::from(def.max_entries))
            {
                Reg::Ptr(Pointer::fixed(
                    PtrKind::Mem {
                        size: def.value_size,
                    },
                    0,
                ))
            } else {
                *id_gen += 1;
                Reg::Ptr(Pointer::fixed(
                    PtrKind::MapValueOrNull {
                        size: def.value_size,
                        id: *id_gen,
                    },
                    0,
                ))
            }
        }
    };
    let regs = &mut state.cur_mut().regs;
    for r in regs.iter_mut().take(6).skip(1) {
        *r = Reg::NotInit;
    }
    regs[0] = ret;
    if proto.changes_pkt_data {
        clear_all_pkt_pointers(state);
    }
    Ok(effect)
}

/// `clear_all_pkt_pointers`: after a helper that may move the packet's
/// data, every packet, packet-meta and packet-end pointer (all frames,
/// registers and spills) is invalid. For a privileged load
/// (`allow_ptr_leaks`, as every load of this verifier) `mark_reg_invalid`
/// makes it an unknown scalar, so a later access through it is refused as
/// an access through a scalar.
pub fn clear_all_pkt_pointers(state: &mut State) {
    let fix = |r: &mut Reg| {
        if matches!(r, Reg::Ptr(p) if matches!(p.kind, PtrKind::Packet { .. } | PtrKind::PacketEnd))
        {
            *r = Reg::unknown();
        }
    };
    for f in &mut state.frames {
        f.regs.iter_mut().for_each(fix);
        for s in &mut f.stack.slots {
            fix(&mut s.spilled);
        }
    }
}

/// `mark_ptr_or_null_regs`: every register (all frames) and spilled
/// register holding the maybe-null pointer `id` becomes a map value
/// (`is_null` false) or the scalar 0.
pub fn mark_ptr_or_null(state: &mut State, id: u32, is_null: bool) {
    let fix = |r: &mut Reg| {
        if let Reg::Ptr(p) = r {
            if let PtrKind::MapValueOrNull { size, id: i } = p.kind {
                if i == id {
                    *r = if is_null {
                        Reg::constant(0)
                    } else {
                        Reg::Ptr(Pointer {
                            kind: PtrKind::Mem { size },
                            ..*p
                        })
                    };
                }
            }
        }
    };
    for f in &mut state.frames {
        f.regs.iter_mut().for_each(fix);
        for s in &mut f.stack.slots {
            fix(&mut s.spilled);
        }
    }
}
