//! `kernel-unpriv`: the host's kernel loading a program without
//! capabilities, as a socket filter, the way an unprivileged user would
//! (the verifier's unprivileged rules: pointer-leak refusal, ALU
//! sanitation and Spectre masking, a stricter stack), and running it with
//! `BPF_PROG_TEST_RUN` on a packet, behind the opt-in of [`host_sysctl`].
//!
//! The host has `kernel.unprivileged_bpf_disabled=2`: root may set it to 0
//! (1 is final until reboot). Each unprivileged run sets it to 0, forks a
//! child that drops to `nobody` (no groups, uid and gid 65534, so no
//! capabilities), lets the child load and run the program, and writes the
//! old value back when the child has exited, under a lock: the host allows
//! unprivileged BPF only for the length of one load and run. SIGINT and
//! SIGTERM restore it too ([`host_sysctl`]). The child makes only system
//! calls (it was forked from a threaded process): every buffer is prepared
//! before the fork, and the results come back through a shared mapping.

use super::host_sysctl::{self, HostSysctl};
use bpfdiff_engine::Insn;
use std::sync::{Mutex, OnceLock};

/// The sysctl.
const SYSCTL: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
/// `nobody`.
const NOBODY: libc::uid_t = 65534;
/// `BPF_PROG_LOAD` and `BPF_PROG_TEST_RUN`.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
/// `BPF_PROG_TYPE_SOCKET_FILTER`.
const SOCKET_FILTER: u32 = 1;
/// The verifier log's room.
const LOG_SIZE: usize = 1 << 20;
/// Room for the packet after the run.
const DATA_OUT_SIZE: usize = 1 << 16;

static STATE: OnceLock<Result<Mutex<HostSysctl>, String>> = OnceLock::new();

/// Makes unprivileged runs possible in this process: the opt-in, and a
/// sysctl that root may change. The error says why `kernel-unpriv` cannot
/// run.
pub fn enable() -> Result<(), String> {
    host_sysctl::opted_in(
        "kernel-unpriv",
        "kernel.unprivileged_bpf_disabled (set to 0 for each unprivileged load and run, then restored)",
    )?;
    STATE
        .get_or_init(|| {
            let sysctl = HostSysctl::open(SYSCTL)?;
            if sysctl.original().starts_with(b"1") {
                return Err(format!(
                    "{SYSCTL} is 1, which only a reboot undoes: no unprivileged BPF on this host"
                ));
            }
            eprintln!(
                "bpfdiff: kernel-unpriv sets {SYSCTL} to 0 for each unprivileged load and run and writes back {} after each, and on SIGINT/SIGTERM",
                String::from_utf8_lossy(sysctl.original()).trim()
            );
            Ok(Mutex::new(sysctl))
        })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

/// What an unprivileged load and run gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnprivOutcome {
    /// The verifier refused it: the errno and the level-1 log.
    Refused {
        /// The load's errno.
        errno: i32,
        /// The verifier log.
        log: String,
    },
    /// It ran: `retval` and the packet after the run (`data_out`).
    Ran {
        /// The 32-bit `retval`.
        retval: u32,
        /// The packet after the run.
        data_out: Vec<u8>,
    },
    /// It loaded, but `BPF_PROG_TEST_RUN` failed with this errno.
    RunFailed(i32),
}

/// `union bpf_attr` for `BPF_PROG_LOAD` (the fields used; the rest zero).
#[repr(C)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    rest: [u8; 96],
}

/// `union bpf_attr` for `BPF_PROG_TEST_RUN`.
#[repr(C)]
struct TestAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    rest: [u8; 64],
}

/// The results the child writes into the shared mapping.
#[repr(C)]
struct Report {
    /// 0 until the child got that far: 1 privileges dropped, 2 loaded or
    /// refused, 3 ran or failed to run.
    stage: u32,
    drop_errno: i32,
    load_errno: i32,
    run_errno: i32,
    retval: u32,
    data_size_out: u32,
}

/// A shared anonymous mapping, unmapped on drop.
struct Shared {
    ptr: *mut u8,
    len: usize,
}

