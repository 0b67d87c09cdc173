//! Running a directory of bpf_conformance `.data` tests on a backend.
//!
//! The runner does not know which implementation runs the programs: it takes
//! a backend as a closure `Fn(&Program, &mut [u8]) -> RunOutcome`. The CLI
//! passes [`engine_interpreter`]; other backends plug in the same way.
//!
//! A test passes when the run returns exactly the expected r0, or, for a test
//! that expects `-- error TEXT`, when the run fails (the program does not
//! decode, faults or runs out of budget) with a message containing `TEXT`.
//!
//! A directory with no `*.data` entry is an error, not an empty success. An
//! entry named `*.data` that is not a readable file (a broken symbolic link,
//! a directory) fails as an invalid test file. A backend that cannot run even
//! `r0 = 0; exit` (no permission for `bpf()`) is reported once, and every
//! test is skipped without being tried.

use bpfdiff_engine::data::{self, DataTest, Expected};
use bpfdiff_engine::interp::{self, ExecResult};
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::{Insn, Program};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What a backend observed when asked to run one test program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// The program returned this r0.
    Returned(u64),
    /// Loading, decoding or running failed; the message says how.
    Error(String),
    /// The backend cannot run this program (unsupported instruction group,
    /// no permission, ...); the test is skipped, not failed.
    NotRun(String),
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunOutcome::Returned(r0) => write!(f, "0x{r0:x}"),
            RunOutcome::Error(message) => write!(f, "error: {message}"),
            RunOutcome::NotRun(why) => write!(f, "not run: {why}"),
        }
    }
}

/// Any conformance backend, boxed.
pub type DynBackend = dyn Fn(&Program, &mut [u8]) -> RunOutcome;

/// The engine's checking interpreter as a conformance backend.
pub fn engine_interpreter(budget: u64) -> impl Fn(&Program, &mut [u8]) -> RunOutcome {
    move |program, mem| match interp::run_program(program, mem, budget) {
        Err(decode) => RunOutcome::Error(decode.to_string()),
        Ok(execution) => match execution.result {
            ExecResult::Returned { r0, .. } => RunOutcome::Returned(r0),
            ExecResult::Fault(fault) => RunOutcome::Error(fault_message(&fault)),
            ExecResult::OutOfBudget => RunOutcome::Error(ExecResult::OutOfBudget.to_string()),
        },
    }
}

/// The engine's fault message, with the fault's name (`jump-out-of-range`)
/// in it even where the message words it differently, so that an `-- error`
/// naming the fault matches here as it does on the oracle backends
/// (`fault: NAME: ...`, see `backend_run`).
fn fault_message(fault: &interp::Fault) -> String {
    let text = fault.to_string();
    let name = fault.kind.name();
    if text.contains(name) {
        text
    } else {
        let rest = text.strip_prefix("fault: ").unwrap_or(&text);
        format!("fault: {name}: {rest}")
    }
}

/// The verdict on one test file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The outcome matched the expectation.
    Passed {
        /// What the file expects (`0x2a`, or `an error containing "..."`).
        expected: String,
        /// What the backend observed.
        got: String,
    },
    /// The outcome differed from the expectation.
    Failed {
        /// What the file expects (`0x2a`, or `an error containing "..."`).
        expected: String,
        /// What the backend observed.
        got: String,
    },
    /// The file could not be read or parsed; counted as a failure.
    Invalid {
        /// The parse error, with file and line.
        error: String,
    },
    /// The backend declined to run the program.
    Skipped {
        /// The backend's reason.
        why: String,
    },
}

impl Verdict {
    /// True for [`Verdict::Failed`] and [`Verdict::Invalid`].
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Failed { .. } | Verdict::Invalid { .. })
    }
}

/// One test file and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    /// The test file.
    pub path: PathBuf,
    /// The verdict.
    pub verdict: Verdict,
}

impl TestResult {
    /// The file name, used to name the test in output.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

impl fmt::Display for TestResult {
    /// `ok NAME`, `FAIL NAME: expected X, got Y`, `FAIL NAME: invalid test
    /// file: ...` or `skip NAME: WHY`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match &self.verdict {
            Verdict::Passed { .. } => write!(f, "ok {name}"),
            Verdict::Failed { expected, got } => {
                write!(f, "FAIL {name}: expected {expected}, got {got}")
            }
            Verdict::Invalid { error } => write!(f, "FAIL {name}: invalid test file: {error}"),
            Verdict::Skipped { why } => write!(f, "skip {name}: {why}"),
        }
    }
}

