//! Host sysctls that `kernel-harden` and `kernel-unpriv` change for the
//! length of one load (or run), behind the opt-in [`OPT_IN_ENV`], and
//! what puts them back when the process is interrupted: SIGINT and SIGTERM
//! write every opened sysctl's original value back (`pwrite`,
//! async-signal-safe), then the signal does what it did before (the
//! default action, or the handler installed before, e.g. a campaign's
//! clean stop).

use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::Once;

/// The environment variable that allows bpfdiff to change the host's
/// sysctls (`kernel-harden`, `kernel-unpriv`).
pub const OPT_IN_ENV: &str = "BPFDIFF_HOST_SYSCTL";

/// How many sysctls the signal handler can restore.
const SLOTS: usize = 4;
/// The longest original value kept (`0\n`, `2\n`, ...).
const VALUE_MAX: usize = 8;

static FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
static VALUES: [[AtomicU8; VALUE_MAX]; SLOTS] =
    [const { [const { AtomicU8::new(0) }; VALUE_MAX] }; SLOTS];
static LENS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static USED: AtomicUsize = AtomicUsize::new(0);
/// The handlers SIGINT and SIGTERM had before (`sighandler_t` values).
static PREVIOUS_INT: AtomicUsize = AtomicUsize::new(0);
static PREVIOUS_TERM: AtomicUsize = AtomicUsize::new(0);
static HANDLERS: Once = Once::new();

/// `Ok` when the opt-in is set; else why `backend` (which changes `what`)
/// does not run.
pub fn opted_in(backend: &str, what: &str) -> Result<(), String> {
    if std::env::var(OPT_IN_ENV).as_deref() == Ok("1") {
        Ok(())
    } else {
        Err(format!(
            "{backend} changes {what} on this host; set {OPT_IN_ENV}=1 to allow it"
        ))
    }
}

/// A host sysctl opened for writing, with the value it had when opened.
pub struct HostSysctl {
    file: std::fs::File,
    original: Vec<u8>,
}

impl HostSysctl {
    /// Opens the sysctl at `path`, reads its value, and registers both for
    /// the signal handlers (installed on first use).
    pub fn open(path: &str) -> Result<HostSysctl, String> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("{path}: {e}"))?;
        let mut original = Vec::new();
        file.read_to_end(&mut original)
            .map_err(|e| format!("{path}: {e}"))?;
        if original.is_empty() || original.len() > VALUE_MAX {
            return Err(format!("{path}: unexpected value {original:?}"));
        }
        let slot = USED.fetch_add(1, Ordering::SeqCst);
        if slot >= SLOTS {
            return Err(format!(
                "{path}: more host sysctls than the signal handler keeps"
            ));
        }
        for (cell, &b) in VALUES[slot].iter().zip(&original) {
            cell.store(b, Ordering::SeqCst);
        }
        LENS[slot].store(original.len(), Ordering::SeqCst);
        FDS[slot].store(file.as_raw_fd(), Ordering::SeqCst);
        HANDLERS.call_once(install_signal_handlers);
        Ok(HostSysctl { file, original })
    }

    /// The value found when it was opened (`0\n`, `2\n`, ...).
    pub fn original(&self) -> &[u8] {
        &self.original
    }

    /// Writes `value` (from the start of the file). A failed write is a
    /// broken host; what runs then runs as the setting is.
    pub fn set(&mut self, value: &[u8]) {
        write_value(&mut self.file, value);
    }

    /// Writes the original value back.
    pub fn restore(&mut self) {
        write_value(&mut self.file, &self.original);
    }
}

fn write_value(file: &mut std::fs::File, value: &[u8]) {
    let _ = file.rewind().and_then(|_| file.write_all(value));
}

/// The signal handler: writes every original value back, then lets the
/// signal do what it did before.
extern "C" fn restore_then_forward(signal: libc::c_int) {
    for slot in 0..USED.load(Ordering::SeqCst).min(SLOTS) {
        let fd = FDS[slot].load(Ordering::SeqCst);
        if fd < 0 {
            continue;
        }
        let mut buf = [0u8; VALUE_MAX];
        for (b, cell) in buf.iter_mut().zip(&VALUES[slot]) {
            *b = cell.load(Ordering::SeqCst);
        }
        let len = LENS[slot].load(Ordering::SeqCst).min(VALUE_MAX);
        // SAFETY: `buf` holds `len` valid bytes; pwrite is async-signal-safe.
        unsafe {
            libc::pwrite(fd, buf.as_ptr().cast(), len, 0);
        }
    }
    let previous = if signal == libc::SIGINT {
        PREVIOUS_INT.load(Ordering::SeqCst)
    } else {
        PREVIOUS_TERM.load(Ordering::SeqCst)
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
        PREVIOUS_INT.store(libc::signal(libc::SIGINT, ours), Ordering::SeqCst);
        PREVIOUS_TERM.store(libc::signal(libc::SIGTERM, ours), Ordering::SeqCst);
    }
}