impl Shared {
    fn new(len: usize) -> Result<Shared, String> {
        // SAFETY: an anonymous shared mapping with no address hint.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        Ok(Shared {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Loads `insns` unprivileged as a socket filter and, when the verifier
/// accepts it, runs it once on `packet`. `Err`: the backend cannot run
/// here (no opt-in, the sysctl, or the host refused a step).
pub fn load_and_run(insns: &[Insn], packet: &[u8]) -> Result<UnprivOutcome, String> {
    enable()?;
    let Some(Ok(lock)) = STATE.get() else {
        unreachable!("enable() succeeded");
    };
    let report_len = std::mem::size_of::<Report>();
    let log_at = 64;
    let in_at = log_at + LOG_SIZE;
    let out_at = in_at + packet.len();
    let shared = Shared::new(out_at + DATA_OUT_SIZE)?;
    let raw: Vec<u64> = insns
        .iter()
        .map(|i| u64::from_le_bytes(i.to_bytes()))
        .collect();
    let license = c"GPL";
    // SAFETY: `shared` is `out_at + DATA_OUT_SIZE` bytes, zeroed by mmap;
    // the regions below lie inside it and do not overlap.
    let (report, log, data_in, data_out) = unsafe {
        (
            shared.ptr.cast::<Report>(),
            shared.ptr.add(log_at),
            shared.ptr.add(in_at),
            shared.ptr.add(out_at),
        )
    };
    debug_assert!(report_len <= log_at);
    // SAFETY: `data_in` has room for the packet.
    unsafe { std::ptr::copy_nonoverlapping(packet.as_ptr(), data_in, packet.len()) };
    // Zeroed whole, padding included: the kernel refuses an attribute
    // with nonzero bytes past the fields it knows (E2BIG/EINVAL).
    // SAFETY: both are plain integers and byte arrays; all-zero is valid.
    let mut load: LoadAttr = unsafe { std::mem::zeroed() };
    load.prog_type = SOCKET_FILTER;
    load.insn_cnt = raw.len() as u32;
    load.insns = raw.as_ptr() as u64;
    load.license = license.as_ptr() as u64;
    // SAFETY: as above.
    let mut test: TestAttr = unsafe { std::mem::zeroed() };
    test.data_size_in = packet.len() as u32;
    test.data_size_out = DATA_OUT_SIZE as u32;
    test.data_in = data_in as u64;
    test.data_out = data_out as u64;
    test.repeat = 1;
    let mut sysctl = lock.lock().unwrap_or_else(|e| e.into_inner());
    sysctl.set(b"0\n");
    // SAFETY: fork; the child below makes only system calls on memory
    // prepared before the fork, then `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: async-signal-safe calls only; `report`, `log`, the
        // attributes and `raw` are valid in the child's copy / mapping.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(NOBODY, NOBODY, NOBODY) != 0
                || libc::setresuid(NOBODY, NOBODY, NOBODY) != 0
            {
                (*report).drop_errno = errno();
                libc::_exit(0);
            }
            (*report).stage = 1;
            let attr_len = std::mem::size_of::<LoadAttr>();
            let mut fd = libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_LOAD,
                &load as *const LoadAttr,
                attr_len,
            );
            if fd < 0 {
                (*report).load_errno = errno();
                // Again with a log for the reason.
                load.log_level = 1;
                load.log_size = LOG_SIZE as u32;
                load.log_buf = log as u64;
                fd = libc::syscall(
                    libc::SYS_bpf,
                    BPF_PROG_LOAD,
                    &load as *const LoadAttr,
                    attr_len,
                );
                if fd >= 0 {
                    libc::close(fd as libc::c_int);
                }
                (*report).stage = 2;
                libc::_exit(0);
            }
            (*report).stage = 2;
            test.prog_fd = fd as u32;
            let rc = libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_TEST_RUN,
                &mut test as *mut TestAttr,
                std::mem::size_of::<TestAttr>(),
            );
            if rc < 0 {
                (*report).run_errno = errno();
            } else {
                (*report).retval = test.retval;
                (*report).data_size_out = test.data_size_out;
            }
            (*report).stage = 3;
            libc::_exit(0);
        }
    }
    let waited = if pid > 0 {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        Ok(status)
    } else {
        Err(format!("fork: {}", std::io::Error::last_os_error()))
    };
    sysctl.restore();
    drop(sysctl);
    let status = waited?;
    // SAFETY: the child has exited; the mapping holds what it wrote.
    let r = unsafe { &*report };
    if !libc::WIFEXITED(status) {
        return Err(format!(
            "the unprivileged child ended abnormally (status {status:#x})"
        ));
    }
    if r.drop_errno != 0 {
        return Err(format!(
            "dropping privileges failed: {}",
            std::io::Error::from_raw_os_error(r.drop_errno)
        ));
    }
    let text = |p: *const u8, max: usize| {
        // SAFETY: `p` has `max` bytes inside the mapping.
        let bytes = unsafe { std::slice::from_raw_parts(p, max) };
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(max);
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    };
    Ok(match r.stage {
        2 if r.load_errno != 0 => UnprivOutcome::Refused {
            errno: r.load_errno,
            log: text(log, LOG_SIZE),
        },
        3 if r.run_errno != 0 => UnprivOutcome::RunFailed(r.run_errno),
        3 => {
            let n = (r.data_size_out as usize).min(DATA_OUT_SIZE);
            // SAFETY: `data_out` has `DATA_OUT_SIZE` bytes.
            let out = unsafe { std::slice::from_raw_parts(data_out, n) }.to_vec();
            UnprivOutcome::Ran {
                retval: r.retval,
                data_out: out,
            }
        }
        stage => return Err(format!("the unprivileged child stopped at stage {stage}")),
    })
}

