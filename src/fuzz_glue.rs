//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs` are a few lines
//! over these), also called by the smoke tests and the campaign runner.
//!
//! - `diff`: every selected backend on one case ([`DiffHarness`]); a new
//!   divergence (one no rule of `corpus/known-divergences.json` explains)
//!   is a finding.
//! - `interp_vs_jit`: the engine's interpreter against its JIT in checked
//!   mode ([`check_interp_vs_jit`]): they must agree bit for bit.
//! - `kernel`: the engine against the Linux kernel (verdict and run).
//! - `parsers`: the assemblers, the `.data` reader and the decoder on any
//!   bytes ([`check_parsers`]): errors are fine, panics are not.
//!
//! Fuzz inputs are [`Case`] bytes; [`mutate`] is the custom mutator.
//!
//! Some cases are not compared, and say why: programs that run more than
//! [`DIFF_BUDGET`] instructions on the engine (they are not sent to the
//! other backends: each repeats the engine's run, and rbpf's only limit is
//! a wall-clock timeout); differences in results of programs whose
//! control flow may depend on an address or a helper's opaque result, or
//! that access memory through a forged address
//! ([`crate::gen::pointer_taint`]); and results of rbpf's JIT, which does
//! not zero its registers or its stack, for programs that read a register
//! ([`crate::gen::unwritten_registers`]) or stack they never wrote. Verdict and crash differences are
//! always reported. rbpf's JIT does not check memory
//! accesses (known rule `rbpf-jit-no-memory-checks`): programs the engine
//! sees fault out of bounds, recurse too deep, leave the program or stop
//! at an instruction it cannot execute, and programs with legacy
//! packet loads (which it does not bounds-check either), are not sent to
//! it, so that a wild write cannot corrupt its worker unnoticed; nor are
//! programs that read registers or stack they never wrote (it leaves host
//! values there, which can make a loop endless and cost its timeout).
//! After any run whose result differs from the engine's, its worker is
//! replaced, since a wrong value may have been a wrong address.

use crate::gen::mutator::{self, MutatorConfig};
use crate::gen::{pointer_taint, unwritten_registers, Case, Knobs, KnobsError, Tier};
use crate::guarded_rbpf_jit::GuardedRbpfJit;
use crate::known_rules::{self, RuleChoiceError};
use bpfdiff_engine::asm::{conformance, kernel};
use bpfdiff_engine::data::{self, DataTest, Expected};
use bpfdiff_engine::interp::{self, ExecResult, FaultKind, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::jit::{JitProgram, Mode};
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::Program;
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::registry::{self, RegistryError};
use bpfdiff_oracle::{
    diff_many, diff_where, Aspect, Backend, Checking, Comparison, DiffItem, EngineRun, KnownRules,
    Outcome,
};
use std::cell::RefCell;
use std::fmt;
use std::sync::OnceLock;
use thiserror::Error;

/// Backends of the `diff` target when `BPFDIFF_BACKENDS` is not set (the
/// kernel is added when `bpf()` is permitted).
pub const DEFAULT_DIFF_BACKENDS: [&str; 3] = ["interp", "rbpf", "rbpf-jit"];

/// Environment variable naming an extra known-divergence rules file (or
/// `none`); see [`crate::known_rules`].
pub use crate::known_rules::KNOWN_ENV;

/// Instruction budget of [`check_interp_vs_jit`] (regression replays);
/// both sides count the same way.
pub const INTERP_VS_JIT_BUDGET: u64 = 100_000;

/// Instruction budget of the `interp_vs_jit` and `diff` fuzz targets
/// ([`fuzz_interp_vs_jit`], [`fuzz_diff`]): campaigns and replays keep
/// [`DIFF_BUDGET`].
///
/// Under cargo-fuzz's build every instruction the interpreter dispatches
/// costs coverage and compare callbacks, so a program that loops until a
/// 100,000-instruction budget took about a millisecond, most of a run's
/// time, while the programs of the committed corpora that end at all end
/// within 512 instructions (docs/fuzzing.md, "Fuzz target speed"). With
/// this budget endless programs cost 25 times less. They are still
/// compared: in `interp_vs_jit` the interpreter and the JIT must both run
/// out of it after the same count, with the same registers' effects on
/// memory; in `diff` a program that runs out of it is inconclusive and not
/// sent to rbpf, as past [`DIFF_BUDGET`] in campaigns. What is lost is the
/// comparison of programs that end after between this many and
/// [`DIFF_BUDGET`] instructions, which campaigns still make.
pub const FUZZ_BUDGET: u64 = 4_096;

/// Programs that run longer than this on the engine are not sent to the
/// other backends: every backend run repeats the engine's run (for host
/// safety and for the comparison), and rbpf has no budget but a timeout.
pub const DIFF_BUDGET: u64 = 100_000;

/// Why a harness could not be set up.
#[derive(Debug, Error)]
pub enum GlueError {
    /// A bad backend selection.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A rules file `BPFDIFF_KNOWN` names is missing, unreadable or malformed.
    #[error(transparent)]
    Known(#[from] RuleChoiceError),
    /// A bad `BPFDIFF_ALLOWED_OPS`.
    #[error(transparent)]
    Knobs(#[from] KnobsError),
}

/// Why the kernel backend cannot run here, if it cannot.
pub fn kernel_unavailable() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        KernelBackend::new(KernelOptions {
            log_on_reject: false,
            ..KernelOptions::default()
        })
        .unavailable()
        .map(str::to_string)
    })
    .clone()
}

