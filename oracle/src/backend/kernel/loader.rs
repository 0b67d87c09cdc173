//! Raw program loading and test runs through libbpf-sys.

use bpfdiff_engine::Insn;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `BPF_F_SLEEPABLE`: required for `BPF_PROG_TYPE_SYSCALL`.
const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// The verifier log buffer for a failing load (level 1).
const LOG_SIZE: usize = 1 << 20;
/// The log buffer of [`load_with_log`]: level-2 logs of a few thousand
/// instructions run to megabytes.
const FULL_LOG_SIZE: usize = 16 << 20;

/// A refused load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The errno (positive).
    pub errno: i32,
    /// The verifier log, when it was asked for.
    pub log: Option<String>,
}

fn to_bpf_insns(insns: &[Insn]) -> Vec<libbpf_sys::bpf_insn> {
    insns
        .iter()
        .map(|i| {
            let mut b = libbpf_sys::bpf_insn {
                code: i.opcode,
                off: i.off,
                imm: i.imm,
                ..Default::default()
            };
            b.set_dst_reg(i.dst);
            b.set_src_reg(i.src);
            b
        })
        .collect()
}

/// Loads `insns` as a sleepable `BPF_PROG_TYPE_SYSCALL` program. With
/// `log_level` > 0 the verifier log is returned on failure.
pub fn load(insns: &[Insn], log_level: u32) -> Result<OwnedFd, LoadError> {
    load_as(
        libbpf_sys::BPF_PROG_TYPE_SYSCALL,
        BPF_F_SLEEPABLE,
        insns,
        log_level,
    )
}

/// Loads `insns` like [`load`] with a verifier log of `log_level` (1 or
/// 2) and returns the log whether or not the load succeeds (a successful
/// level-2 load keeps its whole log). On failure the errno is returned.
pub fn load_with_log(insns: &[Insn], log_level: u32) -> (Result<OwnedFd, i32>, String) {
    let mut log = vec![0u8; FULL_LOG_SIZE];
    let result = load_into(
        libbpf_sys::BPF_PROG_TYPE_SYSCALL,
        BPF_F_SLEEPABLE,
        insns,
        log_level.max(1),
        &mut log,
    );
    let text = CStr::from_bytes_until_nul(&log)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    (result, text)
}

/// Loads `insns` as a program of `prog_type` with `prog_flags`.
pub fn load_as(
    prog_type: libbpf_sys::bpf_prog_type,
    prog_flags: u32,
    insns: &[Insn],
    log_level: u32,
) -> Result<OwnedFd, LoadError> {
    let mut log = if log_level > 0 {
        vec![0u8; LOG_SIZE]
    } else {
        Vec::new()
    };
    match load_into(prog_type, prog_flags, insns, log_level, &mut log) {
        Ok(fd) => Ok(fd),
        Err(errno) => Err(LoadError {
            errno,
            log: (!log.is_empty()).then(|| {
                CStr::from_bytes_until_nul(&log)
                    .map(|c| c.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
        }),
    }
}

/// `BPF_PROG_LOAD` of `insns` with the log (if any) written into `log`;
/// the errno on failure.
fn load_into(
    prog_type: libbpf_sys::bpf_prog_type,
    prog_flags: u32,
    insns: &[Insn],
    log_level: u32,
    log: &mut [u8],
) -> Result<OwnedFd, i32> {
    let raw = to_bpf_insns(insns);
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        prog_flags,
        log_level,
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            std::ptr::null_mut()
        } else {
            log.as_mut_ptr().cast()
        },
        ..Default::default()
    };
    let name = c"bpfdiff";
    let license = c"GPL";
    // SAFETY: every pointer is valid for the call: `raw` holds `raw.len()`
    // instructions, the log buffer `log_size` bytes, names are C strings.
    let fd = super::host_harden::around_load(|| unsafe {
        libbpf_sys::bpf_prog_load(
            prog_type,
            name.as_ptr(),
            license.as_ptr(),
            raw.as_ptr(),
            raw.len() as _,
            &mut opts,
        )
    });
    if fd < 0 {
        return Err(-fd);
    }
    // SAFETY: a non-negative return is a new file descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Runs a loaded program once with `ctx` as its context; the SYSCALL
/// program type writes ctx back into the same buffer. Returns the 32-bit
/// retval, or the errno.
pub fn test_run(prog: &OwnedFd, ctx: &mut [u8]) -> Result<u32, i32> {
    let mut opts = libbpf_sys::bpf_test_run_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _,
        ctx_in: ctx.as_ptr().cast(),
        ctx_size_in: ctx.len() as u32,
        ..Default::default()
    };
    // SAFETY: ctx is valid for reads and writes of ctx.len() bytes for the call.
    let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    if rc < 0 {
        return Err(-rc);
    }
    Ok(opts.retval)
}

/// Runs a loaded packet program (`BPF_PROG_TYPE_XDP`, …) `repeat` times
/// on `data`; returns the retval and the kernel's mean duration per run in
/// nanoseconds (measured in the kernel around the program only).
pub fn test_run_repeat(prog: &OwnedFd, data: &[u8], repeat: i32) -> Result<(u32, u32), i32> {
    let mut opts = libbpf_sys::bpf_test_run_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _,
        data_in: data.as_ptr().cast(),
        data_size_in: data.len() as u32,
        repeat,
        ..Default::default()
    };
    // SAFETY: data is valid for reads of data.len() bytes; no output buffer.
    let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    if rc < 0 {
        return Err(-rc);
    }
    Ok((opts.retval, opts.duration))
}

