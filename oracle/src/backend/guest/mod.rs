//! Kernels in qemu guests as backends: `kernel@<series>` (JIT),
//! `kernel@<series>-interp` (`net.core.bpf_jit_enable=0`, the kernel's
//! interpreter) and `kernel@<series>-harden` (`net.core.bpf_jit_harden=2`,
//! constant blinding). See docs/kernel-matrix.md.
//!
//! - A backend boots its guest on first use and keeps it running; programs
//!   go to the agent ([`agent`]) over a serial line ([`protocol`]), which
//!   runs them through the host backend's own wrapper and loader and
//!   answers with the same [`Outcome`].
//! - Inside a guest the host's safety rule is lifted: programs the host
//!   backend withholds run there.
//! - A guest that panics, oopses, WARNs, reports KASAN or stops answering
//!   gives the outcome `crashed` with its console text, and is booted
//!   again for the next program.
//! - Without qemu, the kernel image or the agent the backend says so once on
//!   stderr and returns `NotRun` with the reason.

pub mod agent;
pub mod cpio;
pub mod initrd;
pub mod protocol;
pub mod vm;

use super::{Backend, Capabilities, Checking};
use crate::outcome::{Execution, Outcome, Verdict};
use bpfdiff_engine::Program;
use initrd::KernelImage;
use protocol::{LogReply, Op, Request};
use std::sync::Mutex;
use std::time::Duration;
use vm::{Vm, VmFailure};

/// The environment variable for the longest silence of a guest at work on
/// a program (ms): neither an answer nor a heartbeat.
pub const TIMEOUT_ENV: &str = "BPFDIFF_GUEST_TIMEOUT_MS";
/// The environment variable for the per-program time limit in a guest (ms),
/// heartbeats or not.
pub const LIMIT_ENV: &str = "BPFDIFF_GUEST_LIMIT_MS";
/// The environment variable for the boot time limit (ms).
pub const BOOT_TIMEOUT_ENV: &str = "BPFDIFF_GUEST_BOOT_TIMEOUT_MS";

/// How the guest kernel runs programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The JIT (`bpf_jit_enable=1`).
    Jit,
    /// The interpreter (`bpf_jit_enable=0`).
    Interp,
    /// The JIT with constant blinding (`bpf_jit_harden=2`).
    Harden,
    /// The JIT, loading native socket filters without capabilities
    /// (`kernel.unprivileged_bpf_disabled=0` in the guest; the input model
    /// is not run).
    Unpriv,
}

impl Mode {
    /// How the guest runs programs, in words: `JIT`, `interpreter`, `JIT,
    /// bpf_jit_harden=2`.
    pub fn describe(self) -> &'static str {
        match self {
            Mode::Jit => "JIT",
            Mode::Interp => "interpreter",
            Mode::Harden => "JIT, bpf_jit_harden=2",
            Mode::Unpriv => "JIT, unprivileged loads",
        }
    }

    fn cmdline(self) -> &'static str {
        match self {
            Mode::Jit => "bpfdiff.jit_enable=1 bpfdiff.jit_harden=0",
            Mode::Interp => "bpfdiff.jit_enable=0 bpfdiff.jit_harden=0",
            Mode::Harden => "bpfdiff.jit_enable=1 bpfdiff.jit_harden=2",
            Mode::Unpriv => "bpfdiff.jit_enable=1 bpfdiff.jit_harden=0 bpfdiff.unpriv=1",
        }
    }
}

/// A guest backend's name, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestSpec {
    /// The kernel series (`6.1`, `6.12`): a folder of the kernel cache.
    pub series: String,
    /// How programs run.
    pub mode: Mode,
}

impl GuestSpec {
    /// Parses `kernel@<major>.<minor>[-interp|-harden|-unpriv]`; `None` for any
    /// other name.
    pub fn parse(name: &str) -> Option<GuestSpec> {
        let rest = name.strip_prefix("kernel@")?;
        let (series, mode) = match rest.rsplit_once('-') {
            Some((s, "interp")) => (s, Mode::Interp),
            Some((s, "harden")) => (s, Mode::Harden),
            Some((s, "unpriv")) => (s, Mode::Unpriv),
            Some(_) => return None,
            None => (rest, Mode::Jit),
        };
        let (major, minor) = series.split_once('.')?;
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (numeric(major) && numeric(minor)).then(|| GuestSpec {
            series: series.to_string(),
            mode,
        })
    }
}

