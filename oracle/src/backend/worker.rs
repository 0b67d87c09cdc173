//! A disposable child process that runs another implementation (rbpf's
//! interpreter or JIT) so that a crash, a panic or an endless loop there
//! becomes an outcome instead of the death of the harness.
//!
//! The parent ([`WorkerClient`]) starts the worker executable with the
//! argument [`WORKER_ARG`], sends one request per program on its stdin and
//! reads one reply per request from its stdout. A reply that does not come
//! within the timeout kills the worker; a worker that dies is reported and
//! started again for the next request.
//!
//! [`WorkerClient::run_many`] sends several requests before it reads any
//! reply, and the worker flushes its replies only when no request is left
//! unread, so a batch costs one wake-up of each process instead of one per
//! program. A batch is only a transport: when a worker dies or does not
//! finish a batch in time, the requests it left unanswered are run again
//! one at a time on a fresh worker, so every outcome is the one a lone run
//! gives.
//!
//! A client may also give each program a CPU-time limit
//! ([`WorkerClient::with_cpu_limit`]): the worker arms a profiling timer
//! (`ITIMER_PROF`, user and system time of the process) around each run
//! and dies by `SIGPROF` when it expires, which the client reports as
//! [`WorkerFailure::CpuLimit`]. Unlike the wall-clock timeout it does not
//! fire because the machine is busy, so it can be short: a program that
//! loops for ever on rbpf costs that much CPU, not the whole timeout. The
//! wall-clock timeout stays, for a worker that is not scheduled or blocks.
//!
//! The executable is taken from the `BPFDIFF_WORKER` environment variable.
//! The `bpfdiff` CLI sets it to itself; tests point it at the
//! `bpfdiff-worker` binary of this crate.

use serde::{Deserialize, Serialize};
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use thiserror::Error;

mod keeper;

/// The command-line argument that puts an executable in worker mode.
pub const WORKER_ARG: &str = "__oracle-worker";

/// The environment variable naming the worker executable.
pub const WORKER_ENV: &str = "BPFDIFF_WORKER";

/// The environment variable that gives the worker its per-program CPU-time
/// limit in milliseconds (set by the client when it starts a worker).
pub const WORKER_CPU_ENV: &str = "BPFDIFF_WORKER_CPU_MS";

/// The most requests [`WorkerClient::run_many`] sends in one round trip.
pub const MAX_BATCH: usize = 64;

/// The most request bytes in one round trip: two pages, the smallest pipe
/// buffer Linux gives (a user over `pipe-user-pages-soft` gets two-page
/// pipes), so that sending a batch never waits for the worker.
pub const MAX_BATCH_BYTES: usize = 8192;

/// The bytes of one framed request: length, vm code, program, memory.
fn request_len((program, mem): (&[u8], &[u8])) -> usize {
    4 + 1 + 4 + program.len() + 4 + mem.len()
}

/// Which implementation the worker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerVm {
    /// rbpf's interpreter (`EbpfVmRaw::execute_program`).
    RbpfInterp,
    /// rbpf's x86-64 JIT (`EbpfVmRaw::jit_compile` + `execute_program_jit`).
    RbpfJit,
}

impl WorkerVm {
    fn code(self) -> u8 {
        match self {
            WorkerVm::RbpfInterp => 0,
            WorkerVm::RbpfJit => 1,
        }
    }

    fn from_code(code: u8) -> Option<WorkerVm> {
        match code {
            0 => Some(WorkerVm::RbpfInterp),
            1 => Some(WorkerVm::RbpfJit),
            _ => None,
        }
    }
}

/// What the worker observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerReply {
    /// The implementation refused the program at load or compile time.
    Rejected {
        /// Its message.
        message: String,
    },
    /// The program returned.
    Returned {
        /// r0.
        r0: u64,
        /// The memory after the run.
        mem: Vec<u8>,
    },
    /// The implementation returned an error while running.
    Error {
        /// Its message.
        message: String,
    },
    /// The implementation panicked (caught inside the worker).
    Panicked {
        /// The panic message.
        message: String,
    },
}

