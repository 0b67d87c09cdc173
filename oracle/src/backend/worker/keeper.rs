//! The worker's keeper. The process the client starts never runs a
//! program: it forks the process that does (the server) and waits for it.
//! A fresh server is then a `fork` of a pristine process instead of a new
//! executable (exec, dynamic linking and start-up cost about 1.4 ms of CPU
//! per restart; rbpf's JIT is given a fresh process after every run that
//! differs from the engine's, which was 13 % of a five-backend campaign).
//!
//! - The server exits with [`RETIRED_EXIT`] when the client sends a retire
//!   request ([`RETIRE_CODE`]); the keeper answers it with an empty frame
//!   and forks the next server.
//! - The server exits 0 when the client closes its stdin: so does the keeper.
//! - A server killed by a signal (a crash in JIT'd code) or exiting with any
//!   other code ends the keeper the same way, so that the client sees what
//!   it saw before there was a keeper: the pipe closes and the exit status
//!   names the signal.
//! - The server dies with the keeper, and the keeper with the client's
//!   thread that started it (`PR_SET_PDEATHSIG`): the client's `kill` of
//!   the keeper on a timeout stops a server stuck in a loop, and so does
//!   the death of the client.

use std::io;

/// The vm code of a retire request (no program, no memory).
pub(crate) const RETIRE_CODE: u8 = 0xfe;

/// The server's exit code after a retire request.
pub(crate) const RETIRED_EXIT: i32 = 75;

/// How a server's loop ended.
pub(crate) enum ServerEnd {
    /// The client closed stdin.
    Closed,
    /// The client asked for a fresh server.
    Retired,
}

/// Runs servers (`serve_requests`, each in a forked child) until one ends
/// other than by retiring; returns (or ends the process) as that one did.
pub(crate) fn keep(serve_requests: fn() -> io::Result<ServerEnd>) -> io::Result<()> {
    // The keeper dies with the client's thread that started it, so that a
    // client killed outright (SIGKILL) leaves no server running a program
    // that never ends (it would not notice its closed stdin).
    // SAFETY: prctl with PR_SET_PDEATHSIG and a valid signal; getppid has
    // no preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() == 1 {
            return Ok(());
        }
    }
    // SAFETY: getpid has no preconditions.
    let keeper = unsafe { libc::getpid() };
    loop {
        // SAFETY: the keeper is single-threaded (the worker mode is entered
        // before any thread starts), so the child may run any code.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: prctl with PR_SET_PDEATHSIG and a valid signal.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            // SAFETY: getppid and _exit have no preconditions.
            if unsafe { libc::getppid() } != keeper {
                unsafe { libc::_exit(1) };
            }
            let code = match serve_requests() {
                Ok(ServerEnd::Closed) => 0,
                Ok(ServerEnd::Retired) => RETIRED_EXIT,
                Err(_) => 1,
            };
            // SAFETY: ends the server without running the keeper's exit path.
            unsafe { libc::_exit(code) };
        }
        let status = wait_for(pid)?;
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == RETIRED_EXIT {
            write_all_fd(1, &0u32.to_le_bytes())?;
            continue;
        }
        if libc::WIFSIGNALED(status) {
            end_by_signal(libc::WTERMSIG(status));
        }
        return match libc::WEXITSTATUS(status) {
            0 => Ok(()),
            code => std::process::exit(code),
        };
    }
}

/// Waits for `pid` to end; its wait status.
fn wait_for(pid: libc::pid_t) -> io::Result<i32> {
    loop {
        let mut status = 0;
        // SAFETY: a valid pointer to an int for the duration of the call.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(status);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Ends the keeper by `sig`, as its server ended (without a core dump of
/// the keeper: the server's is the one that matters).
fn end_by_signal(sig: i32) -> ! {
    // SAFETY: plain calls on this process; SIG_DFL is a valid disposition.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0);
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
        libc::_exit(128 + sig)
    }
}

/// Writes `bytes` to `fd` in full (the keeper does not use `Stdout`).
fn write_all_fd(fd: i32, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}
