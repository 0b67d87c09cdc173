//! The kernel's level-2 verifier log (Linux 6.18, recorded on this machine
//! with `cargo run -p bpfdiff-oracle --example record_kernel_log`):
//! every scalar's text round-trips through the engine's printer, every
//! log parses into per-instruction states, and the concrete runs of the
//! recorded programs lie inside the states the kernel printed.

use bpfdiff_engine::data::{parse_data_file, DataTest};
use bpfdiff_engine::interp::{trace_program, DEFAULT_BUDGET};
use bpfdiff_engine::verifier::scalar_text::{parse_scalar, scalar_to_string};
use bpfdiff_oracle::backend::kernel::{wrapper, KernelBackend, KernelOptions};
use bpfdiff_oracle::kernel_log::parse::RegState;
use bpfdiff_oracle::kernel_log::{check, kernel_states, parse_log, KernelLog};
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kernel_logs")
}

/// Every recorded program with its log.
fn recorded() -> Vec<(String, DataTest, String)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    entries.sort();
    for p in entries {
        let test = parse_data_file(&p).unwrap();
        let log = std::fs::read_to_string(p.with_extension("log")).unwrap();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        out.push((name, test, log));
    }
    assert!(out.len() >= 7, "recorded logs missing");
    out
}

fn parsed(test: &DataTest, log: &str) -> KernelLog {
    parse_log(log, &wrapper::layout(test.mem.len())).unwrap()
}

/// The value texts after `R<n>=` and the spilled part after `fp-<n>=` in a
/// line: split at spaces outside parentheses.
fn printed_values(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    let mut flush = |cur: &mut String| {
        let t = std::mem::take(cur);
        if let Some((name, value)) = t.split_once('=') {
            if name.starts_with('R') && name[1..].chars().all(|c| c.is_ascii_digit()) {
                out.push(value.to_string());
            } else if name.starts_with("fp-") {
                out.push(value.trim_start_matches(['?', 'm', '0', 'r']).to_string());
            }
        }
    };
    for c in line.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if c == ' ' && depth == 0 {
            flush(&mut cur);
        } else {
            cur.push(c);
        }
    }
    flush(&mut cur);
    out
}

fn is_scalar_text(v: &str) -> bool {
    let v = v.strip_prefix('P').unwrap_or(v);
    v.starts_with("scalar(") || v.starts_with('-') || v.starts_with(|c: char| c.is_ascii_digit())
}