/// The last meaningful line of a verifier log: the reason for a refusal.
/// A message the kernel prints without its newline (`expected prog array
/// map for tail call`) runs into the `processed N insns` summary; the
/// summary is cut off.
pub fn reason_from_log(log: &str) -> String {
    let line = last_meaningful_line(log);
    match line.find("processed ") {
        Some(i) if i > 0 && line[i..].contains(" insns (limit ") => line[..i].to_string(),
        _ => line,
    }
}

fn last_meaningful_line(log: &str) -> String {
    log.lines()
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
                && !l.starts_with("max_states_per_insn")
                // `infinite loop detected at insn N` is followed by the
                // two states it compared.
                && !l.starts_with("cur state:")
                && !l.starts_with("old state:")
        })
        .unwrap_or("")
        .to_string()
}

/// The name of an errno as the verifier uses it.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EINVAL => "EINVAL",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::E2BIG => "E2BIG",
        libc::ENOSPC => "ENOSPC",
        libc::EFAULT => "EFAULT",
        524 => "ENOTSUPP",
        _ => "errno",
    }
}

#[cfg(test)]
mod tests {
    use super::reason_from_log;

    #[test]
    fn the_reason_of_an_infinite_loop_is_not_the_state_dump_after_it() {
        // Linux 6.18 prints the two states it compared after the message
        // (measured: `if r7 s> r7 goto pc-1`, r7 = skb->len & 3).
        let log = "2: (6d) if r7 s> r7 goto pc-1 ; R7=scalar(umin=1,umax=2)\n\
                   infinite loop detected at insn 2\n\
                   cur state: R1=ctx() R7=scalar(umin=1,umax=2) R10=fp0\n\
                   old state: R1=ctx() R7=scalar(umin=1,umax=2) R10=fp0\n\
                   processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1\n";
        assert_eq!(reason_from_log(log), "infinite loop detected at insn 2");
        assert_eq!(
            reason_from_log("0: (bf) r0 = r5\nR5 !read_ok\nprocessed 1 insns\n"),
            "R5 !read_ok"
        );
    }

    #[test]
    fn a_message_without_its_newline_loses_the_summary_glued_to_it() {
        // kernel/bpf/verifier.c record_func_map prints this message with no
        // `\n` (measured on 6.18: the summary follows on the same line).
        let log = "0: R1=ctx() R10=fp0\n0: (18) r2 = 0xffff\n2: (b7) r3 = 0\n3: (85) call bpf_tail_call#12\n\
                   expected prog array map for tail callprocessed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        assert_eq!(
            reason_from_log(log),
            "expected prog array map for tail call"
        );
    }
}
