//! The verifier's entry point: the structural pass, the exploration, then
//! the combined stack check, in the kernel's order, for a program run the
//! way the kernel backend runs it (a static subprogram of a
//! `BPF_PROG_TYPE_SYSCALL` wrapper, input memory as a map value; see
//! docs/oracles.md and `oracle/src/backend/kernel/wrapper.rs`).

use super::explore::{self, Explored, Explorer, Stats};
use super::structural::{self, LdImm64Kind, LdImm64Ref};
use super::verdict::{RejectClass, Rejection, Verdict};
use crate::maps::MapDef;
use crate::prog_type::ProgType;
use crate::program::Program;
use std::fmt::Write;

/// What to verify against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Verify as a loader with `CAP_BPF` (the only mode modeled; `false`
    /// gives an `unsupported` verdict).
    pub privileged: bool,
    /// The input length (`r2`; r1 points to that many bytes). `None`: no
    /// input (r1 = 0, r2 = 0).
    pub input_len: Option<usize>,
    /// 0: no log, 1: the failing path, 2: every instruction with state.
    pub log_level: u32,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            privileged: true,
            input_len: None,
            log_level: 0,
        }
    }
}

/// The verifier's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyResult {
    /// Accepted or rejected.
    pub verdict: Verdict,
    /// The log at the requested level (empty at level 0).
    pub log: String,
    /// Exploration counters.
    pub stats: Stats,
}

/// How the kernel resolves the program's `ld_imm64` references when the
/// harness gives it an input of `len` bytes: map values are the input map
/// (none without input); map fds and BTF are not modeled.
fn resolve(len: usize, r: &LdImm64Ref) -> Result<(), Rejection> {
    match r.kind {
        LdImm64Kind::MapValue if len == 0 => Err(Rejection::new(
            r.pc,
            RejectClass::InvalidMapFd,
            format!("fd {} is not pointing to valid bpf_map", r.imm),
        )),
        LdImm64Kind::MapValue if r.next_imm as u32 >= 1 << 29 => Err(Rejection::new(
            r.pc,
            RejectClass::InvalidMemoryAccess,
            format!(
                "direct value offset of {} is not allowed",
                r.next_imm as u32
            ),
        )),
        LdImm64Kind::MapValue if r.next_imm as u32 as usize >= len => Err(Rejection::new(
            r.pc,
            RejectClass::InvalidMemoryAccess,
            format!(
                "invalid access to map value pointer, value_size={len} off={}",
                r.next_imm as u32
            ),
        )),
        LdImm64Kind::MapValue => Ok(()),
        LdImm64Kind::MapFd => Err(Rejection::new(
            r.pc,
            RejectClass::Unsupported,
            "ld_imm64 src=1 (map by fd): the engine models no maps besides the input memory",
        )),
        LdImm64Kind::Func => Err(Rejection::new(
            r.pc,
            RejectClass::Unsupported,
            "ld_imm64 src=4 (function pointer): callbacks are not modeled by the engine's verifier",
        )),
        _ => structural::default_ld_imm64(r),
    }
}

/// Verifies `program` as the kernel backend loads it (the `input` model).
pub fn verify(program: &Program, opts: &VerifyOptions) -> VerifyResult {
    verify_as(program, opts, ProgType::Input)
}

/// Verifies `program` as a program of `prog_type`: `Input` is the
/// wrapper model ([`verify`]); every other type is loaded as itself, with
/// r1 = its ctx (docs/program-types.md) and no input map (`opts.input_len`
/// is ignored).
pub fn verify_as(program: &Program, opts: &VerifyOptions, prog_type: ProgType) -> VerifyResult {
    verify_inner(program, opts, prog_type, &[], None).0
}

/// [`verify_as`] for a program with `maps` (docs/program-types.md,
/// "Maps"): `ld_imm64` src 1 imm i is a pointer to map i, src 2 imm i the
/// value of array map i's element 0 plus the next imm. Without maps this
/// is [`verify_as`].
pub fn verify_with_maps(
    program: &Program,
    opts: &VerifyOptions,
    prog_type: ProgType,
    maps: &[MapDef],
) -> VerifyResult {
    verify_inner(program, opts, prog_type, maps, None).0
}