/// The `diff` target's backends: `BPFDIFF_BACKENDS` when set, else
/// [`DEFAULT_DIFF_BACKENDS`] plus `kernel` when `bpf()` is permitted.
///
/// Not the engine's verifier: on a program that loops for ever it explores
/// a million instructions before it refuses (as the kernel does), which
/// under the fuzz build's AddressSanitizer took 10 to 50 s per input and
/// brought the target from about 300 to 9 exec/s. Campaigns compare its
/// verdicts with the kernel's (`--backends verifier,kernel`).
pub fn diff_backends() -> Result<Vec<String>, RegistryError> {
    if std::env::var_os(registry::BACKENDS_ENV).is_some() {
        return registry::select(None);
    }
    let mut names: Vec<String> = DEFAULT_DIFF_BACKENDS
        .iter()
        .map(|s| s.to_string())
        .collect();
    if kernel_unavailable().is_none() {
        names.push("kernel".to_string());
    }
    Ok(names)
}

/// What the harness saw for one case.
#[derive(Clone, Debug)]
pub struct DiffCheck {
    /// One outcome per backend (empty when the case was skipped).
    pub outcomes: Vec<Outcome>,
    /// The comparison, with known rules applied.
    pub comparison: Comparison,
}

impl DiffCheck {
    /// True when some difference is not explained by a known rule.
    pub fn is_new_divergence(&self) -> bool {
        self.comparison.has_new_divergence()
    }
}

/// Backends plus rules: runs cases and compares.
pub struct DiffHarness {
    backends: Vec<Box<dyn Backend>>,
    rules: KnownRules,
    kernel_reasons: bool,
    /// Programs the engine runs past this many instructions are not sent
    /// to the other backends ([`DIFF_BUDGET`] unless set otherwise).
    screen_budget: u64,
}

impl DiffHarness {
    /// Creates the backends called `names` (reference first). The kernel
    /// backend fetches a verifier log for each refusal only when
    /// `kernel_reasons` is set (a load with a log costs 4-8 times more).
    pub fn new(
        names: &[String],
        rules: KnownRules,
        kernel_reasons: bool,
    ) -> Result<DiffHarness, RegistryError> {
        let mut backends: Vec<Box<dyn Backend>> = Vec::with_capacity(names.len());
        for name in names {
            backends.push(match name.as_str() {
                "kernel" | registry::HOST_HARDEN => Box::new(KernelBackend::new(KernelOptions {
                    log_on_reject: kernel_reasons,
                    harden: name == registry::HOST_HARDEN,
                })),
                "rbpf-jit" => Box::new(GuardedRbpfJit::new(registry::create(name)?)),
                other => registry::create(other)?,
            });
        }
        if backends.is_empty() {
            return Err(RegistryError::Empty);
        }
        Ok(DiffHarness {
            backends,
            rules,
            kernel_reasons,
            screen_budget: DIFF_BUDGET,
        })
    }

    /// The harness with programs past `budget` engine instructions (rather
    /// than [`DIFF_BUDGET`]) left out of the comparison of runs: only
    /// verdicts are compared for them, when a verdict-only backend is
    /// selected, and otherwise they are inconclusive.
    pub fn with_screen_budget(mut self, budget: u64) -> DiffHarness {
        self.screen_budget = budget;
        self
    }

    /// The `diff` target's harness: [`diff_backends`] and the rules file.
    pub fn from_env() -> Result<DiffHarness, GlueError> {
        let rules = known_rules::from_env()?;
        Ok(DiffHarness::new(&diff_backends()?, rules, false)?)
    }

