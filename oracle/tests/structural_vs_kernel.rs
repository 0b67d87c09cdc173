//! Ground truth for the engine verifier's structural pass and
//! per-instruction rules: every case of
//! `engine/tests/support/structural_cases.rs` is loaded into the real
//! kernel as its own `BPF_PROG_TYPE_SOCKET_FILTER` program (no harness
//! wrapper, no prologue, so the kernel's pcs are the user's), with a level-1
//! log. The kernel must refuse it with the errno of the case's class, its
//! log's last error line must equal the engine's message, and where the log
//! names the instruction (do_check-time errors) that instruction must be
//! the engine's pc. Where they disagree the kernel is right.
//!
//! When `bpf()` is not permitted the tests print `SKIPPED` with the reason
//! and return; as root a refusal of a trivial program fails instead.

#[path = "../../engine/tests/support/structural_cases.rs"]
mod structural_cases;

use bpfdiff_engine::verifier::structural;
use bpfdiff_engine::Insn;
use bpfdiff_oracle::backend::kernel::loader::{self, LoadError};
use bpfdiff_oracle::backend::kernel::{errno_name, reason_from_log};
use structural_cases::{cases, engine_answer, Case, Stage};

const SOCKET_FILTER: libbpf_sys::bpf_prog_type = libbpf_sys::BPF_PROG_TYPE_SOCKET_FILTER;

fn load(insns: &[Insn]) -> Result<(), LoadError> {
    loader::load_as(SOCKET_FILTER, 0, insns, 1).map(drop)
}

/// `false` (after printing why) when this process may not load programs.
fn bpf_available() -> bool {
    let trivial = [Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)];
    match load(&trivial) {
        Ok(()) => true,
        Err(e) => {
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            assert!(
                !root,
                "running as root but bpf() refused a trivial program: errno {} ({})",
                e.errno,
                errno_name(e.errno)
            );
            eprintln!(
                "SKIPPED: bpf(BPF_PROG_LOAD) is not permitted here (errno {}, {}); not root",
                e.errno,
                errno_name(e.errno)
            );
            false
        }
    }
}

/// The index of the last instruction line of a log: `N: (xx) …`, or `N:
/// BUG_xx` for an encoding the kernel's disassembler does not know; state
/// lines (`N: R1=…`, `N: frame1: …`) are skipped.
fn last_insn_line(log: &str) -> Option<usize> {
    log.lines().rev().find_map(|l| {
        let (n, rest) = l.split_once(": ")?;
        let state = rest.starts_with("frame")
            || (rest.starts_with('R') && rest[1..].starts_with(|c: char| c.is_ascii_digit()));
        if state {
            return None;
        }
        n.trim().parse().ok()
    })
}

/// `N` of the log's `processed N insns` line.
fn processed(log: &str) -> Option<u64> {
    log.lines().find_map(|l| {
        l.strip_prefix("processed ")?
            .split(' ')
            .next()?
            .parse()
            .ok()
    })
}

fn check_case(c: &Case) -> Result<(), String> {
    let engine = engine_answer(c);
    let kernel = load(&c.insns);
    let Some((pc, class, message)) = &c.expect else {
        // Accepted by this stage: the kernel either accepts the program or
        // refuses it only after exploring it (a later stage's error).
        if let Err(e) = &engine {
            return Err(format!("engine refused: {e}"));
        }
        return match kernel {
            Ok(()) => Ok(()),
            Err(e) => {
                let log = e.log.unwrap_or_default();
                match processed(&log) {
                    Some(n) if n > 0 => Ok(()),
                    _ => Err(format!("kernel refused before exploring:\n{log}")),
                }
            }
        };
    };
    let Err(e) = kernel else {
        return Err("kernel accepted the program".into());
    };
    let want_errno = class.errno().expect("tested classes have an errno");
    if errno_name(e.errno) != want_errno && !(want_errno == "EBADF" || want_errno == "EPROTO") {
        return Err(format!(
            "kernel errno {} ({}), expected {want_errno}",
            e.errno,
            errno_name(e.errno)
        ));
    }
    if want_errno == "EPROTO" && e.errno != libc::EPROTO {
        return Err(format!("kernel errno {}, expected EPROTO", e.errno));
    }
    let log = e.log.unwrap_or_default();
    if *class == bpfdiff_engine::verifier::RejectClass::ProgramTooLarge {
        // bpf_prog_load refuses before the verifier runs: nothing is logged.
        return if reason_from_log(&log).is_empty() {
            Ok(())
        } else {
            Err(format!("expected an empty log, got:\n{log}"))
        };
    }
    let reason = reason_from_log(&log);
    if &reason != message {
        return Err(format!(
            "kernel says {reason:?}, case says {message:?}\n{log}"
        ));
    }
    let explored = processed(&log).unwrap_or(0) > 0;
    match &c.stage {
        Stage::Structural if explored => {
            return Err(format!("kernel found it while exploring:\n{log}"));
        }
        Stage::Structural | Stage::StackDepth(_) => {}
        _ => {
            if !explored {
                return Err(format!("kernel found it before exploring:\n{log}"));
            }
            if last_insn_line(&log) != Some(*pc) {
                return Err(format!(
                    "kernel reports it at {:?}, case at {pc}\n{log}",
                    last_insn_line(&log)
                ));
            }
        }
    }
    match engine {
        Err(r) if r.pc == *pc && r.class == *class && &r.message == message => Ok(()),
        other => Err(format!("engine answered {other:?}")),
    }
}