/// The results of a whole directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// One result per `.data` file, in file-name order.
    pub results: Vec<TestResult>,
    /// Why the backend could not run any program, when it could not (then
    /// every test is skipped with this reason, untried).
    pub unavailable: Option<String>,
}

impl Summary {
    /// Tests that passed.
    pub fn passed(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Passed { .. }))
    }

    /// Tests that failed, invalid files included.
    pub fn failed(&self) -> usize {
        self.count(Verdict::is_failure)
    }

    /// Tests the backend declined to run.
    pub fn skipped(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Skipped { .. }))
    }

    /// True when no test passed or failed: every one was skipped. Such a
    /// run tested nothing.
    pub fn tested_nothing(&self) -> bool {
        self.passed() + self.failed() == 0
    }

    fn count(&self, pred: impl Fn(&Verdict) -> bool) -> usize {
        self.results.iter().filter(|r| pred(&r.verdict)).count()
    }
}

impl fmt::Display for Summary {
    /// The closing line: `N passed, N failed` and `, N skipped` when any were.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed(), self.failed())?;
        match self.skipped() {
            0 => Ok(()),
            n => write!(f, ", {n} skipped"),
        }
    }
}

/// One test in the JSON form of a summary ([`Summary::to_json`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestReport {
    /// The file name.
    pub name: String,
    /// `pass`, `fail` (invalid test files included) or `skip`.
    pub status: &'static str,
    /// What the file expects (`0x2a`, or `an error containing "..."`);
    /// `null` for an invalid file or a skipped test.
    pub expected: Option<String>,
    /// What the backend observed (`0x2a`, `error: ...`); `null` for an
    /// invalid file or a skipped test.
    pub got: Option<String>,
    /// Why the test was skipped, or why the file is invalid; else `null`.
    pub reason: Option<String>,
}

impl From<&TestResult> for TestReport {
    fn from(r: &TestResult) -> TestReport {
        let (status, expected, got, reason) = match &r.verdict {
            Verdict::Passed { expected, got } => {
                ("pass", Some(expected.clone()), Some(got.clone()), None)
            }
            Verdict::Failed { expected, got } => {
                ("fail", Some(expected.clone()), Some(got.clone()), None)
            }
            Verdict::Invalid { error } => (
                "fail",
                None,
                None,
                Some(format!("invalid test file: {error}")),
            ),
            Verdict::Skipped { why } => ("skip", None, None, Some(why.clone())),
        };
        TestReport {
            name: r.name(),
            status,
            expected,
            got,
            reason,
        }
    }
}

/// A whole summary, in the shape `bpfdiff conformance --json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SummaryReport {
    /// The backend that ran the tests.
    pub backend: String,
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed, invalid files included.
    pub failed: usize,
    /// Tests the backend declined to run.
    pub skipped: usize,
    /// Why the backend could not run any program, when it could not.
    pub unavailable: Option<String>,
    /// Every test, in file-name order.
    pub tests: Vec<TestReport>,
}

impl Summary {
    /// The JSON form of the summary of a run on `backend`: the counts of
    /// the closing line and every test's result.
    pub fn to_report(&self, backend: &str) -> SummaryReport {
        SummaryReport {
            backend: backend.to_string(),
            passed: self.passed(),
            failed: self.failed(),
            skipped: self.skipped(),
            unavailable: self.unavailable.clone(),
            tests: self.results.iter().map(TestReport::from).collect(),
        }
    }
}

/// A test directory that cannot be used.
#[derive(Debug, Error)]
pub enum ConformanceError {
    /// The directory cannot be listed.
    #[error("{}: cannot read directory: {source}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The directory holds no `*.data` entry: nothing to test.
    #[error(
        "{}: no *.data tests in this directory (subdirectories are not searched)",
        path.display()
    )]
    NoTests {
        /// The directory.
        path: PathBuf,
    },
}