/// Why a request got no reply.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WorkerFailure {
    /// The worker could not be started.
    #[error("cannot start the worker `{exe}`: {reason}")]
    Spawn {
        /// The executable.
        exe: String,
        /// Why.
        reason: String,
    },
    /// No worker executable is configured.
    #[error("no worker executable: set {WORKER_ENV} to a binary that serves `{WORKER_ARG}` (the bpfdiff CLI does this itself)")]
    NoExecutable,
    /// The worker died while running the program.
    #[error("worker died: {0}")]
    Died(String),
    /// The worker did not answer in time (it was killed).
    #[error("no answer within {0} ms")]
    TimedOut(u64),
    /// The program used more than this many milliseconds of CPU time (the
    /// worker's profiling timer ended it).
    #[error("more than {0} ms of CPU time")]
    CpuLimit(u64),
}

struct Running {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    stdout: ChildStdout,
    /// Reply bytes read but not yet consumed (at most one partial frame).
    pending: Vec<u8>,
}

/// Why no reply frame came.
enum ReplyError {
    /// The deadline passed first.
    TimedOut,
    /// The pipe closed or failed: the worker died.
    Closed,
}

impl Running {
    /// Reads one reply frame (u32 length, then the bytes) in the calling
    /// thread, waiting with `poll` until `deadline` (no reader thread, so
    /// no thread hand-off per program).
    fn read_reply(&mut self, deadline: Instant) -> Result<Vec<u8>, ReplyError> {
        let fd = self.stdout.as_raw_fd();
        loop {
            if self.pending.len() >= 4 {
                let len = u32::from_le_bytes(self.pending[..4].try_into().expect("4 bytes"));
                let end = 4 + len as usize;
                if self.pending.len() >= end {
                    let frame = self.pending[4..end].to_vec();
                    self.pending.drain(..end);
                    return Ok(frame);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ready < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(ReplyError::Closed);
            }
            if ready == 0 {
                return Err(ReplyError::TimedOut);
            }
            let mut buf = [0u8; 4096];
            match self.stdout.read(&mut buf) {
                Ok(0) => return Err(ReplyError::Closed),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ReplyError::Closed),
            }
        }
    }
}

/// The parent side: sends programs to a worker process.
pub struct WorkerClient {
    exe: Option<PathBuf>,
    timeout: Duration,
    cpu_limit: Option<Duration>,
    running: Option<Running>,
}

impl WorkerClient {
    /// A client for the executable named by `BPFDIFF_WORKER`, with a
    /// per-program wall-clock limit.
    pub fn from_env(timeout: Duration) -> WorkerClient {
        WorkerClient {
            exe: std::env::var_os(WORKER_ENV).map(PathBuf::from),
            timeout,
            cpu_limit: None,
            running: None,
        }
    }

    /// A client for an explicit executable.
    pub fn new(exe: PathBuf, timeout: Duration) -> WorkerClient {
        WorkerClient {
            exe: Some(exe),
            timeout,
            cpu_limit: None,
            running: None,
        }
    }

    /// The client with a per-program CPU-time limit (whole milliseconds,
    /// at least one) besides the wall-clock timeout; see the module
    /// documentation.
    pub fn with_cpu_limit(mut self, limit: Duration) -> WorkerClient {
        self.cpu_limit = Some(limit.max(Duration::from_millis(1)));
        self
    }

    fn cpu_limit_ms(&self) -> Option<u64> {
        self.cpu_limit.map(|l| l.as_millis() as u64)
    }

    /// Why the worker ended, as a failure: its profiling timer's signal is
    /// the CPU-time limit, anything else a death.
    fn ended(&self, status: std::process::ExitStatus) -> WorkerFailure {
        use std::os::unix::process::ExitStatusExt;
        match (status.signal(), self.cpu_limit_ms()) {
            (Some(libc::SIGPROF), Some(ms)) => WorkerFailure::CpuLimit(ms),
            _ => WorkerFailure::Died(describe_exit(status)),
        }
    }

