//! `conformance --json` and `campaign --json` print one JSON object with
//! every figure of the text summary (checked here against the text of the
//! same run), carry 64-bit values as `"0x…"` strings, and leave the exit
//! code as it is. The progress bar goes to standard error, and only when
//! standard error is a terminal.

mod common;

use common::{bpfdiff, stderr, stdout, Scratch};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};

/// The largest integer a double holds exactly.
const EXACT: u64 = 1 << 53;

/// Every number in `v` with its JSON path, when its magnitude exceeds 2^53.
fn too_big(v: &Value, path: &str, found: &mut Vec<String>) {
    match v {
        Value::Number(n) => {
            let big = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u > EXACT,
                (None, Some(i)) => i.unsigned_abs() > EXACT,
                _ => n.as_f64().is_none_or(|f| f.abs() > EXACT as f64),
            };
            if big {
                found.push(format!("{path} = {n}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                too_big(x, &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                too_big(x, &format!("{path}.{k}"), found);
            }
        }
        _ => {}
    }
}

/// Stdout of `out` as one JSON object, with no number beyond 2^53.
fn json_of(out: &Output) -> Value {
    let text = stdout(out);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(v.is_object(), "{text}");
    let mut found = Vec::new();
    too_big(&v, "$", &mut found);
    assert!(found.is_empty(), "numbers beyond 2^53: {found:?}\n{text}");
    v
}

/// The same command with and without `--json`: (text run, JSON run).
fn both(args: &[&str]) -> (Output, Output) {
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
    let text = bpfdiff(&args);
    let mut with_json = args.clone();
    with_json.push(&"--json");
    let json = bpfdiff(&with_json);
    assert!(!stderr(&text).contains("panicked"), "{}", stderr(&text));
    assert!(!stderr(&json).contains("panicked"), "{}", stderr(&json));
    assert_eq!(
        text.status.code(),
        json.status.code(),
        "--json changed the exit code; stderr: {}",
        stderr(&json)
    );
    (text, json)
}

/// The numbers in `line`, in order (`"256 passed, 0 failed"` → [256, 0]).
fn numbers(line: &str) -> Vec<u64> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect()
}

/// The per-test lines of conformance text output, by file name:
/// `ok NAME`, `FAIL NAME: ...`, `skip NAME: ...`.
fn test_lines(text: &str) -> BTreeMap<String, (String, String)> {
    let mut lines = BTreeMap::new();
    for line in text.lines() {
        for status in ["ok", "FAIL", "skip"] {
            let Some(rest) = line.strip_prefix(&format!("{status} ")) else {
                continue;
            };
            let (name, detail) = rest.split_once(": ").unwrap_or((rest, ""));
            lines.insert(name.to_string(), (status.to_string(), detail.to_string()));
        }
    }
    lines
}

/// A passing test's expectation is its result (`0x2a`), or text that its
/// error contains.
fn check_pass(t: &Value) {
    let (expected, got) = (t["expected"].as_str().unwrap(), t["got"].as_str().unwrap());
    match expected.strip_prefix("an error containing ") {
        Some(quoted) => {
            let text: String = serde_json::from_str(quoted).unwrap();
            assert!(got.starts_with("error: ") && got.contains(&text), "{t}");
        }
        None => assert_eq!(expected, got, "{t}"),
    }
    assert_eq!(t["reason"], Value::Null, "{t}");
}