    /// The backends' names, reference first.
    pub fn backend_names(&self) -> Vec<&'static str> {
        self.backends.iter().map(|b| b.name()).collect()
    }

    /// The rules with their match counts.
    pub fn rules(&self) -> &KnownRules {
        &self.rules
    }

    /// Runs `case` on every backend and compares, applying the rules.
    pub fn check(&mut self, case: &Case) -> DiffCheck {
        let mut check = self.check_without_rules(case);
        self.rules
            .apply(&case.program, &case.input, &mut check.comparison);
        check
    }

    /// Runs and compares without applying rules (the campaign applies them
    /// afterwards, in case order, so counts do not depend on threads).
    pub fn check_without_rules(&mut self, case: &Case) -> DiffCheck {
        self.check_many_without_rules(std::slice::from_ref(case))
            .pop()
            .expect("one check per case")
    }

    /// [`Self::check_without_rules`] for several cases at once: the cases
    /// that go to every backend are run together ([`diff_many`]), so that
    /// rbpf's workers take them in a few round trips. The checks are in
    /// `cases` order and equal what one case at a time gives.
    pub fn check_many_without_rules(&mut self, cases: &[Case]) -> Vec<DiffCheck> {
        let mut checks: Vec<Option<DiffCheck>> = Vec::with_capacity(cases.len());
        // (index in `cases`, the engine's first read of unwritten stack)
        let mut everywhere: Vec<(usize, Option<usize>)> = Vec::new();
        let mut items: Vec<DiffItem<'_>> = Vec::new();
        for (k, case) in cases.iter().enumerate() {
            match self.screen(case) {
                Screened::Done(check) => checks.push(Some(check)),
                Screened::Everywhere {
                    uninit_stack_read,
                    engine_run,
                } => {
                    checks.push(None);
                    everywhere.push((k, uninit_stack_read));
                    items.push(DiffItem {
                        program: &case.program,
                        input: &case.input,
                        uninit_stack_read,
                        engine_run,
                    });
                }
            }
        }
        let mut no_rules = KnownRules::default();
        let results = diff_many(&mut self.backends, &items, &mut no_rules);
        for (&(k, uninit_stack_read), result) in everywhere.iter().zip(results) {
            let comparison =
                discount_undefined_behaviour(&cases[k], uninit_stack_read, result.comparison);
            checks[k] = Some(DiffCheck {
                comparison: discount_accidental_agreement(&cases[k], &result.outcomes, comparison),
                outcomes: result.outcomes,
            });
        }
        checks
            .into_iter()
            .map(|c| c.expect("every case was checked"))
            .collect()
    }

    /// Decides what `case` needs: a native program type, or a program the
    /// engine runs past the screen budget ([`DIFF_BUDGET`] unless
    /// [`Self::with_screen_budget`] set another), is checked here; anything
    /// else goes to every backend.
    fn screen(&mut self, case: &Case) -> Screened {
        if case.prog_type != ProgType::Input {
            return Screened::Done(self.check_native(case));
        }
        let Ok(vm) = Interpreter::new(&case.program) else {
            return Screened::Everywhere {
                uninit_stack_read: None,
                engine_run: None,
            };
        };
        let mut mem = case.input.clone();
        let budget = self.screen_budget;
        let run = vm.run(&mut mem, budget);
        if run.result == ExecResult::OutOfBudget {
            if let Some(check) = self.verdicts_only(case) {
                return Screened::Done(check);
            }
            return Screened::Done(DiffCheck {
                outcomes: Vec::new(),
                comparison: Comparison::Inconclusive {
                    why: vec![format!(
                        "the program runs more than {budget} insns on the engine; not sent to the other backends"
                    )],
                },
            });
        }
        // The run ended within the screen budget, so a run with the default
        // (larger) budget reports the same first unwritten-stack read, and
        // the `interp` backend's run would be this one.
        Screened::Everywhere {
            uninit_stack_read: run.uninit_stack_read,
            engine_run: Some(EngineRun {
                execution: run,
                memory: mem,
            }),
        }
    }
}

/// What [`DiffHarness::screen`] decided for a case.
enum Screened {
    /// Checked already.
    Done(DiffCheck),
    /// To be run on every backend; the engine's first read of unwritten
    /// stack, and its run when it made one.
    Everywhere {
        uninit_stack_read: Option<usize>,
        engine_run: Option<EngineRun>,
    },
}

impl DiffHarness {
    /// A case of a native program type: the engine (verifier +
    /// interpreter) and the kernel (native load + `BPF_PROG_TEST_RUN`), by
    /// [`crate::native_diff`]; the other backends run the input model only.
    fn check_native(&mut self, case: &Case) -> DiffCheck {
        let env = match RunEnv::new(case.prog_type, &case.input, None) {
            Ok(env) => env,
            Err(e) => {
                return DiffCheck {
                    outcomes: Vec::new(),
                    comparison: Comparison::Inconclusive {
                        why: vec![e.to_string()],
                    },
                }
            }
        };
        let names = self.backend_names();
        let check =
            crate::native_diff::check(&case.program, &env, &case.maps, &names, self.kernel_reasons);
        DiffCheck {
            outcomes: check.outcomes,
            comparison: check.comparison,
        }
    }

    /// For a program too long to run everywhere: the verdicts alone, when a
    /// verdict-only backend (the engine's verifier) is selected; the
    /// safety verifiers (the kernel) give theirs and run the program only if
    /// they accept it (their verifier then bounded its run).
    fn verdicts_only(&mut self, case: &Case) -> Option<DiffCheck> {
        let any = self
            .backends
            .iter()
            .any(|b| b.capabilities().checking == Checking::VerdictOnly);
        if !any {
            return None;
        }
        let mut no_rules = KnownRules::default();
        let result = diff_where(
            &mut self.backends,
            &case.program,
            &case.input,
            &mut no_rules,
            &|c| matches!(c, Checking::VerdictOnly | Checking::Safety),
        );
        Some(DiffCheck {
            outcomes: result.outcomes,
            comparison: result.comparison,
        })
    }
}

/// Differences that a branch on an address or a helper result can cause
/// between two correct implementations.
fn path_dependent(aspect: Aspect) -> bool {
    matches!(
        aspect,
        Aspect::R0 | Aspect::Memory | Aspect::Ending | Aspect::FaultKind | Aspect::FaultPc
    )
}

/// Backends whose registers and stack start with host values rather than
/// zero (measured: rbpf 0.4.1's JIT returns a host address for `exit`
/// alone, and garbage for `r0 = *(u64 *)(r10 -16)`; its `Capabilities`
/// claim a zeroed stack).
pub const UNZEROED_STATE: [&str; 1] = ["rbpf-jit"];