    fn start(&mut self) -> Result<&mut Running, WorkerFailure> {
        if self.running.is_none() {
            let exe = self.exe.clone().ok_or(WorkerFailure::NoExecutable)?;
            let mut command = Command::new(&exe);
            match self.cpu_limit_ms() {
                Some(ms) => command.env(WORKER_CPU_ENV, ms.to_string()),
                None => command.env_remove(WORKER_CPU_ENV),
            };
            let mut child = command
                .arg(WORKER_ARG)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| WorkerFailure::Spawn {
                    exe: exe.display().to_string(),
                    reason: e.to_string(),
                })?;
            let stdin = BufWriter::new(child.stdin.take().expect("piped stdin"));
            let stdout = child.stdout.take().expect("piped stdout");
            self.running = Some(Running {
                child,
                stdin,
                stdout,
                pending: Vec::new(),
            });
        }
        Ok(self.running.as_mut().expect("just started"))
    }

    fn kill(&mut self) -> Option<String> {
        let mut running = self.running.take()?;
        let _ = running.child.kill();
        let status = running.child.wait().ok()?;
        Some(describe_exit(status))
    }

    /// Runs `program` (raw bytecode) on `mem` in the worker.
    pub fn run(
        &mut self,
        vm: WorkerVm,
        program: &[u8],
        mem: &[u8],
    ) -> Result<WorkerReply, WorkerFailure> {
        let timeout = self.timeout;
        let running = self.start()?;
        let mut request = Vec::with_capacity(request_len((program, mem)));
        push_request(&mut request, vm.code(), program, mem);
        let sent = running
            .stdin
            .write_all(&request)
            .and_then(|_| running.stdin.flush());
        if sent.is_err() {
            let what = self
                .kill()
                .unwrap_or_else(|| "worker pipe closed".to_string());
            return Err(WorkerFailure::Died(what));
        }
        match running.read_reply(Instant::now() + timeout) {
            Ok(frame) => serde_json::from_slice(&frame).map_err(|e| {
                self.kill();
                WorkerFailure::Died(format!("unreadable reply: {e}"))
            }),
            Err(ReplyError::Closed) => {
                // The pipe closed: the worker died. Reap it for its signal.
                let mut running = self.running.take().expect("running");
                Err(match running.child.wait() {
                    Ok(status) => self.ended(status),
                    Err(e) => WorkerFailure::Died(e.to_string()),
                })
            }
            Err(ReplyError::TimedOut) => {
                self.kill();
                Err(WorkerFailure::TimedOut(timeout.as_millis() as u64))
            }
        }
    }

    /// Gives the next program a fresh worker process, as if the worker had
    /// been started again: the keeper forks a new server (see [`keeper`]),
    /// which costs a round trip instead of a new executable. When that
    /// fails the worker is killed, and the next request starts one.
    pub fn retire(&mut self) {
        let timeout = self.timeout;
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let mut request = Vec::new();
        push_request(&mut request, keeper::RETIRE_CODE, &[], &[]);
        let sent = running
            .stdin
            .write_all(&request)
            .and_then(|_| running.stdin.flush());
        let acknowledged = sent.is_ok()
            && matches!(running.read_reply(Instant::now() + timeout), Ok(f) if f.is_empty());
        if !acknowledged {
            self.kill();
        }
    }

    /// Runs each `(program, mem)` request in the worker, several per round
    /// trip; the replies are in request order and are what [`Self::run`]
    /// would give for each request alone (see the module documentation).
    pub fn run_many(
        &mut self,
        vm: WorkerVm,
        requests: &[(&[u8], &[u8])],
    ) -> Vec<Result<WorkerReply, WorkerFailure>> {
        let mut replies = Vec::with_capacity(requests.len());
        let mut first = 0;
        while first < requests.len() {
            let mut end = first + 1;
            let mut bytes = request_len(requests[first]);
            while end < requests.len()
                && end - first < MAX_BATCH
                && bytes + request_len(requests[end]) <= MAX_BATCH_BYTES
            {
                bytes += request_len(requests[end]);
                end += 1;
            }
            let batch = &requests[first..end];
            if batch.len() == 1 {
                replies.push(self.run(vm, batch[0].0, batch[0].1));
            } else {
                let answered = self.run_batch(vm, batch);
                let done = answered.len();
                replies.extend(answered.into_iter().map(Ok));
                // Whatever the batch left unanswered runs alone, so that a
                // death or a timeout is pinned on the program that caused it.
                for &(program, mem) in &batch[done..] {
                    replies.push(self.run(vm, program, mem));
                }
            }
            first = end;
        }
        replies
    }

    /// Sends `batch` at once and reads the replies until all came, the
    /// worker died, or the batch's deadline (one timeout) passed; the
    /// worker is then killed. Returns the replies that came, in order.
    fn run_batch(&mut self, vm: WorkerVm, batch: &[(&[u8], &[u8])]) -> Vec<WorkerReply> {
        let timeout = self.timeout;
        let Ok(running) = self.start() else {
            return Vec::new();
        };
        let mut frames = Vec::new();
        for &(program, mem) in batch {
            push_request(&mut frames, vm.code(), program, mem);
        }
        // The batch fits in an empty pipe (`MAX_BATCH_BYTES`), and the
        // worker has read every earlier request: this write does not wait
        // for the worker to read.
        let sent = running
            .stdin
            .write_all(&frames)
            .and_then(|_| running.stdin.flush());
        if sent.is_err() {
            self.kill();
            return Vec::new();
        }
        let deadline = Instant::now() + timeout;
        let mut replies = Vec::with_capacity(batch.len());
        while replies.len() < batch.len() {
            let Some(running) = self.running.as_mut() else {
                break;
            };
            let parsed = match running.read_reply(deadline) {
                Ok(frame) => serde_json::from_slice::<WorkerReply>(&frame).ok(),
                Err(_) => None,
            };
            match parsed {
                Some(reply) => replies.push(reply),
                None => {
                    self.kill();
                    break;
                }
            }
        }
        replies
    }
}

