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
use bpfdiff_engine::{Instruction, Program};
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
        let decoded = program.decode().unwrap_or_default();
        let packet_loads = decoded
            .iter()
            .any(|(_, i)| matches!(i.row.operation, Operation::LdAbs | Operation::LdInd));
        if packet_loads {
            return withheld(
                "withheld from rbpf's JIT, which does not bounds-check LD_ABS/LD_IND (it reads host memory where the kernel ends the program)".to_string(),
            );
        }
        if let Some(pc) = first_write_of_r10(&decoded) {
            return withheld(format!("withheld from rbpf's JIT: insn {pc} writes r10, the read-only frame pointer (the kernel refuses the program), and its JIT would then access memory through whatever was written"));
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

/// The first instruction (slot index) that writes r10 in a form rbpf's
/// verifier lets through: an `ld_imm64` into it (rbpf 0.4.1 checks it as
/// if it were a store). rbpf's verifier refuses the other writes (ALU
/// operations and loads into r10: rule `rbpf-verifier-refuses-write-r10`)
/// and every atomic operation, so its JIT never runs them, and those
/// verdicts stay compared. The engine gives each frame its own r10, so
/// what such a program does on rbpf depends on how rbpf keeps r10.
fn first_write_of_r10(decoded: &[(usize, Instruction)]) -> Option<usize> {
    use bpfdiff_engine::opcode::Class;
    decoded.iter().find_map(|(slot, i)| {
        let ld_imm64 = i.row.class == Class::Ld
            && !matches!(i.row.operation, Operation::LdAbs | Operation::LdInd);
        (ld_imm64 && i.dst == 10).then_some(*slot)
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::asm::kernel::assemble;

    fn program(text: &str) -> Program {
        assemble(text).expect("assembles")
    }

    #[test]
    fn writes_of_r10_that_rbpfs_verifier_lets_through_are_found() {
        // RFC 9669 §2: r10 is the read-only frame pointer; the kernel
        // refuses each of these ("frame pointer is read only"). rbpf's
        // verifier refuses the ALU write and the load itself.
        for (text, pc) in [
            ("r0 = 0\nr10 = 0x1000 ll\nexit", Some(1)),
            ("r0 = 0\nr10 += 8\nexit", None),
            ("r10 = *(u64 *)(r1 +0)\nr0 = 0\nexit", None),
            // Reads and stores through r10 do not write it.
            (
                "*(u64 *)(r10 -8) = 1\nr0 = r10\nr0 = *(u64 *)(r10 -8)\nexit",
                None,
            ),
        ] {
            let decoded = program(text).decode().unwrap();
            assert_eq!(first_write_of_r10(&decoded), pc, "{text}");
        }
    }

    #[test]
    fn a_program_that_writes_r10_is_withheld_with_the_instruction() {
        let guard = GuardedRbpfJit::new(bpfdiff_oracle::registry::create("interp").unwrap());
        let p = program("r10 = 0x1000 ll\ncall pc+1\nexit\n*(u64 *)(r10 -8) = 1\nr0 = 1\nexit");
        let why = guard.screen(&p, &[]).unwrap_err();
        assert!(why.contains("insn 0 writes r10"), "{why}");
    }
}
