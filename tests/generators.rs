//! The generators' contracts, measured: the kernel verifier accepts the
//! verifier-aware tier (≥ 80 %), the grammar tier reaches every row of the
//! opcode table, the verifier-aware tier never gives the engine anything
//! to fault on or to guess, and `BPFDIFF_ALLOWED_OPS` restricts every tier.

use bpfdiff::campaign::{case_seed, normalize_reason};
use bpfdiff::gen::{pointer_taint, seeded, unwritten_registers, Knobs, Tier};
use bpfdiff_engine::interp::{ExecResult, FaultKind, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::opcode::{Class, Operation, Source, OPCODES};
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::{Backend, Verdict};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[test]
fn the_kernel_verifier_accepts_at_least_80_percent_of_the_verifier_tier() {
    let mut kernel = KernelBackend::new(KernelOptions {
        log_on_reject: true,
        ..KernelOptions::default()
    });
    if let Some(why) = kernel.unavailable() {
        eprintln!("SKIPPED: kernel backend unavailable: {why}");
        return;
    }
    let knobs = Knobs::default();
    let total = 300;
    let mut accepted = 0;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..total {
        let case = seeded::case(Tier::Verifier, &knobs, case_seed(0, i));
        match kernel.run(&case.program, &case.input).verdict {
            Verdict::Accepted => accepted += 1,
            Verdict::Rejected { reason, .. } => {
                *reasons.entry(normalize_reason(&reason)).or_default() += 1
            }
            Verdict::Unknown => {}
        }
    }
    let rate = 100.0 * accepted as f64 / total as f64;
    eprintln!(
        "kernel verifier accepted {accepted} of {total} ({rate:.1} %); refusals: {reasons:?}"
    );
    assert!(rate >= 80.0, "acceptance {rate:.1} % < 80 %: {reasons:?}");
}

#[test]
fn the_grammar_tier_reaches_every_row_within_10000_programs_of_seed_0() {
    let knobs = Knobs::default();
    let mut seen = vec![false; OPCODES.len()];
    let mut all_by = None;
    for i in 0..10_000 {
        let case = seeded::case(Tier::Grammar, &knobs, case_seed(0, i));
        for (_, ins) in case.program.decode().expect("grammar programs decode") {
            let row = OPCODES
                .iter()
                .position(|r| std::ptr::eq(r, ins.row))
                .unwrap();
            seen[row] = true;
        }
        if all_by.is_none() && seen.iter().all(|&s| s) {
            all_by = Some(i + 1);
        }
    }
    eprintln!("every row of OPCODES appeared within the first {all_by:?} programs");
    let missing: Vec<&str> = OPCODES
        .iter()
        .zip(&seen)
        .filter(|(_, s)| !**s)
        .map(|(r, _)| r.name())
        .collect();
    assert!(missing.is_empty(), "rows never generated: {missing:?}");
}

#[test]
fn verifier_tier_programs_leave_nothing_to_guess() {
    // SEMANTICS.md: the kernel reads garbage from never-written stack; the
    // harness discounts branches on addresses and unwritten registers. The
    // tier avoids all three, and never faults on the engine.
    let knobs = Knobs::default();
    for i in 0..1000 {
        let case = seeded::case(Tier::Verifier, &knobs, case_seed(7, i));
        let vm = Interpreter::new(&case.program).expect("decodes");
        let mut mem = case.input.clone();
        let e = vm.run(&mut mem, DEFAULT_BUDGET);
        assert!(
            matches!(
                e.result,
                ExecResult::Returned {
                    r0_derived: false,
                    ..
                }
            ),
            "case {i}: {}",
            e.result
        );
        assert_eq!(e.uninit_stack_read, None, "case {i}");
        assert_eq!(
            unwritten_registers::first_unwritten_read(&case.program),
            None,
            "case {i}"
        );
        assert_eq!(
            pointer_taint::analyze(&case.program, !case.input.is_empty()),
            pointer_taint::AddressDependence::default(),
            "case {i}"
        );
    }
}

/// Rows the verifier-aware tier emits whatever the restriction: register
/// and stack initialisation, loop counters, the input pointer's spill and
/// `exit`.
fn scaffolding(row: &bpfdiff_engine::opcode::OpcodeRow) -> bool {
    matches!(
        (row.class, row.operation, row.source),
        (Class::Alu64, Operation::Mov, Source::Imm | Source::Reg)
            | (Class::Alu64, Operation::Add, Source::Imm)
            | (Class::Jmp, Operation::Exit, _)
            | (Class::St, Operation::StoreImm, _)
            | (Class::Stx, Operation::StoreReg, _)
            | (Class::Ldx, Operation::Load, _)
    ) && row.name() != "movsx864"
}

/// Rows the boundary tier emits whatever the restriction: register
/// initialisation, pointer copies and offsets, the bounded index (`ldxb`,
/// `and`, `jgt`), the stores that initialise stack before a read, `exit`.
fn boundary_scaffolding(row: &bpfdiff_engine::opcode::OpcodeRow) -> bool {
    matches!(
        (row.class, row.operation, row.source),
        (Class::Alu64, Operation::Mov, Source::Imm | Source::Reg)
            | (Class::Alu64, Operation::Add, Source::Imm | Source::Reg)
            | (Class::Alu64, Operation::And, Source::Imm)
            | (Class::Jmp, Operation::Jgt, Source::Imm)
            | (Class::St, Operation::StoreImm, _)
    ) && row.name() != "movsx864"
        || row.name() == "ldxb"
}

#[test]
fn allowed_ops_restrict_every_tier() {
    let knobs = Knobs::default()
        .with_allowed_ops("xor32,jsgt32,lock_fetch_add")
        .unwrap();
    let allowed = |name: &str| {
        name.starts_with("xor32") || name.starts_with("jsgt32") || name == "lock_fetch_add"
    };
    for tier in Tier::ALL {
        for i in 0..200 {
            let case = seeded::case(tier, &knobs, case_seed(3, i));
            if tier == Tier::Raw {
                let opcodes = [0xa4, 0xac, 0x66, 0x6e, 0xdb, 0x95];
                assert!(
                    case.program
                        .insns
                        .iter()
                        .all(|s| opcodes.contains(&s.opcode)),
                    "{tier} {i}"
                );
                continue;
            }
            for (_, ins) in case.program.decode().unwrap() {
                let name = ins.row.name();
                let ok = allowed(name)
                    || name == "exit"
                    || (tier == Tier::Verifier && scaffolding(ins.row))
                    || (tier == Tier::Boundary && boundary_scaffolding(ins.row));
                assert!(ok, "{tier} case {i} uses {name}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn proptest_strategies_share_the_generators(
        case in bpfdiff::gen::proptest::case(Tier::Verifier, Knobs::default())
    ) {
        let vm = Interpreter::new(&case.program).unwrap();
        let mut mem = case.input.clone();
        let e = vm.run(&mut mem, DEFAULT_BUDGET);
        let returned = matches!(e.result, ExecResult::Returned { .. });
        prop_assert!(returned, "{}", e.result);
        prop_assert_eq!(unwritten_registers::first_unwritten_read(&case.program), None);
    }
}

/// How the engine's interpreter and the kernel verifier judged one
/// boundary-tier case.
fn boundary_judgements(total: u64) -> Option<BTreeMap<(&'static str, &'static str), usize>> {
    let mut kernel = KernelBackend::new(KernelOptions {
        log_on_reject: false,
        ..KernelOptions::default()
    });
    if let Some(why) = kernel.unavailable() {
        eprintln!("SKIPPED: kernel backend unavailable: {why}");
        return None;
    }
    let knobs = Knobs::default();
    let mut table = BTreeMap::new();
    for i in 0..total {
        let case = seeded::case(Tier::Boundary, &knobs, case_seed(12, i));
        let vm = Interpreter::new(&case.program).expect("boundary programs decode");
        let mut mem = case.input.clone();
        let engine = match vm.run(&mut mem, DEFAULT_BUDGET).result {
            ExecResult::Returned { .. } => "returns",
            ExecResult::Fault(f) if f.kind == FaultKind::OutOfBounds => "out-of-bounds",
            other => panic!("case {i}: the boundary tier's only fault is a bound: {other}"),
        };
        let verdict = match kernel.run(&case.program, &case.input).verdict {
            Verdict::Accepted => "accepts",
            Verdict::Rejected { .. } => "refuses",
            Verdict::Unknown => "unknown",
        };
        *table.entry((engine, verdict)).or_default() += 1;
    }
    eprintln!("boundary tier, engine x kernel verifier: {table:?}");
    Some(table)
}

#[test]
fn boundary_tier_faults_and_kernel_refusals_line_up_at_the_edges() {
    // The kernel verifier refuses every access outside a region (RFC 9669
    // leaves bounds to the runtime; Linux checks them at load time), so a
    // program the engine sees go out of bounds is never accepted, while
    // the programs whose accesses sit just inside every edge are.
    let Some(table) = boundary_judgements(2000) else {
        return;
    };
    let get = |k: (&str, &str)| table.get(&k).copied().unwrap_or(0);
    assert_eq!(get(("out-of-bounds", "accepts")), 0, "{table:?}");
    let total: usize = table.values().sum();
    let accepted = get(("returns", "accepts"));
    let out = get(("out-of-bounds", "refuses"));
    assert!(
        accepted * 5 >= total,
        "kernel accepted {accepted} of {total}"
    );
    assert!(out * 5 >= total, "only {out} of {total} went out of bounds");
}