#[test]
fn every_case_matches_the_kernel() {
    if !bpf_available() {
        return;
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for c in cases() {
        if !c.privileged {
            eprintln!(
                "SKIPPED {}: an unprivileged case; this machine's kernel refuses all unprivileged bpf() (kernel.unprivileged_bpf_disabled)",
                c.name
            );
            continue;
        }
        checked += 1;
        if let Err(why) = check_case(&c) {
            failures.push(format!("{} ({}): {why}", c.name, c.kernel_fn));
        }
    }
    assert!(checked >= 40, "only {checked} cases checked");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn unknown_opcodes_are_the_kernels() {
    // Every opcode byte as slot 1 of `r0 = 0; <op>; exit` with zero fields:
    // the kernel says `unknown opcode %02x` exactly for the bytes the
    // structural pass refuses with that message.
    if !bpf_available() {
        return;
    }
    let mut wrong = Vec::new();
    for op in 0..=255u8 {
        let insns = [
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(op, 0, 0, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ];
        let kernel_unknown = match load(&insns) {
            Ok(()) => false,
            Err(e) => {
                reason_from_log(&e.log.unwrap_or_default()) == format!("unknown opcode {op:02x}")
            }
        };
        let engine_unknown = matches!(
            structural::check(&bpfdiff_engine::Program::new(insns.to_vec()), true),
            Err(r) if r.message == format!("unknown opcode {op:02x}")
        );
        if kernel_unknown != engine_unknown {
            wrong.push(format!(
                "{op:02x}: kernel {kernel_unknown}, engine {engine_unknown}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A small deterministic generator (xorshift64*), so every run tries the
/// same programs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random slot biased towards what the structural pass looks at: jumps,
/// calls, exits, `ld_imm64` and its second slot, LDX, unknown bytes. Map,
/// BTF and kfunc references are left out (their answers depend on this
/// process's fds and the kernel's BTF).
fn random_slot(rng: &mut Rng) -> Insn {
    const OPS: [u8; 14] = [
        0x05, 0x06, 0x15, 0x1d, 0x18, 0x85, 0x95, 0xb7, 0x00, 0x79, 0x61, 0x07, 0x8f, 0xe5,
    ];
    let op = if rng.below(10) == 0 {
        rng.below(256) as u8
    } else {
        OPS[rng.below(OPS.len() as u64) as usize]
    };
    let mut src = rng.below(3) as u8;
    if (op == 0x18 && (1..=3).contains(&src)) || (op == 0x85 && src == 2) {
        src = 0;
    }
    let dst = rng.below(11) as u8;
    let off = rng.below(6) as i16 - 2;
    let imm = if op == 0x85 && src == 0 {
        1
    } else {
        rng.below(6) as i32 - 2
    };
    Insn::new(op, dst, src, off, imm)
}

#[test]
fn random_programs_fail_structurally_exactly_when_the_kernel_does() {
    // The kernel's structural passes end before exploration: its log then
    // says `processed 0 insns`. The engine's structural pass must refuse
    // exactly those programs, with the kernel's message.
    if !bpf_available() {
        return;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut wrong = Vec::new();
    let (mut structural_refusals, mut explored) = (0, 0);
    for _ in 0..8000 {
        let len = 1 + rng.below(10) as usize;
        let mut insns: Vec<Insn> = (0..len).map(|_| random_slot(&mut rng)).collect();
        if rng.below(3) != 0 {
            insns.push(Insn::new(0x95, 0, 0, 0, 0));
        }
        let engine = structural::check(&bpfdiff_engine::Program::new(insns.clone()), true);
        if matches!(&engine, Err(r) if r.class == bpfdiff_engine::verifier::RejectClass::Unsupported)
        {
            continue;
        }
        let kernel_structural = match load(&insns) {
            Ok(()) => None,
            Err(e) => {
                let log = e.log.unwrap_or_default();
                (processed(&log) == Some(0)).then(|| reason_from_log(&log))
            }
        };
        match (&kernel_structural, &engine) {
            (None, Ok(_)) => explored += 1,
            (Some(k), Err(r)) if *k == r.message => structural_refusals += 1,
            _ => wrong.push(format!(
                "{insns:?}\n  kernel: {kernel_structural:?}\n  engine: {engine:?}"
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements, first:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(5)].join("\n")
    );
    eprintln!("{structural_refusals} refused structurally, {explored} explored; all agree");
    assert!(structural_refusals > 100 && explored > 100);
}
