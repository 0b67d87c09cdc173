//! One program of a native type (docs/program-types.md) on the engine
//! (verifier, then interpreter) and on the kernel (loaded as its type, run
//! once with `BPF_PROG_TEST_RUN` on the same packet), compared as
//! [`Outcome`]s with the oracle's [`compare`]. `bpfdiff diff --prog-type`
//! and the packet tiers of `bpfdiff campaign` share this code.
//!
//! The reference is the engine: its verifier's verdict is its
//! [`Verdict`], and its interpreter's run (when the verifier accepts) its
//! [`Execution`]. So a kernel refusal of a program the engine accepted is
//! a `verdict` difference here, and two refusals of different error
//! classes a `verdict-class` one (in the input model the kernel's refusals
//! are not compared, as the engine interpreter does not verify). The
//! packet after the run is the compared memory (`data_out`; for `syscall`,
//! the ctx after the run).

use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::verifier::{verify_as, RejectClass, VerifyOptions};
use bpfdiff_engine::Program;
use bpfdiff_oracle::backend::kernel::{native, reason_from_log};
use bpfdiff_oracle::{
    compare, Aspect, Capabilities, Checking, Comparison, Difference, Execution, Outcome, Value,
    Verdict,
};

/// The backends a native comparison runs: the engine (verifier +
/// interpreter) as `interp`, and `kernel`.
pub const NATIVE_BACKENDS: [&str; 2] = ["interp", "kernel"];

/// What a native comparison saw.
#[derive(Clone, Debug)]
pub struct NativeCheck {
    /// One outcome per backend asked for, in that order.
    pub outcomes: Vec<Outcome>,
    /// The comparison of every outcome after the first with the first.
    pub comparison: Comparison,
}

/// The engine's outcome: its verifier's verdict for `env.prog_type`, then
/// its interpreter's run on `env` when accepted.
pub fn engine_outcome(program: &Program, env: &RunEnv) -> Outcome {
    let name = NATIVE_BACKENDS[0];
    let t = env.prog_type;
    let report = verify_as(program, &VerifyOptions::default(), t);
    match report.verdict {
        bpfdiff_engine::verifier::Verdict::Rejected {
            class: RejectClass::Unsupported,
            message,
            ..
        } => {
            return Outcome::not_run(
                name,
                format!("the engine's verifier cannot judge it: {message}"),
            )
        }
        bpfdiff_engine::verifier::Verdict::Rejected {
            pc, message, class, ..
        } => {
            let mut o = Outcome::rejected(name, 0, format!("insn {pc}: {message}"), None);
            if let Verdict::Rejected { class: c, .. } = &mut o.verdict {
                *c = Some(class.as_str().to_string());
            }
            return o;
        }
        bpfdiff_engine::verifier::Verdict::Accepted => {}
    }
    let vm = match Interpreter::new(program) {
        Ok(vm) => vm,
        Err(e) => return Outcome::rejected(name, 0, e.to_string(), None),
    };
    let mut env = env.clone();
    let run = vm.run_env(&mut env, DEFAULT_BUDGET);
    let execution = match run.result {
        ExecResult::Returned { r0, r0_derived } => Execution::Returned {
            // BPF_PROG_TEST_RUN's retval is the low 32 bits of r0.
            r0: Value {
                bits: u64::from(r0 as u32),
                derived: r0_derived,
            },
            mem: observed_memory(&env),
            mem_derived: Vec::new(),
            regs: None,
        },
        ExecResult::Fault(f) => Execution::Fault {
            kind: f.kind.name().to_string(),
            pc: Some(f.pc),
            detail: f.to_string(),
        },
        ExecResult::OutOfBudget => Execution::OutOfBudget,
    };
    Outcome {
        backend: name.to_string(),
        verdict: Verdict::Accepted,
        execution,
    }
}

/// What the comparison reads as memory after the run: the packet as
/// `data_out` returns it, or the ctx for types without a packet.
fn observed_memory(env: &RunEnv) -> Vec<u8> {
    env.packet_after().unwrap_or_else(|| env.mem.clone())
}

