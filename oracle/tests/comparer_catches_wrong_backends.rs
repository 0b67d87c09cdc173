//! Deliberately wrong backends prove that the comparer catches each kind of
//! difference: a flipped result bit, a flipped memory bit, a fault where the
//! reference returns, a different fault, a refusal, an unsafe acceptance and
//! a crash.

use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::interp::InterpBackend;
use bpfdiff_oracle::{
    diff, Aspect, Backend, Capabilities, Checking, Comparison, Execution, KnownRule, KnownRules,
    Outcome, Verdict,
};

/// Runs the engine, then corrupts its outcome in one way.
struct Wrong {
    how: How,
    inner: InterpBackend,
}

#[derive(Clone, Copy)]
enum How {
    FlipR0Bit,
    FlipMemoryBit,
    AlwaysFault,
    FaultElsewhere,
    Refuse,
    AcceptUnsafe,
    Crash,
    Honest,
}

impl Backend for Wrong {
    fn name(&self) -> &'static str {
        "wrong"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            checking: Checking::Encoding,
            full_r0: true,
            memory_after: true,
            zeroed_stack: true,
        }
    }

    fn run(&mut self, program: &Program, input: &[u8]) -> Outcome {
        let mut o = self.inner.run(program, input);
        o.backend = "wrong".into();
        match (self.how, &mut o.execution) {
            (How::FlipR0Bit, Execution::Returned { r0, .. }) => r0.bits ^= 1 << 40,
            (How::FlipMemoryBit, Execution::Returned { mem, .. }) => mem[1] ^= 0x10,
            (How::AlwaysFault, e) => {
                *e = Execution::Fault {
                    kind: "out-of-bounds".into(),
                    pc: Some(0),
                    detail: "made up".into(),
                }
            }
            (How::FaultElsewhere, Execution::Fault { pc, .. }) => *pc = pc.map(|p| p + 1),
            (How::Refuse, _) => return Outcome::rejected("wrong", 22, "made-up refusal", None),
            (How::AcceptUnsafe, e) => {
                *e = Execution::Withheld {
                    engine_fault: "out-of-bounds".into(),
                }
            }
            (How::Crash, e) => {
                *e = Execution::Crashed {
                    what: "killed by signal 11 (SIGSEGV)".into(),
                }
            }
            _ => {}
        }
        o
    }
}

const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

fn returning() -> Program {
    // *(u8 *)(r1 +1) = 0x42; r0 = 7; exit
    Program::new(vec![
        Insn::new(0x72, 1, 0, 1, 0x42),
        Insn::new(0xb7, 0, 0, 0, 7),
        EXIT,
    ])
}

fn faulting() -> Program {
    // r0 = 0; r0 = *(u64 *)(r1 +100): out of bounds at insn 1
    Program::new(vec![
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x79, 0, 1, 100, 0),
        EXIT,
    ])
}

fn aspects(how: How, program: &Program) -> Vec<Aspect> {
    let mut backends: Vec<Box<dyn Backend>> = vec![
        Box::new(InterpBackend::default()),
        Box::new(Wrong {
            how,
            inner: InterpBackend::default(),
        }),
    ];
    let r = diff(
        &mut backends,
        program,
        &[0u8; 8],
        &mut KnownRules::default(),
    );
    match r.comparison {
        Comparison::Diverge { differences } => differences.iter().map(|d| d.aspect).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn an_honest_copy_agrees() {
    assert!(aspects(How::Honest, &returning()).is_empty());
    assert!(aspects(How::Honest, &faulting()).is_empty());
}

#[test]
fn each_kind_of_difference_is_caught() {
    assert_eq!(aspects(How::FlipR0Bit, &returning()), vec![Aspect::R0]);
    assert_eq!(
        aspects(How::FlipMemoryBit, &returning()),
        vec![Aspect::Memory]
    );
    assert_eq!(
        aspects(How::AlwaysFault, &returning()),
        vec![Aspect::Ending]
    );
    assert_eq!(
        aspects(How::FaultElsewhere, &faulting()),
        vec![Aspect::FaultPc]
    );
    assert_eq!(aspects(How::Refuse, &returning()), vec![Aspect::Verdict]);
    assert_eq!(
        aspects(How::AcceptUnsafe, &faulting()),
        vec![Aspect::UnsafeAccepted]
    );
    assert_eq!(aspects(How::Crash, &returning()), vec![Aspect::Crash]);
}

#[test]
fn known_rules_mark_and_count_but_never_hide() {
    let mut rules = KnownRules::new(vec![KnownRule {
        name: "wrong-flips-bit-40".into(),
        reason: "test rule".into(),
        backend: "wrong".into(),
        aspect: "r0".into(),
        program_uses: vec!["mov_imm".into()],
        ..KnownRule::default()
    }]);
    let mut backends: Vec<Box<dyn Backend>> = vec![
        Box::new(InterpBackend::default()),
        Box::new(Wrong {
            how: How::FlipR0Bit,
            inner: InterpBackend::default(),
        }),
    ];
    let r = diff(&mut backends, &returning(), &[0u8; 8], &mut rules);
    match &r.comparison {
        Comparison::Diverge { differences } => {
            assert_eq!(differences[0].known.as_deref(), Some("wrong-flips-bit-40"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!r.comparison.has_new_divergence());
    assert!(
        rules
            .summary()
            .contains("wrong-flips-bit-40 (r0 on wrong): 1 match(es)"),
        "{}",
        rules.summary()
    );
    assert_eq!(r.outcomes[1].verdict, Verdict::Accepted);
}