/// The outcome of an unprivileged load and run of `insns` on `packet`,
/// named `backend`: a refusal with the kernel's reason and log, a run
/// (retval, the packet after), a failed test run, or not run with the
/// reason the backend cannot run here.
pub fn outcome(backend: &str, insns: &[Insn], packet: &[u8]) -> crate::Outcome {
    use crate::outcome::{Execution, Outcome, Value, Verdict};
    let execution = match load_and_run(insns, packet) {
        Err(why) => return Outcome::not_run(backend, why),
        Ok(UnprivOutcome::Refused { errno, log }) => {
            let reason = super::reason_from_log(&log);
            return Outcome::rejected_by_kernel(backend, errno, reason, Some(log));
        }
        Ok(UnprivOutcome::RunFailed(errno)) => Execution::Fault {
            kind: "other".to_string(),
            pc: None,
            detail: format!("BPF_PROG_TEST_RUN failed (errno {errno})"),
        },
        Ok(UnprivOutcome::Ran { retval, data_out }) => Execution::Returned {
            r0: Value {
                bits: u64::from(retval),
                derived: false,
            },
            mem: data_out,
            mem_derived: Vec::new(),
            regs: None,
        },
    };
    Outcome {
        backend: backend.to_string(),
        verdict: Verdict::Accepted,
        execution,
    }
}

/// `kernel-unpriv` as a backend of the input model: it runs nothing there
/// (the model's programs read their input through r1, which a socket
/// filter's r1 is not) and says so in every outcome; native socket-filter
/// cases go to [`load_and_run`] (bpfdiff's `native_diff`).
pub struct UnprivInputModel;

impl crate::backend::Backend for UnprivInputModel {
    fn name(&self) -> &'static str {
        "kernel-unpriv"
    }

    fn capabilities(&self) -> crate::backend::Capabilities {
        crate::backend::Capabilities {
            checking: crate::backend::Checking::Safety,
            full_r0: false,
            memory_after: true,
            zeroed_stack: false,
        }
    }

    fn run(&mut self, _program: &bpfdiff_engine::Program, _input: &[u8]) -> crate::Outcome {
        crate::Outcome::not_run(
            "kernel-unpriv",
            "kernel-unpriv runs native socket filters only (--prog-type socket_filter, the packet tiers)",
        )
    }
}