/// Drops path-dependent differences that have no single right answer: any
/// backend's when the program's control flow may depend on an address or
/// a helper result (then also an `unsafe-accepted`: the engine's faulting
/// path may not be the kernel's), or when it accesses memory through a
/// forged address; and those of [`UNZEROED_STATE`] backends when the
/// program may read a register it never wrote or (as the engine saw) stack
/// it never wrote. The comparison becomes inconclusive if nothing else
/// differs.
fn discount_undefined_behaviour(
    case: &Case,
    uninit_stack_read: Option<usize>,
    comparison: Comparison,
) -> Comparison {
    let Comparison::Diverge { differences } = comparison else {
        return comparison;
    };
    // The engine's path decides whether it saw a fault: a kernel that
    // accepted the program may never take that path.
    let path_decided = |a: Aspect| path_dependent(a) || a == Aspect::UnsafeAccepted;
    if !differences.iter().any(|d| path_decided(d.aspect)) {
        return Comparison::Diverge { differences };
    }
    let address = pointer_taint::analyze(&case.program, !case.input.is_empty());
    let unwritten = unwritten_registers::first_unwritten_read(&case.program)
        .map(|pc| (pc, "a register"))
        .or(uninit_stack_read.map(|pc| (pc, "stack")));
    let mut why = Vec::new();
    let mut kept = Vec::new();
    for d in differences {
        if !path_decided(d.aspect) {
            kept.push(d);
        } else if let Some(pc) = address.branch {
            why.push(address_branch_reason(pc));
        } else if d.aspect == Aspect::UnsafeAccepted {
            // Without a branch on an address, the engine's faulting path is
            // one the kernel's verifier had to explore: a real finding.
            kept.push(d);
        } else if let Some(pc) = address.forged_access {
            why.push(format!(
                "{}: insn {pc} accesses memory through an address made of plain numbers; what it reaches depends on each implementation's layout",
                d.backend
            ));
        } else if let (Some((pc, what)), true) =
            (unwritten, UNZEROED_STATE.contains(&d.backend.as_str()))
        {
            why.push(format!(
                "{}: insn {pc} may read {what} the program never wrote, and {} does not zero it",
                d.backend, d.backend
            ));
        } else {
            kept.push(d);
        }
    }
    why.dedup();
    if kept.is_empty() {
        Comparison::Inconclusive { why }
    } else {
        Comparison::Diverge { differences: kept }
    }
}

/// Why a case whose control flow may depend on an address or a helper
/// result (first at `pc`) is inconclusive: the same words whether the
/// backends happened to agree or not, so that counts by reason do not
/// depend on the layout either.
fn address_branch_reason(pc: usize) -> String {
    format!(
        "insn {pc} branches on a value that may derive from an address or a helper result; results may differ legitimately, and an agreement is an accident of each backend's layout"
    )
}

/// Backends that share the engine's virtual addresses (`MEM_BASE`,
/// `STACK_TOP`): a program's branch on an address takes the same path in
/// each of them.
const ENGINE_LAYOUT: [&str; 2] = ["interp", "jit"];

/// An agreement between the engine and a backend with its own memory
/// layout (rbpf, the kernels) on a program whose control flow may depend
/// on an address or a helper result is an accident of that layout, just
/// as a divergence would be ([`discount_undefined_behaviour`]): whether it
/// happens changes with the addresses a process gets (ASLR, its earlier
/// allocations). Such a comparison is inconclusive, so that a campaign's
/// counts do not depend on where memory happened to lie (a resumed
/// campaign gives the uninterrupted one's summary). Agreements on verdicts
/// alone, and among backends of the engine's layout, stay agreements.
fn discount_accidental_agreement(
    case: &Case,
    outcomes: &[Outcome],
    comparison: Comparison,
) -> Comparison {
    let Comparison::Agree { skipped } = comparison else {
        return comparison;
    };
    let ran = |o: &&Outcome| {
        !o.verdict.is_rejected()
            && matches!(
                o.execution,
                bpfdiff_oracle::Execution::Returned { .. }
                    | bpfdiff_oracle::Execution::Fault { .. }
                    | bpfdiff_oracle::Execution::OutOfBudget
            )
    };
    let own_layout = outcomes
        .iter()
        .filter(ran)
        .any(|o| !ENGINE_LAYOUT.contains(&o.backend.as_str()));
    if !own_layout || outcomes.iter().filter(ran).count() < 2 {
        return Comparison::Agree { skipped };
    }
    match pointer_taint::analyze(&case.program, !case.input.is_empty()).branch {
        Some(pc) => {
            let mut why = vec![address_branch_reason(pc)];
            why.extend(skipped);
            Comparison::Inconclusive { why }
        }
        None => Comparison::Agree { skipped },
    }
}

/// A finding: the case, what each side saw, and how to keep it.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The fuzz target or check that found it.
    pub target: &'static str,
    /// The case.
    pub case: Case,
    /// What differs, in words.
    pub what: String,
}

impl Finding {
    /// The case as a bpf_conformance `.data` file for `corpus/regressions/`
    /// (the engine's result as the expectation); `None` when the case cannot
    /// be one (see [`regression_data`]).
    pub fn to_data(&self) -> Option<String> {
        regression_data(&self.case)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bpfdiff {} finding", self.target)?;
        writeln!(f, "{}", self.what)?;
        writeln!(f, "program:\n{}", program_text(&self.case.program))?;
        writeln!(f, "input: {}", crate::hex::to_hex(&self.case.input))?;
        match self.to_data() {
            Some(data) => write!(
                f,
                "as a regression file (corpus/regressions/NAME.data):\n{data}"
            ),
            None => write!(f, "{NO_REGRESSION_FOR_EMPTY}"),
        }
    }
}