/// How the kernel resolves `ld_imm64` map references to `maps`
/// (`check_ld_imm` / `resolve_pseudo_ldimm64`).
fn resolve_maps(maps: &[MapDef], r: &LdImm64Ref) -> Result<(), Rejection> {
    let bad_fd = || {
        Rejection::new(
            r.pc,
            RejectClass::InvalidMapFd,
            format!("fd {} is not pointing to valid bpf_map", r.imm),
        )
    };
    match r.kind {
        LdImm64Kind::MapFd => maps
            .get(r.imm as u32 as usize)
            .map(|_| ())
            .ok_or_else(bad_fd),
        LdImm64Kind::MapValue => {
            let m = maps.get(r.imm as u32 as usize).ok_or_else(bad_fd)?;
            let off = r.next_imm as u32;
            if !m.map_type.is_array() {
                return Err(Rejection::new(
                    r.pc,
                    RejectClass::InvalidMemoryAccess,
                    "no direct value access support for this map type",
                ));
            }
            // array_map_direct_value_addr: one element only, off inside it.
            if off >= m.value_size || m.max_entries != 1 {
                return Err(Rejection::new(
                    r.pc,
                    RejectClass::InvalidMemoryAccess,
                    format!(
                        "invalid access to map value pointer, value_size={} off={off}",
                        m.value_size
                    ),
                ));
            }
            Ok(())
        }
        _ => resolve(0, r),
    }
}

/// [`verify`], recording the abstract states the exploration reached at
/// each instruction (at most `limit` states; see [`Explored`]). The states
/// are `None` when the structural pass refused the program (nothing was
/// explored).
pub fn verify_recording(
    program: &Program,
    opts: &VerifyOptions,
    limit: usize,
) -> (VerifyResult, Option<Explored>) {
    verify_inner(program, opts, ProgType::Input, &[], Some(limit))
}

fn verify_inner(
    program: &Program,
    opts: &VerifyOptions,
    prog_type: ProgType,
    maps: &[MapDef],
    record: Option<usize>,
) -> (VerifyResult, Option<Explored>) {
    let mut log = String::new();
    if !opts.privileged {
        let r = Rejection::new(
            0,
            RejectClass::Unsupported,
            "unprivileged verification is not modeled (the engine's verifier models CAP_BPF)",
        );
        let result = VerifyResult {
            verdict: r.into(),
            log,
            stats: Stats::default(),
        };
        return (result, None);
    }
    let native = prog_type != ProgType::Input;
    let len = if native {
        0
    } else {
        opts.input_len.unwrap_or(0)
    };
    let info = match structural::check_as(program, true, !native, &mut |r| {
        if maps.is_empty() {
            resolve(len, r)
        } else {
            resolve_maps(maps, r)
        }
    }) {
        Ok(i) => i,
        Err(e) => {
            if opts.log_level > 0 {
                let _ = writeln!(log, "{}", e.message);
            }
            let result = VerifyResult {
                verdict: e.into(),
                log,
                stats: Stats::default(),
            };
            return (result, None);
        }
    };
    let mut ex = Explorer::new(&program.insns, &info, len, opts.log_level);
    ex.set_prog_type(prog_type);
    ex.set_maps(maps);
    if let Some(limit) = record {
        ex.record_states(limit);
    }
    let mut result = ex.run();
    if result.is_ok() {
        // The wrapper model's program is the harness wrapper's callee.
        let below = if prog_type == ProgType::Input {
            crate::verifier::transfer::call::HARNESS_FRAMES
        } else {
            0
        };
        result = explore::check_stack(&program.insns, &info, &ex.stack_depths, below);
        if let Err(e) = &result {
            if opts.log_level > 0 {
                let _ = writeln!(ex.log, "{}", e.message);
            }
        }
    }
    let stats = ex.stats;
    if opts.log_level > 0 {
        let _ = writeln!(
            ex.log,
            "processed {} insns (limit 1000000) max_states_per_insn {} total_states {} peak_states {} mark_read 0",
            stats.processed, stats.max_states_per_insn, stats.total_states, stats.total_states
        );
    }
    let explored = ex.take_explored();
    let result = VerifyResult {
        verdict: result.into(),
        log: ex.log,
        stats,
    };
    (result, explored)
}
