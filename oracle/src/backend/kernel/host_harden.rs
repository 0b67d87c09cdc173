//! `kernel-harden` on the host: the host's kernel with its JIT's constant
//! blinding on (`net.core.bpf_jit_harden=2`), behind an explicit opt-in.
//!
//! `bpf_jit_harden` is one setting for the whole machine and is read when a
//! program is loaded (JIT-compiled). So a hardened load sets it to 2, loads,
//! and puts the value it found back at once, all under a lock that every
//! load of this process takes while a `kernel-harden` backend exists: a
//! plain `kernel` load never sees the hardened setting, and the setting is
//! 2 only for the duration of one `BPF_PROG_LOAD`.
//!
//! Interrupted: SIGINT and SIGTERM put the original value back before the
//! process goes on with the signal (the default action, or the handler that
//! was there before, e.g. a campaign's clean stop). A SIGKILL during a
//! hardened load cannot be caught: the setting then stays 2, and the next
//! run says so (see [`enable`]).
//!
//! The opt-in is the environment variable [`OPT_IN_ENV`] = `1`: without it
//! the backend runs nothing and says why.

use std::cell::Cell;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The environment variable that allows bpfdiff to change the host's
/// `net.core.bpf_jit_harden` (for `kernel-harden`).
pub const OPT_IN_ENV: &str = "BPFDIFF_HOST_SYSCTL";

/// The sysctl's file.
const SYSCTL: &str = "/proc/sys/net/core/bpf_jit_harden";

/// The open sysctl and the value found there when the first
/// `kernel-harden` backend was made.
struct Sysctl {
    file: std::fs::File,
    original: Vec<u8>,
}

/// Opened once per process (or why it cannot be).
static SYSCTL_STATE: OnceLock<Result<Mutex<Sysctl>, String>> = OnceLock::new();
/// True once a `kernel-harden` backend exists: every load then takes the
/// sysctl's lock.
static IN_USE: AtomicBool = AtomicBool::new(false);
/// For the signal handler: the sysctl's file descriptor and original value
/// (at most 8 bytes: `0\n`, `1\n`, `2\n`).
static RAW_FD: AtomicI32 = AtomicI32::new(-1);
static ORIGINAL: [AtomicU8; 8] = [const { AtomicU8::new(0) }; 8];
static ORIGINAL_LEN: AtomicUsize = AtomicUsize::new(0);
/// The handlers SIGINT and SIGTERM had before (`sighandler_t` values).
static PREVIOUS_INT: AtomicUsize = AtomicUsize::new(0);
static PREVIOUS_TERM: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set while a `kernel-harden` backend works on this thread.
    static HARDENED: Cell<bool> = const { Cell::new(false) };
}

/// Makes hardened loads possible in this process: checks the opt-in,
/// opens the sysctl, remembers its value and installs the signal handlers.
/// The error says why `kernel-harden` cannot run.
pub fn enable() -> Result<(), String> {
    if std::env::var(OPT_IN_ENV).as_deref() != Ok("1") {
        return Err(format!(
            "kernel-harden changes net.core.bpf_jit_harden on this host (set to 2 for each load, then restored); set {OPT_IN_ENV}=1 to allow it"
        ));
    }
    let state = SYSCTL_STATE.get_or_init(|| {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(SYSCTL)
            .map_err(|e| format!("{SYSCTL}: {e}"))?;
        let mut original = Vec::new();
        file.read_to_end(&mut original)
            .map_err(|e| format!("{SYSCTL}: {e}"))?;
        if original.len() > ORIGINAL.len() || original.is_empty() {
            return Err(format!("{SYSCTL}: unexpected value {original:?}"));
        }
        if original.starts_with(b"2") {
            return Err(format!(
                "{SYSCTL} is already 2 (a bpfdiff killed during a hardened load leaves it so): set it to the value it should have, then run again"
            ));
        }
        for (slot, &b) in ORIGINAL.iter().zip(&original) {
            slot.store(b, Ordering::Relaxed);
        }
        ORIGINAL_LEN.store(original.len(), Ordering::Relaxed);
        RAW_FD.store(file.as_raw_fd(), Ordering::Relaxed);
        install_signal_handlers();
        Ok(Mutex::new(Sysctl { file, original }))
    });
    state.as_ref().map(|_| ()).map_err(Clone::clone)?;
    IN_USE.store(true, Ordering::SeqCst);
    Ok(())
}

