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
//!
//! A program with maps (`ld_imm64` src=1/src=2 naming map `i` of the
//! definitions given) gets them on both sides: the engine's verifier and
//! interpreter see the definitions, the kernel real maps with the same
//! initial contents ([`UserMaps`], the run pinned to CPU 0). The maps'
//! contents after the run are compared key by key
//! ([`diff_maps`]): a difference there is one of aspect `maps`.

use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::maps::{MapDef, MapSet};
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::verifier::{verify_with_maps, RejectClass, VerifyOptions};
use bpfdiff_engine::Program;
use bpfdiff_oracle::backend::kernel::user_maps::{on_cpu0, UserMaps};
use bpfdiff_oracle::backend::kernel::{native, reason_from_log};
use bpfdiff_oracle::map_contents::{diff_maps, MapContents};
use bpfdiff_oracle::{
    compare, Aspect, Capabilities, Checking, Comparison, Difference, Execution, Outcome, Value,
    Verdict,
};
use std::os::fd::AsFd;

/// The backends a native comparison runs: the engine (verifier +
/// interpreter) as `interp`, and `kernel`.
pub const NATIVE_BACKENDS: [&str; 2] = ["interp", "kernel"];

/// The unprivileged kernel backend (socket filters only, with the opt-in
/// of `BPFDIFF_HOST_SYSCTL`; docs/kernel-matrix.md).
pub const UNPRIV_BACKEND: &str = "kernel-unpriv";

/// What a native comparison saw.
#[derive(Clone, Debug)]
pub struct NativeCheck {
    /// One outcome per backend asked for, in that order.
    pub outcomes: Vec<Outcome>,
    /// Per outcome, the maps' contents after its run (empty when the
    /// program has no maps or did not return).
    pub maps: Vec<Vec<MapContents>>,
    /// The comparison of every outcome after the first with the first.
    pub comparison: Comparison,
}

/// One backend's outcome and, when it returned, its maps after the run.
#[derive(Clone, Debug)]
pub struct NativeOutcome {
    /// The outcome.
    pub outcome: Outcome,
    /// The maps' contents after the run (empty without maps or a return).
    pub maps: Vec<MapContents>,
    /// The engine's run only: the first instruction that read stack bytes
    /// never written. The engine reads zeros there, the kernel (which lets
    /// root read uninitialised stack) whatever its stack held, so results
    /// after such a read are not compared with a backend that does not
    /// zero its stack.
    pub uninit_stack_read: Option<usize>,
}

impl From<Outcome> for NativeOutcome {
    fn from(outcome: Outcome) -> NativeOutcome {
        NativeOutcome {
            outcome,
            maps: Vec::new(),
            uninit_stack_read: None,
        }
    }
}

/// The engine's outcome: its verifier's verdict for `env.prog_type` with
/// `maps`, then its interpreter's run on `env` (with fresh maps of `maps`)
/// when accepted.
pub fn engine_outcome(program: &Program, env: &RunEnv, maps: &[MapDef]) -> NativeOutcome {
    let name = NATIVE_BACKENDS[0];
    let t = env.prog_type;
    let report = verify_with_maps(program, &VerifyOptions::default(), t, maps);
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
            .into()
        }
        bpfdiff_engine::verifier::Verdict::Rejected {
            pc, message, class, ..
        } => {
            let mut o = Outcome::rejected(name, 0, format!("insn {pc}: {message}"), None);
            if let Verdict::Rejected { class: c, .. } = &mut o.verdict {
                *c = Some(class.as_str().to_string());
            }
            return o.into();
        }
        bpfdiff_engine::verifier::Verdict::Accepted => {}
    }
    let vm = match Interpreter::new(program) {
        Ok(vm) => vm,
        Err(e) => return Outcome::rejected(name, 0, e.to_string(), None).into(),
    };
    let mut env = env.clone();
    env.maps = MapSet::new(maps);
    let run = vm.run_env(&mut env, DEFAULT_BUDGET);
    let returned = matches!(run.result, ExecResult::Returned { .. });
    let uninit_stack_read = run.uninit_stack_read;
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
    NativeOutcome {
        outcome: Outcome {
            backend: name.to_string(),
            verdict: Verdict::Accepted,
            execution,
        },
        maps: if returned {
            MapContents::of_engine_set(&env.maps)
        } else {
            Vec::new()
        },
        uninit_stack_read,
    }
}

