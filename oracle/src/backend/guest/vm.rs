//! One running qemu guest: the kernel under TCG, its console on the first
//! serial line (a file), the agent on the second (qemu's stdin/stdout).
//!
//! The kernel command line turns every oops and WARN into a panic
//! (`oops=panic panic_on_warn=1`) and a panic into a power-off (`panic=-1`
//! with qemu's `-no-reboot`): a guest that misbehaves ends, and its console
//! says why.

use super::initrd::{self, KernelImage};
use super::protocol::{self, Hello, Request, REPLY_MAGIC, REQUEST_MAGIC};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The environment variable whose words are added to the guest kernel's
/// command line (for experiments: `mitigations=on`, `nokaslr`, …).
pub const APPEND_ENV: &str = "BPFDIFF_GUEST_APPEND";

/// Console lines that mean the kernel misbehaved.
const CRASH_MARKERS: &[&str] = &[
    "Kernel panic",
    "BUG:",
    "Oops",
    "WARNING:",
    "KASAN",
    "general protection fault",
    "Call Trace",
    "watchdog:",
];

/// How a request failed, with the console text that explains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmFailure {
    /// The guest ended (panic, oops, WARN, or qemu died).
    Ended(String),
    /// The guest sent neither an answer nor a heartbeat for this many ms
    /// (it was killed).
    Silent(u64, String),
    /// The agent kept sending heartbeats but did not answer within this
    /// many ms (it was killed): a long run, not a hang.
    Busy(u64),
}

/// A booted guest.
pub struct Vm {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<io::Result<Vec<u8>>>,
    dir: PathBuf,
    console_seen: u64,
    /// What the agent said at boot.
    pub hello: Hello,
    /// Wall-clock time from starting qemu to the agent's hello.
    pub boot_time: Duration,
}

static INSTANCE: AtomicU32 = AtomicU32::new(0);

