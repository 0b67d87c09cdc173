//! `bpfdiff report`: every file of a report folder (report.md, case.json
//! that replay reads, repro.data that run reads with its `#@` record,
//! selftest.c whose asm block `bpfdiff asm` reads back to the same bytes),
//! idempotent regeneration, and the generated index.

mod common;

use common::{bpfdiff, stderr, stdout, Scratch};

/// RFC 9669 §4.3: `jlt r3, -1` compares with the sign-extended immediate,
/// so the jump is taken and r0 stays 0; rbpf 0.4.1 zero-extends the
/// immediate (a known rbpf divergence, here reported with rules off).
const RBPF_R0: &str = "-- asm\nmov %r3, -11\nmov %r0, 0\njlt %r3, -1, skip\nmov %r0, 1\nskip:\nexit\n-- result\n0x0\n";

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("an exit code")
}

fn only_dir(dir: &std::path::Path) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn a_report_folder_has_every_file_and_each_reads_back() {
    let s = Scratch::new("report-files");
    let case = s.write("case.data", RBPF_R0);
    let reports = s.path().join("reports");
    let out = bpfdiff(&[
        &"report",
        &case,
        &"-o",
        &reports,
        &"--backends",
        &"interp,rbpf",
        &"--known",
        &"none",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let dir = only_dir(&reports);
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("rbpf-r0-"), "{name}");
    // report.md: program, outcomes, environment, reproduce, hand-kept block.
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for needle in [
        "## The program",
        "if r3 < 0xffffffff goto",
        "| rbpf | rbpf 0.4.1 | r0 = 0x1 |",
        "`uname -r`",
        "`bpf_jit_harden`",
        "bpfdiff diff",
        "<!-- hand-kept: begin",
    ] {
        assert!(md.contains(needle), "{needle} missing:\n{md}");
    }
    // case.json: the replay schema plus the signature; replay reads it.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["signature"]["slug"], name.as_str());
    assert_eq!(json["recorded"][0]["backend"], "rbpf");
    assert_eq!(json["recorded"][0]["aspect"], "r0");
    let out = bpfdiff(&[
        &"replay",
        &dir.join("case.json"),
        &"--backends",
        &"interp,rbpf",
        &"--known",
        &"none",
        &"--json",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("as-recorded"), "{}", stdout(&out));
    // repro.data: `bpfdiff run` reads it; it carries the `#@` record.
    let repro = std::fs::read_to_string(dir.join("repro.data")).unwrap();
    assert!(
        repro.contains("#@ {\"backend\":\"rbpf\",\"aspect\":\"r0\""),
        "{repro}"
    );
    let out = bpfdiff(&[&"run", &dir.join("repro.data")]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    // No selftest for an rbpf finding; an index row in README.md.
    assert!(!dir.join("selftest.c").exists());
    let index = std::fs::read_to_string(reports.join("README.md")).unwrap();
    assert!(
        index.contains(&format!("[`{name}`]({name}/report.md)")),
        "{index}"
    );
}

#[test]
fn regenerating_a_report_changes_nothing() {
    let s = Scratch::new("report-idempotent");
    let case = s.write("case.data", RBPF_R0);
    let reports = s.path().join("reports");
    let args: [&dyn AsRef<std::ffi::OsStr>; 8] = [
        &"report",
        &case,
        &"-o",
        &reports,
        &"--backends",
        &"interp,rbpf",
        &"--known",
        &"none",
    ];
    assert_eq!(code(&bpfdiff(&args)), 0);
    let snapshot = |dir: &std::path::Path| {
        let d = only_dir(dir);
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().to_string(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.push((
            "README.md".into(),
            std::fs::read(dir.join("README.md")).unwrap(),
        ));
        files.sort();
        files
    };
    let before = snapshot(&reports);
    let out = bpfdiff(&args);
    assert!(stdout(&out).contains("unchanged"), "{}", stdout(&out));
    assert_eq!(snapshot(&reports), before);
}

#[test]
fn a_case_that_diverges_nowhere_has_nothing_to_report() {
    let s = Scratch::new("report-nothing");
    let case = s.write("ok.data", "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n");
    let out = bpfdiff(&[
        &"report",
        &case,
        &"-o",
        &s.path().join("r"),
        &"--backends",
        &"interp,rbpf",
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("nothing to report"),
        "{}",
        stderr(&out)
    );
}

/// The kernel report: a selftest.c whose asm block assembles to the
/// case's program, and a verifier log. The case is recorded (it was seen on
/// a 6.18 kernel without fix 179ee84a8911), so it gets a report whether or
/// not this kernel diverges.
#[test]
fn a_kernel_report_has_a_selftest_that_assembles_back_and_a_verifier_log() {
    let s = Scratch::new("report-kernel");
    let root = env!("CARGO_MANIFEST_DIR");
    let case = format!("{root}/reports/kernel-atomic-fetch-stack-precision/case.json");
    let reports = s.path().join("reports");
    let out = bpfdiff(&[
        &"report",
        &case,
        &"-o",
        &reports,
        &"--name",
        &"k",
        &"--backends",
        &"interp,kernel",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let dir = reports.join("k");
    let c = std::fs::read_to_string(dir.join("selftest.c")).unwrap();
    for needle in [
        "SEC(\"socket\")",
        "__description(",
        "__success __retval(1)",
        "__naked void k(void)",
        "goto l5_%=;",
        "\"l5_%=:\"",
        "__clobber_all",
    ] {
        assert!(c.contains(needle), "{needle} missing:\n{c}");
    }
    // The asm block, as a file `bpfdiff asm` reads.
    let block: String = c
        .lines()
        .skip_while(|l| !l.contains("asm volatile ("))
        .skip(1)
        .take_while(|l| l.trim() != ":")
        .map(|l| format!("{l}\n"))
        .collect();
    let asm = s.write("block.s", block);
    let bin = s.path().join("block.bin");
    let out = bpfdiff(&[&"asm", &asm, &"-o", &bin]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&case).unwrap()).unwrap();
    let expected: String = json["program"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let got: String = std::fs::read(&bin)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(got, expected);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| seen on | `6.18 (x86-64"), "{md}");
    if bpfdiff_kernel_available() {
        let log = std::fs::read_to_string(dir.join("verifier.log")).unwrap();
        assert!(log.contains("atomic64_fetch_xor"), "{log}");
        assert!(
            !log.contains("0xffff8"),
            "kernel addresses are masked:\n{log}"
        );
    }
}

/// True when the kernel backend runs programs here (`diff` shows its
/// outcome, not "not run"). As root it must: a root that cannot use
/// `bpf()` is a broken machine, not a reason to skip.
fn bpfdiff_kernel_available() -> bool {
    let out = bpfdiff(&[
        &"diff",
        &"--backends",
        &"interp,kernel",
        &format!(
            "{}/corpus/regressions/kernel-atomic-fetch-stack-precision.data",
            env!("CARGO_MANIFEST_DIR")
        ),
    ]);
    let text = stdout(&out);
    let ran = text
        .lines()
        .any(|l| l.starts_with("kernel ") && l.contains("accepted"));
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        ran || !root,
        "root, but the kernel backend did not run:\n{text}"
    );
    ran
}

/// Issue 13: a native case (program type, packet, maps) keeps its type in
/// the report: `case.json` names it and replays as recorded, the
/// signature names it, and the selftest is declared in the type's
/// section. The case is the kernel's dead-code acceptance of a reserved
/// field (`kernel-skips-dead-code-reserved-fields`) as an xdp program.
#[test]
fn a_native_report_keeps_its_program_type_and_replays_as_one() {
    if !bpfdiff_kernel_available() {
        println!("SKIPPED: bpf() not permitted");
        return;
    }
    let s = Scratch::new("report-native");
    let case = s.write(
        "case.data",
        "# a dead instruction with a reserved field, as xdp\n-- prog-type\nxdp\n-- raw\n\
         0x00000000000000b7\n0x0000000000010016\n0x000000070001009f\n0x0000000000000095\n\
         -- error\nreserved field\n",
    );
    let reports = s.path().join("reports");
    let out = bpfdiff(&[
        &"report",
        &case,
        &"-o",
        &reports,
        &"--name",
        &"n",
        &"--backends",
        &"interp,kernel",
        &"--known",
        &"none",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let dir = reports.join("n");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    assert_eq!(json["prog_type"], "xdp");
    assert_eq!(
        json["mem"].as_str().unwrap().len(),
        128,
        "the 64-byte packet"
    );
    assert!(
        json["signature"]["canonical"]
            .as_str()
            .unwrap()
            .contains("xdp"),
        "{}",
        json["signature"]
    );
    for file in ["case.json", "repro.data"] {
        let out = bpfdiff(&[
            &"replay",
            &dir.join(file),
            &"--backends",
            &"interp,kernel",
            &"--known",
            &"none",
        ]);
        assert_eq!(code(&out), 0, "{file}: {}{}", stdout(&out), stderr(&out));
        assert!(stdout(&out).contains("as-recorded"), "{}", stdout(&out));
    }
    let c = std::fs::read_to_string(dir.join("selftest.c")).unwrap();
    assert!(c.contains("SEC(\"xdp\")"), "{c}");
}
