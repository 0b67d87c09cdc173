//! `bpfdiff campaign` for unattended runs: a campaign killed with SIGKILL
//! and resumed gives the summary of an uninterrupted one; shards add up to
//! the whole campaign and triage merges their outputs; `--duration` bounds
//! a run whose program count is out of reach; bad output paths and
//! conflicting resumes fail before anything runs.

mod common;

use common::{assert_input_error, bpfdiff, stderr, stdout, Scratch};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// rbpf differs from the engine in several aspects, so with no known rules
/// these campaigns find, save and replace examples of new divergences.
const ARGS: [&str; 8] = [
    "campaign",
    "--seed",
    "7",
    "--backends",
    "interp,rbpf",
    "--known",
    "none",
    "--no-kernel-reasons",
];

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the --json file")).expect("JSON")
}

/// The fields two runs of the same campaign must share: all but timings,
/// paths and the session, and the fault details of the examples' outcomes
/// (rbpf names the host address of an out-of-bounds access, which differs
/// from process to process).
fn deterministic(v: &Value) -> Value {
    let mut v = v.clone();
    for g in v["new_divergences"].as_array_mut().unwrap() {
        for o in g["smallest"]["outcomes"].as_array_mut().unwrap() {
            if let Some(e) = o["execution"].as_object_mut() {
                e.remove("detail");
            }
        }
    }
    // `outcomes` counts what each backend did, and rbpf's run of a program
    // that branches on an address takes the path its process's addresses
    // (ASLR) give it: a fault in one run, a return in the next. The
    // comparison counts stay: such a case is inconclusive either way
    // (`fuzz_glue::discount_accidental_agreement`).
    for key in [
        "elapsed_s",
        "programs_per_s",
        "jobs",
        "timeline",
        "environment",
        "saved",
        "resumed",
        "outcomes",
    ] {
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

/// The files of `dir` by name (hidden ones too), with their contents.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn a_campaign_killed_and_resumed_gives_the_uninterrupted_summary() {
    let dir = Scratch::new("resume");
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let programs = "20000";
    let json_whole = dir.path().join("whole.json");
    let out = bpfdiff(&[
        &ARGS[0],
        &ARGS[1],
        &ARGS[2],
        &ARGS[3],
        &ARGS[4],
        &ARGS[5],
        &ARGS[6],
        &ARGS[7],
        &"--programs",
        &programs,
        &"--save",
        &whole,
        &"--json",
        &json_whole,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let whole_json = json_file(&json_whole);
    assert!(whole_json["diverge_new"].as_u64().unwrap() > 0);

    // The same campaign, killed once a checkpoint with some cases exists.
    // It runs in its own process group, killed as a whole (as a CI timeout
    // does), so that its rbpf worker process goes with it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .process_group(0)
        .args(ARGS)
        .args(["--programs", programs, "--jobs", "2", "--save"])
        .arg(&killed)
        .env("BPFDIFF_CHECKPOINT_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bpfdiff");
    let checkpoint = killed.join("campaign.checkpoint");
    let start = Instant::now();
    let done_at_kill = loop {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        let done = std::fs::read(&checkpoint)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["state"]["programs"].as_u64())
            .unwrap_or(0);
        if done >= 2000 {
            break done;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: kill() signals the child's process group; no memory involved.
    assert_eq!(
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) },
        0
    );
    child.wait().unwrap();
    // Only whole files: every .data file parses, and no temporary file is
    // taken for a case by triage (hidden files are skipped).
    for (name, bytes) in files(&killed) {
        if name.ends_with(".data") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.starts_with("# bpfdiff campaign --seed 7"), "{name}");
            assert!(
                text.contains("-- result") || text.contains("-- error"),
                "{name}: {text}"
            );
        }
    }
    let stopped: Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    let stopped_at = stopped["state"]["programs"].as_u64().unwrap();
    assert!(
        stopped_at >= done_at_kill && stopped_at < 20000,
        "{stopped_at}"
    );

    // Resumed (with another thread count): the summary of the whole run.
    let json_resumed = dir.path().join("resumed.json");
    let out = bpfdiff(&[
        &"campaign",
        &"--resume",
        &killed,
        &"--jobs",
        &"1",
        &"--json",
        &json_resumed,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let resumed = json_file(&json_resumed);
    assert_eq!(resumed["resumed"], true);
    assert_eq!(deterministic(&resumed), deterministic(&whole_json));
    let names = |v: &Value| -> Vec<String> {
        v["saved"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().rsplit('/').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&resumed), names(&whole_json));
    // The folders hold the same findings, byte for byte.
    let data = |d: &Path| -> BTreeMap<String, Vec<u8>> {
        files(d)
            .into_iter()
            .filter(|(n, _)| n.ends_with(".data"))
            .collect()
    };
    assert_eq!(data(&killed), data(&whole));
    // The text summary says the same as well (its first line has times).
    let text = stdout(&out);
    assert!(text.contains(&format!("{} programs in", 20000)), "{text}");

    // A resume that contradicts the checkpoint fails before running.
    let out = bpfdiff(&[&"campaign", &"--resume", &killed, &"--seed", &"8"]);
    assert_input_error(&out, "campaign.checkpoint");
    assert!(stderr(&out).contains("--seed 8"), "{}", stderr(&out));
    let out = bpfdiff(&[&"campaign", &"--resume", &killed, &"--tier", &"raw"]);
    assert_input_error(&out, "--tier raw");
    // Arguments equal to the checkpoint's are fine: the campaign is over.
    let out = bpfdiff(&[
        &"campaign",
        &"--resume",
        &killed,
        &"--seed",
        &"7",
        &"--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(deterministic(&again), deterministic(&whole_json));
}

#[test]
fn shards_add_up_to_the_campaign_and_triage_merges_them() {
    let dir = Scratch::new("shards");
    let run = |shard: Option<&str>, name: &str| -> Value {
        let save = dir.path().join(name);
        let json = dir.path().join(format!("{name}.json"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bpfdiff"));
        cmd.args(ARGS)
            .args(["--programs", "3001", "--save"])
            .arg(&save);
        cmd.arg("--json").arg(&json);
        if let Some(s) = shard {
            cmd.args(["--shard", s]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        json_file(&json)
    };
    let whole = run(None, "whole");
    let parts = [
        run(Some("0/3"), "s0"),
        run(Some("1/3"), "s1"),
        run(Some("2/3"), "s2"),
    ];
    let sum = |f: &dyn Fn(&Value) -> u64| parts.iter().map(f).sum::<u64>();
    for key in [
        "programs",
        "agree",
        "diverge_new",
        "diverge_known",
        "inconclusive",
    ] {
        assert_eq!(sum(&|v| v[key].as_u64().unwrap()), whole[key], "{key}");
    }
    assert_eq!(parts[1]["shard"], "1/3");
    for backend in ["interp", "rbpf"] {
        for key in ["accepted", "rejected"] {
            let of = |v: &Value| v["verdicts"][backend][key].as_u64().unwrap();
            assert_eq!(sum(&of), of(&whole), "{backend} {key}");
        }
    }
    let rows = whole["coverage"]["rows"].as_array().unwrap();
    for (i, row) in rows.iter().enumerate() {
        let of = |v: &Value| v["coverage"]["rows"][i]["count"].as_u64().unwrap();
        assert_eq!(sum(&of), row["count"].as_u64().unwrap(), "{}", row["row"]);
    }
    // Each group's count over the shards is the whole campaign's.
    let groups = |v: &Value| -> BTreeMap<String, u64> {
        v["new_divergences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    format!("{}/{}", g["backend"], g["aspect"]),
                    g["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for p in &parts {
        for (k, n) in groups(p) {
            *merged.entry(k).or_default() += n;
        }
    }
    assert_eq!(merged, groups(&whole));

    // Triage takes the shards' folders together.
    let saved: usize = parts
        .iter()
        .map(|p| p["saved"].as_array().unwrap().len())
        .sum();
    let reports = dir.path().join("reports");
    let out = bpfdiff(&[
        &"triage",
        &dir.path().join("s0"),
        &dir.path().join("s1"),
        &dir.path().join("s2"),
        &"--backends",
        &"interp,rbpf",
        &"--known",
        &"none",
        &"--reports",
        &reports,
        &"--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("triage: {saved} case files")),
        "{}",
        stderr(&out)
    );
    let table: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases: u64 = table
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(cases as usize, saved);
}

#[test]
fn duration_bounds_a_campaign_of_any_size() {
    // 10^11 programs: the old campaign allocated a result slot for each
    // up front and aborted; now it streams, and --duration ends it.
    let dir = Scratch::new("duration");
    let json = dir.path().join("s.json");
    let junit = dir.path().join("s.xml");
    let start = Instant::now();
    let out = bpfdiff(&[
        &"campaign",
        &"--programs",
        &"100000000000",
        &"--duration",
        &"2s",
        &"--backends",
        &"interp",
        &"--json",
        &json,
        &"--junit",
        &junit,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(30));
    let v = json_file(&json);
    let done = v["programs"].as_u64().unwrap();
    assert!(done > 0 && done < 100_000_000_000, "{done}");
    assert_eq!(v["schema"], 1);
    assert_eq!(v["duration_s"], 2.0);
    assert_eq!(v["programs_limit"], "0x174876e800", "10^11 in hex");
    assert!(v["coverage"]["rows_hit"].as_u64().unwrap() > 0);
    assert!(!v["timeline"].as_array().unwrap().is_empty());
    assert!(v["environment"]["rbpf_version"].is_string());
    // The text summary went to standard output.
    assert!(
        stdout(&out).starts_with("campaign: seed 0"),
        "{}",
        stdout(&out)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"bpfdiff campaign\" tests=\"1\" failures=\"0\""),
        "{xml}"
    );
}

#[test]
fn unwritable_outputs_fail_before_the_run() {
    let dir = Scratch::new("outputs");
    let file = dir.write("a-file", "x");
    let missing = dir.path().join("no/such/dir/s.json");
    // A run that would not end by itself: only an early error ends it.
    let long = [
        "campaign",
        "--programs",
        "100000000000",
        "--backends",
        "interp",
    ];
    let with = |flag: &str, path: &Path| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = long.iter().map(|a| a as _).collect();
        args.push(&flag);
        args.push(&path);
        let start = Instant::now();
        let out = bpfdiff(&args);
        assert!(start.elapsed() < Duration::from_secs(20), "{flag} ran");
        out
    };
    assert_input_error(&with("--json", &missing), &missing.display().to_string());
    assert_input_error(&with("--junit", &missing), &missing.display().to_string());
    let under_file = file.join("save");
    assert_input_error(
        &with("--save", &under_file),
        &under_file.display().to_string(),
    );
    assert_input_error(
        &with("--json", dir.path()),
        &dir.path().display().to_string(),
    );
    let nowhere = dir.path().join("never-saved");
    assert_input_error(&with("--resume", &nowhere), &nowhere.display().to_string());
    // The unwritable --json file was not left behind either.
    assert!(!missing.exists());
}

#[test]
fn bad_shards_and_durations_are_input_errors() {
    for (flag, value) in [
        ("--shard", "3/3"),
        ("--shard", "1"),
        ("--duration", "10"),
        ("--duration", "5 parsecs"),
    ] {
        let out = bpfdiff(&[&"campaign", &flag, &value, &"--backends", &"interp"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {value}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(value), "{}", stderr(&out));
    }
}

#[test]
fn sigterm_stops_a_campaign_with_its_summary_and_checkpoint() {
    let dir = Scratch::new("sigterm");
    let save = dir.path().join("save");
    let child = Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .args([
            "campaign",
            "--programs",
            "100000000000",
            "--backends",
            "interp",
        ])
        .args(["--json", "-", "--save"])
        .arg(&save)
        .env("BPFDIFF_CHECKPOINT_MS", "100")
        .env("BPFDIFF_PROGRESS_MS", "200")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bpfdiff");
    let checkpoint = save.join("campaign.checkpoint");
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(600));
    // SAFETY: kill() sends a signal to our own child; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("campaign stopped by a signal after"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    // Plain progress lines, since standard error is a pipe.
    assert!(
        err.lines()
            .any(|l| l.starts_with("campaign: ") && l.contains("programs/s") && l.contains("eta")),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the summary");
    let saved: Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert!(v["programs"].as_u64().unwrap() > 0);
    assert_eq!(saved["state"]["programs"], v["programs"]);
}

#[test]
fn a_checkpoint_from_a_generator_that_made_other_programs_is_not_resumed() {
    let dir = Scratch::new("fingerprint");
    let save = dir.path().join("save");
    let save_arg = save.display().to_string();
    let out = bpfdiff(&[
        &"campaign",
        &"--programs",
        &"50",
        &"--backends",
        &"interp",
        &"--save",
        &save_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let checkpoint = save.join("campaign.checkpoint");
    let mut c = json_file(&checkpoint);
    let ours = c["config"]["generator"].as_str().unwrap().to_string();
    assert_eq!(ours.len(), 16, "a 64-bit hex fingerprint: {ours}");
    // The same campaign resumes (the generator is the same) ...
    let resume = || bpfdiff(&[&"campaign", &"--resume", &save_arg]);
    let out = resume();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // ... a checkpoint written by a generator that made other programs
    // does not: its cases would not be this bpfdiff's.
    c["config"]["generator"] = Value::String("0123456789abcdef".into());
    std::fs::write(&checkpoint, serde_json::to_string(&c).unwrap()).unwrap();
    let out = resume();
    assert_input_error(&out, "generates other programs");
    assert!(
        stderr(&out).contains("0123456789abcdef"),
        "{}",
        stderr(&out)
    );
}
