//! The project's own conformance corpus, `corpus/conformance/*.data`:
//! every row of the opcode table is used by some test, every test passes on
//! the interpreter, and every test names the fact it checks.
//!
//! `bpfdiff conformance` runs the same files on every backend; this test keeps
//! `cargo test` honest about the engine on its own.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use bpfdiff_engine::data::{parse_data_file, DataTest, Expected};
use bpfdiff_engine::interp::{run_program, ExecResult, DEFAULT_BUDGET};
use bpfdiff_engine::opcode::OPCODES;

/// Fewer files than this means the corpus went missing, not that it is small.
const MIN_CORPUS_FILES: usize = 150;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/conformance")
}

/// Every `.data` file of the corpus, sorted by name.
fn corpus_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read corpus directory {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "data"))
        .collect();
    files.sort();
    assert!(
        files.len() >= MIN_CORPUS_FILES,
        "only {} .data files in {}",
        files.len(),
        dir.display()
    );
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parses every corpus file; parse failures are returned as messages.
fn parse_corpus() -> (Vec<(String, DataTest)>, Vec<String>) {
    let mut tests = Vec::new();
    let mut errors = Vec::new();
    for path in corpus_files() {
        match parse_data_file(&path) {
            Ok(test) => tests.push((file_name(&path), test)),
            Err(e) => errors.push(format!("{}: {e}", file_name(&path))),
        }
    }
    (tests, errors)
}

/// What the interpreter did with one test, compared with what it expects;
/// `None` when they agree.
fn mismatch(test: &DataTest) -> Option<String> {
    let mut mem = test.mem.clone();
    let execution = match run_program(&test.program, &mut mem, DEFAULT_BUDGET) {
        Ok(execution) => execution,
        Err(e) => return Some(format!("does not decode: {e}")),
    };
    match (&test.expected, execution.result) {
        (Expected::Result(want), ExecResult::Returned { r0, r0_derived }) => {
            if r0 != *want {
                Some(format!("expected 0x{want:x}, got 0x{r0:x}"))
            } else if r0_derived {
                // Other backends would return a different number: the test
                // is not portable.
                Some(format!("expected 0x{want:x}, got it but pointer-derived"))
            } else {
                None
            }
        }
        (Expected::Result(want), got) => Some(format!("expected 0x{want:x}, got {got}")),
        (Expected::Error(want), got @ ExecResult::Returned { .. }) => {
            Some(format!("expected an error containing `{want}`, got {got}"))
        }
        (Expected::Error(want), got) => {
            let message = got.to_string();
            (!message.contains(want.as_str()))
                .then(|| format!("expected an error containing `{want}`, got `{message}`"))
        }
    }
}

/// Names of the opcode-table rows the program uses.
fn rows_used(test: &DataTest, used: &mut BTreeSet<String>) -> Result<(), String> {
    let decoded = test
        .program
        .decode()
        .map_err(|e| format!("does not decode: {e}"))?;
    for (_, instruction) in decoded {
        used.insert(instruction.row.name().to_string());
    }
    Ok(())
}

#[test]
fn every_opcode_row_is_used_by_some_test() {
    let (tests, mut errors) = parse_corpus();
    let mut used = BTreeSet::new();
    for (name, test) in &tests {
        if let Err(e) = rows_used(test, &mut used) {
            errors.push(format!("{name}: {e}"));
        }
    }
    let unused: Vec<String> = OPCODES
        .iter()
        .map(|row| row.name().to_string())
        .filter(|name| !used.contains(name))
        .collect();
    assert!(
        errors.is_empty() && unused.is_empty(),
        "files that do not parse or decode:\n  {}\nopcode rows no test uses ({}):\n  {}",
        errors.join("\n  "),
        unused.len(),
        unused.join("\n  ")
    );
}

#[test]
fn every_test_passes_on_the_interpreter() {
    let (tests, mut failures) = parse_corpus();
    let total = tests.len() + failures.len();
    for (name, test) in &tests {
        if let Some(why) = mismatch(test) {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} corpus files fail on the interpreter:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn every_test_names_the_fact_it_checks() {
    // corpus/conformance/README.md: the first comment lines name the RFC 9669
    // section or the SEMANTICS.md / DESIGN.md fact.
    let mut unnamed = Vec::new();
    for path in corpus_files() {
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let header: String = text
            .lines()
            .take_while(|line| line.starts_with('#'))
            .collect::<Vec<_>>()
            .join(" ");
        let names_source = ["RFC 9669", "SEMANTICS.md", "DESIGN.md"]
            .iter()
            .any(|source| header.contains(source));
        if !names_source {
            unnamed.push(file_name(&path));
        }
    }
    assert!(
        unnamed.is_empty(),
        "corpus files whose header comment names no RFC 9669 section or SEMANTICS.md/DESIGN.md fact:\n  {}",
        unnamed.join("\n  ")
    );
}