/// Checks the JSON of a conformance run against its text: the counts of
/// the closing line and each listed test's status, expectation and reason.
fn check_conformance(text: &str, v: &Value, backend: &str) {
    let last = text.lines().last().expect("a closing line");
    let counts = numbers(last);
    assert_eq!(v["passed"], counts[0], "{last}");
    assert_eq!(v["failed"], counts[1], "{last}");
    assert_eq!(v["skipped"], counts.get(2).copied().unwrap_or(0), "{last}");
    assert_eq!(v["backend"], backend);
    let tests = v["tests"].as_array().expect("tests");
    let total: u64 = counts.iter().sum();
    assert_eq!(tests.len() as u64, total);
    let lines = test_lines(text);
    for t in tests {
        let name = t["name"].as_str().expect("name");
        let status = t["status"].as_str().expect("status");
        let Some((word, detail)) = lines.get(name) else {
            // Passing tests are listed in the text only with --verbose.
            assert_eq!(status, "pass", "{name} not in the text: {t}");
            check_pass(t);
            continue;
        };
        match (word.as_str(), status) {
            ("ok", "pass") => check_pass(t),
            ("FAIL", "fail") => {
                let from_json = match &t["reason"] {
                    Value::String(reason) => reason.clone(),
                    _ => format!(
                        "expected {}, got {}",
                        t["expected"].as_str().unwrap(),
                        t["got"].as_str().unwrap()
                    ),
                };
                assert_eq!(&from_json, detail, "{name}");
            }
            ("skip", "skip") => assert_eq!(t["reason"].as_str(), Some(detail.as_str()), "{name}"),
            _ => panic!("{name}: text says {word}, JSON says {status}"),
        }
    }
}

/// The number of tests in corpus/conformance (one per `.data` file), so
/// that adding a test does not change what these tests check.
fn conformance_corpus_len() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/conformance");
    std::fs::read_dir(dir)
        .expect("the corpus directory")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "data"))
        })
        .count()
}

#[test]
fn conformance_json_of_the_corpus_has_every_file_passing_like_the_text() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/conformance");
    let (text, json) = both(&["conformance", dir, "--verbose"]);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let v = json_of(&json);
    assert!(conformance_corpus_len() >= 256);
    assert_eq!(v["passed"], conformance_corpus_len());
    assert_eq!(v["failed"], 0);
    assert_eq!(v["unavailable"], Value::Null);
    check_conformance(&stdout(&text), &v, "interp");
    // r0 = 0xfedcba9876543210 (> 2^53) stays exact: a string.
    let ldacqdw = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "acquire-ldacqdw.data")
        .expect("acquire-ldacqdw.data");
    assert_eq!(ldacqdw["got"], "0xfedcba9876543210");
}

