//! The verifier verdicts of a directory of `.data` tests: each test's
//! `-- verdict` (the kernel's verdict, recorded; accepted when absent)
//! against the engine's verifier (`bpfdiff conformance --backend
//! verifier`) or against the kernel itself (tests/conformance_verdicts.rs,
//! so that a stale record fails).
//!
//! A rejection matches when the classes agree (as the kernel's words can
//! tell them: [`RejectClass::comparable`]) and, when the record carries
//! the kernel's message, the messages are equal. A program the engine's
//! verifier does not model (`unsupported`), or of a program type other
//! than the input model, is skipped.

use crate::conformance::{
    list_tests, not_a_test_file, ConformanceError, Summary, TestResult, Verdict,
};
use bpfdiff_engine::data::{self, DataTest, ExpectedVerdict};
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::verifier::{self, RejectClass, VerifyOptions};
use std::path::Path;

/// A verdict as observed: `None` for accepted, else the class and message.
pub type Observed = Option<(RejectClass, String)>;

/// Judges an observed verdict against the test's record.
pub fn judge(test: &DataTest, observed: &Observed) -> Verdict {
    let want = test.verdict.clone().unwrap_or(ExpectedVerdict::Accepted);
    let passed = match (&want, observed) {
        (ExpectedVerdict::Accepted, None) => true,
        (ExpectedVerdict::Rejected { class, message }, Some((got_class, got_message))) => {
            class.comparable() == got_class.comparable()
                && message.as_ref().is_none_or(|m| m == got_message)
        }
        _ => false,
    };
    let expected = format!("verdict {want}");
    let got = match observed {
        None => "verdict accepted".to_string(),
        Some((class, message)) => format!("verdict rejected {class}: {message}"),
    };
    if passed {
        Verdict::Passed { expected, got }
    } else {
        Verdict::Failed { expected, got }
    }
}

/// The engine verifier's verdict on a test, as the kernel backend loads it
/// (privileged, r1 = the input of the test's `-- mem` length), judged
/// against the record.
pub fn check_engine_verdict(test: &DataTest) -> Verdict {
    if test.prog_type != ProgType::Input {
        return Verdict::Skipped {
            why: format!(
                "program type {}: verdict records cover the input model only",
                test.prog_type
            ),
        };
    }
    let opts = VerifyOptions {
        privileged: true,
        input_len: Some(test.mem.len()),
        log_level: 0,
    };
    match verifier::verify(&test.program, &opts).verdict {
        verifier::Verdict::Accepted => judge(test, &None),
        verifier::Verdict::Rejected {
            class: RejectClass::Unsupported,
            message,
            ..
        } => Verdict::Skipped {
            why: format!("not modeled by the engine's verifier: {message}"),
        },
        verifier::Verdict::Rejected { class, message, .. } => judge(test, &Some((class, message))),
    }
}

/// Checks the engine verifier's verdict on every `*.data` file in `dir`
/// (sorted by name), calling `on_result` after each. A directory without
/// tests is an error.
pub fn run_dir(
    dir: &Path,
    mut on_result: impl FnMut(&TestResult),
) -> Result<Summary, ConformanceError> {
    let tests = list_tests(dir)?;
    if tests.is_empty() {
        return Err(ConformanceError::NoTests {
            path: dir.to_path_buf(),
        });
    }
    let mut summary = Summary::default();
    for path in tests {
        let verdict = match not_a_test_file(&path) {
            Some(error) => Verdict::Invalid { error },
            None => match data::parse_data_file(&path) {
                Ok(test) => check_engine_verdict(&test),
                Err(e) => Verdict::Invalid {
                    error: e.to_string(),
                },
            },
        };
        let result = TestResult { path, verdict };
        on_result(&result);
        summary.results.push(result);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(verdict: &str) -> DataTest {
        data::parse_data(&format!(
            "-- asm\nmov %r0, 1\nexit\n-- result\n1\n{}",
            if verdict.is_empty() {
                String::new()
            } else {
                format!("-- verdict\n{verdict}\n")
            }
        ))
        .unwrap()
    }

    #[test]
    fn judges_class_and_message() {
        let div = || Some((RejectClass::DivisionByZero, "div by zero".to_string()));
        assert!(matches!(judge(&test(""), &None), Verdict::Passed { .. }));
        assert!(matches!(judge(&test(""), &div()), Verdict::Failed { .. }));
        let t = test("rejected division-by-zero: div by zero");
        assert!(matches!(judge(&t, &div()), Verdict::Passed { .. }));
        assert!(matches!(judge(&t, &None), Verdict::Failed { .. }));
        let other = Some((RejectClass::DivisionByZero, "div by 0".to_string()));
        assert!(matches!(judge(&t, &other), Verdict::Failed { .. }));
        // Without a message, the class decides; R0 !read_ok at exit is
        // the kernel's R%d !read_ok.
        let t = test("rejected register-not-readable");
        let r0 = Some((RejectClass::R0NotReadableAtExit, "R0 !read_ok".to_string()));
        assert!(matches!(judge(&t, &r0), Verdict::Passed { .. }));
        assert!(matches!(judge(&t, &div()), Verdict::Failed { .. }));
    }

    #[test]
    fn the_engine_verifier_is_judged_against_the_record() {
        assert!(matches!(
            check_engine_verdict(&test("")),
            Verdict::Passed { .. }
        ));
        let t = test("rejected unreachable-insn: unreachable insn 1");
        let Verdict::Failed { expected, got } = check_engine_verdict(&t) else {
            panic!("an accepted program matched a recorded refusal");
        };
        assert_eq!(
            expected,
            "verdict rejected unreachable-insn: unreachable insn 1"
        );
        assert_eq!(got, "verdict accepted");
    }
}
