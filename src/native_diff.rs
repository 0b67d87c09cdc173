//! One program of a native type (docs/program-types.md) on the engine
//! (verifier, then interpreter) and on the kernel (loaded as its type, run
//! once with `BPF_PROG_TEST_RUN` on the same packet), compared as
//! [`Outcome`]s with the oracle's [`compare`]. `bpfdiff diff --prog-type`
//! and the packet tiers of `bpfdiff campaign` share this code.
//!
//! The reference is the engine: its verifier's verdict is its
//! [`Verdict`], and its interpreter's run (when the verifier accepts) its
//! [`Execution`]. So a kernel refusal of a program the engine accepted is
//! a `verdict` difference here (in the input model the kernel's refusals
//! are not compared, as the engine interpreter does not verify). The
//! packet after the run is the compared memory (`data_out`; for `syscall`,
//! the ctx after the run).

use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::verifier::{verify_as, RejectClass, VerifyOptions};
use bpfdiff_engine::Program;
use bpfdiff_oracle::backend::kernel::{native, reason_from_log};
use bpfdiff_oracle::{
    compare, Capabilities, Checking, Comparison, Execution, Outcome, Value, Verdict,
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
    let fd = match native::load(t, &program.insns, u32::from(reasons)) {
        Ok(fd) => fd,
        Err(e) if e.errno == libc::EPERM => return Outcome::not_run(name, "bpf() not permitted"),
        Err(e) => {
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
    match compare(reference, None, &others) {
        Comparison::Agree { mut skipped } => {
            skipped.extend(why);
            Comparison::Agree { skipped }
        }
        c => c,
    }
}
