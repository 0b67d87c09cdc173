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
