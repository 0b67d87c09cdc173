//! Stale rules are reported (issue 11, "Known rules that cannot hide
//! bugs"): a rule that matches no regression case on the running backend
//! is reported as stale by `bpfdiff replay`, and by `bpfdiff diff` when it
//! is asked about that rule's regression.
//!
//! The first test checks every built-in rule against the real backends:
//! each one matches a regression case (`corpus/regressions/`, one example
//! per rule in `corpus/regressions/known/`) in replay, or in `bpfdiff diff`
//! where replay withholds the program from rbpf's JIT, or it is a kernel
//! rule recorded as not applying to the running kernel — and replay says
//! so. The second makes every rule unable to match and checks that replay
//! and `diff` then report each rule a record names as stale.

mod common;

use bpfdiff::environment::Environment;
use bpfdiff::fuzz_glue::kernel_unavailable;
use bpfdiff::replay::{self, Replayer};
use bpfdiff_oracle::{registry, KnownRule, KnownRules};
use common::{bpfdiff, stdout, Scratch};
use std::collections::BTreeSet;
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

fn regression_files() -> Vec<PathBuf> {
    replay::discover(&[root().join("corpus/regressions")]).expect("the regressions are found")
}

/// Replays every regression with `rules`; returns the replayer.
fn replay_all(rules: KnownRules) -> Replayer {
    let mut replayer = Replayer::new(None, rules, Environment::detect()).expect("backends start");
    for file in regression_files() {
        let case = replay::load(&file).unwrap_or_else(|e| panic!("{e}"));
        replayer.replay(&case);
    }
    replayer
}

/// The rules that match some regression when run as `bpfdiff diff` runs
/// it (every backend compared, nothing withheld).
fn rules_matched_by_diff(names: &[String]) -> BTreeSet<String> {
    let mut rules = bpfdiff::known_rules::builtin().unwrap();
    let mut backends: Vec<_> = names.iter().map(|n| registry::create(n).unwrap()).collect();
    for file in regression_files() {
        let case = replay::load(&file).unwrap();
        bpfdiff_oracle::diff(&mut backends, &case.program, &case.mem, &mut rules);
    }
    rules
        .rules()
        .iter()
        .zip(rules.hits())
        .filter(|(_, &n)| n > 0)
        .map(|(r, _)| r.name.clone())
        .collect()
}

#[test]
fn every_rule_matches_a_regression_or_is_reported_stale_with_why() {
    use_this_builds_worker();
    let replayer = replay_all(bpfdiff::known_rules::builtin().unwrap());
    let release = replayer.rules().kernel_release().map(String::from);
    let running = replayer.running().to_vec();
    if let Some(why) = kernel_unavailable() {
        eprintln!("SKIPPED (kernel part): bpf() is not usable here: {why}");
    }
    let stale = replayer.stale_rules();
    let by_diff = rules_matched_by_diff(&running);
    let (mut in_replay, mut in_diff_only, mut not_here) = (0, Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for rule in replayer.rules().rules() {
        if !running.contains(&rule.backend) {
            continue;
        }
        let reported = stale.iter().find(|s| s.name == rule.name);
        match reported {
            None => in_replay += 1,
            Some(s) if !rule.applies_on_kernel(release.as_deref()) => {
                assert!(s.why.starts_with("does not apply on this kernel"), "{s:?}");
                not_here.push(rule.name.clone());
            }
            Some(s) if by_diff.contains(&rule.name) => {
                assert_eq!(s.why, "no replayed case exercises it", "{s:?}");
                in_diff_only.push(rule.name.clone());
            }
            Some(s) => failures.push(format!("{}: stale ({})", rule.name, s.why)),
        }
    }
    eprintln!(
        "{} rule(s) match a regression in replay; {} only in `bpfdiff diff` (replay withholds \
         the program from rbpf's JIT): {}; {} do not apply on this kernel ({}): {}",
        in_replay,
        in_diff_only.len(),
        in_diff_only.join(", "),
        not_here.len(),
        release.as_deref().unwrap_or("unknown"),
        not_here.join(", ")
    );
    assert!(in_replay > 40, "only {in_replay} rules matched in replay");
    assert!(
        failures.is_empty(),
        "rules that match no regression on the running backends:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_rule_that_stops_matching_is_reported_stale_by_replay_and_by_diff() {
    use_this_builds_worker();
    // Every rule made unable to match: as if each backend had changed.
    let never: Vec<KnownRule> = bpfdiff::known_rules::builtin()
        .unwrap()
        .rules()
        .iter()
        .cloned()
        .map(|mut r| {
            r.detail_matches = Some("(this detail never occurs)".into());
            r
        })
        .collect();
    let dir = Scratch::new("stale-rules");
    let rules_file = dir.write("never.json", serde_json::to_string_pretty(&never).unwrap());
    let replayer = replay_all(KnownRules::load(&rules_file).unwrap());
    let running = replayer.running().to_vec();
    let stale = replayer.stale_rules();
    let mut checked = 0;
    let mut agreed = 0;
    let mut failures = Vec::new();
    for file in regression_files() {
        let case = replay::load(&file).unwrap();
        let Some(record) = &case.record else { continue };
        let named: Vec<(String, String)> = record
            .differences
            .iter()
            .filter(|d| running.contains(&d.backend))
            .flat_map(|d| {
                d.rules()
                    .map(|r| (d.backend.clone(), r.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        if named.is_empty() {
            continue;
        }
        let out = bpfdiff(&[
            &"diff",
            &file,
            &"--no-builtin-rules",
            &"--known",
            &rules_file,
        ]);
        let text = stdout(&out);
        for (backend, rule) in &named {
            // A record that allows the backend to agree, on a build where
            // it does (rbpf's release build wraps where its debug build
            // panics): the rule is expected to match nothing, and neither
            // replay nor diff calls it stale.
            if replayer.agreed_as_allowed().contains(rule) {
                agreed += 1;
                continue;
            }
            checked += 1;
            let in_replay = stale.iter().any(|s| {
                &s.name == rule
                    && (s.why.starts_with("named by the record")
                        || s.why.starts_with("does not apply on this kernel"))
            });
            if !in_replay {
                failures.push(format!(
                    "replay does not report {rule} ({backend}) as stale"
                ));
            }
            let line = format!("stale rule: {rule} ({backend} ");
            if !text.contains(&line) {
                failures.push(format!(
                    "`bpfdiff diff {}` does not report {rule} as stale:\n{text}",
                    file.display()
                ));
            }
        }
    }
    eprintln!(
        "{checked} rule(s) named by regression records, each reported stale by replay and diff; \
         {agreed} not checked: their case agreed, as its record allows"
    );
    assert!(checked > 60, "only {checked} named rules checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
