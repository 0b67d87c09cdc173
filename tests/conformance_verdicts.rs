//! Every test of `corpus/conformance` records the kernel verifier's verdict
//! (a `-- verdict` section where the kernel refuses; accepted when
//! absent). The engine's verifier must give the recorded verdict on every
//! test it models, and the kernel (Linux 6.18, through the kernel
//! backend's harness wrapper) must still give it, so that a stale record
//! fails. A kernel message of a kind the engine's verifier does not model
//! (kfuncs, BTF, helpers it lacks) is recorded with the class
//! `unsupported`. The files must stay readable by upstream bpf_conformance.
//!
//! When `bpf()` is denied and we are not root, the kernel test prints
//! `SKIPPED` with the reason; as root an unavailable kernel backend fails.

use bpfdiff::conformance::{list_tests, Verdict};
use bpfdiff::conformance_verdicts::{self, judge, Observed};
use bpfdiff_engine::data::{parse_data_file, ExpectedVerdict};
use bpfdiff_engine::verifier::RejectClass;
use bpfdiff_oracle::backend::kernel::{KernelBackend, KernelOptions};
use bpfdiff_oracle::{Backend, Verdict as KVerdict};
use std::path::Path;

fn corpus() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/conformance"))
}

#[test]
fn the_engine_verifier_gives_every_recorded_verdict() {
    let summary = conformance_verdicts::run_dir(corpus(), |_| {}).unwrap();
    let failures: Vec<String> = summary
        .results
        .iter()
        .filter(|r| r.verdict.is_failure())
        .map(|r| r.to_string())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Skipped: only programs the engine's verifier does not model.
    for r in &summary.results {
        if let Verdict::Skipped { why } = &r.verdict {
            assert!(why.starts_with("not modeled"), "{r}");
        }
    }
    assert!(summary.passed() >= 250, "{summary}");
    let refusals = summary
        .results
        .iter()
        .filter(|r| {
            matches!(
                parse_data_file(&r.path).unwrap().verdict,
                Some(ExpectedVerdict::Rejected { .. })
            )
        })
        .count();
    assert!(refusals >= 40, "only {refusals} recorded refusals");
}

#[test]
fn the_kernel_gives_every_recorded_verdict() {
    let mut k = KernelBackend::new(KernelOptions {
        log_on_reject: true,
        ..KernelOptions::default()
    });
    if let Some(why) = k.unavailable() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(
            !root,
            "running as root but the kernel backend is unavailable: {why}"
        );
        eprintln!("SKIPPED: kernel backend unavailable: {why}");
        return;
    }
    let mut stale = Vec::new();
    let mut not_loaded = Vec::new();
    for path in list_tests(corpus()).unwrap() {
        let test = parse_data_file(&path).unwrap();
        let outcome = k.run(&test.program, &test.mem);
        // A test whose ld_imm64 names one of the harness's own maps by fd
        // has no verdict of its own here (the backend does not load it,
        // docs/verifier.md); any other missing verdict is a failure.
        if let bpfdiff_oracle::Execution::NotRun { why } = &outcome.execution {
            if why.contains("one of the harness's own maps") {
                not_loaded.push(format!("{}: {why}", path.display()));
                continue;
            }
        }
        let observed: Observed = match outcome.verdict {
            KVerdict::Accepted => None,
            KVerdict::Rejected { reason, .. } => {
                // A message of a kind the engine does not model (kfuncs,
                // BTF, helpers it lacks) is recorded as `unsupported`.
                let class =
                    RejectClass::from_kernel_message(&reason).unwrap_or(RejectClass::Unsupported);
                Some((class.comparable(), reason))
            }
            KVerdict::Unknown => panic!("{}: no kernel verdict", path.display()),
        };
        let verdict = judge(&test, &observed);
        if verdict.is_failure() {
            let record = match &observed {
                None => "(no -- verdict section)".to_string(),
                Some((class, message)) => format!("rejected {class}: {message}"),
            };
            stale.push(format!(
                "{}: {verdict:?}; record: {record}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(stale.is_empty(), "{}", stale.join("\n"));
    for n in &not_loaded {
        eprintln!("not compared: {n}");
    }
    // Only tests that name a map by fd can hit this.
    assert!(not_loaded.len() <= 1, "{}", not_loaded.join("\n"));
}

#[test]
fn every_file_stays_readable_by_upstream() {
    // Upstream's bpf_test_parser.cc: a `--` line names the first of these
    // keywords it contains; a `--` line with none makes upstream skip the
    // whole test ("Unknown directive").
    let upstream = [
        "asm",
        "result",
        "mem",
        "raw",
        "no register offset",
        " c",
        "error",
    ];
    for path in list_tests(corpus()).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| l.contains("--")) {
            assert!(
                upstream.iter().any(|k| line.contains(k)),
                "{}: upstream skips the file at `{line}`",
                path.display()
            );
        }
    }
}

#[test]
fn conformance_backend_verifier_checks_the_records_from_the_cli() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .args([
            "conformance",
            corpus().to_str().unwrap(),
            "--backend",
            "verifier",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // 5 programs the engine's verifier does not model are skipped, with why;
    // every other test of the corpus passes.
    let tests = std::fs::read_dir(corpus())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "data"))
        })
        .count();
    assert!(
        stdout.ends_with(&format!("{} passed, 0 failed, 5 skipped\n", tests - 5)),
        "{stdout}"
    );
    assert_eq!(stdout.matches("skip ").count(), 5, "{stdout}");
    // A stale record fails, naming both verdicts.
    let dir = std::env::temp_dir().join(format!("bpfdiff-verdicts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("stale.data"),
        "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n-- verdict\nrejected division-by-zero: div by zero\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .args([
            "conformance",
            dir.to_str().unwrap(),
            "--backend",
            "verifier",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with(
            "FAIL stale.data: expected verdict rejected division-by-zero: div by zero, got verdict accepted\n"
        ),
        "{stdout}"
    );
}