#[test]
fn conformance_json_lists_failures_and_invalid_files_as_the_text_does() {
    let dir = Scratch::new("summaries-conformance");
    dir.write("a.data", "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n");
    dir.write("b.data", "-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n");
    dir.write(
        "c.data",
        "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n-- result\n0x1\n",
    );
    dir.write("d.data", "-- asm\nmov %r0, 1\nexit\n-- error\ndivision\n");
    let (text, json) = both(&["conformance", dir.path().to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(1));
    let v = json_of(&json);
    check_conformance(&stdout(&text), &v, "interp");
    assert_eq!(v["passed"], 1);
    assert_eq!(v["failed"], 3);
    let t = &v["tests"];
    assert_eq!(t[1]["expected"], "0x2");
    assert_eq!(t[1]["got"], "0x1");
    assert_eq!(t[2]["status"], "fail");
    assert!(
        t[2]["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid test file: "),
        "{}",
        t[2]
    );
    assert_eq!(t[3]["expected"], "an error containing \"division\"");
}

#[test]
fn conformance_json_gives_skip_reasons_as_the_text_does() {
    // The kernel verifier refuses a read of r3, which was never written
    // (kernel fact: "R3 !read_ok"); the test is skipped with that reason.
    // Where bpf() is not permitted every test is skipped as unavailable.
    let dir = Scratch::new("summaries-skip");
    dir.write("a.data", "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n");
    dir.write("b.data", "-- asm\nmov %r0, %r3\nexit\n-- result\n0x0\n");
    let d = dir.path().to_str().unwrap();
    let (text, json) = both(&["conformance", d, "--backend", "kernel"]);
    let v = json_of(&json);
    let text = stdout(&text);
    check_conformance(&text, &v, "kernel");
    assert_eq!(v["tests"][1]["status"], "skip", "{v}");
    match v["unavailable"].as_str() {
        Some(why) => assert!(text.contains(&format!("cannot run here: {why}")), "{text}"),
        None => assert_eq!(v["passed"], 1, "{v}"),
    }
}

/// The campaign text summary's figures, read back.
#[derive(Debug, Default)]
struct CampaignText {
    seed: u64,
    tier: String,
    backends: Vec<String>,
    programs: u64,
    /// agree, diverge, new, all known, inconclusive.
    counts: Vec<u64>,
    /// backend → (accepted, total).
    verdicts: BTreeMap<String, (u64, u64)>,
    /// Reason lines under each backend's verdict line: backend → [(n, reason)].
    reasons: BTreeMap<String, Vec<(u64, String)>>,
    /// `BACKEND / ASPECT` → (cases, smallest case, slots, input bytes).
    groups: BTreeMap<String, (u64, u64, u64, u64)>,
    /// Each group's program lines and input hex.
    programs_of: BTreeMap<String, (String, String)>,
    saved: Vec<String>,
    /// rules, matched, without a match.
    rules: (u64, u64, u64),
    /// Rule name → matches.
    matched: BTreeMap<String, u64>,
}

fn parse_campaign(text: &str) -> CampaignText {
    let mut c = CampaignText::default();
    let mut backend = String::new();
    let mut group = String::new();
    let mut in_program = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("campaign: seed ") {
            let parts: Vec<&str> = rest.split(", ").collect();
            c.seed = parts[0].parse().unwrap();
            c.tier = parts[1].strip_prefix("tier ").unwrap().to_string();
            c.backends = parts[2]
                .strip_prefix("backends ")
                .unwrap()
                .split(',')
                .map(str::to_string)
                .collect();
            let done = line.split("job(s): ").nth(1).unwrap();
            c.programs = numbers(done)[0];
        } else if let Some(rest) = line.strip_prefix("  agree ") {
            c.counts = numbers(&format!("{rest} "));
        } else if line == "inconclusive, by reason:" || line.starts_with("new divergences") {
            backend.clear();
        } else if let Some((name, rest)) = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' ') && group.is_empty())
            .and_then(|l| l.split_once(": accepted "))
        {
            backend = name.to_string();
            let n = numbers(rest.split(" (").next().unwrap());
            c.verdicts.insert(name.to_string(), (n[0], n[1]));
        } else if line.starts_with("    ") && !backend.is_empty() {
            let (n, reason) = line.trim_start().split_once("  ").unwrap();
            c.reasons
                .entry(backend.clone())
                .or_default()
                .push((n.parse().unwrap(), reason.to_string()));
        } else if let Some((name, rest)) = line
            .strip_prefix("  ")
            .and_then(|l| l.split_once(" case(s); smallest is case "))
        {
            let (key, count) = name.rsplit_once(": ").unwrap();
            let n = numbers(rest);
            group = key.to_string();
            c.groups
                .insert(group.clone(), (count.parse().unwrap(), n[0], n[1], n[2]));
            c.programs_of.insert(group.clone(), Default::default());
        } else if line.starts_with("    smallest: ") {
            in_program = true;
        } else if let Some(input) = line.strip_prefix("    input: ") {
            in_program = false;
            c.programs_of.get_mut(&group).unwrap().1 = input.to_string();
        } else if in_program {
            let p = &mut c.programs_of.get_mut(&group).unwrap().0;
            p.push_str(line.strip_prefix("      ").unwrap());
            p.push('\n');
        } else if let Some(path) = line.strip_prefix("saved ") {
            c.saved.push(path.to_string());
        } else if let Some(rest) = line.strip_prefix("known divergences: ") {
            backend.clear();
            if !rest.starts_with("none") {
                let n = numbers(rest.split(" rule(s)").next().unwrap());
                let m = numbers(rest.rsplit(", ").next().unwrap());
                c.rules.0 = n[0];
                c.rules.1 = m[0];
            }
        } else if let Some(n) = line.trim_start().strip_suffix(" rule(s) without a match") {
            c.rules.2 = n.parse().unwrap();
        } else if let Some((head, _reason)) = line.split_once(" match(es) — ") {
            let (name, n) = head.trim_start().split_once(" (").unwrap();
            let n = numbers(n.rsplit(": ").next().unwrap())[0];
            c.matched.insert(name.to_string(), n);
        }
    }
    c
}