#[test]
fn every_scalar_the_kernel_printed_round_trips_exactly() {
    // kernel/bpf/log.c print_reg_state / print_scalar_ranges (6.18).
    let mut n = 0;
    let mut distinct = std::collections::BTreeSet::new();
    for (name, _, log) in recorded() {
        for line in log.lines().filter(|l| !l.starts_with("mark_precise")) {
            for v in printed_values(line)
                .into_iter()
                .filter(|v| is_scalar_text(v))
            {
                let (s, tag) = parse_scalar(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(scalar_to_string(&s, &tag), v, "{name}: {line}");
                n += 1;
                distinct.insert(v);
            }
        }
    }
    eprintln!(
        "{n} scalar texts ({} distinct) round-tripped",
        distinct.len()
    );
    assert!(
        distinct.len() >= 40,
        "only {} distinct scalars",
        distinct.len()
    );
}

#[test]
fn every_recorded_log_parses_into_states_of_user_instructions() {
    for (name, test, log) in recorded() {
        let k = parsed(&test, &log);
        assert!(!k.states.is_empty(), "{name}");
        assert!(k.states.iter().all(|s| s.pc < test.program.len()), "{name}");
        assert!(
            k.states.iter().all(|s| s.frame >= 1),
            "{name}: user code runs in frame 1+"
        );
        assert_eq!(
            k.accepted,
            name != "refused_oob",
            "{name}: {:?}",
            k.rejection
        );
    }
}

#[test]
fn a_refused_log_keeps_the_kernel_s_message() {
    let (_, test, log) = recorded()
        .into_iter()
        .find(|(n, ..)| n == "refused_oob")
        .unwrap();
    let k = parsed(&test, &log);
    assert!(!k.accepted);
    assert_eq!(
        k.rejection,
        [
            "invalid access to map value, value_size=4 off=15 size=1",
            "R1 max value is outside of the allowed memory range"
        ]
    );
}

#[test]
fn states_are_carried_forward_from_changed_registers() {
    let (_, test, log) = recorded()
        .into_iter()
        .find(|(n, ..)| n == "bounds_branches")
        .unwrap();
    let k = parsed(&test, &log);
    // User insn 8 (`r0 -= 7`) follows `if r3 > 100 goto` (insn 7), whose
    // fall-through state refines r3 to 0..=100; r0 was last printed at
    // insn 6 (0..=8251), r1 at insn 0 (a map value pointer).
    let s = k.states.iter().find(|s| s.pc == 8).unwrap();
    let scalar = |r: usize| match &s.state.regs[r] {
        Some(RegState::Scalar { bounds, .. }) => *bounds,
        other => panic!("r{r}: {other:?}"),
    };
    assert_eq!(scalar(3).umax, 100);
    assert_eq!(scalar(0).umax, 8251);
    assert!(
        matches!(&s.state.regs[1], Some(RegState::Pointer { kind, .. }) if kind == "map_value")
    );
    assert!(s.state.regs[7].is_none());
    // The path from the branch (`from 15 to 21`, user 7 → 13) starts from
    // its full print: r3 is 101..=255 there.
    let t = k.states.iter().find(|s| s.pc == 13).unwrap();
    match &t.state.regs[3] {
        Some(RegState::Scalar { bounds, .. }) => assert_eq!((bounds.umin, bounds.umax), (101, 255)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn helper_calls_clobber_r1_to_r5_and_pruned_paths_are_recorded() {
    let (_, test, log) = recorded()
        .into_iter()
        .find(|(n, ..)| n == "helper_call")
        .unwrap();
    let k = parsed(&test, &log);
    let after_call = k.states.iter().find(|s| s.pc == 2).unwrap();
    assert!(after_call.state.regs[1..=5].iter().all(Option::is_none));
    assert!(matches!(
        after_call.state.regs[0],
        Some(RegState::Scalar { .. })
    ));
    let (_, test, log) = recorded()
        .into_iter()
        .find(|(n, ..)| n == "loop_pruning")
        .unwrap();
    let k = parsed(&test, &log);
    assert!(!k.safe.is_empty());
    assert!(
        k.states.iter().filter(|s| s.pc == 4).count() >= 4,
        "one per loop iteration"
    );
}

#[test]
fn concrete_runs_lie_inside_the_recorded_states() {
    let mut total = 0;
    for (name, test, log) in recorded() {
        let k = parsed(&test, &log);
        let mut mem = test.mem.clone();
        let trace = trace_program(&test.program, &mut mem, DEFAULT_BUDGET, 10_000).unwrap();
        let r = check(&k, &trace.steps);
        assert!(r.violations.is_empty(), "{name}: {:?}", r.violations);
        if k.accepted {
            assert!(r.checked > 0, "{name}");
        }
        eprintln!(
            "{name}: {} steps checked, {} values, {} unchecked",
            r.checked, r.values, r.unchecked
        );
        total += r.checked;
    }
    assert!(total >= 40, "{total}");
}

#[test]
fn a_corrupted_state_yields_a_violation() {
    let (_, test, log) = recorded()
        .into_iter()
        .find(|(n, ..)| n == "bounds_branches")
        .unwrap();
    // The input's first byte is 5, so r3 = 5 on the fall-through path; a
    // state claiming r3 <= 4 there is wrong.
    let good = "R3=scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=100,var_off=(0x0; 0x7f))";
    let bad = "R3=scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=4,var_off=(0x0; 0x7))";
    let line = log.lines().position(|l| l.starts_with("15: (25)")).unwrap();
    let corrupted: Vec<String> = log
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == line {
                l.replace(good, bad)
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_ne!(corrupted.join("\n"), log.trim_end());
    let k = parse_log(&corrupted.join("\n"), &wrapper::layout(test.mem.len())).unwrap();
    let mut mem = test.mem.clone();
    let trace = trace_program(&test.program, &mut mem, DEFAULT_BUDGET, 10_000).unwrap();
    let r = check(&k, &trace.steps);
    assert_eq!(r.violations.len(), 1, "{r:?}");
    let v = &r.violations[0];
    assert_eq!((v.pc, v.reg, v.value), (8, Some(3), 5));
    assert_eq!(v.kernel, &bad[3..]);
    assert!(v.to_string().contains("insn 8: r3 = 0x5"), "{v}");
}

#[test]
fn unknown_lines_are_errors_naming_the_line() {
    let (_, test, log) = recorded()
        .into_iter()
        .find(|(n, ..)| n == "stack_spill")
        .unwrap();
    let layout = wrapper::layout(test.mem.len());
    let mut lines: Vec<&str> = log.lines().collect();
    lines.insert(20, "something the parser has never seen");
    let e = parse_log(&lines.join("\n"), &layout).unwrap_err();
    assert_eq!(e.line, 21, "{e}");
    let garbage = log.replacen("R3=42", "R3=wibble", 1);
    let e = parse_log(&garbage, &layout).unwrap_err();
    assert!(e.to_string().contains("wibble"), "{e}");
    let bad_scalar = log.replacen("R3=42", "R3=scalar(bogus=1)", 1);
    assert!(parse_log(&bad_scalar, &layout).is_err());
}

#[test]
fn live_kernel_states_agree_with_the_engine_runs() {
    let k = KernelBackend::new(KernelOptions::default());
    if let Some(why) = k.unavailable() {
        eprintln!("SKIPPED: kernel backend unavailable: {why}");
        return;
    }
    let mut k = k;
    for (name, test, _) in recorded() {
        let s = kernel_states(&mut k, &test.program, &test.mem).unwrap();
        assert!(
            s.report.violations.is_empty(),
            "{name}: {:?}",
            s.report.violations
        );
        eprintln!("{name}: {}", s.summary());
    }
}