/// The program in kernel syntax, or its raw words if it does not decode.
pub fn program_text(program: &Program) -> String {
    match kernel::disassemble(program) {
        Ok(text) => text,
        Err(e) => {
            let words: Vec<String> = program
                .insns
                .iter()
                .map(|i| format!("0x{:016x}", i.to_u64()))
                .collect();
            format!("({e})\n{}\n", words.join("\n"))
        }
    }
}

/// What a finding says instead of a regression file when its program is empty.
pub const NO_REGRESSION_FOR_EMPTY: &str = "no regression file: the program is empty, and a \
     .data test needs at least one instruction (bpfdiff refuses it with \"no instructions\")";

/// The case as a `.data` file whose expectation is the engine's answer, in
/// a form `bpfdiff run` and `conformance` read back to the same case; `None`
/// for an empty program, which no `.data` file can hold.
pub fn regression_data(case: &Case) -> Option<String> {
    if case.program.is_empty() {
        return None;
    }
    if case.prog_type != ProgType::Input {
        return native_regression_data(case);
    }
    let expected = match interp::run_program(&case.program, &mut case.input.clone(), DEFAULT_BUDGET)
    {
        Ok(e) => match e.result {
            ExecResult::Returned { r0, .. } => Expected::Result(r0),
            ExecResult::Fault(f) => Expected::Error(f.kind.name().to_string()),
            ExecResult::OutOfBudget => Expected::Error("out of budget".to_string()),
        },
        Err(e) => Expected::Error(e.to_string().replace('#', "no.")),
    };
    Some(data::write_data(&DataTest {
        program: case.program.clone(),
        mem: case.input.clone(),
        expected,
        asm: None,
        has_raw: false,
        prog_type: bpfdiff_engine::prog_type::ProgType::Input,
        packet: None,
        maps: Vec::new(),
        verdict: None,
    }))
}

/// A native case as a `.data` file (`-- prog-type`, `-- packet` or, for
/// `syscall`, `-- mem` as the ctx) whose expectation is the engine
/// interpreter's run; `bpfdiff diff FILE` replays it natively.
fn native_regression_data(case: &Case) -> Option<String> {
    let t = case.prog_type;
    let (packet, mem) = if t.has_packet() {
        (Some(case.input.clone()), Vec::new())
    } else {
        (None, case.input.clone())
    };
    let ctx = (!t.has_packet()).then_some(mem.as_slice());
    let expected = match RunEnv::new(t, packet.as_deref().unwrap_or(&[]), ctx) {
        Ok(env) => match Interpreter::new(&case.program) {
            Ok(vm) => match vm
                .run_env(
                    &mut RunEnv {
                        maps: bpfdiff_engine::maps::MapSet::new(&case.maps),
                        ..env
                    },
                    DEFAULT_BUDGET,
                )
                .result
            {
                ExecResult::Returned { r0, .. } => Expected::Result(u64::from(r0 as u32)),
                ExecResult::Fault(f) => Expected::Error(f.kind.name().to_string()),
                ExecResult::OutOfBudget => Expected::Error("out of budget".to_string()),
            },
            Err(e) => Expected::Error(e.to_string().replace('#', "no.")),
        },
        Err(e) => Expected::Error(e.to_string().replace('#', "no.")),
    };
    Some(data::write_data(&DataTest {
        program: case.program.clone(),
        mem,
        expected,
        asm: None,
        has_raw: false,
        prog_type: t,
        packet,
        verdict: None,
        maps: case.maps.clone(),
    }))
}

/// A `diff` finding for `check`, if it holds a new divergence.
pub fn diff_finding(case: &Case, check: &DiffCheck) -> Option<Finding> {
    if !check.is_new_divergence() {
        return None;
    }
    let mut what = String::new();
    for o in &check.outcomes {
        what.push_str(&format!("  {:8} {}\n", o.backend, o.summary()));
    }
    if let Comparison::Diverge { differences } = &check.comparison {
        for d in differences {
            what.push_str(&format!("  {d}\n"));
        }
    }
    Some(Finding {
        target: "diff",
        case: case.clone(),
        what,
    })
}

/// The knobs of every fuzz target: the defaults restricted by
/// `BPFDIFF_ALLOWED_OPS`. A bad value stops the fuzzer with the message.
pub fn knobs() -> &'static Knobs {
    static KNOBS: OnceLock<Knobs> = OnceLock::new();
    KNOBS.get_or_init(|| match Knobs::from_env() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bpfdiff: {e}");
            std::process::exit(2);
        }
    })
}

/// Start-up of a fuzz target binary: ignores SIGPIPE, serves the rbpf
/// worker protocol when started as a worker (then exits), and otherwise
/// points `BPFDIFF_WORKER`
/// at this binary unless it is set (scripts/fuzz.sh points it at
/// `target/release/bpfdiff`, which has no sanitizer).
pub fn init_fuzz_target() {
    // libFuzzer's C `main` does not ignore SIGPIPE as Rust's does: writing
    // to a worker that just died would kill the fuzzer instead of being
    // reported as the worker's death.
    // SAFETY: setting a signal's disposition to SIG_IGN has no
    // preconditions; it runs before the fuzzer starts any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    if let Some(code) = crate::worker_hook::serve_if_asked() {
        let ok = code == std::process::ExitCode::SUCCESS;
        std::process::exit(if ok { 0 } else { 1 });
    }
}

