//! `bpfdiff triage`: groups saved cases by signature, writes one report
//! per new signature, counts known ones, and changes nothing when run again.

mod common;

use common::{bpfdiff, stderr, stdout, Scratch};
use std::path::Path;

/// RFC 9669 §4.1: a 32-bit MOD by zero leaves the low 32 bits of dst,
/// zero-extended; rbpf 0.4.1 keeps all 64 bits. Two findings of that bug.
const MOD32_A: &str =
    "-- asm\nlddw %r1, 0xffffffff00001234\nmod32 %r1, 0\nmov %r0, %r1\nexit\n-- result\n0x1234\n";
const MOD32_B: &str = "-- asm\nmov %r5, 7\nlddw %r3, 0x8000000000000099\nmod32 %r3, 0\nmov %r0, %r3\nexit\n-- result\n0x99\n";
/// RFC 9669 §4.3: JLT sign-extends its immediate; rbpf zero-extends it. Another bug.
const JLT: &str = "-- asm\nmov %r3, -11\nmov %r0, 0\njlt %r3, -1, skip\nmov %r0, 1\nskip:\nexit\n-- result\n0x0\n";

fn hash_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    walk(dir, &mut out);
    out.sort();
    out
}

fn setup(s: &Scratch) {
    std::fs::create_dir_all(s.path().join("saved")).unwrap();
    s.write("saved/a.data", MOD32_A);
    s.write("saved/b.data", MOD32_B);
    s.write("saved/c.data", JLT);
}

#[test]
fn triage_groups_by_signature_writes_reports_and_is_idempotent() {
    let s = Scratch::new("triage-new");
    setup(&s);
    let reports = s.path().join("reports");
    let args: [&dyn AsRef<std::ffi::OsStr>; 9] = [
        &"triage",
        &s.path().join("saved"),
        &"--backends",
        &"interp,rbpf",
        &"--known",
        &"none",
        &"--reports",
        &reports,
        &"--json",
    ];
    let out = bpfdiff(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let groups: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .collect();
    assert!(counts.contains(&2) && counts.contains(&1), "{groups:?}");
    assert!(
        groups.iter().all(|g| g["status"] == "new-report-written"),
        "{groups:?}"
    );
    let folders = std::fs::read_dir(&reports)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(folders, 2);
    let index = std::fs::read_to_string(reports.join("README.md")).unwrap();
    assert_eq!(index.matches("report.md)").count(), 2, "{index}");

    let before = hash_dir(&reports);
    let out = bpfdiff(&args);
    let again: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        again
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["status"] == "report-exists" && g["updated"] == false),
        "{again}"
    );
    assert_eq!(hash_dir(&reports), before, "a second run changes nothing");
}

#[test]
fn known_divergences_are_counted_not_reported() {
    let s = Scratch::new("triage-known");
    setup(&s);
    s.write(
        "saved/ok.data",
        "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n",
    );
    let reports = s.path().join("reports");
    let out = bpfdiff(&[
        &"triage",
        &s.path().join("saved"),
        &"--backends",
        &"interp,rbpf",
        &"--reports",
        &reports,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let table = stdout(&out);
    assert!(
        table.contains("known rule rbpf-mod32-by-zero-keeps-upper-half"),
        "{table}"
    );
    assert!(table.contains("no longer diverges"), "{table}");
    assert!(!table.contains("new report"), "{table}");
    assert!(!reports.exists(), "no report for known divergences");
}

#[test]
fn no_case_files_is_bad_input() {
    let s = Scratch::new("triage-empty");
    std::fs::create_dir_all(s.path().join("empty")).unwrap();
    let out = bpfdiff(&[
        &"triage",
        &s.path().join("empty"),
        &"--backends",
        &"interp,rbpf",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no case files"), "{}", stderr(&out));
}