/// What the comparison reads as memory after the run: the packet as
/// `data_out` returns it, or the ctx for types without a packet.
fn observed_memory(env: &RunEnv) -> Vec<u8> {
    env.packet_after().unwrap_or_else(|| env.mem.clone())
}

/// The kernel's outcome: `program` loaded as `env.prog_type` (with a
/// verifier log for the refusal's reason when `reasons` is set), its maps
/// created as kernel maps of `maps` and patched in, and run once on the
/// same packet or ctx, pinned to CPU 0; the maps read back after.
pub fn kernel_outcome(
    program: &Program,
    env: &RunEnv,
    maps: &[MapDef],
    reasons: bool,
) -> NativeOutcome {
    kernel_outcome_as(NATIVE_BACKENDS[1], program, env, maps, reasons)
}

/// [`kernel_outcome`] for `kernel-harden`: the same loads with the JIT's
/// constant blinding (`host_harden`, behind its opt-in).
pub fn hardened_kernel_outcome(
    program: &Program,
    env: &RunEnv,
    maps: &[MapDef],
    reasons: bool,
) -> NativeOutcome {
    use bpfdiff_oracle::backend::kernel::host_harden;
    let name = bpfdiff_oracle::registry::HOST_HARDEN;
    if let Err(why) = host_harden::enable() {
        return Outcome::not_run(name, why).into();
    }
    let _hardened = host_harden::HardenedScope::enter();
    kernel_outcome_as(name, program, env, maps, reasons)
}

fn kernel_outcome_as(
    name: &'static str,
    program: &Program,
    env: &RunEnv,
    maps: &[MapDef],
    reasons: bool,
) -> NativeOutcome {
    let t = env.prog_type;
    let (user_maps, insns) = if maps.is_empty() {
        (None, program.insns.clone())
    } else {
        let user_maps = match UserMaps::create(maps) {
            Ok(m) => m,
            Err(why) if why.contains("Operation not permitted") => {
                return Outcome::not_run(name, format!("bpf() not permitted: {why}")).into()
            }
            Err(why) => return Outcome::not_run(name, why).into(),
        };
        match user_maps.patch(&program.insns) {
            Ok(insns) => (Some(user_maps), insns),
            Err(why) => return Outcome::not_run(name, why).into(),
        }
    };
    // The verdict comes from a load without a log: a level-1 log that
    // overflows its buffer fails the load with ENOSPC even when the
    // program verifies (a long loop prints a state at every branch). A
    // refused program is loaded again with the log for its reason.
    let fd = match native::load(t, &insns, 0) {
        Ok(fd) => fd,
        Err(e) if e.errno == libc::EPERM => {
            return Outcome::not_run(name, "bpf() not permitted").into()
        }
        Err(mut e) => {
            if reasons {
                if let Err(logged) = native::load(t, &insns, 1) {
                    e.log = logged.log;
                }
            }
            let reason = match e.log.as_deref() {
                Some(log) => reason_from_log(log),
                None => String::new(),
            };
            return Outcome::rejected_by_kernel(name, e.errno, reason, e.log).into();
        }
    };
    // A prog_array's `self` slots take the program now that it has an fd.
    if let Some(m) = &user_maps {
        if let Err(why) = m.fill_programs(fd.as_fd()) {
            return Outcome::not_run(name, why).into();
        }
    }
    let (packet, ctx): (Vec<u8>, Vec<u8>) = if t.has_packet() {
        // The packet as given: the hidden Ethernet header, then the rest.
        (
            [env.hidden_head.as_slice(), env.mem.as_slice()].concat(),
            Vec::new(),
        )
    } else {
        (Vec::new(), env.mem.clone())
    };
    // With maps, pinned to CPU 0: a per-CPU map's copy there is the one
    // compared (without, the run needs no pinning).
    let run = || native::test_run(&fd, t, &packet, &ctx);
    let run = if user_maps.is_some() {
        on_cpu0(run)
    } else {
        run()
    };
    let mut after = Vec::new();
    let execution = match run {
        Ok(run) => match user_maps.as_ref().map(UserMaps::read).transpose() {
            Err(why) => Execution::Fault {
                kind: "other".to_string(),
                pc: None,
                detail: format!("the maps cannot be read back: {why}"),
            },
            Ok(read) => {
                after = read.unwrap_or_default();
                Execution::Returned {
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
                }
            }
        },
        Err(errno) => Execution::Fault {
            kind: "other".to_string(),
            pc: None,
            detail: format!("BPF_PROG_TEST_RUN failed (errno {errno})"),
        },
    };
    NativeOutcome {
        outcome: Outcome {
            backend: name.to_string(),
            verdict: Verdict::Accepted,
            execution,
        },
        maps: after,
        uninit_stack_read: None,
    }
}

