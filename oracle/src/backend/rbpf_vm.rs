//! Driving the `rbpf` crate (0.4.1) with the engine's input convention, on
//! both sides of the worker pipe.
//!
//! What rbpf can and cannot express:
//! - r1 = pointer to the input memory (`EbpfVmRaw`), r10 = stack top.
//! - rbpf never sets r2; the engine's r2 = length is supplied by a one-insn
//!   prologue `r2 = len`. Every instruction number rbpf reports (fault pc,
//!   refusal reason, error text) is translated back to the user's index
//!   ([`translate`]).
//! - rbpf refuses programs of more than [`MAX_INSNS`] slots; a program that
//!   fits only without the prologue is not run ([`harness_exceeds_limit`]).
//! - rbpf has no instruction budget: endless programs are stopped by the
//!   worker's timeout.
//! - Helpers 5 and 7 are registered with the engine's ids; their results
//!   are opaque on every backend.
//! - rbpf's JIT does not check memory accesses: a wild access there can
//!   crash the worker, which is reported as a crash.
//! - The input lives in a mapping of its own, far from rbpf's heap-allocated
//!   stack ([`guarded_input`]): rbpf's interpreter accepts an access that
//!   lands in any of its regions, so with both on the heap an out-of-bounds
//!   access through r1 could land in the stack, depending on the heap's
//!   history.

mod guarded_input;

use super::slots::{rewrite_numbers, SlotLayout};
use super::worker::{WorkerClient, WorkerFailure, WorkerReply, WorkerVm};
use crate::outcome::{Execution, Outcome, Value, Verdict};
use bpfdiff_engine::interp::{
    HELPER_GET_PRANDOM_U32, HELPER_GET_SMP_PROCESSOR_ID, HELPER_KTIME_GET_NS,
};
use bpfdiff_engine::{Insn, Program};
use guarded_input::GuardedInput;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    /// The input mapping of this worker thread, reused from run to run.
    static INPUT: RefCell<GuardedInput> = RefCell::new(GuardedInput::default());
}

/// Number of slots the prologue adds before the program.
pub const PROLOGUE_SLOTS: usize = 1;

/// rbpf's limit on a program's slots (`PROG_MAX_INSNS` of rbpf 0.4.1; its
/// verifier refuses longer programs).
pub const MAX_INSNS: usize = 1_000_000;

/// The layout of the program rbpf runs: the prologue, then the program.
pub fn layout() -> SlotLayout {
    SlotLayout::prologue(PROLOGUE_SLOTS, "harness prologue")
}

/// Why a program of `user_len` slots cannot be compared on rbpf: it is
/// within rbpf's limit, but the prologue pushes it over (rbpf would refuse
/// the harness's addition, not the program). `None` when it fits, or when
/// the program alone exceeds the limit (that refusal is rbpf's own).
pub fn harness_exceeds_limit(user_len: usize) -> Option<String> {
    let added = layout().added();
    (user_len <= MAX_INSNS && user_len + added > MAX_INSNS).then(|| {
        format!(
            "not comparable: program of {user_len} insns + {added} harness insn exceeds rbpf's {MAX_INSNS}-insn limit"
        )
    })
}

/// Rewrites the instruction numbers of an rbpf message (`insn #N`, `to #N`,
/// `at #N`) to the user's indices. rbpf's memory-check messages name the
/// instruction after the faulting one (its pointer has already advanced);
/// they are rewritten to name the faulting instruction itself.
pub fn translate(message: &str) -> String {
    let l = layout();
    if is_memory_fault(message) {
        rewrite_numbers(message, |n| l.render(n - 1))
    } else {
        l.rewrite(message)
    }
}

fn is_memory_fault(message: &str) -> bool {
    message.contains("out of bounds memory")
}

/// The program as rbpf runs it: `r2 = len` then the program.
pub fn with_prologue(program: &Program, mem_len: usize) -> Vec<u8> {
    let mut bytes = Insn::new(0xb7, 2, 0, 0, mem_len as i32).to_bytes().to_vec();
    bytes.extend(program.to_bytes());
    bytes
}

