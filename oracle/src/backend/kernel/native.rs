//! Native program types (docs/program-types.md): the program is loaded as
//! itself (no wrapper) with its own `BPF_PROG_TYPE_*` and run once with
//! `BPF_PROG_TEST_RUN` on a packet (`data_in`/`data_out`) and, where the
//! type takes one, a ctx (`ctx_in`/`ctx_out`).

use super::loader::{self, LoadError};
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::Insn;
use std::os::fd::{AsRawFd, OwnedFd};

/// `BPF_F_SLEEPABLE`: the loader's flag for `BPF_PROG_TYPE_SYSCALL`.
const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// Room for the packet the kernel hands back (it may grow by the
/// headroom a program pushes; 64 KiB covers every test packet).
const DATA_OUT_SIZE: usize = 1 << 16;

/// What one native test run observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeRun {
    /// The 32-bit `retval`.
    pub retval: u32,
    /// The packet after the run (`data_out`), when the type has one.
    pub data_out: Option<Vec<u8>>,
    /// The ctx after the run (`ctx_out`), when one was passed in.
    pub ctx_out: Option<Vec<u8>>,
}

/// Loads `insns` as a program of `prog_type` (never `Input`: that model
/// is the wrapper's). `log_level` > 0 returns the log on failure.
pub fn load(prog_type: ProgType, insns: &[Insn], log_level: u32) -> Result<OwnedFd, LoadError> {
    let (ty, flags) = match prog_type.kernel_id() {
        Some(id) if prog_type == ProgType::Syscall => (id, BPF_F_SLEEPABLE),
        Some(id) => (id, 0),
        None => (libbpf_sys::BPF_PROG_TYPE_SYSCALL, BPF_F_SLEEPABLE),
    };
    loader::load_as(ty, flags, insns, log_level)
}

/// Runs a program loaded by [`load`] once. Packet types get `packet` as
/// `data_in` (and `ctx`, when not empty, as `ctx_in`); `syscall` gets
/// `ctx` as its ctx and no packet. Returns the errno when the kernel
/// refuses the run.
pub fn test_run(
    prog: &OwnedFd,
    prog_type: ProgType,
    packet: &[u8],
    ctx: &[u8],
) -> Result<NativeRun, i32> {
    let has_packet = prog_type.has_packet();
    let mut data_out = vec![0u8; if has_packet { DATA_OUT_SIZE } else { 0 }];
    let mut ctx_out = ctx.to_vec();
    let mut opts = libbpf_sys::bpf_test_run_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _,
        repeat: 1,
        ..Default::default()
    };
    if prog_type == ProgType::Syscall {
        // The syscall type writes ctx back in place: hand it the copy
        // (none when empty: a non-null ctx_in of size 0 is -EINVAL).
        if !ctx_out.is_empty() {
            opts.ctx_in = ctx_out.as_ptr().cast();
            opts.ctx_size_in = ctx_out.len() as u32;
        }
        opts.repeat = 0;
    } else {
        if has_packet {
            opts.data_in = packet.as_ptr().cast();
            opts.data_size_in = packet.len() as u32;
            opts.data_out = data_out.as_mut_ptr().cast();
            opts.data_size_out = data_out.len() as u32;
        }
        if !ctx.is_empty() {
            opts.ctx_in = ctx.as_ptr().cast();
            opts.ctx_size_in = ctx.len() as u32;
            opts.ctx_out = ctx_out.as_mut_ptr().cast();
            opts.ctx_size_out = ctx_out.len() as u32;
        }
    }
    // SAFETY: every buffer handed to the kernel lives for the call and is
    // as large as the size given with it.
    let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    if rc < 0 {
        return Err(-rc);
    }
    let data_out = has_packet.then(|| {
        data_out.truncate(opts.data_size_out as usize);
        data_out
    });
    let ctx_out = (!ctx.is_empty()).then_some(ctx_out);
    Ok(NativeRun {
        retval: opts.retval,
        data_out,
        ctx_out,
    })
}
