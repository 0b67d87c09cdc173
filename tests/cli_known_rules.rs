//! Which known-divergence rules `bpfdiff diff` and `bpfdiff campaign` apply:
//! the project's rules are built in, so the answer does not depend on the
//! directory the command runs in; a named rules file that is missing is bad
//! input (exit 2), never "no rules"; `--known none` runs without rules.

mod common;

use common::{assert_input_error, stderr, stdout, Scratch};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// Runs the built `bpfdiff` in `dir` with `BPFDIFF_KNOWN` set to `env` (or
/// removed).
fn bpfdiff_in(dir: &Path, env: Option<&str>, args: &[&dyn AsRef<OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bpfdiff"));
    cmd.current_dir(dir).args(args.iter().map(|a| a.as_ref()));
    match env {
        Some(v) => cmd.env("BPFDIFF_KNOWN", v),
        None => cmd.env_remove("BPFDIFF_KNOWN"),
    };
    cmd.output().expect("start bpfdiff")
}

/// RFC 9669 §4.3: the 32-bit immediate of a 64-bit JEQ is sign-extended, so
/// after `mov32 r1, -1` (r1 = 0xffffffff) `jeq r1, -1` is not taken and the
/// program returns 1. rbpf 0.4.1 zero-extends it, takes the jump and
/// returns 0: the triaged rule `rbpf-jmp-imm-zero-extended`.
const JMP_IMM: &str = "mov32 %r1, -1\njeq %r1, -1, +1\nmov %r0, 1\nexit\n";

fn exit_code(out: &Output) -> Option<i32> {
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
    out.status.code()
}

#[test]
fn the_builtin_rules_apply_from_any_directory() {
    let s = Scratch::new("known-anywhere");
    let prog = s.write("p.casm", JMP_IMM);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args: [&dyn AsRef<OsStr>; 4] = [&"diff", &prog, &"--backends", &"interp,rbpf"];
    let elsewhere = bpfdiff_in(s.path(), None, &args);
    let text = stdout(&elsewhere);
    assert_eq!(
        exit_code(&elsewhere),
        Some(0),
        "{text}{}",
        stderr(&elsewhere)
    );
    assert!(
        text.contains("rbpf: r0: 0x1 vs 0x0 [known: rbpf-jmp-imm-zero-extended]"),
        "{text}"
    );
    assert!(
        text.contains("rbpf-jmp-imm-zero-extended (r0 on rbpf): 1 match(es)"),
        "{text}"
    );
    let at_root = bpfdiff_in(root, None, &args);
    assert_eq!(exit_code(&at_root), Some(0));
    assert_eq!(stdout(&at_root), text, "the same answer from the repo root");
    // Naming the checkout's own rules file on top changes nothing: its
    // rules replace the built-in ones of the same name.
    let rules = root.join("corpus/known-divergences.json");
    let out = bpfdiff_in(
        s.path(),
        None,
        &[
            &"diff",
            &prog,
            &"--backends",
            &"interp,rbpf",
            &"--known",
            &rules,
        ],
    );
    assert_eq!(exit_code(&out), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("rbpf-jmp-imm-zero-extended (r0 on rbpf): 1 match(es)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_missing_rules_file_is_bad_input() {
    let s = Scratch::new("known-missing");
    let prog = s.write("p.casm", JMP_IMM);
    let missing = s.path().join("no-such-rules.json");
    let missing_name = missing.display().to_string();
    let out = bpfdiff_in(
        s.path(),
        None,
        &[
            &"diff",
            &prog,
            &"--backends",
            &"interp,rbpf",
            &"--known",
            &missing,
        ],
    );
    assert_input_error(&out, &missing_name);
    assert!(
        stderr(&out).contains("known-divergence rules"),
        "{}",
        stderr(&out)
    );
    // The same through the environment variable.
    let out = bpfdiff_in(
        s.path(),
        Some(&missing_name),
        &[&"diff", &prog, &"--backends", &"interp,rbpf"],
    );
    assert_input_error(&out, &missing_name);
    // And for `campaign`, before anything runs.
    let out = bpfdiff_in(
        s.path(),
        None,
        &[
            &"campaign",
            &"--programs",
            &"1",
            &"--backends",
            &"interp",
            &"--known",
            &"typo.json",
        ],
    );
    assert_input_error(&out, "typo.json");
}

#[test]
fn known_none_runs_without_rules() {
    let s = Scratch::new("known-none");
    let prog = s.write("p.casm", JMP_IMM);
    for (env, extra) in [(None, Some("--known=none")), (Some("none"), None)] {
        let mut args: Vec<&dyn AsRef<OsStr>> = vec![&"diff", &prog, &"--backends", &"interp,rbpf"];
        if let Some(e) = &extra {
            args.push(e);
        }
        let out = bpfdiff_in(s.path(), env, &args);
        let text = stdout(&out);
        assert_eq!(exit_code(&out), Some(1), "{env:?} {extra:?}: {text}");
        assert!(text.contains("rbpf: r0: 0x1 vs 0x0\n"), "{text}");
        assert!(!text.contains("[known:"), "{text}");
        assert!(text.contains("known divergences: none defined"), "{text}");
    }
    let out = bpfdiff_in(
        s.path(),
        None,
        &[&"diff", &prog, &"--known", &"none", &"--known", &"x.json"],
    );
    assert_input_error(&out, "--known none cannot be combined");
}

#[test]
fn a_named_file_adds_to_the_builtin_rules_or_replaces_them() {
    let s = Scratch::new("known-extra");
    let prog = s.write("p.casm", JMP_IMM);
    let extra = s.write(
        "extra.json",
        r#"[{"name": "test-any-rbpf-r0", "reason": "test", "backend": "rbpf", "aspect": "r0"}]"#,
    );
    let base: [&dyn AsRef<OsStr>; 6] = [
        &"diff",
        &prog,
        &"--backends",
        &"interp,rbpf",
        &"--known",
        &extra,
    ];
    let out = bpfdiff_in(s.path(), None, &base);
    let text = stdout(&out);
    assert_eq!(exit_code(&out), Some(0), "{text}");
    // The built-in rules come first and still explain it.
    assert!(
        text.contains("[known: rbpf-jmp-imm-zero-extended]"),
        "{text}"
    );
    assert!(text.contains(" + "), "both sources named: {text}");
    let mut only: Vec<&dyn AsRef<OsStr>> = base.to_vec();
    only.push(&"--no-builtin-rules");
    let out = bpfdiff_in(s.path(), None, &only);
    let text = stdout(&out);
    assert_eq!(exit_code(&out), Some(0), "{text}");
    assert!(text.contains("[known: test-any-rbpf-r0]"), "{text}");
    assert!(text.contains("known divergences: 1 rule(s)"), "{text}");
}