/// The kernel's outcome: `program` loaded as `env.prog_type` (with a
/// verifier log for the refusal's reason when `reasons` is set) and run
/// once on the same packet or ctx.
pub fn kernel_outcome(program: &Program, env: &RunEnv, reasons: bool) -> Outcome {
    let name = NATIVE_BACKENDS[1];
    let t = env.prog_type;
    // The verdict comes from a load without a log: a level-1 log that
    // overflows its buffer fails the load with ENOSPC even when the
    // program verifies (a long loop prints a state at every branch). A
    // refused program is loaded again with the log for its reason.
    let fd = match native::load(t, &program.insns, 0) {
        Ok(fd) => fd,
        Err(e) if e.errno == libc::EPERM => return Outcome::not_run(name, "bpf() not permitted"),
        Err(mut e) => {
            if reasons {
                if let Err(logged) = native::load(t, &program.insns, 1) {
                    e.log = logged.log;
                }
            }
            let reason = match e.log.as_deref() {
                Some(log) => reason_from_log(log),
                None => String::new(),
            };
            let class = bpfdiff_engine::verifier::RejectClass::from_kernel_message(&reason)
                .map(|c| c.as_str().to_string());
            let mut o = Outcome::rejected(name, e.errno, reason, e.log);
            if let Verdict::Rejected { class: c, .. } = &mut o.verdict {
                *c = class;
            }
            return o;
        }
    };
    let (packet, ctx): (Vec<u8>, Vec<u8>) = if t.has_packet() {
        // The packet as given: the hidden Ethernet header, then the rest.
        (
            [env.hidden_head.as_slice(), env.mem.as_slice()].concat(),
            Vec::new(),
        )
    } else {
        (Vec::new(), env.mem.clone())
    };
    let execution = match native::test_run(&fd, t, &packet, &ctx) {
        Ok(run) => Execution::Returned {
            r0: Value {
                bits: u64::from(run.retval),
                derived: false,
            },
            mem: if t.has_packet() {
                run.data_out.unwrap_or_default()
            } else {
                run.ctx_out.unwrap_or_default()
            },
            mem_derived: Vec::new(),
            regs: None,
        },
        Err(errno) => Execution::Fault {
            kind: "other".to_string(),
            pc: None,
            detail: format!("BPF_PROG_TEST_RUN failed (errno {errno})"),
        },
    };
    Outcome {
        backend: name.to_string(),
        verdict: Verdict::Accepted,
        execution,
    }
}

/// The capabilities the comparison gives the kernel: its refusals are
/// compared (the reference verified the program too), its retval is 32
/// bits as is the reference's, and the packet is observed after the run.
const KERNEL_CAPS: Capabilities = Capabilities {
    checking: Checking::Encoding,
    full_r0: false,
    memory_after: true,
    zeroed_stack: false,
};

/// Runs `program` on `env` on the backends `names` (reference first) and
/// compares. Names other than [`NATIVE_BACKENDS`] run the input model
/// only: they get a not-run outcome with the reason and are left out.
pub fn check(program: &Program, env: &RunEnv, names: &[&str], reasons: bool) -> NativeCheck {
    let outcomes: Vec<Outcome> = names
        .iter()
        .map(|&n| match n {
            "interp" => engine_outcome(program, env),
            "kernel" => kernel_outcome(program, env, reasons),
            other => Outcome::not_run(
                other,
                format!("program type {}: runs the input model only", env.prog_type),
            ),
        })
        .collect();
    let comparison = compare_outcomes(&outcomes);
    NativeCheck {
        outcomes,
        comparison,
    }
}