/// Marks this thread's loads as hardened until the guard is dropped.
pub struct HardenedScope {
    was: bool,
}

impl HardenedScope {
    /// Hardened loads on this thread while the scope lives.
    pub fn enter() -> HardenedScope {
        HardenedScope {
            was: HARDENED.with(|h| h.replace(true)),
        }
    }
}

impl Drop for HardenedScope {
    fn drop(&mut self) {
        HARDENED.with(|h| h.set(self.was));
    }
}

/// Runs one `BPF_PROG_LOAD` (`load`): as it is when no `kernel-harden`
/// backend exists; else under the sysctl's lock, with the setting at 2 for
/// a hardened scope and at its original value otherwise.
pub fn around_load<T>(load: impl FnOnce() -> T) -> T {
    if !IN_USE.load(Ordering::SeqCst) {
        return load();
    }
    let Some(Ok(lock)) = SYSCTL_STATE.get() else {
        return load();
    };
    let mut sysctl = lock.lock().unwrap_or_else(|e| e.into_inner());
    if !HARDENED.with(Cell::get) {
        return load();
    }
    let original = sysctl.original.clone();
    let set = |s: &mut Sysctl, value: &[u8]| {
        // A failed write is a broken host; the load then runs as the
        // setting is, which the environment record shows.
        let _ = s.file.rewind().and_then(|_| s.file.write_all(value));
    };
    set(&mut sysctl, b"2\n");
    let out = load();
    set(&mut sysctl, &original);
    out
}

/// The signal handler: writes the original value back (a `pwrite`,
/// async-signal-safe), then lets the signal do what it did before.
extern "C" fn restore_then_forward(signal: libc::c_int) {
    let fd = RAW_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let mut buf = [0u8; 8];
        let len = ORIGINAL_LEN.load(Ordering::Relaxed).min(buf.len());
        for (b, slot) in buf.iter_mut().zip(&ORIGINAL) {
            *b = slot.load(Ordering::Relaxed);
        }
        // SAFETY: `buf` holds `len` valid bytes; pwrite is async-signal-safe.
        unsafe {
            libc::pwrite(fd, buf.as_ptr().cast(), len, 0);
        }
    }
    let previous = if signal == libc::SIGINT {
        PREVIOUS_INT.load(Ordering::Relaxed)
    } else {
        PREVIOUS_TERM.load(Ordering::Relaxed)
    };
    if previous == libc::SIG_IGN {
        return;
    }
    if previous == libc::SIG_DFL {
        // SAFETY: resetting the disposition and re-raising are
        // async-signal-safe; the default action ends the process.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
        return;
    }
    // SAFETY: `previous` is the handler function that was installed for
    // this signal before ours (neither SIG_DFL nor SIG_IGN).
    let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(previous) };
    handler(signal);
}

fn install_signal_handlers() {
    let ours = restore_then_forward as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only calls async-signal-safe functions (and a
    // handler installed before it, which was written for signal context).
    unsafe {
        PREVIOUS_INT.store(libc::signal(libc::SIGINT, ours), Ordering::Relaxed);
        PREVIOUS_TERM.store(libc::signal(libc::SIGTERM, ours), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_the_opt_in_nothing_is_changed_and_the_reason_names_it() {
        if std::env::var(OPT_IN_ENV).is_ok() {
            return;
        }
        let e = enable().unwrap_err();
        assert!(e.contains(OPT_IN_ENV), "{e}");
        assert!(
            SYSCTL_STATE.get().is_none(),
            "the sysctl was not even opened"
        );
        // Loads run as they are.
        assert_eq!(around_load(|| 7), 7);
    }
}
