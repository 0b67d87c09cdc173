//! The agent: bpfdiff's side inside a guest. It sets the kernel up as the
//! kernel command line asks (`bpfdiff.jit_enable=`, `bpfdiff.jit_harden=`),
//! says [`Hello`], then serves requests on the serial line `/dev/ttyS1`
//! through the host backend's own loader ([`KernelBackend`]), with the
//! host's safety rule lifted: a crash here is a finding, not a harm.

use super::protocol::{self, Hello, LogReply, Op, Request, REPLY_MAGIC, REQUEST_MAGIC};
use crate::backend::kernel::{KernelBackend, KernelOptions};
use crate::backend::Backend;
use bpfdiff_engine::Program;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The serial line the agent serves (the second one; the first is the console).
pub const AGENT_TTY: &str = "/dev/ttyS1";

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("unreadable: {e}"))
}

/// Applies `bpfdiff.<key>=<value>` from the kernel command line to
/// `net.core.bpf_<key>`; an error names the one that would not take.
fn configure(cmdline: &str) -> Result<(), String> {
    for word in cmdline.split_whitespace() {
        let Some((key, value)) = word
            .strip_prefix("bpfdiff.")
            .and_then(|kv| kv.split_once('='))
        else {
            continue;
        };
        if key == "unpriv" {
            // The guest allows unprivileged runs freely: the host's opt-in
            // is given here (before any thread is started).
            std::env::set_var(crate::backend::kernel::host_sysctl::OPT_IN_ENV, value);
            continue;
        }
        let path = match key {
            "jit_enable" => "/proc/sys/net/core/bpf_jit_enable",
            "jit_harden" => "/proc/sys/net/core/bpf_jit_harden",
            _ => return Err(format!("unknown setting bpfdiff.{key}")),
        };
        std::fs::write(path, value).map_err(|e| format!("cannot set {path} to {value}: {e}"))?;
        let now = read_trimmed(path);
        if now != value {
            return Err(format!("{path} is {now} after writing {value}"));
        }
    }
    Ok(())
}

/// Opens the serial line raw: no echo, no line editing, no CR/LF
/// translation, 8-bit clean.
fn open_raw(path: &str) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: termios is plain data filled by tcgetattr on a valid fd.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut t);
        libc::cfsetspeed(&mut t, libc::B115200);
        t.c_cc[libc::VMIN] = 1;
        t.c_cc[libc::VTIME] = 0;
        if libc::tcsetattr(fd, libc::TCSANOW, &t) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(file)
}

fn answer(kernel: &mut KernelBackend, req: &Request) -> Vec<u8> {
    let program = match Program::from_bytes(&req.program) {
        Ok(p) => p,
        Err(e) => {
            let outcome = crate::outcome::Outcome::not_run(kernel.name(), e.to_string());
            return serde_json::to_vec(&outcome).expect("outcomes serialise");
        }
    };
    let json = match req.op {
        Op::Run => serde_json::to_vec(&kernel.run(&program, &req.input)),
        Op::RunUnprivSocket => serde_json::to_vec(&crate::backend::kernel::unpriv::outcome(
            "kernel-unpriv",
            &program.insns,
            &req.input,
        )),
        Op::VerifierLog => {
            let reply =
                match kernel.raw_verifier_log(&program, req.input.len(), u32::from(req.level)) {
                    Ok((accepted, log)) => LogReply::Log { accepted, log },
                    Err(e) => LogReply::Error(e),
                };
            serde_json::to_vec(&reply)
        }
    };
    json.expect("outcomes serialise")
}

/// Serves on [`AGENT_TTY`] until the line closes. Called as the guest's
/// init; returns only on an error.
pub fn serve() -> io::Result<()> {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let setup = configure(&cmdline);
    let mut kernel = KernelBackend::new(KernelOptions::default());
    kernel.allow_unsafe_runs();
    let error = setup
        .err()
        .or_else(|| kernel.unavailable().map(str::to_string));
    let hello = Hello {
        release: read_trimmed("/proc/sys/kernel/osrelease"),
        version: read_trimmed("/proc/version"),
        jit_enable: read_trimmed("/proc/sys/net/core/bpf_jit_enable"),
        jit_harden: read_trimmed("/proc/sys/net/core/bpf_jit_harden"),
        error,
    };
    let line = open_raw(AGENT_TTY)?;
    let out = Arc::new(Mutex::new(line.try_clone()?));
    let mut input = BufReader::new(line);
    let send = |payload: &[u8]| -> io::Result<()> {
        let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
        protocol::write_frame(&mut *w, REPLY_MAGIC, payload)
    };
    send(&serde_json::to_vec(&hello).expect("hello serialises"))?;
    // Heartbeats while a request is being served, so that the host can
    // tell a long verification from a guest that stopped.
    let busy = Arc::new(AtomicBool::new(false));
    {
        let (busy, out) = (busy.clone(), out.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(protocol::HEARTBEAT_EVERY);
            if busy.load(Ordering::SeqCst) {
                let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
                let _ = protocol::write_frame(&mut *w, REPLY_MAGIC, &[]);
            }
        });
    }
    loop {
        let frame = protocol::read_frame(&mut input, REQUEST_MAGIC)?;
        busy.store(true, Ordering::SeqCst);
        let reply = match Request::decode(&frame) {
            Some(req) => answer(&mut kernel, &req),
            None => serde_json::to_vec(&crate::outcome::Outcome::not_run(
                kernel.name(),
                "the agent received a malformed request",
            ))
            .expect("outcomes serialise"),
        };
        busy.store(false, Ordering::SeqCst);
        send(&reply)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_outside_the_list_are_refused() {
        assert!(configure("console=ttyS0 quiet").is_ok());
        let err = configure("bpfdiff.jit_always=1").unwrap_err();
        assert!(err.contains("bpfdiff.jit_always"), "{err}");
    }
}