fn helper_ktime(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    0
}

fn helper_prandom(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    4
}

fn helper_cpu(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    0
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

/// Runs one program in the worker process, its input in this thread's
/// guarded mapping.
pub fn run_in_worker(vm: WorkerVm, program: &[u8], mem: &[u8]) -> WorkerReply {
    INPUT.with(|input| match input.try_borrow_mut() {
        Ok(mut guarded) => match guarded.load(mem) {
            Ok(mem) => run_on(vm, program, mem),
            Err(e) => WorkerReply::Error {
                message: format!("cannot map the input memory: {e}"),
            },
        },
        // Only reachable by a nested call; never through the worker.
        Err(_) => run_on(vm, program, &mut mem.to_vec()),
    })
}

fn run_on(vm: WorkerVm, program: &[u8], mem: &mut [u8]) -> WorkerReply {
    let result = catch_unwind(AssertUnwindSafe(|| -> WorkerReply {
        let mut rbpf_vm = match rbpf::EbpfVmRaw::new(Some(program)) {
            Ok(v) => v,
            Err(e) => {
                return WorkerReply::Rejected {
                    message: e.to_string(),
                }
            }
        };
        for (id, f) in [
            (HELPER_KTIME_GET_NS, helper_ktime as rbpf::Helper),
            (HELPER_GET_PRANDOM_U32, helper_prandom as rbpf::Helper),
            (HELPER_GET_SMP_PROCESSOR_ID, helper_cpu as rbpf::Helper),
        ] {
            if let Err(e) = rbpf_vm.register_helper(id as u32, f) {
                return WorkerReply::Rejected {
                    message: e.to_string(),
                };
            }
        }
        let run = match vm {
            WorkerVm::RbpfInterp => rbpf_vm.execute_program(mem),
            WorkerVm::RbpfJit => {
                if let Err(e) = rbpf_vm.jit_compile() {
                    return WorkerReply::Rejected {
                        message: format!("JIT compile: {e}"),
                    };
                }
                // SAFETY: this is the disposable worker process; whatever the
                // JIT'd code does stays inside it and is reported as a crash.
                unsafe { rbpf_vm.execute_program_jit(mem) }
            }
        };
        match run {
            Ok(r0) => WorkerReply::Returned {
                r0,
                mem: mem.to_vec(),
            },
            Err(e) => WorkerReply::Error {
                message: e.to_string(),
            },
        }
    }));
    result.unwrap_or_else(|p| WorkerReply::Panicked {
        message: panic_message(&*p),
    })
}

/// Extracts the wrapped slot from rbpf's `insn #N`. Its memory-check
/// messages give the index after the faulting instruction (the pointer has
/// already advanced); its other messages give the instruction itself.
fn insn_index(message: &str) -> Option<usize> {
    let at = message.find("insn #")? + "insn #".len();
    let digits: String = message[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let n: usize = digits.parse().ok()?;
    if is_memory_fault(message) {
        n.checked_sub(1)
    } else {
        Some(n)
    }
}

/// Classifies an rbpf run-time error message with the engine's fault names.
fn fault_kind(message: &str) -> &'static str {
    if message.contains("out of bounds memory") {
        "out-of-bounds"
    } else if message.contains("unknown helper") || message.contains("Unknown helper") {
        "unknown-helper"
    } else if message.contains("call depth") || message.contains("Stack overflow") {
        "call-depth-exceeded"
    } else if message.contains("not supported") || message.contains("unsupported") {
        "unsupported"
    } else {
        "other"
    }
}

/// Runs `program` on rbpf (in the worker) and converts the reply.
pub fn run_on_rbpf(
    backend: &str,
    worker: &mut WorkerClient,
    vm: WorkerVm,
    program: &Program,
    input: &[u8],
) -> Outcome {
    if let Some(why) = harness_exceeds_limit(program.len()) {
        return Outcome::not_run(backend, why);
    }
    let bytes = with_prologue(program, input.len());
    outcome_of(backend, worker.run(vm, &bytes, input))
}

/// [`run_on_rbpf`] for several programs, sent to the worker in batches
/// ([`WorkerClient::run_many`]); the outcomes are in `items` order.
pub fn run_many_on_rbpf(
    backend: &str,
    worker: &mut WorkerClient,
    vm: WorkerVm,
    items: &[(&Program, &[u8])],
) -> Vec<Outcome> {
    let prepared: Vec<Result<Vec<u8>, String>> = items
        .iter()
        .map(
            |(program, input)| match harness_exceeds_limit(program.len()) {
                Some(why) => Err(why),
                None => Ok(with_prologue(program, input.len())),
            },
        )
        .collect();
    let requests: Vec<(&[u8], &[u8])> = prepared
        .iter()
        .zip(items)
        .filter_map(|(bytes, (_, input))| bytes.as_ref().ok().map(|b| (&b[..], *input)))
        .collect();
    let mut replies = worker.run_many(vm, &requests).into_iter();
    prepared
        .into_iter()
        .map(|bytes| match bytes {
            Err(why) => Outcome::not_run(backend, why),
            Ok(_) => match replies.next() {
                Some(reply) => outcome_of(backend, reply),
                None => Outcome::not_run(backend, "the worker gave fewer replies than requests"),
            },
        })
        .collect()
}

/// The outcome that a worker's reply (or its failure) stands for.
fn outcome_of(backend: &str, reply: Result<WorkerReply, WorkerFailure>) -> Outcome {
    let first_line = |m: &str| m.lines().next().unwrap_or("").to_string();
    let (verdict, execution) = match reply {
        Ok(WorkerReply::Rejected { message }) => {
            let message = translate(&message);
            return Outcome::rejected(backend, 0, first_line(&message), Some(message));
        }
        Ok(WorkerReply::Returned { r0, mem }) => (
            Verdict::Accepted,
            Execution::Returned {
                r0: Value {
                    bits: r0,
                    derived: false,
                },
                mem,
                mem_derived: Vec::new(),
                regs: None,
            },
        ),
        Ok(WorkerReply::Error { message }) => (
            Verdict::Accepted,
            Execution::Fault {
                kind: fault_kind(&message).to_string(),
                pc: insn_index(&message).and_then(|slot| layout().user_index(slot)),
                detail: first_line(&translate(&message)),
            },
        ),
        Ok(WorkerReply::Panicked { message }) => (
            Verdict::Accepted,
            Execution::Crashed {
                what: format!("rbpf panicked: {message}"),
            },
        ),
        // Out of wall-clock or CPU time: both are the same outcome.
        Err(WorkerFailure::TimedOut(ms) | WorkerFailure::CpuLimit(ms)) => {
            (Verdict::Accepted, Execution::TimedOut { after_ms: ms })
        }
        Err(WorkerFailure::Died(what)) => (Verdict::Accepted, Execution::Crashed { what }),
        Err(e @ (WorkerFailure::NoExecutable | WorkerFailure::Spawn { .. })) => {
            return Outcome::not_run(backend, e.to_string());
        }
    };
    Outcome {
        backend: backend.to_string(),
        verdict,
        execution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbpf_messages_are_classified() {
        let m = "Error: out of bounds memory load (insn #3), addr 0x10, size 4\nmbuff: 0x0/0x0";
        assert_eq!(
            insn_index(m),
            Some(2),
            "rbpf reports the index after the access"
        );
        assert_eq!(fault_kind(m), "out-of-bounds");
        assert_eq!(
            translate(m).lines().next().unwrap(),
            "Error: out of bounds memory load (insn #1), addr 0x10, size 4",
            "the text names the faulting instruction, as the user numbers it"
        );
    }

    #[test]
    fn rbpf_runs_in_process_for_the_worker() {
        // r0 = r2 (the prologue's length); exit.
        let p = Program::new(vec![
            Insn::new(0xbf, 0, 2, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ]);
        let reply = run_in_worker(WorkerVm::RbpfInterp, &with_prologue(&p, 3), &[1, 2, 3]);
        assert_eq!(
            reply,
            WorkerReply::Returned {
                r0: 3,
                mem: vec![1, 2, 3]
            }
        );
    }
}
