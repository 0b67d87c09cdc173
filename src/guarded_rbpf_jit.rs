//! rbpf's JIT behind a guard: it is not given programs that would make it
//! touch memory wildly, and its worker is replaced after any run that may
//! have corrupted it.
//!
//! rbpf's JIT checks no memory access, zeroes neither its registers nor its
//! stack and does not bounds-check `LD_ABS`/`LD_IND`. A program the engine
//! sees doing any of that is withheld (an [`Outcome::not_run`] that says
//! why), and a run whose result differs from the engine's gets a fresh
//! worker for the programs after it: a wild write can leave the worker
//! corrupted.

use crate::gen::unwritten_registers;
use bpfdiff_engine::interp::{ExecResult, FaultKind, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::opcode::Operation;
use bpfdiff_engine::Program;
use bpfdiff_oracle::{Backend, Capabilities, Execution, Outcome};

/// rbpf's JIT (`rbpf-jit`), guarded.
pub(crate) struct GuardedRbpfJit {
    inner: Box<dyn Backend>,
}

/// What the engine's interpreter did with a program the guard lets through
/// (`None` when the engine cannot decode it).
type EngineRun = Option<(ExecResult, Vec<u8>)>;

impl GuardedRbpfJit {
    /// Guards `inner` (the registry's `rbpf-jit`).
    pub(crate) fn new(inner: Box<dyn Backend>) -> GuardedRbpfJit {
        GuardedRbpfJit { inner }
    }

    /// The engine's run of `program` when rbpf's JIT may run it, or why it
    /// is withheld.
    fn screen(&self, program: &Program, input: &[u8]) -> Result<EngineRun, String> {
        let withheld = |why: String| Err(why);
        let packet_loads = program.decode().is_ok_and(|d| {
            d.iter()
                .any(|(_, i)| matches!(i.row.operation, Operation::LdAbs | Operation::LdInd))
        });
        if packet_loads {
            return withheld(
                "withheld from rbpf's JIT, which does not bounds-check LD_ABS/LD_IND (it reads host memory where the kernel ends the program)".to_string(),
            );
        }
        if let Some(pc) = unwritten_registers::first_unwritten_read(program) {
            return withheld(format!("withheld from rbpf's JIT, which does not zero its registers: insn {pc} may read one the program never wrote"));
        }
        let Ok(vm) = Interpreter::new(program) else {
            return Ok(None);
        };
        let mut mem = input.to_vec();
        let run = vm.run(&mut mem, DEFAULT_BUDGET);
        if let Some(pc) = run.uninit_stack_read {
            return withheld(format!("withheld from rbpf's JIT, which does not zero its stack: insn {pc} reads stack the program never wrote"));
        }
        if let ExecResult::Fault(f) = run.result {
            if matches!(
                f.kind,
                FaultKind::OutOfBounds
                    | FaultKind::CallDepthExceeded
                    | FaultKind::FellOffEnd
                    | FaultKind::JumpOutOfRange
                    // No code of its own for an ld_imm64's second slot: a
                    // jump or call there lands wherever its JIT put the
                    // next code (a call there aborted the worker).
                    | FaultKind::JumpIntoLdImm64
            ) {
                return withheld(format!("withheld from rbpf's JIT, which does not check memory (rule rbpf-jit-no-memory-checks); the engine saw {f}"));
            }
            if bpfdiff_oracle::compare::is_engine_limit(f.kind.name()) {
                return withheld(format!("withheld from rbpf's JIT: the engine cannot tell what the program does after {f}, so its accesses are unknown"));
            }
        }
        Ok(Some((run.result, mem)))
    }

    /// Replaces the worker when `outcome` differs from the engine's run: a
    /// wrong result may have been a wrong address too, and a wild write can
    /// leave the worker corrupted for later programs. True when replaced.
    fn refresh_unless_matching(&mut self, engine: &EngineRun, outcome: &Outcome) -> bool {
        let matches_engine = match (engine, &outcome.execution) {
            (
                Some((ExecResult::Returned { r0, r0_derived }, mem)),
                Execution::Returned {
                    r0: theirs,
                    mem: their_mem,
                    ..
                },
            ) => (*r0_derived || *r0 == theirs.bits) && mem == their_mem,
            _ => outcome.verdict.is_rejected(),
        };
        if matches_engine {
            return false;
        }
        self.inner.start_afresh();
        true
    }
}

impl Backend for GuardedRbpfJit {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        let engine = match self.screen(program, input) {
            Ok(engine) => engine,
            Err(why) => return Outcome::not_run(self.name(), why),
        };
        let outcome = self.inner.run(program, input);
        self.refresh_unless_matching(&engine, &outcome);
        outcome
    }

    /// The programs the guard lets through go to the worker together; after
    /// a run that replaces the worker, the programs after it are sent again
    /// to the fresh one, as lone runs would have been.
    fn run_many(&mut self, items: &[(&Program, &[u8])]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut admitted: Vec<(usize, EngineRun)> = Vec::new();
        for (k, (program, input)) in items.iter().enumerate() {
            match self.screen(program, input) {
                Ok(engine) => admitted.push((k, engine)),
                Err(why) => outcomes[k] = Some(Outcome::not_run(self.name(), why)),
            }
        }
        let mut first = 0;
        while first < admitted.len() {
            let batch: Vec<(&Program, &[u8])> =
                admitted[first..].iter().map(|(k, _)| items[*k]).collect();
            let ran = self.inner.run_many(&batch);
            let mut used = 0;
            for ((k, engine), outcome) in admitted[first..].iter().zip(ran) {
                used += 1;
                let replaced = self.refresh_unless_matching(engine, &outcome);
                outcomes[*k] = Some(outcome);
                if replaced {
                    break;
                }
            }
            if used == 0 {
                break;
            }
            first += used;
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Outcome::not_run(self.name(), "the worker gave fewer outcomes than programs")
                })
            })
            .collect()
    }
}