fn with_harness<R>(
    cell: &'static std::thread::LocalKey<RefCell<Option<DiffHarness>>>,
    make: impl FnOnce() -> Result<DiffHarness, GlueError>,
    f: impl FnOnce(&mut DiffHarness) -> R,
) -> R {
    cell.with(|slot| {
        let mut slot = slot.borrow_mut();
        let harness = slot.get_or_insert_with(|| match make() {
            Ok(h) => h,
            Err(e) => {
                eprintln!("bpfdiff: cannot set up the fuzz target: {e}");
                std::process::exit(2);
            }
        });
        f(harness)
    })
}

thread_local! {
    static DIFF: RefCell<Option<DiffHarness>> = const { RefCell::new(None) };
    static KERNEL: RefCell<Option<DiffHarness>> = const { RefCell::new(None) };
}

/// The `diff` target: panics (a libFuzzer crash) on a new divergence.
///
/// A program the engine runs past [`FUZZ_BUDGET`] goes to no other
/// backend: it is inconclusive, or only verdicts are compared when a
/// verdict-only backend is selected ([`fuzz_diff_harness`]).
pub fn fuzz_diff(data: &[u8]) {
    let case = Case::from_fuzz_bytes(data, knobs());
    let check = with_harness(&DIFF, fuzz_diff_harness, |h| h.check(&case));
    if let Some(finding) = diff_finding(&case, &check) {
        panic!("{finding}");
    }
}

/// The `diff` target's harness: the backends and rules of the environment
/// ([`DiffHarness::from_env`]), screening at [`FUZZ_BUDGET`]. The engine's
/// screening run is also the `interp` backend's, so each case runs once on
/// the interpreter.
pub fn fuzz_diff_harness() -> Result<DiffHarness, GlueError> {
    Ok(DiffHarness::from_env()?.with_screen_budget(FUZZ_BUDGET))
}

/// The `kernel` target's harness: the engine and the kernel.
pub fn kernel_harness() -> Result<DiffHarness, GlueError> {
    let rules = known_rules::from_env()?;
    Ok(DiffHarness::new(
        &["interp".to_string(), "kernel".to_string()],
        rules,
        false,
    )?)
}

/// The `kernel` target: the engine against the kernel; panics on a new
/// divergence. Does nothing where `bpf()` is not permitted (said once).
pub fn fuzz_kernel(data: &[u8]) {
    static NOTICE: std::sync::Once = std::sync::Once::new();
    if let Some(why) = kernel_unavailable() {
        NOTICE.call_once(|| eprintln!("bpfdiff: kernel target idle: {why}"));
        return;
    }
    let case = Case::from_fuzz_bytes(data, knobs());
    let check = with_harness(&KERNEL, kernel_harness, |h| h.check(&case));
    if let Some(mut finding) = diff_finding(&case, &check) {
        finding.target = "kernel";
        panic!("{finding}");
    }
}

/// The engine's interpreter against its JIT (checked mode) on one case,
/// each with [`INTERP_VS_JIT_BUDGET`] instructions.
pub fn check_interp_vs_jit(case: &Case) -> Result<(), Finding> {
    interp_vs_jit_with_budget(case, INTERP_VS_JIT_BUDGET)
}

/// [`check_interp_vs_jit`] with `budget` instructions on each side: both
/// must run out of it, or end, in the same way.
fn interp_vs_jit_with_budget(case: &Case, budget: u64) -> Result<(), Finding> {
    let fail = |what: String| Finding {
        target: "interp_vs_jit",
        case: case.clone(),
        what,
    };
    let (vm, jit) = match (
        Interpreter::new(&case.program),
        JitProgram::compile(&case.program, Mode::Checked),
    ) {
        (Ok(vm), Ok(jit)) => (vm, jit),
        (Err(a), Err(b)) if a == b => return Ok(()),
        (a, b) => {
            return Err(fail(format!(
                "decoding differs: interpreter {:?}, JIT {:?}",
                a.err(),
                b.err()
            )))
        }
    };
    let mut mem_i = case.input.clone();
    let mut mem_j = case.input.clone();
    let ei = vm.run(&mut mem_i, budget);
    let ej = jit.run(&mut mem_j, budget);
    let mut diffs = Vec::new();
    match (ei.result, ej.result) {
        (ExecResult::Returned { r0: a, r0_derived }, ExecResult::Returned { r0: b, .. }) => {
            if !r0_derived && a != b {
                diffs.push(format!("r0 0x{a:x} vs 0x{b:x}"));
            }
        }
        (ExecResult::Fault(a), ExecResult::Fault(b)) => {
            // An out-of-bounds address is computed from the base pointer,
            // whose value differs (host vs virtual); the JIT maps it back
            // only near its regions. Jump targets and helper ids compare.
            let comparable_addr = a.kind != FaultKind::OutOfBounds;
            if a.kind != b.kind
                || a.pc != b.pc
                || a.size != b.size
                || (comparable_addr && a.addr != b.addr)
            {
                diffs.push(format!(
                    "{a} vs {b} (addr 0x{:x} vs 0x{:x})",
                    a.addr, b.addr
                ));
            }
        }
        (ExecResult::OutOfBudget, ExecResult::OutOfBudget) => {}
        (a, b) => diffs.push(format!("{a} vs {b}")),
    }
    if diffs.is_empty() && ei.insns_executed != ej.insns_executed {
        diffs.push(format!(
            "instructions executed {} vs {}",
            ei.insns_executed, ej.insns_executed
        ));
    }
    let derived = |i: usize| ei.mem_derived.get(i).copied().unwrap_or(false);
    if let Some(i) = (0..mem_i.len()).find(|&i| !derived(i) && mem_i[i] != mem_j[i]) {
        diffs.push(format!(
            "memory differs at offset {i}: {:02x} vs {:02x}",
            mem_i[i], mem_j[i]
        ));
    }
    if diffs.is_empty() {
        return Ok(());
    }
    // Host addresses differ from the interpreter's virtual ones: a branch
    // on an address, or an access through a forged one, has no one answer.
    // (Analysed only when the runs differ: an agreement needs no excuse.)
    let address = pointer_taint::analyze(&case.program, !case.input.is_empty());
    if address.branch.is_some() || address.forged_access.is_some() {
        return Ok(());
    }
    Err(fail(format!("interpreter vs JIT: {}", diffs.join("; "))))
}