/// The entries named `*.data` directly inside `dir`, sorted by name: files,
/// and also whatever else carries the name (a broken symbolic link, a
/// directory), which [`run_test_file`] reports as an invalid test file.
pub fn list_tests(dir: &Path) -> Result<Vec<PathBuf>, ConformanceError> {
    let err = |source| ConformanceError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut tests = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if path.extension().is_some_and(|e| e == "data") {
            tests.push(path);
        }
    }
    tests.sort();
    Ok(tests)
}

/// Why the entry at `path` is not a test file one can read, if it is not.
pub(crate) fn not_a_test_file(path: &Path) -> Option<String> {
    let link = std::fs::symlink_metadata(path).ok()?;
    match std::fs::metadata(path) {
        Err(e) if link.file_type().is_symlink() => {
            let target = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            Some(format!(
                "{}: broken symbolic link (to {target}): {e}",
                path.display()
            ))
        }
        Ok(m) if m.is_dir() => Some(format!("{}: a directory, not a test file", path.display())),
        Ok(m) if !m.is_file() => Some(format!("{}: not a regular file", path.display())),
        _ => None,
    }
}

/// Why `backend` cannot run any program, if it cannot: it declines to run
/// `r0 = 0; exit` on empty memory (no permission for `bpf()`, say).
pub fn backend_unavailable<B>(backend: &B) -> Option<String>
where
    B: Fn(&Program, &mut [u8]) -> RunOutcome + ?Sized,
{
    // RFC 9669: 0xb7 is `mov64 dst, imm`, 0x95 is `exit`.
    let probe = Program::new(vec![
        Insn::new(0xb7, 0, 0, 0, 0),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    match backend(&probe, &mut []) {
        RunOutcome::NotRun(why) => Some(why),
        _ => None,
    }
}

/// Judges one parsed test on `backend`.
pub fn check_test<B>(test: &DataTest, backend: &B) -> Verdict
where
    B: Fn(&Program, &mut [u8]) -> RunOutcome + ?Sized,
{
    if test.prog_type != ProgType::Input {
        return Verdict::Skipped {
            why: format!(
                "program type {}: conformance backends run the input model only (see `bpfdiff run --prog-type`)",
                test.prog_type
            ),
        };
    }
    let mut mem = test.mem.clone();
    let outcome = backend(&test.program, &mut mem);
    if let RunOutcome::NotRun(why) = outcome {
        return Verdict::Skipped { why };
    }
    let passed = match (&test.expected, &outcome) {
        (Expected::Result(want), RunOutcome::Returned(got)) => want == got,
        (Expected::Error(text), RunOutcome::Error(message)) => message.contains(text.as_str()),
        _ => false,
    };
    let expected = describe_expected(&test.expected);
    let got = outcome.to_string();
    if passed {
        Verdict::Passed { expected, got }
    } else {
        Verdict::Failed { expected, got }
    }
}

fn describe_expected(expected: &Expected) -> String {
    match expected {
        Expected::Result(r0) => format!("0x{r0:x}"),
        Expected::Error(text) => format!("an error containing {text:?}"),
    }
}

/// Reads, parses and judges the test file at `path`.
pub fn run_test_file<B>(path: &Path, backend: &B) -> TestResult
where
    B: Fn(&Program, &mut [u8]) -> RunOutcome + ?Sized,
{
    let verdict = match not_a_test_file(path) {
        Some(error) => Verdict::Invalid { error },
        None => match data::parse_data_file(path) {
            Ok(test) => check_test(&test, backend),
            Err(e) => Verdict::Invalid {
                error: e.to_string(),
            },
        },
    };
    TestResult {
        path: path.to_path_buf(),
        verdict,
    }
}

/// Runs every `*.data` file in `dir` (sorted by name) on `backend`, calling
/// `on_result` after each test (for progress output). A directory without
/// tests is an error. When the backend cannot run anything
/// ([`backend_unavailable`]), no test is tried: each is skipped with that
/// reason, `on_result` is not called and [`Summary::unavailable`] says why.
pub fn run_dir<B>(
    dir: &Path,
    backend: &B,
    mut on_result: impl FnMut(&TestResult),
) -> Result<Summary, ConformanceError>
where
    B: Fn(&Program, &mut [u8]) -> RunOutcome + ?Sized,
{
    let tests = list_tests(dir)?;
    if tests.is_empty() {
        return Err(ConformanceError::NoTests {
            path: dir.to_path_buf(),
        });
    }
    let mut summary = Summary::default();
    if let Some(why) = backend_unavailable(backend) {
        summary.results = tests
            .into_iter()
            .map(|path| TestResult {
                path,
                verdict: Verdict::Skipped { why: why.clone() },
            })
            .collect();
        summary.unavailable = Some(why);
        return Ok(summary);
    }
    for path in tests {
        let result = run_test_file(&path, backend);
        on_result(&result);
        summary.results.push(result);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

    fn test(insns: &[Insn], mem: &[u8], expected: Expected) -> DataTest {
        DataTest {
            program: Program::new(insns.to_vec()),
            mem: mem.to_vec(),
            expected,
            asm: None,
            has_raw: true,
            prog_type: bpfdiff_engine::prog_type::ProgType::Input,
            packet: None,
            maps: Vec::new(),
            verdict: None,
        }
    }

    #[test]
    fn a_test_of_another_program_type_is_skipped_not_run_as_input() {
        // An xdp test run in the input model would see r1 = its memory,
        // not an xdp_md: it must be skipped, never judged.
        let backend = engine_interpreter(interp::DEFAULT_BUDGET);
        let mut t = test(
            &[Insn::new(0xb7, 0, 0, 0, 2), EXIT],
            &[],
            Expected::Result(2),
        );
        t.prog_type = ProgType::Xdp;
        assert!(
            matches!(check_test(&t, &backend), Verdict::Skipped { why } if why.contains("xdp"))
        );
    }

    #[test]
    fn returned_r0_must_match_exactly() {
        let backend = engine_interpreter(interp::DEFAULT_BUDGET);
        let mov42 = [Insn::new(0xb7, 0, 0, 0, 42), EXIT];
        assert_eq!(
            check_test(&test(&mov42, &[], Expected::Result(42)), &backend),
            Verdict::Passed {
                expected: "0x2a".into(),
                got: "0x2a".into()
            }
        );
        assert_eq!(
            check_test(&test(&mov42, &[], Expected::Result(43)), &backend),
            Verdict::Failed {
                expected: "0x2b".into(),
                got: "0x2a".into()
            }
        );
    }

    #[test]
    fn expected_error_matches_decode_fault_and_budget_messages() {
        let backend = engine_interpreter(100);
        // 0x8f: NEG has no X form (SEMANTICS.md), so decoding fails.
        let bad = [Insn::new(0x8f, 0, 0, 0, 0), EXIT];
        let v = check_test(
            &test(&bad, &[], Expected::Error("unknown opcode".into())),
            &backend,
        );
        assert!(matches!(v, Verdict::Passed { .. }), "{v:?}");
        // r0 = *(u32 *)(r1 + 6) on 8 bytes of memory faults.
        let oob = [Insn::new(0x61, 0, 1, 6, 0), EXIT];
        let v = check_test(
            &test(&oob, &[0; 8], Expected::Error("out-of-bounds".into())),
            &backend,
        );
        assert!(matches!(v, Verdict::Passed { .. }), "{v:?}");
        let spin = [Insn::new(0x05, 0, 0, -1, 0)];
        let v = check_test(
            &test(&spin, &[], Expected::Error("budget".into())),
            &backend,
        );
        assert!(matches!(v, Verdict::Passed { .. }), "{v:?}");
        // The fault's name matches even where the message words it apart:
        // `ja +5` leaves the program (jump-out-of-range), as regression files name it.
        let far = [Insn::new(0x05, 0, 0, 5, 0), EXIT];
        for text in ["jump-out-of-range", "jump out of range"] {
            let v = check_test(&test(&far, &[], Expected::Error(text.into())), &backend);
            assert!(matches!(v, Verdict::Passed { .. }), "{text}: {v:?}");
        }
        // A different message, or a normal return, fails.
        let v = check_test(
            &test(&oob, &[0; 8], Expected::Error("div".into())),
            &backend,
        );
        assert!(v.is_failure());
        let ok = [Insn::new(0xb7, 0, 0, 0, 0), EXIT];
        let v = check_test(&test(&ok, &[], Expected::Error("x".into())), &backend);
        assert_eq!(
            v,
            Verdict::Failed {
                expected: "an error containing \"x\"".into(),
                got: "0x0".into()
            }
        );
    }

    #[test]
    fn backend_sees_the_test_memory_and_may_decline() {
        let seen = std::cell::RefCell::new(Vec::new());
        let recorder = |_: &Program, mem: &mut [u8]| {
            seen.borrow_mut().extend_from_slice(mem);
            RunOutcome::NotRun("no kernel".into())
        };
        let v = check_test(&test(&[EXIT], &[1, 2], Expected::Result(0)), &recorder);
        assert_eq!(seen.borrow().as_slice(), [1, 2]);
        assert_eq!(
            v,
            Verdict::Skipped {
                why: "no kernel".into()
            }
        );
    }

    #[test]
    fn summary_line_counts_skips_only_when_present() {
        let result = |name: &str, verdict| TestResult {
            path: PathBuf::from(name),
            verdict,
        };
        let mut s = Summary {
            unavailable: None,
            results: vec![
                result(
                    "a.data",
                    Verdict::Passed {
                        expected: "0x0".into(),
                        got: "0x0".into(),
                    },
                ),
                result(
                    "b.data",
                    Verdict::Invalid {
                        error: "b.data:3: bad".into(),
                    },
                ),
            ],
        };
        assert_eq!(s.to_string(), "1 passed, 1 failed");
        assert_eq!(
            s.results[1].to_string(),
            "FAIL b.data: invalid test file: b.data:3: bad"
        );
        s.results
            .push(result("c.data", Verdict::Skipped { why: "x".into() }));
        assert_eq!(s.to_string(), "1 passed, 1 failed, 1 skipped");
    }

    fn scratch(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "bpfdiff-conformance-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_directory_without_tests_is_an_error_naming_it() {
        let dir = scratch("empty");
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.data"), "-- asm\nexit\n-- result\n0\n").unwrap();
        let e = run_dir(&dir, &engine_interpreter(100), |_| {}).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(e, ConformanceError::NoTests { .. }), "{e}");
        assert!(e.to_string().starts_with(&dir.display().to_string()), "{e}");
    }

    #[test]
    fn broken_links_and_directories_named_data_fail_by_name() {
        let dir = scratch("odd");
        std::fs::write(dir.join("a.data"), "-- asm\nexit\n-- result\n0\n").unwrap();
        std::os::unix::fs::symlink(dir.join("gone.data"), dir.join("b.data")).unwrap();
        std::fs::create_dir(dir.join("c.data")).unwrap();
        let s = run_dir(&dir, &engine_interpreter(100), |_| {}).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(s.to_string(), "1 passed, 2 failed");
        let lines: Vec<String> = s.results.iter().map(ToString::to_string).collect();
        assert!(
            lines[1].starts_with("FAIL b.data: invalid test file: ")
                && lines[1].contains("broken symbolic link (to "),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].ends_with("c.data: a directory, not a test file"),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn a_backend_that_runs_nothing_is_probed_once_and_every_test_skipped() {
        let dir = scratch("denied");
        for name in ["a.data", "b.data"] {
            std::fs::write(dir.join(name), "-- asm\nexit\n-- result\n0\n").unwrap();
        }
        let calls = std::cell::Cell::new(0);
        let denied = |_: &Program, _: &mut [u8]| {
            calls.set(calls.get() + 1);
            RunOutcome::NotRun("no permission".into())
        };
        let mut shown = 0;
        let s = run_dir(&dir, &denied, |_| shown += 1).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(calls.get(), 1, "only the probe runs");
        assert_eq!(shown, 0);
        assert_eq!(s.unavailable.as_deref(), Some("no permission"));
        assert_eq!(s.to_string(), "0 passed, 0 failed, 2 skipped");
        assert!(s.tested_nothing());
    }

    #[test]
    fn missing_directory_is_an_error() {
        let e = list_tests(Path::new("/nonexistent/conformance")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/conformance: cannot read directory: "),
            "{e}"
        );
    }
}