impl Drop for WorkerClient {
    fn drop(&mut self) {
        self.kill();
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
        (Some(code), None) => format!("exited with code {code}"),
        (None, None) => "ended".to_string(),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGPROF => "SIGPROF",
        _ => "signal",
    }
}

/// Arms the process's profiling timer to fire once after `ms` of CPU time
/// (user and system), or disarms it.
fn arm_cpu_timer(ms: Option<u64>) {
    let ms = ms.unwrap_or(0);
    let value = libc::timeval {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_usec: ((ms % 1000) * 1000) as libc::suseconds_t,
    };
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: value,
    };
    // SAFETY: a valid itimerval; the old value is not asked for.
    unsafe { libc::setitimer(libc::ITIMER_PROF, &timer, std::ptr::null_mut()) };
}

/// Appends one framed request (length, then `code`, program, memory).
fn push_request(out: &mut Vec<u8>, code: u8, program: &[u8], mem: &[u8]) {
    let len = request_len((program, mem)) - 4;
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.push(code);
    write_bytes(out, program);
    write_bytes(out, mem);
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn read_frame(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn take_bytes<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let bytes = buf.get(4..4 + len)?;
    *buf = &buf[4 + len..];
    Some(bytes)
}

/// The worker side: serves requests on stdin until it closes. Called by an
/// executable started with [`WORKER_ARG`]. The process stays pristine and
/// forks the server that runs the programs ([`keeper`]).
pub fn serve() -> io::Result<()> {
    keeper::keep(serve_requests)
}

/// The server: answers requests until stdin closes or a retire request
/// comes. Replies are flushed when no request is left in the input buffer,
/// so a batch is answered with one write (and one wake-up of the client).
fn serve_requests() -> io::Result<keeper::ServerEnd> {
    use std::os::fd::AsFd;
    // Panics are caught and reported as replies; keep stderr quiet.
    std::panic::set_hook(Box::new(|_| {}));
    // Our own buffer over fd 0 (not `Stdin`'s), so that what is buffered
    // can be asked for.
    let stdin = std::fs::File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut input = io::BufReader::with_capacity(1 << 16, stdin);
    let cpu_limit = std::env::var(WORKER_CPU_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&ms| ms > 0);
    if cpu_limit.is_some() {
        // SAFETY: restores the default action (end the process) of a
        // signal this process does not otherwise use.
        unsafe { libc::signal(libc::SIGPROF, libc::SIG_DFL) };
    }
    let stdout = io::stdout();
    let mut output = BufWriter::with_capacity(1 << 16, stdout.lock());
    loop {
        let frame = match read_frame(&mut input) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                output.flush()?;
                return Ok(keeper::ServerEnd::Closed);
            }
            Err(e) => return Err(e),
        };
        if frame.first() == Some(&keeper::RETIRE_CODE) {
            output.flush()?;
            return Ok(keeper::ServerEnd::Retired);
        }
        let mut rest = &frame[..];
        let vm = rest.first().copied().and_then(WorkerVm::from_code);
        rest = rest.get(1..).unwrap_or(&[]);
        let reply = match (vm, take_bytes(&mut rest), take_bytes(&mut rest)) {
            (Some(vm), Some(program), Some(mem)) => {
                arm_cpu_timer(cpu_limit);
                let reply = super::rbpf_vm::run_in_worker(vm, program, mem);
                arm_cpu_timer(None);
                reply
            }
            _ => WorkerReply::Error {
                message: "malformed request".to_string(),
            },
        };
        let json = serde_json::to_vec(&reply).map_err(io::Error::other)?;
        output.write_all(&(json.len() as u32).to_le_bytes())?;
        output.write_all(&json)?;
        if input.buffer().is_empty() {
            output.flush()?;
        }
    }
}
