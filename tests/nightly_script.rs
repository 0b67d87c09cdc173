//! scripts/nightly.sh's decisions, without its hour of work: bad arguments
//! are refused before anything is built, and the summary writer
//! (scripts/nightly_summary.py) turns step results into the documented exit
//! code (docs/nightly.md: 1 finding > 2 harness error > 3 nothing tested >
//! 0), a merged JUnit file and a Markdown summary.

mod common;

use common::Scratch;
use std::path::Path;
use std::process::{Command, Output};

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot start {cmd:?}: {e}; run scripts/setup.sh (it installs python3)")
    })
}

/// Writes steps.tsv (and the given JSON files) to a fresh DIR, runs the
/// summary writer and returns DIR with its outputs.
fn summarize(label: &str, steps: &[&str], files: &[(&str, &str)]) -> (Scratch, u8) {
    let dir = Scratch::new(label);
    dir.write("steps.tsv", steps.join("\n") + "\n");
    for (name, text) in files {
        dir.write(name, text);
    }
    let out = run(Command::new("python3")
        .arg(script("nightly_summary.py"))
        .arg(dir.path())
        .args(["--seed", "20261204", "--budget", "180"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = std::fs::read_to_string(dir.path().join("exit_code")).unwrap();
    let code = code.trim().parse().unwrap();
    (dir, code)
}

fn step(name: &str, status: &str, code: u8) -> String {
    format!("{name}\t{status}\t{code}\t1\t{status} detail")
}

#[test]
fn bad_arguments_are_refused_before_any_work() {
    for args in [
        &["--budget", "10x"][..],
        &["--budget", "30s"],
        &["--budget"],
        &["--frobnicate"],
        &["--seed", "abc"],
    ] {
        let out = run(Command::new(script("nightly.sh")).args(args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("nightly.sh") || err.contains("usage"), "{err}");
        assert!(
            !err.contains("building"),
            "{args:?} started building: {err}"
        );
    }
}

#[test]
fn the_exit_code_is_finding_then_error_then_nothing_tested() {
    let ok = step("replay", "ok", 0);
    let finding = step("triage", "finding", 0);
    let error = step("campaign", "error", 2);
    let nothing = step("fuzz kernel", "nothing-tested", 0);
    let skipped = step("page", "skipped", 0);
    for (steps, want) in [
        (vec![&ok, &skipped], 0),
        (vec![&ok, &nothing, &error, &finding], 1),
        (vec![&ok, &nothing, &error], 2),
        (vec![&nothing, &ok], 3),
    ] {
        let steps: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
        let (dir, code) = summarize("nightly-code", &steps, &[]);
        assert_eq!(code, want, "{steps:?}");
        let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        assert!(md.contains(&format!("(exit {want})")), "{md}");
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("summary.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["exit_code"], want);
        assert_eq!(json["steps"].as_array().unwrap().len(), steps.len());
    }
}

#[test]
fn an_unavailable_backend_or_zero_programs_is_nothing_tested() {
    let replay = r#"{"summary": "1 case(s)", "backends": ["interp"], "cases": [],
        "unavailable": [{"backend": "kernel", "why": "bpf() not permitted"}]}"#;
    let (dir, code) = summarize(
        "nightly-unavailable",
        &[&step("replay", "ok", 0)],
        &[("replay.json", replay)],
    );
    assert_eq!(code, 3);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        md.contains("backend(s) not run: kernel (bpf() not permitted)"),
        "{md}"
    );

    let campaign = r#"{"tier": "mix", "programs": 0, "elapsed_s": 1.0}"#;
    let (_, code) = summarize(
        "nightly-zero",
        &[&step("campaign", "ok", 0)],
        &[("campaign.json", campaign)],
    );
    assert_eq!(code, 3);
}

#[test]
fn junit_merges_the_suites_and_adds_one_case_per_step() {
    let replay_junit = r#"<?xml version="1.0"?>
<testsuite name="bpfdiff replay" tests="2" failures="1" errors="0">
  <testcase name="a"/><testcase name="b"><failure message="changed"/></testcase>
</testsuite>"#;
    let (dir, _) = summarize(
        "nightly-junit",
        &[&step("replay", "finding", 1), &step("campaign", "error", 2)],
        &[("replay-junit.xml", replay_junit)],
    );
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        xml.contains(r#"<testsuites name="bpfdiff nightly" tests="4" failures="2" errors="1">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<testsuite name="bpfdiff replay""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="campaign" classname="nightly" time="1"><error"#),
        "{xml}"
    );
}
