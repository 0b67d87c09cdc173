//! `bpfdiff replay`: each status (as-recorded, fixed, changed, not-run) and
//! its exit code (0, 4, 1, 3), `--json`, `--junit`, bad records (exit 2),
//! and the atomic-fetch kernel regression as this machine's kernel runs it.

mod common;

use common::{bpfdiff, stderr, stdout, Scratch};

/// RFC 9669 §4.3: `jlt r3, -1` compares with the sign-extended immediate
/// (0xffffffffffffffff), so it is taken and the store skipped; rbpf 0.4.1
/// zero-extends the immediate and stores (rule
/// rbpf-jmp-imm-zero-extended-memory).
const RBPF_MEMORY: &str = "mov %r3, -11\njlt %r3, -1, skip\nstb [%r1], 1\nskip:\nmov %r0, 0\nexit\n-- mem\n00\n-- result\n0x0\n";

/// A program every backend runs alike.
const AGREES: &str = "mov %r0, 1\nexit\n-- result\n0x1\n";

const RBPF_MEMORY_RECORD: &str =
    r#"#@ {"backend": "rbpf", "aspect": "memory", "rule": "rbpf-jmp-imm-zero-extended-memory"}"#;

fn case(scratch: &Scratch, name: &str, record: &str, body: &str) -> std::path::PathBuf {
    scratch.write(name, format!("# test case\n{record}\n-- asm\n{body}"))
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("an exit code")
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn a_case_that_diverges_as_recorded_passes() {
    let s = Scratch::new("replay-as-recorded");
    let f = case(&s, "a.data", RBPF_MEMORY_RECORD, RBPF_MEMORY);
    let out = bpfdiff(&[&"replay", &f, &"--backends", &"interp,rbpf", &"--json"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let j = json(&out);
    assert_eq!(j["cases"][0]["status"], "as-recorded");
    assert_eq!(
        j["cases"][0]["observed"][0]["rule"],
        "rbpf-jmp-imm-zero-extended-memory"
    );
    assert!(j["cases"][0]["observed"][0]["signature"]
        .as_str()
        .unwrap()
        .starts_with("rbpf-memory-"));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(j["environment"]["kernel_release"], release.trim());
    assert_eq!(j["environment"]["rbpf_version"], "0.4.1");
}

#[test]
fn a_recorded_divergence_that_is_gone_is_fixed_and_exits_4() {
    let s = Scratch::new("replay-fixed");
    let f = case(&s, "gone.data", RBPF_MEMORY_RECORD, AGREES);
    let junit = s.path().join("replay.xml");
    let out = bpfdiff(&[
        &"replay",
        &f,
        &"--backends",
        &"interp,rbpf",
        &"--junit",
        &junit,
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 4, "{text}{}", stderr(&out));
    assert!(text.contains("FIXED on rbpf 0.4.1: rbpf memory [rbpf-jmp-imm-zero-extended-memory] no longer diverges"), "{text}");
    assert!(
        text.contains("summary: 1 case(s): 0 as-recorded, 1 fixed, 0 changed, 0 not-run"),
        "{text}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("<failure type=\"fixed\""), "{xml}");
}

#[test]
fn a_new_difference_is_a_change_and_exits_1() {
    let s = Scratch::new("replay-changed");
    let f = case(&s, "new.data", "#@ agrees", RBPF_MEMORY);
    let out = bpfdiff(&[&"replay", &f, &"--backends", &"interp,rbpf", &"--json"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let j = json(&out);
    assert_eq!(j["cases"][0]["status"], "changed");
    let why = j["cases"][0]["reasons"][0].as_str().unwrap();
    assert!(why.starts_with("not recorded: rbpf memory"), "{why}");
}

#[test]
fn a_divergence_recorded_as_fixed_that_comes_back_exits_1() {
    let s = Scratch::new("replay-back");
    let record = r#"#@ {"backend": "rbpf", "aspect": "memory", "rule": "rbpf-jmp-imm-zero-extended-memory", "not_seen_on": ["rbpf 0.4.1"]}"#;
    let f = case(&s, "back.data", record, RBPF_MEMORY);
    let out = bpfdiff(&[&"replay", &f, &"--backends", &"interp,rbpf"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(
        text.contains("recorded as fixed on rbpf 0.4.1, diverges again"),
        "{text}"
    );
}

#[test]
fn cases_that_cannot_be_checked_are_not_run_with_the_reason() {
    let s = Scratch::new("replay-not-run");
    let bare = case(&s, "bare.data", "", AGREES);
    let jit = case(
        &s,
        "jit.data",
        r#"#@ {"backend": "rbpf-jit", "aspect": "r0", "rule": "x"}"#,
        AGREES,
    );
    let out = bpfdiff(&[&"replay", &bare, &jit, &"--backends", &"interp,rbpf"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 3, "nothing ran: {text}");
    assert!(text.contains("no recorded outcome"), "{text}");
    assert!(text.contains("backend rbpf-jit not selected"), "{text}");
}

#[test]
fn bad_records_and_backends_are_input_errors() {
    let s = Scratch::new("replay-bad");
    let f = case(&s, "bad.data", "#@ {\"backend\": \"rbpf\"}", AGREES);
    let out = bpfdiff(&[&"replay", &f, &"--backends", &"interp,rbpf"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:2: ", f.display())), "{err}");
    let good = case(&s, "good.data", "#@ agrees", AGREES);
    let out = bpfdiff(&[&"replay", &good, &"--backends", &"rbpf,interp"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("must start with `interp`"),
        "{}",
        stderr(&out)
    );
    let out = bpfdiff(&[&"replay", &s.path().join("missing")]);
    assert_eq!(code(&out), 2);
}

/// The acceptance case of issue 11: the atomic-fetch regression as this
/// machine's kernel runs it. Its record lists the kernel releases where the
/// kernel diverged and where it did not; a copy without the second list
/// must make replay say "FIXED on this kernel" when the kernel here agrees.
#[test]
fn the_atomic_fetch_regression_replays_as_this_kernel_behaves() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/regressions/kernel-atomic-fetch-stack-precision.data"
    );
    let out = bpfdiff(&[&"replay", &file, &"--json"]);
    let j = json(&out);
    let case = &j["cases"][0];
    let kernel_ran = j["backends"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b == "kernel");
    if !kernel_ran {
        assert_eq!(case["status"], "not-run", "{case}");
        eprintln!("SKIPPED: the kernel backend is unavailable here");
        return;
    }
    let kernel = case["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["backend"] == "kernel")
        .unwrap();
    let release = j["environment"]["kernel_release"]
        .as_str()
        .unwrap()
        .to_string();
    let agrees = kernel["execution"]["r0"]["bits"] == "0x1";
    let text = std::fs::read_to_string(file).unwrap();
    let listed_fixed = text.contains(&format!("\"not_seen_on\": [\"{release}\"]"));
    // Recorded right for this kernel: it agrees where listed as fixed.
    assert_eq!(agrees, listed_fixed, "{case}");
    assert_eq!(case["status"], "as-recorded", "{case}");
    if agrees {
        let s = Scratch::new("replay-kernel");
        let unlisted = s.write(
            "k.data",
            text.replace(&format!(", \"not_seen_on\": [\"{release}\"]"), ""),
        );
        let out = bpfdiff(&[&"replay", &unlisted]);
        let t = stdout(&out);
        assert_eq!(code(&out), 4, "{t}");
        assert!(
            t.contains(&format!("FIXED on this kernel (uname -r {release})")),
            "{t}"
        );
    }
}

/// A literal fuzz input (mode byte 0, u16 input length, input, slots), as
/// the fuzz targets save it in `fuzz/artifacts/TARGET/crash-*`.
fn fuzz_bytes(input: &[u8], slots: &[[u8; 8]]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend((input.len() as u16).to_le_bytes());
    out.extend(input);
    for s in slots {
        out.extend(s);
    }
    out
}

#[test]
fn fuzz_artifacts_replay_as_raw_case_bytes() {
    use common::slot;
    let s = Scratch::new("replay-artifacts");
    // RBPF_MEMORY as raw bytes. RFC 9669 §4.3: `jlt r3, -1` compares with the
    // sign-extended immediate, so it is taken; rbpf 0.4.1 stores. With no
    // rules, that difference is new: the finding still reproduces.
    let diverges = fuzz_bytes(
        &[0],
        &[
            slot(0xb7, 3, 0, 0, -11),
            slot(0xa5, 3, 0, 1, -1),
            slot(0x72, 1, 0, 0, 1),
            slot(0xb7, 0, 0, 0, 0),
            slot(0x95, 0, 0, 0, 0),
        ],
    );
    let crash = s.write("crash-0123abcd", &diverges);
    let out = bpfdiff(&[
        &"replay",
        &crash,
        &"--backends",
        &"interp,rbpf",
        &"--known",
        &"none",
        &"--json",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let j = json(&out);
    assert_eq!(j["cases"][0]["status"], "as-recorded");
    assert_eq!(j["cases"][0]["observed"][0]["backend"], "rbpf");
    assert_eq!(j["cases"][0]["observed"][0]["aspect"], "memory");

    // A program every backend runs alike: the finding is gone (fixed, 4).
    // A directory is searched for libFuzzer's artifact names too.
    let agrees = fuzz_bytes(&[], &[slot(0xb7, 0, 0, 0, 1), slot(0x95, 0, 0, 0, 0)]);
    let dir = Scratch::new("replay-artifacts-dir");
    dir.write("crash-feed", &agrees);
    dir.write("notes.txt", "not a case");
    let out = bpfdiff(&[
        &"replay",
        &dir.path(),
        &"--backends",
        &"interp,jit",
        &"--json",
    ]);
    assert_eq!(code(&out), 4, "{}{}", stdout(&out), stderr(&out));
    let j = json(&out);
    assert_eq!(j["cases"].as_array().map(Vec::len), Some(1), "{j}");
    assert_eq!(j["cases"][0]["status"], "fixed");
    assert_eq!(j["cases"][0]["outcomes"][1]["backend"], "jit");
}
