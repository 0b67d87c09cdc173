//! Replays every file in `corpus/regressions/` on every available backend
//! (engine interpreter, rbpf, rbpf's JIT, the kernel where `bpf()` is
//! permitted) and the engine's JIT: a divergence no rule of
//! `corpus/known-divergences.json` explains fails the test, as does a
//! crash of the harness.
//!
//! Files: bpf_conformance `.data` tests (program, `-- mem`, and the
//! engine's `-- result` or a text its `-- error` must contain); any other
//! file is a raw fuzz artifact in the fuzz targets' case format
//! (`bpfdiff::gen::case`). A `.data` file names in its comments every
//! known rule its replay hits, so that each regression says what it is.

use bpfdiff::fuzz_glue::{check_interp_vs_jit, diff_finding, kernel_unavailable, DiffHarness};
use bpfdiff::gen::{Case, Knobs};
use bpfdiff_engine::data::{self, Expected};
use bpfdiff_oracle::{Comparison, Execution, Verdict};
use std::path::{Path, PathBuf};

fn regression_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_none_or(|e| e != "md")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .collect();
    files.sort();
    files
}

/// The case a file holds, its expectation, and its text (for `.data`).
fn read(path: &Path) -> (Case, Option<Expected>, String) {
    if path.extension().is_some_and(|e| e == "data") {
        let text = std::fs::read_to_string(path).unwrap();
        let test = data::parse_data(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (Case::new(test.program, test.mem), Some(test.expected), text)
    } else {
        let bytes = std::fs::read(path).unwrap();
        (
            Case::from_fuzz_bytes(&bytes, &Knobs::default()),
            None,
            String::new(),
        )
    }
}

/// Why the engine's outcome does not meet the file's expectation, if it does not.
fn engine_mismatch(expected: &Expected, engine: &bpfdiff_oracle::Outcome) -> Option<String> {
    match (expected, &engine.verdict, &engine.execution) {
        (Expected::Result(want), Verdict::Accepted, Execution::Returned { r0, .. }) => {
            (r0.bits != *want).then(|| format!("r0 = 0x{:x}, expected 0x{want:x}", r0.bits))
        }
        (Expected::Error(text), Verdict::Rejected { reason, .. }, _) => {
            (!reason.contains(text)).then(|| format!("refused with `{reason}`, expected `{text}`"))
        }
        (Expected::Error(text), _, Execution::Fault { kind, detail, .. }) => (!kind.contains(text)
            && !detail.contains(text))
        .then(|| format!("faulted with `{detail}`, expected `{text}`")),
        (want, _, _) => Some(format!("{}, expected {want:?}", engine.summary())),
    }
}

#[test]
fn every_regression_replays_without_a_new_divergence() {
    std::env::set_var(
        bpfdiff_oracle::backend::worker::WORKER_ENV,
        env!("CARGO_BIN_EXE_bpfdiff"),
    );
    let files = regression_files();
    assert!(files.len() >= 3, "corpus/regressions holds too few files");
    let mut names: Vec<String> = ["interp", "rbpf", "rbpf-jit"].map(String::from).to_vec();
    match kernel_unavailable() {
        None => names.push("kernel".into()),
        Some(why) => eprintln!("SKIPPED (kernel part): {why}"),
    }
    let rules = bpfdiff::known_rules::from_env().expect("the rules read");
    let mut harness = DiffHarness::new(&names, rules, true).expect("backends start");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (case, expected, text) = read(path);
        let check = harness.check(&case);
        if let Some(finding) = diff_finding(&case, &check) {
            failures.push(format!("{name}: new divergence\n{finding}"));
        }
        if let (Some(want), Some(engine)) = (&expected, check.outcomes.first()) {
            if let Some(why) = engine_mismatch(want, engine) {
                failures.push(format!("{name}: the engine {why}"));
            }
        }
        if let Err(finding) = check_interp_vs_jit(&case) {
            failures.push(format!("{name}: {finding}"));
        }
        if let Comparison::Diverge { differences } = &check.comparison {
            for rule in differences.iter().filter_map(|d| d.known.as_deref()) {
                if !text.is_empty() && !text.contains(rule) {
                    failures.push(format!(
                        "{name}: hits rule {rule}, which its comments do not name"
                    ));
                }
            }
        }
        eprintln!("{name}: {:?}", check.comparison);
    }
    eprintln!("{}", harness.rules().summary());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