/// Checks every figure of a campaign's text summary against its JSON.
fn check_campaign(text: &str, v: &Value) -> CampaignText {
    let c = parse_campaign(text);
    assert_eq!(v["seed"], format!("0x{:x}", c.seed));
    assert_eq!(v["tier"], c.tier.as_str());
    assert_eq!(v["backends"], serde_json::json!(c.backends));
    assert_eq!(v["programs"], c.programs);
    let [agree, diverge, new, known, inconclusive] = c.counts[..] else {
        panic!("counts: {:?}\n{text}", c.counts)
    };
    assert_eq!(v["agree"], agree);
    assert_eq!(v["diverge"], diverge);
    assert_eq!(v["diverge_new"], new);
    assert_eq!(v["diverge_known"], known);
    assert_eq!(v["inconclusive"], inconclusive);
    let verdicts = v["verdicts"].as_object().expect("verdicts");
    assert_eq!(verdicts.len(), c.verdicts.len(), "{text}");
    for (backend, (accepted, total)) in &c.verdicts {
        let j = &verdicts[backend];
        assert_eq!(j["accepted"], *accepted, "{backend}");
        assert_eq!(j["total"], *total, "{backend}");
        assert_eq!(j["rejected"], total - accepted, "{backend}");
        // The text shows the 8 most frequent reasons; JSON has them all, in
        // the same order.
        let shown = c.reasons.get(backend).cloned().unwrap_or_default();
        let all = j["reasons"].as_array().expect("reasons");
        assert_eq!(shown.len(), all.len().min(8), "{backend}");
        for ((n, reason), r) in shown.iter().zip(all) {
            assert_eq!(r["count"], *n);
            assert_eq!(r["reason"], reason.as_str());
        }
    }
    let groups = v["new_divergences"].as_array().expect("new_divergences");
    assert_eq!(groups.len(), c.groups.len(), "{text}");
    for g in groups {
        let key = format!(
            "{} / {}",
            g["backend"].as_str().unwrap(),
            g["aspect"].as_str().unwrap()
        );
        let (count, case, slots, input_bytes) = c.groups[&key];
        let e = &g["smallest"];
        assert_eq!(g["count"], count, "{key}");
        assert_eq!(e["case"], case, "{key}");
        assert_eq!(
            e["case_seed"],
            format!("0x{:x}", bpfdiff::campaign::case_seed(c.seed, case))
        );
        assert_eq!(e["slots"], slots, "{key}");
        let input = e["input"].as_str().unwrap();
        assert_eq!(input.len() as u64, 2 * input_bytes, "{key}");
        let (program, input_text) = &c.programs_of[&key];
        assert_eq!(e["program"].as_str(), Some(program.as_str()), "{key}");
        assert_eq!(input, input_text, "{key}");
        let hex = e["program_hex"].as_str().unwrap();
        assert_eq!(hex.len() as u64, 16 * slots, "{key}");
        assert!(e["outcomes"].as_array().unwrap().len() >= 2, "{key}");
    }
    let rules = &v["known_rules"];
    assert_eq!(rules["rules"], c.rules.0);
    assert_eq!(
        rules["matched"].as_object().unwrap().len() as u64,
        c.rules.1
    );
    assert_eq!(rules["without_match"], c.rules.2);
    for (name, n) in &c.matched {
        assert_eq!(rules["matched"][name], *n, "{name}");
    }
    assert_eq!(v["saved"].as_array().unwrap().len(), c.saved.len());
    c
}

#[test]
fn campaign_json_has_every_figure_of_the_text() {
    let args = ["campaign", "--programs", "200", "--backends", "interp,rbpf"];
    let (text, json) = both(&args);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let v = json_of(&json);
    let c = check_campaign(&stdout(&text), &v);
    assert_eq!(c.programs, 200);
    assert_eq!(c.verdicts.len(), 2);
    assert!(c.rules.0 > 0, "the built-in rules apply");
}