/// The `interp_vs_jit` target: panics on any disagreement.
pub fn fuzz_interp_vs_jit(data: &[u8]) {
    let case = Case::from_fuzz_bytes(data, knobs());
    if let Err(finding) = interp_vs_jit_with_budget(&case, FUZZ_BUDGET) {
        panic!("{finding}");
    }
}

/// The `verifier_soundness` target: a case the engine's verifier accepts
/// must run inside the states it explored, without a fault
/// ([`bpfdiff_engine::verifier::containment`]); a violation is the finding.
pub fn fuzz_verifier_soundness(data: &[u8]) {
    use bpfdiff_engine::verifier::containment::{check_program, CheckLimits, Outcome};
    let case = Case::from_fuzz_bytes(data, knobs());
    if let Outcome::Violation(v) =
        check_program(&case.program, &case.input, &CheckLimits::default())
    {
        panic!(
            "verifier self-soundness violation: {v}\n{}",
            program_text(&case.program)
        );
    }
}

/// The `parsers` target: every reader on any bytes. Errors are expected;
/// a panic is the finding.
pub fn check_parsers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = kernel::assemble(&text) {
        let _ = kernel::disassemble(&p);
    }
    if let Ok(p) = conformance::assemble(&text) {
        let _ = conformance::disassemble(&p);
    }
    if let Ok(test) = data::parse_data(&text) {
        let _ = data::parse_data(&data::write_data(&test));
    }
    let whole = &data[..data.len() / 8 * 8];
    if let Ok(p) = Program::from_bytes(whole) {
        if p.decode().is_ok() {
            if let Ok(text) = kernel::disassemble(&p) {
                let _ = kernel::assemble(&text);
            }
            if let Ok(text) = conformance::disassemble(&p) {
                let _ = conformance::assemble(&text);
            }
        }
    }
    let _ = Program::from_bytes(data);
}

/// Which target a custom mutation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuzzTarget {
    /// `diff`.
    Diff,
    /// `interp_vs_jit`.
    InterpVsJit,
    /// `kernel`.
    Kernel,
}