/// True for the unprivileged kernel backends: the host's `kernel-unpriv`
/// and the guests' `kernel@V-unpriv`.
pub fn is_unpriv_backend(name: &str) -> bool {
    name == UNPRIV_BACKEND
        || bpfdiff_oracle::backend::guest::GuestSpec::parse(name)
            .is_some_and(|s| s.mode == bpfdiff_oracle::backend::guest::Mode::Unpriv)
}

thread_local! {
    /// The `kernel@V-unpriv` guests of this thread, booted on first use
    /// and kept (a campaign job is one thread).
    static UNPRIV_GUESTS: std::cell::RefCell<Vec<bpfdiff_oracle::backend::guest::GuestBackend>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// An unprivileged kernel's outcome (`name`: `kernel-unpriv` on the host,
/// `kernel@V-unpriv` in a guest): `program` loaded without capabilities
/// as a socket filter and run on the same packet. Other types and
/// programs with maps are not run (unprivileged users load socket
/// filters; the maps are created privileged).
pub fn unpriv_outcome(
    name: &str,
    program: &Program,
    env: &RunEnv,
    maps: &[MapDef],
) -> NativeOutcome {
    use bpfdiff_oracle::backend::guest::{GuestBackend, GuestSpec};
    if env.prog_type != bpfdiff_engine::prog_type::ProgType::SocketFilter {
        return Outcome::not_run(
            name,
            format!(
                "program type {}: unprivileged loads are socket filters",
                env.prog_type
            ),
        )
        .into();
    }
    if !maps.is_empty() {
        return Outcome::not_run(name, "a program with maps is not loaded unprivileged").into();
    }
    let packet = [env.hidden_head.as_slice(), env.mem.as_slice()].concat();
    match GuestSpec::parse(name) {
        None => bpfdiff_oracle::backend::kernel::unpriv::outcome(name, &program.insns, &packet),
        Some(spec) => UNPRIV_GUESTS.with(|guests| {
            let mut guests = guests.borrow_mut();
            let i = match guests
                .iter()
                .position(|g| bpfdiff_oracle::backend::Backend::name(g) == name)
            {
                Some(i) => i,
                None => {
                    guests.push(GuestBackend::new(spec));
                    guests.len() - 1
                }
            };
            guests[i].run_unprivileged_socket_filter(program, &packet)
        }),
    }
    .into()
}

/// An unprivileged refusal of what the reference accepted is the
/// unprivileged rules at work (stricter by design), not a difference: the
/// outcome becomes not-run with the kernel's reason. An unprivileged
/// acceptance of what the reference refused stays a verdict difference,
/// and two acceptances are compared in full.
fn unprivileged_refusals_are_stricter(outcomes: &mut [Outcome]) {
    let reference_accepts = outcomes
        .iter()
        .find(|o| !not_run(o))
        .is_some_and(|o| !o.verdict.is_rejected() && !is_unpriv_backend(&o.backend));
    if !reference_accepts {
        return;
    }
    for o in outcomes
        .iter_mut()
        .filter(|o| is_unpriv_backend(&o.backend))
    {
        if let Verdict::Rejected { reason, .. } = &o.verdict {
            *o = Outcome::not_run(
                &o.backend.clone(),
                format!("refused by the unprivileged verifier (stricter by design): {reason}"),
            );
        }
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

/// Runs `program` with `maps` on `env` on the backends `names` (reference
/// first) and compares, map contents after the run included. Names other
/// than [`NATIVE_BACKENDS`] run the input model only: they get a not-run
/// outcome with the reason and are left out.
pub fn check(
    program: &Program,
    env: &RunEnv,
    maps: &[MapDef],
    names: &[&str],
    reasons: bool,
) -> NativeCheck {
    let runs: Vec<NativeOutcome> = names
        .iter()
        .map(|&n| match n {
            "interp" => engine_outcome(program, env, maps),
            "kernel" => kernel_outcome(program, env, maps, reasons),
            bpfdiff_oracle::registry::HOST_HARDEN => {
                hardened_kernel_outcome(program, env, maps, reasons)
            }
            unpriv if is_unpriv_backend(unpriv) => unpriv_outcome(unpriv, program, env, maps),
            other => Outcome::not_run(
                other,
                format!("program type {}: runs the input model only", env.prog_type),
            )
            .into(),
        })
        .collect();
    let comparison = compare_runs(&runs);
    let (outcomes, maps) = runs.into_iter().map(|r| (r.outcome, r.maps)).unzip();
    NativeCheck {
        outcomes,
        maps,
        comparison,
    }
}

/// [`compare_outcomes`], then the maps after the run: where the reference
/// and another backend both returned, each map difference
/// ([`diff_maps`]) makes one difference of aspect `maps` for that backend.
pub fn compare_runs(runs: &[NativeOutcome]) -> Comparison {
    let mut outcomes: Vec<Outcome> = runs.iter().map(|r| r.outcome.clone()).collect();
    unprivileged_refusals_are_stricter(&mut outcomes);
    let uninit = runs.iter().find_map(|r| r.uninit_stack_read);
    let comparison = compare_outcomes(&outcomes, uninit);
    if matches!(comparison, Comparison::Inconclusive { .. }) {
        return comparison;
    }
    let returned = |r: &NativeOutcome| matches!(r.outcome.execution, Execution::Returned { .. });
    let mut ran = runs.iter().filter(|r| !not_run(&r.outcome));
    let Some(reference) = ran.next() else {
        return comparison;
    };
    let map_differences: Vec<Difference> = ran
        .filter(|o| returned(reference) && returned(o))
        .flat_map(|o| {
            diff_maps(&reference.maps, &o.maps)
                .into_iter()
                .map(|detail| Difference {
                    backend: o.outcome.backend.clone(),
                    aspect: Aspect::Maps,
                    detail,
                    known: None,
                })
        })
        .collect();
    if map_differences.is_empty() {
        return comparison;
    }
    match comparison {
        Comparison::Diverge { mut differences } => {
            differences.extend(map_differences);
            Comparison::Diverge { differences }
        }
        _ => Comparison::Diverge {
            differences: map_differences,
        },
    }
}

/// True for an outcome of a backend that did not run the program (not
/// refused by it either).
fn not_run(o: &Outcome) -> bool {
    !o.verdict.is_rejected() && matches!(o.execution, Execution::NotRun { .. })
}

/// Compares the run outcomes with the first run one. Backends that did
/// not run are left out, with their reason; fewer than two left is
/// inconclusive. `uninit_stack_read`: the engine's run read stack bytes
/// never written at that instruction (the kernel, which does not zero its
/// stack, is then not compared on what followed).
pub fn compare_outcomes(outcomes: &[Outcome], uninit_stack_read: Option<usize>) -> Comparison {
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
    let mut comparison = compare(reference, uninit_stack_read, &others);
    // Both refused: the error classes must agree too (the engine's
    // verifier models the kernel's messages; the unprivileged verifier
    // may refuse the same program for another reason first).
    let class_differences: Vec<Difference> = others
        .iter()
        .filter(|(o, _)| !is_unpriv_backend(&o.backend))
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

    // kernel-unpriv (docs/kernel-matrix.md): the unprivileged verifier is
    // stricter by design, so its refusal of what the reference accepted is
    // not a difference, nor is a refusal for another reason; its
    // acceptance of what the reference refused is, and so is a different
    // result after two acceptances (Spectre masking and ALU sanitation
    // must not change what a program computes).
    #[test]
    fn unprivileged_refusals_are_not_differences_but_its_acceptances_are_compared() {
        let ok = returned("interp", 1, vec![1, 2]);
        let runs = |outcomes: Vec<Outcome>| {
            compare_runs(
                &outcomes
                    .into_iter()
                    .map(NativeOutcome::from)
                    .collect::<Vec<_>>(),
            )
        };
        let c = runs(vec![
            ok.clone(),
            returned("kernel", 1, vec![1, 2]),
            refused(UNPRIV_BACKEND, "leak"),
        ]);
        assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
        let c = runs(vec![
            refused("interp", "a"),
            refused("kernel", "a"),
            refused(UNPRIV_BACKEND, "b"),
        ]);
        assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
        let c = runs(vec![
            refused("interp", "a"),
            returned(UNPRIV_BACKEND, 1, vec![1, 2]),
        ]);
        assert_eq!(aspects(&c), ["verdict"]);
        let c = runs(vec![ok.clone(), returned(UNPRIV_BACKEND, 2, vec![1, 2])]);
        assert_eq!(aspects(&c), ["r0"]);
        let c = runs(vec![ok.clone(), returned(UNPRIV_BACKEND, 1, vec![1, 2])]);
        assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
    }

    // The reference verified the program: a kernel refusal of what the
    // engine accepted is a verdict difference (not skipped as in the input
    // model), two refusals of different classes a verdict-class one.
    #[test]
    fn native_comparisons_compare_verdicts_classes_retval_and_packet() {
        let ok = returned("interp", 1, vec![1, 2]);
        let c = compare_outcomes(&[ok.clone(), refused("kernel", "memory-access")], None);
        assert_eq!(aspects(&c), ["verdict"]);
        let c = compare_outcomes(&[refused("interp", "ctx-access"), ok.clone()], None);
        assert_eq!(aspects(&c), ["verdict"]);
        let c = compare_outcomes(
            &[
                refused("interp", "ctx-access"),
                refused("kernel", "memory-access"),
            ],
            None,
        );
        assert_eq!(aspects(&c), ["verdict-class"]);
        let c = compare_outcomes(&[refused("interp", "a"), refused("kernel", "a")], None);
        assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
        let c = compare_outcomes(&[ok.clone(), returned("kernel", 2, vec![1, 3])], None);
        assert_eq!(aspects(&c), ["r0", "memory"]);
        let c = compare_outcomes(&[ok.clone(), ok.clone()], None);
        assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
        // The engine's verifier cannot judge it: nothing to compare.
        let c = compare_outcomes(&[Outcome::not_run("interp", "unsupported"), ok], None);
        assert!(matches!(c, Comparison::Inconclusive { .. }), "{c:?}");
    }

    // The kernel lets root read stack never written (allow_uninit_stack)
    // and returns whatever was there; the engine reads zeros. A result
    // after such a read is not a difference (oracle compare: the same
    // rule as the input model's).
    #[test]
    fn an_engine_run_that_read_uninitialised_stack_is_not_compared_with_the_kernel() {
        let engine = NativeOutcome {
            uninit_stack_read: Some(0),
            ..returned("interp", 0, vec![1, 2]).into()
        };
        let kernel: NativeOutcome = returned("kernel", 0x27c3_2800, vec![1, 2]).into();
        let c = compare_runs(&[engine.clone(), kernel.clone()]);
        assert!(
            matches!(c, Comparison::Inconclusive { ref why } if why.iter().any(|w| w.contains("uninitialised stack"))),
            "{c:?}"
        );
        let clean = NativeOutcome {
            uninit_stack_read: None,
            ..engine
        };
        assert!(matches!(
            compare_runs(&[clean, kernel]),
            Comparison::Diverge { .. }
        ));
    }

    fn with_map(outcome: Outcome, value: &[u8]) -> NativeOutcome {
        use bpfdiff_oracle::map_contents::Element;
        NativeOutcome {
            uninit_stack_read: None,
            outcome,
            maps: vec![MapContents {
                elements: vec![Element {
                    key: vec![1, 0, 0, 0],
                    value: value.to_vec(),
                    derived: Vec::new(),
                }],
                keys_opaque: false,
            }],
        }
    }

    // Issue 13: map contents after the run are an aspect of the native
    // comparison, key by key: the same retval and packet with a different
    // value under one key is a `maps` difference naming the key.
    #[test]
    fn a_different_map_content_after_the_run_is_a_maps_difference() {
        let engine = with_map(returned("interp", 1, vec![1, 2]), &[7, 0]);
        let kernel = with_map(returned("kernel", 1, vec![1, 2]), &[9, 0]);
        let c = compare_runs(&[engine.clone(), kernel]);
        assert_eq!(aspects(&c), ["maps"]);
        let Comparison::Diverge { differences } = &c else {
            unreachable!()
        };
        assert_eq!(differences[0].backend, "kernel");
        assert_eq!(
            differences[0].detail,
            "map 0 key 01000000: value 0700 vs 0900"
        );
        // With r0 differing too, both aspects are reported.
        let kernel = with_map(returned("kernel", 2, vec![1, 2]), &[9, 0]);
        assert_eq!(
            aspects(&compare_runs(&[engine.clone(), kernel])),
            ["r0", "maps"]
        );
        // The same contents agree; a kernel refusal is a verdict difference
        // only (no maps to compare).
        let same = with_map(returned("kernel", 1, vec![1, 2]), &[7, 0]);
        let c = compare_runs(&[engine.clone(), same]);
        assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
        let c = compare_runs(&[engine, refused("kernel", "memory-access").into()]);
        assert_eq!(aspects(&c), ["verdict"]);
    }
}
