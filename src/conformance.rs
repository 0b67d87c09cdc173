//! Running a directory of bpf_conformance `.data` tests on a backend.
//!
//! The runner does not know which implementation runs the programs: it takes
//! a backend as a closure `Fn(&Program, &mut [u8]) -> RunOutcome`. The CLI
//! passes [`engine_interpreter`]; other backends plug in the same way.
//!
//! A test passes when the run returns exactly the expected r0, or, for a test
//! that expects `-- error TEXT`, when the run fails (the program does not
//! decode, faults or runs out of budget) with a message containing `TEXT`.

use bpfdiff_engine::data::{self, DataTest, Expected};
use bpfdiff_engine::interp::{self, ExecResult};
use bpfdiff_engine::Program;
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
            other @ (ExecResult::Fault(_) | ExecResult::OutOfBudget) => {
                RunOutcome::Error(other.to_string())
            }
        },
    }
}

/// The verdict on one test file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The outcome matched the expectation.
    Passed,
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
            Verdict::Passed => write!(f, "ok {name}"),
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
}

impl Summary {
    /// Tests that passed.
    pub fn passed(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Passed))
    }

    /// Tests that failed, invalid files included.
    pub fn failed(&self) -> usize {
        self.count(Verdict::is_failure)
    }

    /// Tests the backend declined to run.
    pub fn skipped(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Skipped { .. }))
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

/// A test directory that cannot be listed.
#[derive(Debug, Error)]
#[error("{}: cannot read directory: {source}", path.display())]
pub struct ConformanceError {
    /// The directory.
    pub path: PathBuf,
    /// The operating system's reason.
    pub source: std::io::Error,
}

/// The `*.data` files directly inside `dir`, sorted by name.
pub fn list_tests(dir: &Path) -> Result<Vec<PathBuf>, ConformanceError> {
    let err = |source| ConformanceError {
        path: dir.to_path_buf(),
        source,
    };
    let mut tests = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if path.extension().is_some_and(|e| e == "data") && path.is_file() {
            tests.push(path);
        }
    }
    tests.sort();
    Ok(tests)
}

/// Judges one parsed test on `backend`.
pub fn check_test<B>(test: &DataTest, backend: &B) -> Verdict
where
    B: Fn(&Program, &mut [u8]) -> RunOutcome + ?Sized,
{
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
    if passed {
        Verdict::Passed
    } else {
        Verdict::Failed {
            expected: describe_expected(&test.expected),
            got: outcome.to_string(),
        }
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
    let verdict = match data::parse_data_file(path) {
        Ok(test) => check_test(&test, backend),
        Err(e) => Verdict::Invalid {
            error: e.to_string(),
        },
    };
    TestResult {
        path: path.to_path_buf(),
        verdict,
    }
}

/// Runs every `*.data` file in `dir` (sorted by name) on `backend`, calling
/// `on_result` after each test (for progress output).
pub fn run_dir<B>(
    dir: &Path,
    backend: &B,
    mut on_result: impl FnMut(&TestResult),
) -> Result<Summary, ConformanceError>
where
    B: Fn(&Program, &mut [u8]) -> RunOutcome + ?Sized,
{
    let mut summary = Summary::default();
    for path in list_tests(dir)? {
        let result = run_test_file(&path, backend);
        on_result(&result);
        summary.results.push(result);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::Insn;

    const EXIT: Insn = Insn::new(0x95, 0, 0, 0, 0);

    fn test(insns: &[Insn], mem: &[u8], expected: Expected) -> DataTest {
        DataTest {
            program: Program::new(insns.to_vec()),
            mem: mem.to_vec(),
            expected,
            asm: None,
            has_raw: true,
        }
    }

    #[test]
    fn returned_r0_must_match_exactly() {
        let backend = engine_interpreter(interp::DEFAULT_BUDGET);
        let mov42 = [Insn::new(0xb7, 0, 0, 0, 42), EXIT];
        assert_eq!(
            check_test(&test(&mov42, &[], Expected::Result(42)), &backend),
            Verdict::Passed
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
        assert_eq!(v, Verdict::Passed);
        // r0 = *(u32 *)(r1 + 6) on 8 bytes of memory faults.
        let oob = [Insn::new(0x61, 0, 1, 6, 0), EXIT];
        let v = check_test(
            &test(&oob, &[0; 8], Expected::Error("out-of-bounds".into())),
            &backend,
        );
        assert_eq!(v, Verdict::Passed);
        let spin = [Insn::new(0x05, 0, 0, -1, 0)];
        let v = check_test(
            &test(&spin, &[], Expected::Error("budget".into())),
            &backend,
        );
        assert_eq!(v, Verdict::Passed);
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
            results: vec![
                result("a.data", Verdict::Passed),
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