#[test]
fn campaign_json_gives_new_divergences_with_their_programs() {
    // With no rules, rbpf's known differences are new: exit 1 either way.
    let dir = Scratch::new("summaries-campaign");
    let (text_dir, json_dir) = (dir.path().join("text"), dir.path().join("json"));
    let run = |save: &std::path::Path, json: bool| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"campaign",
            &"--programs",
            &"200",
            &"--backends",
            &"interp,rbpf",
            &"--known",
            &"none",
            &"--save",
        ];
        args.push(&save);
        if json {
            args.push(&"--json");
        }
        bpfdiff(&args)
    };
    let text = run(&text_dir, false);
    let json = run(&json_dir, true);
    assert_eq!(text.status.code(), Some(1), "{}", stderr(&text));
    assert_eq!(json.status.code(), Some(1), "{}", stderr(&json));
    let v = json_of(&json);
    let c = check_campaign(&stdout(&text), &v);
    assert!(!c.groups.is_empty(), "{}", stdout(&text));
    assert!(v["diverge_new"].as_u64().unwrap() > 0);
    let names = |paths: Vec<String>| -> Vec<String> {
        paths
            .iter()
            .map(|p| p.rsplit('/').next().unwrap().to_string())
            .collect()
    };
    let saved: Vec<String> = v["saved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(!saved.is_empty());
    assert_eq!(names(saved), names(c.saved));
}

/// Runs the built `bpfdiff` without permission for `bpf()`: as `nobody`
/// with no capabilities when we are root, else as ourselves.
fn bpfdiff_unprivileged(args: &[&str]) -> Output {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    let bin = env!("CARGO_BIN_EXE_bpfdiff");
    let mut cmd = if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            bin,
        ]);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args).current_dir("/");
    cmd.output().expect("start bpfdiff")
}

#[test]
fn campaign_json_shows_a_backend_that_ran_nothing_and_keeps_exit_3() {
    // Without permission for bpf() the kernel runs none of the programs.
    let known = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/known-divergences.json");
    let mut args = vec![
        "campaign",
        "--programs",
        "20",
        "--backends",
        "interp,kernel",
        "--jobs",
        "1",
        "--known",
        known,
    ];
    let text = bpfdiff_unprivileged(&args);
    args.push("--json");
    let json = bpfdiff_unprivileged(&args);
    assert_eq!(text.status.code(), Some(3), "{}", stderr(&text));
    assert_eq!(json.status.code(), Some(3), "{}", stderr(&json));
    assert!(
        stderr(&json).contains("backend kernel ran none of the programs"),
        "{}",
        stderr(&json)
    );
    let v = json_of(&json);
    check_campaign(&stdout(&text), &v);
    assert_eq!(v["verdicts"]["kernel"]["total"], 0, "{v}");
    assert_eq!(v["verdicts"]["interp"]["total"], 20, "{v}");
}

/// Runs `bpfdiff args` with standard error on a new pseudo-terminal and
/// standard output on a pipe; returns (stdout, what the terminal got).
fn with_stderr_on_a_terminal(args: &[&str]) -> (Output, String) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the given integers; the
    // other arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let child = Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .args(args)
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("start bpfdiff");
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::from(master);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Reading ends with EIO once the child has closed the terminal.
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let out = child.wait_with_output().expect("wait for bpfdiff");
    (out, reader.join().expect("reader"))
}

#[test]
fn the_progress_bar_draws_on_a_terminal_stderr_only() {
    let args = [
        "campaign",
        "--programs",
        "20000",
        "--backends",
        "interp",
        "--json",
    ];
    // Standard error not a terminal (a pipe): nothing on it.
    let argv: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
    let out = bpfdiff(&argv);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "", "no bar on a pipe");
    let v = json_of(&out);
    assert_eq!(v["programs"], 20000);
    // On a terminal: the bar counts programs there; stdout is still JSON only.
    let (out, terminal) = with_stderr_on_a_terminal(&args);
    assert_eq!(out.status.code(), Some(0), "{terminal}");
    assert!(
        terminal.contains("/20000 programs") && terminal.contains("programs/s"),
        "terminal: {terminal:?}"
    );
    assert!(terminal.contains("new divergence(s)"), "{terminal:?}");
    let v = json_of(&out);
    assert_eq!(v["programs"], 20000);
    // conformance draws its bar there too, and prints the same summary.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/conformance");
    let (out, _terminal) = with_stderr_on_a_terminal(&["conformance", dir]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("{} passed, 0 failed\n", conformance_corpus_len())
    );
}