/// Finds crash markers in console text; returns the text from the first
/// marker on (at most 4000 bytes), or `None` when there is none.
pub fn crash_text(console: &str) -> Option<String> {
    let start = CRASH_MARKERS.iter().filter_map(|m| console.find(m)).min()?;
    let line_start = console[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut text: String = console[line_start..].to_string();
    if text.len() > 4000 {
        let mut cut = 4000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n[…]");
    }
    Some(text.trim_end().to_string())
}

/// Waits for the reply to the request just sent: heartbeats (empty
/// frames) restart the `silence` clock; `limit` bounds the whole wait.
fn wait_reply(
    replies: &Receiver<io::Result<Vec<u8>>>,
    silence: Duration,
    limit: Duration,
) -> Result<io::Result<Vec<u8>>, (RecvTimeoutError, u64)> {
    let start = Instant::now();
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match replies.recv_timeout(silence.min(left)) {
            Ok(Ok(frame)) if frame.is_empty() => {
                if start.elapsed() >= limit {
                    return Err((RecvTimeoutError::Timeout, limit.as_millis() as u64));
                }
            }
            Ok(reply) => return Ok(reply),
            Err(RecvTimeoutError::Timeout) if start.elapsed() >= limit => {
                return Err((RecvTimeoutError::Timeout, limit.as_millis() as u64))
            }
            Err(e) => return Err((e, silence.as_millis() as u64)),
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Vm {
    /// Boots `image` with `cmdline_extra` on the kernel command line and
    /// waits up to `boot_timeout` for the agent's hello.
    pub fn boot(
        image: &KernelImage,
        cmdline_extra: &str,
        boot_timeout: Duration,
    ) -> Result<Vm, String> {
        let qemu = initrd::qemu()?;
        let dir = std::env::temp_dir().join(format!(
            "bpfdiff-guest-{}-{}",
            std::process::id(),
            INSTANCE.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let initrd_path = dir.join("initrd.cpio");
        image.write_initrd(&initrd_path)?;
        let console = dir.join("console.log");
        let qemu_err = File::create(dir.join("qemu.err"))
            .map_err(|e| format!("cannot create qemu's log: {e}"))?;
        let mut cmd = Command::new(&qemu);
        cmd.args(["-accel", "tcg", "-cpu", "max", "-m", "512M", "-smp", "1"])
            .args(["-nodefaults", "-display", "none", "-monitor", "none"])
            .arg("-no-reboot");
        // qboot starts a kernel sooner than SeaBIOS does.
        let qboot = PathBuf::from("/usr/share/qemu/qboot.rom");
        if qboot.is_file() {
            cmd.arg("-bios").arg(qboot);
        }
        cmd.arg("-kernel")
            .arg(&image.vmlinuz)
            .arg("-initrd")
            .arg(&initrd_path)
            .arg("-append")
            .arg(format!(
                "console=ttyS0 loglevel=5 panic=-1 oops=panic panic_on_warn=1 {cmdline_extra} {}",
                std::env::var(APPEND_ENV).unwrap_or_default()
            ))
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .args(["-serial", "stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(qemu_err);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", qemu.display()))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let frame = protocol::read_frame(&mut stdout, REPLY_MAGIC);
            let stop = frame.is_err();
            if tx.send(frame).is_err() || stop {
                break;
            }
        });
        let mut vm = Vm {
            child,
            stdin,
            replies: rx,
            dir,
            console_seen: 0,
            hello: Hello {
                release: String::new(),
                version: String::new(),
                jit_enable: String::new(),
                jit_harden: String::new(),
                error: None,
            },
            boot_time: Duration::ZERO,
        };
        let hello = match vm.replies.recv_timeout(boot_timeout) {
            Ok(Ok(frame)) => serde_json::from_slice::<Hello>(&frame)
                .map_err(|e| format!("the agent's hello is unreadable: {e}"))?,
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                let _ = vm.child.wait();
                return Err(format!(
                    "the guest ended before its agent answered; console:\n{}",
                    vm.console_tail()
                ));
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "no answer from the guest's agent within {} s; console:\n{}",
                    boot_timeout.as_secs(),
                    vm.console_tail()
                ));
            }
        };
        vm.boot_time = started.elapsed();
        vm.hello = hello;
        vm.console_seen = vm.console_len();
        Ok(vm)
    }

    fn console_len(&self) -> u64 {
        std::fs::metadata(self.dir.join("console.log")).map_or(0, |m| m.len())
    }

    /// Console text written since the last call.
    fn console_new(&mut self) -> String {
        let mut text = Vec::new();
        if let Ok(mut f) = File::open(self.dir.join("console.log")) {
            if f.seek(SeekFrom::Start(self.console_seen)).is_ok() {
                let _ = f.read_to_end(&mut text);
            }
        }
        self.console_seen += text.len() as u64;
        String::from_utf8_lossy(&text).into_owned()
    }

    fn console_tail(&self) -> String {
        let text = std::fs::read(self.dir.join("console.log")).unwrap_or_default();
        let mut tail = last_lines(&String::from_utf8_lossy(&text), 30);
        let err = std::fs::read(self.dir.join("qemu.err")).unwrap_or_default();
        if !err.is_empty() {
            tail.push_str("\nqemu: ");
            tail.push_str(String::from_utf8_lossy(&err).trim());
        }
        tail
    }

    /// Sends `request` and waits for the reply: up to `silence` without an
    /// answer or a heartbeat, up to `limit` in all. A guest that ends,
    /// prints a crash marker, stays silent or runs past `limit` is a
    /// failure (the caller drops the `Vm` and boots another).
    pub fn call(
        &mut self,
        request: &Request,
        silence: Duration,
        limit: Duration,
    ) -> Result<Vec<u8>, VmFailure> {
        // Heartbeats of an earlier request may still be queued.
        while let Ok(Ok(frame)) = self.replies.try_recv() {
            debug_assert!(frame.is_empty());
        }
        let sent = protocol::write_frame(&mut self.stdin, REQUEST_MAGIC, &request.encode());
        let reply = match sent {
            Err(_) => Err((RecvTimeoutError::Disconnected, 0)),
            Ok(()) => wait_reply(&self.replies, silence, limit),
        };
        match reply {
            Ok(Ok(frame)) => {
                let console = self.console_new();
                match crash_text(&console) {
                    Some(text) => Err(VmFailure::Ended(text)),
                    None => Ok(frame),
                }
            }
            Ok(Err(_)) | Err((RecvTimeoutError::Disconnected, _)) => {
                // Give qemu a moment to finish writing the console.
                let deadline = Instant::now() + Duration::from_secs(2);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = self.child.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let console = self.console_new();
                let text = crash_text(&console).unwrap_or_else(|| {
                    format!("the guest ended; console:\n{}", last_lines(&console, 30))
                });
                Err(VmFailure::Ended(text))
            }
            Err((RecvTimeoutError::Timeout, ms)) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let console = self.console_new();
                if ms == limit.as_millis() as u64 && crash_text(&console).is_none() {
                    return Err(VmFailure::Busy(ms));
                }
                let text = crash_text(&console).unwrap_or_else(|| last_lines(&console, 30));
                Err(VmFailure::Silent(ms, text))
            }
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_extend_the_wait_up_to_the_limit() {
        let ms = Duration::from_millis;
        // Heartbeats every 20 ms, the answer after 150 ms: a 60 ms silence
        // limit is never reached.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..7 {
                std::thread::sleep(ms(20));
                tx.send(Ok(Vec::new())).unwrap();
            }
            std::thread::sleep(ms(10));
            tx.send(Ok(b"{}".to_vec())).unwrap();
        });
        assert_eq!(wait_reply(&rx, ms(60), ms(5000)).unwrap().unwrap(), b"{}");
        // The same guest against a 100 ms limit: busy past the limit.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..20 {
                std::thread::sleep(ms(20));
                if tx.send(Ok(Vec::new())).is_err() {
                    return;
                }
            }
        });
        let err = wait_reply(&rx, ms(60), ms(100)).unwrap_err();
        assert_eq!(err, (RecvTimeoutError::Timeout, 100));
        // No heartbeat at all: silent after 30 ms.
        let (_tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>();
        let err = wait_reply(&rx, ms(30), ms(5000)).unwrap_err();
        assert_eq!(err, (RecvTimeoutError::Timeout, 30));
    }

    #[test]
    fn crash_text_starts_at_the_first_marker_line() {
        let console = "[ 1.0] ok\n[ 2.0] ------------[ cut here ]------------\n[ 2.0] WARNING: CPU: 0 PID: 1 at kernel/bpf/verifier.c:1 x\n[ 2.1] Kernel panic - not syncing: kernel: panic_on_warn set\n";
        let text = crash_text(console).unwrap();
        assert!(text.starts_with("[ 2.0] WARNING:"), "{text}");
        assert!(text.contains("panic_on_warn"));
        assert_eq!(crash_text("[ 1.0] bpfdiff guest: up\n"), None);
    }
}
