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
//! Interrupted: SIGINT and SIGTERM put the original value back
//! ([`host_sysctl`]). A SIGKILL during a hardened load cannot be caught:
//! the setting then stays 2, and the next run says so (see [`enable`]).
//!
//! The opt-in is the environment variable [`OPT_IN_ENV`] = `1`: without it
//! the backend runs nothing and says why.

use super::host_sysctl::{self, HostSysctl};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

pub use super::host_sysctl::OPT_IN_ENV;

/// The sysctl's file.
const SYSCTL: &str = "/proc/sys/net/core/bpf_jit_harden";

/// Opened once per process (or why it cannot be).
static SYSCTL_STATE: OnceLock<Result<Mutex<HostSysctl>, String>> = OnceLock::new();
/// True once a `kernel-harden` backend exists: every load then takes the
/// sysctl's lock.
static IN_USE: AtomicBool = AtomicBool::new(false);
thread_local! {
    /// Set while a `kernel-harden` backend works on this thread.
    static HARDENED: Cell<bool> = const { Cell::new(false) };
}

/// Makes hardened loads possible in this process: checks the opt-in,
/// opens the sysctl, remembers its value and installs the signal handlers.
/// The error says why `kernel-harden` cannot run.
pub fn enable() -> Result<(), String> {
    host_sysctl::opted_in(
        "kernel-harden",
        "net.core.bpf_jit_harden (set to 2 for each load, then restored)",
    )?;
    let state = SYSCTL_STATE.get_or_init(|| {
        let sysctl = HostSysctl::open(SYSCTL)?;
        if sysctl.original().starts_with(b"2") {
            return Err(format!(
                "{SYSCTL} is already 2 (a bpfdiff killed during a hardened load leaves it so): set it to the value it should have, then run again"
            ));
        }
        eprintln!(
            "bpfdiff: kernel-harden sets {SYSCTL} to 2 for each of its loads and writes back {} after each, and on SIGINT/SIGTERM",
            String::from_utf8_lossy(sysctl.original()).trim()
        );
        Ok(Mutex::new(sysctl))
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
    sysctl.set(b"2\n");
    let out = load();
    sysctl.restore();
    out
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