/// The custom mutator of the program targets (`fuzz_mutator!`): mutates
/// the case in `data[..size]` and writes the result back; returns its size
/// (at most `max_size`).
pub fn mutate(
    target: FuzzTarget,
    data: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u32,
) -> usize {
    let fresh_tier = match (target, seed % 4) {
        (FuzzTarget::Kernel, _) => Tier::Verifier,
        (FuzzTarget::Diff, 0) | (FuzzTarget::InterpVsJit, 0 | 1) => Tier::Grammar,
        (FuzzTarget::InterpVsJit, 2) => Tier::Raw,
        _ => Tier::Verifier,
    };
    let config = MutatorConfig {
        fresh_tier,
        ..MutatorConfig::default()
    };
    let max_size = max_size.min(data.len());
    let out = mutator::mutate_bytes(
        &data[..size.min(data.len())],
        max_size,
        seed,
        knobs(),
        &config,
    );
    data[..out.len()].copy_from_slice(&out);
    out.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::Insn;

    #[test]
    fn address_dependent_results_are_inconclusive_but_verdicts_are_not() {
        // if w1 == 0 goto +1 on an input pointer (see pointer_taint).
        let case = Case::new(
            Program::new(vec![
                Insn::new(0x16, 1, 0, 1, 0),
                Insn::new(0xb7, 0, 0, 0, 1),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            vec![0; 4],
        );
        let d = |aspect| bpfdiff_oracle::Difference {
            backend: "rbpf".into(),
            aspect,
            detail: String::new(),
            known: None,
        };
        let c = discount_undefined_behaviour(
            &case,
            None,
            Comparison::Diverge {
                differences: vec![d(Aspect::R0)],
            },
        );
        assert!(matches!(c, Comparison::Inconclusive { .. }), "{c:?}");
        let c = discount_undefined_behaviour(
            &case,
            None,
            Comparison::Diverge {
                differences: vec![d(Aspect::R0), d(Aspect::Verdict)],
            },
        );
        assert!(
            matches!(&c, Comparison::Diverge { differences } if differences.len() == 1),
            "{c:?}"
        );
    }

    // A resumed campaign must give the uninterrupted one's summary, and a
    // program that branches on its input's address takes, in rbpf or the
    // kernel, the path their addresses (ASLR) give: agreeing one run and
    // not the next. Such an agreement is inconclusive, with the reason a
    // divergence gets; verdict-only agreements and agreements among the
    // engine's interpreter and JIT (one layout) stay agreements.
    #[test]
    fn an_agreement_on_an_address_dependent_path_is_inconclusive_with_the_same_reason() {
        let case = Case::new(
            Program::new(vec![
                Insn::new(0x16, 1, 0, 1, 0),
                Insn::new(0xb7, 0, 0, 0, 1),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            vec![0; 4],
        );
        let ran = |backend: &str| Outcome {
            backend: backend.into(),
            verdict: bpfdiff_oracle::Verdict::Accepted,
            execution: bpfdiff_oracle::Execution::OutOfBudget,
        };
        let refused = |backend: &str| Outcome::rejected(backend, 22, "refused", None);
        let agree = || Comparison::Agree {
            skipped: Vec::new(),
        };
        let c = discount_accidental_agreement(&case, &[ran("interp"), ran("rbpf")], agree());
        let Comparison::Inconclusive { why } = &c else {
            panic!("{c:?}")
        };
        let diverged = discount_undefined_behaviour(
            &case,
            None,
            Comparison::Diverge {
                differences: vec![bpfdiff_oracle::Difference {
                    backend: "rbpf".into(),
                    aspect: Aspect::R0,
                    detail: String::new(),
                    known: None,
                }],
            },
        );
        assert!(
            matches!(&diverged, Comparison::Inconclusive { why: w } if w == why),
            "{diverged:?} vs {why:?}"
        );
        for outcomes in [
            vec![ran("interp"), ran("jit")],
            vec![refused("interp"), refused("rbpf")],
        ] {
            let c = discount_accidental_agreement(&case, &outcomes, agree());
            assert!(matches!(c, Comparison::Agree { .. }), "{c:?}");
        }
    }

    #[test]
    fn unwritten_stack_is_discounted_for_rbpf_jit_only() {
        // r0 = *(u64 *)(r10 -16); exit: rbpf's JIT returns garbage there.
        let case = Case::new(
            Program::new(vec![
                Insn::new(0x79, 0, 10, -16, 0),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            Vec::new(),
        );
        let d = |backend: &str| bpfdiff_oracle::Difference {
            backend: backend.into(),
            aspect: Aspect::R0,
            detail: String::new(),
            known: None,
        };
        let diverging = |b| Comparison::Diverge {
            differences: vec![d(b)],
        };
        let c = discount_undefined_behaviour(&case, Some(0), diverging("rbpf-jit"));
        assert!(matches!(c, Comparison::Inconclusive { .. }), "{c:?}");
        let c = discount_undefined_behaviour(&case, Some(0), diverging("rbpf"));
        assert!(matches!(c, Comparison::Diverge { .. }), "{c:?}");
    }

    #[test]
    fn regression_data_reads_back_as_the_same_case() {
        let case = Case::new(
            Program::new(vec![
                Insn::new(0xb7, 0, 0, 0, 42),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            vec![1, 2],
        );
        let test = data::parse_data(&regression_data(&case).unwrap()).unwrap();
        assert_eq!(test.program, case.program);
        assert_eq!(test.mem, case.input);
        assert_eq!(test.expected, Expected::Result(42));
    }

    #[test]
    fn the_fuzz_budget_ends_endless_programs_alike_and_screens_them_out_of_diff() {
        // r0 = 0; r0 += 1; goto -2: endless.
        let endless = Case::new(
            Program::new(vec![
                Insn::new(0xb7, 0, 0, 0, 0),
                Insn::new(0x07, 0, 0, 0, 1),
                Insn::new(0x05, 0, 0, -2, 0),
            ]),
            vec![],
        );
        let vm = Interpreter::new(&endless.program).unwrap();
        let jit = JitProgram::compile(&endless.program, Mode::Checked).unwrap();
        let (ei, ej) = (vm.run(&mut [], FUZZ_BUDGET), jit.run(&mut [], FUZZ_BUDGET));
        assert_eq!(ei.result, ExecResult::OutOfBudget);
        assert_eq!(ej.result, ExecResult::OutOfBudget);
        assert_eq!(ei.insns_executed, ej.insns_executed);
        assert!(interp_vs_jit_with_budget(&endless, FUZZ_BUDGET).is_ok());

        let mut harness = DiffHarness::new(
            &["interp".to_string(), "jit".to_string()],
            KnownRules::default(),
            false,
        )
        .expect("the engine's backends")
        .with_screen_budget(FUZZ_BUDGET);
        let check = harness.check(&endless);
        assert!(check.outcomes.is_empty(), "not sent to the backends");
        assert!(
            matches!(&check.comparison, Comparison::Inconclusive { why } if why[0].contains("more than 4096 insns")),
            "{:?}",
            check.comparison
        );
        let short = Case::new(
            Program::new(vec![
                Insn::new(0xb7, 0, 0, 0, 7),
                Insn::new(0x95, 0, 0, 0, 0),
            ]),
            vec![],
        );
        let check = harness.check(&short);
        assert_eq!(check.outcomes.len(), 2);
        assert!(matches!(check.comparison, Comparison::Agree { .. }));
        // Undecodable programs go to every backend, which report them.
        let undecodable = Case::new(Program::new(vec![Insn::new(0xff, 0, 0, 0, 0)]), vec![]);
        assert_eq!(harness.check(&undecodable).outcomes.len(), 2);
    }

    #[test]
    fn parsers_survive_garbage() {
        check_parsers(b"-- asm\nmov %r0, \n-- result\n0x\n\xff\xfe");
        check_parsers(&[0x18, 0, 0, 0, 0, 0, 0, 0, 0x95]);
    }
}