/// Backend names live as long as the process (the trait returns
/// `&'static str`); each distinct name is kept once.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    leaked
}

fn env_ms(var: &str, default: u64) -> Duration {
    Duration::from_millis(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// Consecutive failed boots after which the backend gives up.
const MAX_FAILED_BOOTS: u32 = 2;

/// A kernel in a qemu guest.
pub struct GuestBackend {
    name: &'static str,
    spec: GuestSpec,
    image: Result<KernelImage, String>,
    vm: Option<Vm>,
    failed_boots: u32,
    unavailable: Option<String>,
    timeout: Duration,
    limit: Duration,
    boot_timeout: Duration,
    last_boot: Option<Duration>,
    release: Option<String>,
}

impl GuestBackend {
    /// A backend for `spec`; nothing boots until the first program.
    pub fn new(spec: GuestSpec) -> GuestBackend {
        let name = intern(&format!(
            "kernel@{}{}",
            spec.series,
            match spec.mode {
                Mode::Jit => "",
                Mode::Interp => "-interp",
                Mode::Harden => "-harden",
                Mode::Unpriv => "-unpriv",
            }
        ));
        let image = KernelImage::find(&spec.series);
        let unavailable = image
            .as_ref()
            .err()
            .cloned()
            .or_else(|| initrd::qemu().err())
            .or_else(|| initrd::agent().err());
        if let Some(why) = &unavailable {
            eprintln!("bpfdiff: {name} disabled: {why}");
        }
        GuestBackend {
            name,
            spec,
            image,
            vm: None,
            failed_boots: 0,
            unavailable,
            timeout: env_ms(TIMEOUT_ENV, 30_000),
            limit: env_ms(LIMIT_ENV, 900_000),
            boot_timeout: env_ms(BOOT_TIMEOUT_ENV, 180_000),
            last_boot: None,
            release: None,
        }
    }

    /// Sets the longest silence of a guest at work (default 30 s, or
    /// `BPFDIFF_GUEST_TIMEOUT_MS`): neither an answer nor a heartbeat.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Why the backend cannot run anything, if it cannot.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// The time the last boot took, start of qemu to the agent's hello.
    pub fn last_boot_time(&self) -> Option<Duration> {
        self.last_boot
    }

    /// The guest kernel's banner (`/proc/version`), once booted.
    pub fn kernel_version(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// Boots the guest now if it is not running (a campaign can pay the
    /// boot before its clock starts).
    pub fn boot(&mut self) -> Result<(), String> {
        if let Some(why) = &self.unavailable {
            return Err(why.clone());
        }
        if self.vm.is_some() {
            return Ok(());
        }
        let image = self.image.as_ref().map_err(Clone::clone)?;
        let booted = Vm::boot(image, self.spec.mode.cmdline(), self.boot_timeout).and_then(|vm| {
            match &vm.hello.error {
                Some(e) => Err(format!("the guest's agent cannot serve: {e}")),
                None => Ok(vm),
            }
        });
        match booted {
            Ok(vm) => {
                self.failed_boots = 0;
                self.last_boot = Some(vm.boot_time);
                self.release = Some(vm.hello.version.clone());
                self.vm = Some(vm);
                Ok(())
            }
            Err(why) => {
                self.failed_boots += 1;
                let why = format!("{} did not boot: {why}", self.name);
                if self.failed_boots >= MAX_FAILED_BOOTS {
                    eprintln!("bpfdiff: {} disabled: {why}", self.name);
                    self.unavailable = Some(why.clone());
                }
                Err(why)
            }
        }
    }

    fn call(&mut self, request: &Request) -> Result<Vec<u8>, Box<Outcome>> {
        if let Err(why) = self.boot() {
            return Err(Box::new(Outcome::not_run(self.name, why)));
        }
        let vm = self.vm.as_mut().expect("booted");
        match vm.call(request, self.timeout, self.limit) {
            Ok(frame) => Ok(frame),
            Err(failure) => {
                self.vm = None; // the next program boots a fresh guest
                let what = match failure {
                    VmFailure::Ended(text) => format!("the guest kernel crashed:\n{text}"),
                    VmFailure::Silent(ms, text) => {
                        format!("the guest stopped answering within {ms} ms; console:\n{text}")
                    }
                    VmFailure::Busy(after_ms) => {
                        return Err(Box::new(Outcome {
                            backend: self.name.to_string(),
                            verdict: Verdict::Unknown,
                            execution: Execution::TimedOut { after_ms },
                        }))
                    }
                };
                Err(Box::new(Outcome {
                    backend: self.name.to_string(),
                    verdict: Verdict::Unknown,
                    execution: Execution::Crashed { what },
                }))
            }
        }
    }

    /// Loads the wrapped program in the guest with a verifier log of
    /// `level` and returns whether it was accepted and the log as the kernel
    /// wrote it (like [`KernelBackend::raw_verifier_log`](super::kernel::KernelBackend::raw_verifier_log)).
    pub fn raw_verifier_log(
        &mut self,
        program: &Program,
        input_len: usize,
        level: u32,
    ) -> Result<(bool, String), String> {
        let request = Request {
            op: Op::VerifierLog,
            level: level.min(u8::MAX as u32) as u8,
            program: program.to_bytes(),
            input: vec![0; input_len],
        };
        let frame = self.call(&request).map_err(|o| o.summary())?;
        match serde_json::from_slice::<LogReply>(&frame) {
            Ok(LogReply::Log { accepted, log }) => Ok((accepted, log)),
            Ok(LogReply::Error(e)) => Err(e),
            Err(e) => Err(format!("unreadable reply from the guest: {e}")),
        }
    }
}

impl GuestBackend {
    /// Loads `program` in the guest without capabilities as a socket
    /// filter and runs it on `packet` (the host's
    /// [`unpriv::outcome`](crate::backend::kernel::unpriv::outcome), in
    /// the guest, where changing its sysctl harms nothing).
    pub fn run_unprivileged_socket_filter(&mut self, program: &Program, packet: &[u8]) -> Outcome {
        self.outcome_of(Op::RunUnprivSocket, program, packet)
    }

    /// Sends a request of `op` for `program` on `input` and reads the
    /// `Outcome` the guest answers, named after this backend.
    fn outcome_of(&mut self, op: Op, program: &Program, input: &[u8]) -> Outcome {
        let request = Request {
            op,
            level: 0,
            program: program.to_bytes(),
            input: input.to_vec(),
        };
        let frame = match self.call(&request) {
            Ok(frame) => frame,
            Err(outcome) => return *outcome,
        };
        match serde_json::from_slice::<Outcome>(&frame) {
            Ok(mut outcome) => {
                outcome.backend = self.name.to_string();
                outcome
            }
            Err(e) => Outcome::not_run(self.name, format!("unreadable reply from the guest: {e}")),
        }
    }
}

impl Backend for GuestBackend {
    fn name(&self) -> &'static str {
        self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checking: Checking::Safety,
            full_r0: true,
            memory_after: true,
            zeroed_stack: false,
        }
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        if self.spec.mode == Mode::Unpriv {
            return Outcome::not_run(
                self.name,
                "an -unpriv guest runs native socket filters only (--prog-type socket_filter, the packet tiers)",
            );
        }
        self.outcome_of(Op::Run, program, input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed() {
        assert_eq!(
            GuestSpec::parse("kernel@6.12-interp"),
            Some(GuestSpec {
                series: "6.12".into(),
                mode: Mode::Interp
            })
        );
        assert_eq!(GuestSpec::parse("kernel@6.1").unwrap().mode, Mode::Jit);
        assert_eq!(
            GuestSpec::parse("kernel@6.1-harden").unwrap().mode,
            Mode::Harden
        );
        for bad in [
            "kernel",
            "kernel@",
            "kernel@6",
            "kernel@6.x",
            "kernel@6.1-fast",
            "jit@6.1",
        ] {
            assert_eq!(GuestSpec::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_missing_image_is_reported_not_hidden() {
        std::env::set_var(initrd::KERNELS_ENV, "/nonexistent/bpfdiff-kernels");
        let mut b = GuestBackend::new(GuestSpec::parse("kernel@6.12").unwrap());
        let why = b.unavailable().expect("unavailable").to_string();
        assert!(why.contains("scripts/kernels.sh"), "{why}");
        let out = b.run(&Program::new(vec![]), &[]);
        assert_eq!(out.backend, "kernel@6.12");
        assert!(matches!(out.execution, Execution::NotRun { .. }));
    }
}