/// Compares the run outcomes with the first run one. Backends that did
/// not run are left out, with their reason; fewer than two left is
/// inconclusive.
pub fn compare_outcomes(outcomes: &[Outcome]) -> Comparison {
    let not_run =
        |o: &Outcome| !o.verdict.is_rejected() && matches!(o.execution, Execution::NotRun { .. });
    let why: Vec<String> = outcomes
        .iter()
        .filter(|o| not_run(o))
        .map(|o| format!("{}: {}", o.backend, o.execution))
        .collect();
    let ran: Vec<&Outcome> = outcomes.iter().filter(|o| !not_run(o)).collect();
    let [reference, others @ ..] = ran.as_slice() else {
        return Comparison::Inconclusive { why };
    };
    if others.is_empty() {
        let mut why = why;
        why.push("fewer than two backends ran it".to_string());
        return Comparison::Inconclusive { why };
    }
    let others: Vec<(Outcome, Capabilities)> =
        others.iter().map(|o| ((*o).clone(), KERNEL_CAPS)).collect();
    let mut comparison = compare(reference, None, &others);
    // Both refused: the error classes must agree too (the engine's
    // verifier models the kernel's messages).
    let class_differences: Vec<Difference> = others
        .iter()
        .filter_map(
            |(o, _)| match (reference.reject_class(), o.reject_class()) {
                (Some(a), Some(b)) if a != b => Some(Difference {
                    backend: o.backend.clone(),
                    aspect: Aspect::VerdictClass,
                    detail: format!("{a} vs {b}"),
                    known: None,
                }),
                _ => None,
            },
        )
        .collect();
    if !class_differences.is_empty() {
        comparison = match comparison {
            Comparison::Diverge { mut differences } => {
                differences.extend(class_differences);
                Comparison::Diverge { differences }
            }
            _ => Comparison::Diverge {
                differences: class_differences,
            },
        };
    }
    match comparison {
        Comparison::Agree { mut skipped } => {
            skipped.extend(why);
            Comparison::Agree { skipped }
        }
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(backend: &str, class: &str) -> Outcome {
        let mut o = Outcome::rejected(backend, 13, "invalid access", None);
        if let Verdict::Rejected { class: c, .. } = &mut o.verdict {
            *c = Some(class.to_string());
        }
        o
    }

    fn returned(backend: &str, retval: u64, packet: Vec<u8>) -> Outcome {
        Outcome {
            backend: backend.to_string(),
            verdict: Verdict::Accepted,
            execution: Execution::Returned {
                r0: Value {
                    bits: retval,
                    derived: false,
                },
                mem: packet,
                mem_derived: Vec::new(),
                regs: None,
            },
        }
    }

    fn aspects(c: &Comparison) -> Vec<&'static str> {
        match c {
            Comparison::Diverge { differences } => {
                differences.iter().map(|d| d.aspect.name()).collect()
            }
            _ => Vec::new(),
        }
    }

    // The reference verified the program: a kernel refusal of what the
    // engine accepted is a verdict difference (not skipped as in the input
    // model), two refusals of different classes a verdict-class one.
    #[test]
    fn native_comparisons_compare_verdicts_classes_retval_and_packet() {
        let ok = returned("interp", 1, vec![1, 2]);
        let c = compare_outcomes(&[ok.clone(), refused("kernel", "memory-access")]);
        assert_eq!(aspects(&c), ["verdict"]);
        let c = compare_outcomes(&[refused("interp", "ctx-access"), ok.clone()]);
        assert_eq!(aspects(&c), ["verdict"]);
        let c = compare_outcomes(&[
            refused("interp", "ctx-access"),
            refused("kernel", "memory-access"),
        ]);
        assert_eq!(aspects(&c), ["verdict-class"]);
        let c = compare_outcomes(&[refused("interp", "a"), refused("kernel", "a")]);
        assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
        let c = compare_outcomes(&[ok.clone(), returned("kernel", 2, vec![1, 3])]);
        assert_eq!(aspects(&c), ["r0", "memory"]);
        let c = compare_outcomes(&[ok.clone(), ok.clone()]);
        assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
        // The engine's verifier cannot judge it: nothing to compare.
        let c = compare_outcomes(&[Outcome::not_run("interp", "unsupported"), ok]);
        assert!(matches!(c, Comparison::Inconclusive { .. }), "{c:?}");
    }
}
