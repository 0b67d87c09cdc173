//! `bpfdiff diff` with the engine's verifier as a backend: its verdict is
//! shown next to the kernel's and compared with it (aspects `verdict` and
//! `verdict-class`), never with an executing backend's result. The kernel
//! part is skipped, with the reason printed, when `bpf()` is denied.

mod common;

use common::{bpfdiff, stderr, stdout, Scratch};

fn kernel_available() -> bool {
    let k = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    match k.unavailable() {
        Some(why) => {
            eprintln!("SKIPPED (kernel part): {why}");
            false
        }
        None => true,
    }
}

fn diff_json(
    program: impl AsRef<[u8]>,
    backends: &str,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let s = Scratch::new("verdict");
    let name = if extra.contains(&"raw") {
        "p.bin"
    } else {
        "p.s"
    };
    let f = s.write(name, program);
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"diff", &f, &"--backends", &backends, &"--json"];
    for e in extra.iter().filter(|e| **e != "raw") {
        args.push(e);
    }
    let out = bpfdiff(&args);
    let text = stdout(&out);
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}{}", stderr(&out)));
    (out.status.code(), json)
}

#[test]
fn diff_shows_the_verifier_verdict_with_its_class() {
    // R3 is never written: check_reg_arg refuses `R3 !read_ok` at insn 0.
    let (_, json) = diff_json("r0 = r3\nexit\n", "interp,verifier", &[]);
    let v = &json["outcomes"][1];
    assert_eq!(v["backend"], "verifier", "{json}");
    assert_eq!(v["verdict"]["verdict"], "rejected", "{json}");
    assert_eq!(v["verdict"]["class"], "register-not-readable", "{json}");
    assert_eq!(v["verdict"]["reason"], "R3 !read_ok (insn 0)", "{json}");
    // Not compared with the interpreter's run; without a kernel nothing
    // judges the verdict, and the comparison says why.
    assert_eq!(json["comparison"]["comparison"], "inconclusive", "{json}");
    let why = json["comparison"]["why"].to_string();
    assert!(why.contains("no safety verifier"), "{json}");
}

#[test]
fn the_kernel_and_the_verifier_agree_on_verdict_and_class() {
    if !kernel_available() {
        return;
    }
    for (program, class) in [
        ("r0 = r3\nexit\n", Some("register-not-readable")),
        ("r0 = 0\nr0 <<= 65\nexit\n", Some("invalid-shift")),
        ("r0 = 1\nexit\n", None),
    ] {
        let (code, json) = diff_json(program, "verifier,kernel", &[]);
        assert_eq!(code, Some(0), "{program}: {json}");
        assert_eq!(
            json["comparison"]["comparison"], "agree",
            "{program}: {json}"
        );
        for o in json["outcomes"].as_array().unwrap() {
            match class {
                Some(c) => assert_eq!(o["verdict"]["class"], c, "{program}: {json}"),
                None => assert_eq!(o["verdict"]["verdict"], "accepted", "{program}: {json}"),
            }
        }
    }
}

/// A program whose `ld_imm64 src=4` (insn 4, imm -6) targets a slot before
/// its start (found by `campaign --backends verifier,kernel --tier grammar`).
const CALL_BEFORE_START: &str = "d50a020000000000 97060100ffffff00 1506000000000000 1c84000000000000 18480000faffffff 00000000ffffffff c7020000bdd1ff21 cf07000000000000 c70300004cfb7371 9500000000000000";

fn call_before_start() -> Vec<u8> {
    let hex: String = CALL_BEFORE_START.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_class_disagreement_is_a_verdict_class_divergence() {
    if !kernel_available() {
        return;
    }
    let mem = ["--mem", "000102030405060708090a0b0c0d", "raw"];
    let mut none = mem.to_vec();
    none.extend(["--known", "none"]);
    let (code, json) = diff_json(call_before_start(), "verifier,kernel", &none);
    assert_eq!(code, Some(1), "{json}");
    let d = &json["comparison"]["differences"][0];
    assert_eq!(d["backend"], "verifier", "{json}");
    assert_eq!(d["aspect"], "verdict-class", "{json}");
    assert_eq!(
        d["detail"],
        "verifier refuses [call-to-invalid-destination]: call to invalid destination (insn 4); kernel refuses [last-insn-not-exit-or-jmp]: last insn is not an exit or jmp",
        "{json}"
    );
    // The built-in rules name it (a harness artifact).
    let (code, json) = diff_json(call_before_start(), "verifier,kernel", &mem);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(
        json["comparison"]["differences"][0]["known"], "verifier-call-target-in-harness-wrapper",
        "{json}"
    );
}

/// `campaign` with `verifier` and `kernel` counts their verdicts against
/// each other in `verdict_matrix` (JSON and text), and a resumed campaign
/// keeps the counts of the sessions before it.
#[test]
fn campaign_counts_the_verifier_against_the_kernel_and_resume_keeps_the_counts() {
    if !kernel_available() {
        return;
    }
    let s = Scratch::new("verdict-campaign");
    let save = s.path().join("saved");
    let common: [&dyn AsRef<std::ffi::OsStr>; 8] = [
        &"campaign",
        &"--tier",
        &"grammar",
        &"--backends",
        &"verifier,kernel",
        &"--seed",
        &"7",
        &"--json",
    ];
    // The whole campaign in one go.
    let mut whole: Vec<&dyn AsRef<std::ffi::OsStr>> = common.to_vec();
    whole.extend_from_slice(&[&"--programs", &"200"]);
    let out = bpfdiff(&whole);
    let whole: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let m = &whole["verdict_matrix"];
    let sum: u64 = [
        "both_accept",
        "both_refuse",
        "only_kernel_accepts",
        "only_we_accept",
        "no_verdict",
    ]
    .iter()
    .map(|k| {
        m[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing: {whole}"))
    })
    .sum();
    assert_eq!(sum, 200, "every case is counted once: {whole}");
    // The grammar tier is mostly refused: the classes are compared.
    assert!(m["both_refuse"].as_u64().unwrap() > 100, "{whole}");
    assert!(
        m["same_class"].as_u64().unwrap() + m["class_unknown"].as_u64().unwrap()
            <= m["both_refuse"].as_u64().unwrap(),
        "{whole}"
    );

    // The same campaign in two sessions: 80 programs, then resumed to 200.
    let mut first: Vec<&dyn AsRef<std::ffi::OsStr>> = common.to_vec();
    first.extend_from_slice(&[&"--programs", &"80", &"--save", &save]);
    let out = bpfdiff(&first);
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    let text = std::fs::read_to_string(save.join("campaign.checkpoint")).unwrap();
    let mut checkpoint: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Extend the bound the way a longer campaign would have been saved.
    let limit = &mut checkpoint["config"]["programs"];
    assert!(!limit.is_null(), "{checkpoint}");
    *limit = serde_json::json!(200);
    std::fs::write(save.join("campaign.checkpoint"), checkpoint.to_string()).unwrap();
    let out = bpfdiff(&[&"campaign", &"--resume", &save, &"--json"]);
    let resumed: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(resumed["programs"], 200, "{resumed}");
    assert_eq!(
        resumed["verdict_matrix"], whole["verdict_matrix"],
        "{resumed}"
    );
}
