//! Replays every case in `corpus/regressions/` and `reports/` with
//! `bpfdiff::replay` on every available backend (engine interpreter and
//! JIT, rbpf, rbpf's JIT, the kernel where `bpf()` is permitted) and
//! compares with each case's recorded outcome (`#@` lines, a report's
//! `case.json`): a case that changed fails, and so does a recorded
//! divergence that no longer happens ("FIXED on this kernel (uname -r …)"):
//! a stale finding must be updated, not stay green. The engine's
//! interpreter and JIT are also compared in checked mode on each case.
//!
//! The second test mutates each regression slightly (another immediate,
//! another register) and checks that the rules classify the mutant as they
//! classify the original: a rule that stopped matching would miss the same
//! bug, a rule matching something else would hide it.

use bpfdiff::environment::Environment;
use bpfdiff::fuzz_glue::{check_interp_vs_jit, kernel_unavailable, DiffHarness};
use bpfdiff::gen::Case;
use bpfdiff::replay::{self, Replayer, Status};
use bpfdiff_engine::data;
use bpfdiff_oracle::{Comparison, KnownRules};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn use_this_builds_worker() {
    std::env::set_var(
        bpfdiff_oracle::backend::worker::WORKER_ENV,
        env!("CARGO_BIN_EXE_bpfdiff"),
    );
}

#[test]
fn every_regression_and_report_replays_as_recorded() {
    use_this_builds_worker();
    let paths: Vec<PathBuf> = replay::DEFAULT_PATHS
        .iter()
        .map(|p| root().join(p))
        .collect();
    let files = replay::discover(&paths).expect("the cases are found");
    let regressions = files
        .iter()
        .filter(|f| f.starts_with(root().join("corpus/regressions")))
        .count();
    assert!(regressions >= 3, "corpus/regressions holds too few files");
    let rules = bpfdiff::known_rules::from_env().expect("the rules read");
    let mut replayer = Replayer::new(None, rules, Environment::detect()).expect("backends start");
    eprintln!("environment: {}", replayer.environment().header());
    let mut failures = Vec::new();
    for file in &files {
        let case = replay::load(file).unwrap_or_else(|e| panic!("{e}"));
        let result = replayer.replay(&case);
        let name = file
            .strip_prefix(root())
            .unwrap_or(file)
            .display()
            .to_string();
        eprintln!("{:12} {name}", result.status.name());
        for why in &result.reasons {
            eprintln!("             {why}");
        }
        match result.status {
            Status::AsRecorded => {}
            Status::Fixed | Status::Changed => failures.push(format!(
                "{name}: {}\n  {}",
                result.status.name(),
                result.reasons.join("\n  ")
            )),
            Status::NotRun => {
                // Only an unavailable kernel may keep a case from running.
                let kernel_only = kernel_unavailable().is_some()
                    && result
                        .reasons
                        .iter()
                        .all(|r| !r.contains("no recorded outcome"));
                if kernel_only {
                    eprintln!("SKIPPED (kernel part): {name}");
                } else {
                    failures.push(format!("{name}: not run: {}", result.reasons.join("; ")));
                }
            }
        }
        if let Err(finding) =
            check_interp_vs_jit(&Case::new(case.program.clone(), case.mem.clone()))
        {
            failures.push(format!("{name}: {finding}"));
        }
    }
    for stale in replayer.stale_rules() {
        if stale.why.starts_with("named by the record") {
            failures.push(format!("stale rule {}: {}", stale.name, stale.why));
        }
    }
    eprintln!("{}", replayer.rules().summary());
    assert!(
        replayer.rules().ambiguous().is_empty(),
        "{}",
        replayer.rules().summary()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// (backend, aspect, rule) of every difference, sorted.
type Classes = Vec<(String, String, Option<String>)>;

fn classify(harness: &mut DiffHarness, rules: &mut KnownRules, text: &str) -> Classes {
    let test = data::parse_data(text).expect("a valid .data file");
    let case = Case::new(test.program, test.mem);
    let mut check = harness.check_without_rules(&case);
    rules.apply(&case.program, &case.input, &mut check.comparison);
    let mut out: Classes = match check.comparison {
        Comparison::Diverge { differences } => differences
            .into_iter()
            .map(|d| (d.backend, d.aspect.name().to_string(), d.known))
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    out
}

#[test]
fn rules_classify_slightly_mutated_regressions_as_the_originals() {
    use_this_builds_worker();
    // (file, text replaced, replacement): each mutation keeps the bug.
    let mutations: &[(&str, &str, &str)] = &[
        ("rbpf-jit-mov32-memory", "-10", "-3"),
        ("rbpf-jit-mov32-memory", "%r8", "%r7"),
        ("rbpf-jmp-imm-sign-extension-memory", "-11", "-20"),
        ("rbpf-jmp-imm-sign-extension-memory", "%r3", "%r5"),
        ("rbpf-ld-imm64-map-value", "+1]", "+3]"),
        ("rbpf-ld-imm64-map-value", "%r9", "%r6"),
        ("rbpf-falls-off-end", "mov %r0, 1", "mov %r0, 5"),
        ("rbpf-falls-off-end", "%r0", "%r4"),
        ("rbpf-nine-frames", "mov %r0, 0", "mov %r0, 3"),
        ("rbpf-nine-frames", "%r6", "%r7"),
        (
            "rbpf-reserved-field",
            "0x00000007000000b7",
            "0x00000009000000b7",
        ),
        (
            "rbpf-reserved-field",
            "0x0000000100000095",
            "0x0000000200000095",
        ),
        (
            "kernel-dead-code-reserved-field",
            "0x000000070001009f",
            "0x000000030001009f",
        ),
        ("rbpf-input-store-lands-in-stack", "+740", "+900"),
        (
            "kernel-atomic-fetch-stack-precision",
            "mov %r2, 5",
            "mov %r2, 7",
        ),
        ("kernel-atomic-fetch-stack-precision", "%r3", "%r4"),
    ];
    let mut names: Vec<String> = ["interp", "rbpf", "rbpf-jit"].map(String::from).to_vec();
    if kernel_unavailable().is_none() {
        names.push("kernel".into());
    }
    let mut harness = DiffHarness::new(&names, KnownRules::default(), false).unwrap();
    let mut rules = bpfdiff::known_rules::builtin().unwrap();
    let mut failures = Vec::new();
    for (file, from, to) in mutations {
        let path = root().join(format!("corpus/regressions/{file}.data"));
        let text = std::fs::read_to_string(&path).unwrap();
        let body_at = text.find("\n-- ").expect("a section");
        let (comments, body) = text.split_at(body_at);
        assert!(body.contains(from), "{file}: `{from}` not in the program");
        let mutant = format!("{comments}{}", body.replace(from, to));
        let original = classify(&mut harness, &mut rules, &text);
        let mutated = classify(&mut harness, &mut rules, &mutant);
        eprintln!("{file} ({from} -> {to}): {mutated:?}");
        if original != mutated {
            failures.push(format!(
                "{file} with `{from}` -> `{to}`: {mutated:?}, the original gives {original:?}"
            ));
        }
    }
    assert!(rules.ambiguous().is_empty(), "{}", rules.summary());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The kernel rule for the atomic-fetch precision bug, checked against the
/// outcome recorded where the bug was seen (the kernel here may have the
/// fix): the same bug in a mutated program is still matched, another value
/// or a program without a fetching atomic is not, and a kernel on which the
/// bug was looked for and not seen gets no rule at all.
#[test]
fn the_atomic_fetch_kernel_rule_matches_its_shape_only() {
    use bpfdiff_oracle::{Aspect, Difference};
    let text = std::fs::read_to_string(
        root().join("corpus/regressions/kernel-atomic-fetch-stack-precision.data"),
    )
    .unwrap();
    let rules = bpfdiff::known_rules::builtin().unwrap();
    let rule = rules
        .rules()
        .iter()
        .find(|r| r.name == "kernel-atomic-fetch-stack-precision")
        .unwrap()
        .clone();
    let seen = rule.observed_on[0].clone();
    let not_seen = rule.not_observed_on[0].clone();
    let kernel_r0 = |detail: &str| Difference {
        backend: "kernel".into(),
        aspect: Aspect::R0,
        detail: detail.into(),
        known: None,
    };
    let program = |t: &str| data::parse_data(t).unwrap().program;
    let same_bug = [
        program(&text),
        program(&text.replace("%r2", "%r5")),
        program(&text.replace("0x64", "0x30")),
        program(&text.replace("lock fetch xor", "lock fetch add")),
    ];
    for p in &same_bug {
        assert!(KnownRules::rule_matches(
            &rule,
            p,
            &[],
            &kernel_r0("0x1 vs 0x2"),
            Some(&seen)
        ));
        assert!(
            !KnownRules::rule_matches(&rule, p, &[], &kernel_r0("0x1 vs 0x3"), Some(&seen)),
            "another value is another divergence"
        );
        assert!(
            !KnownRules::rule_matches(&rule, p, &[], &kernel_r0("0x1 vs 0x2"), Some(&not_seen)),
            "no rule on a kernel recorded without the bug"
        );
        assert!(!KnownRules::rule_matches(
            &rule,
            p,
            &[],
            &kernel_r0("0x1 vs 0x2"),
            Some("6.19.0")
        ));
    }
    let no_atomic = program(&text.replace("lock fetch xor [%r10-8], %r2", "ldxdw %r2, [%r10-8]"));
    assert!(!KnownRules::rule_matches(
        &rule,
        &no_atomic,
        &[],
        &kernel_r0("0x1 vs 0x2"),
        Some(&seen)
    ));
}
