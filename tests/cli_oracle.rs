//! `bpfdiff diff`, `bpfdiff conformance --backend` and the plugin protocol,
//! end to end through the built binaries, on the real rbpf crate and (as
//! root) the real kernel.

mod common;

use common::{bpfdiff, stderr, stdout, Scratch};
use std::io::Write;
use std::process::{Command, Stdio};

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

#[test]
fn diff_agrees_and_exits_zero() {
    let s = Scratch::new("diff-agree");
    let f = s.write("p.s", "r0 = r2\nr0 += 40\nexit\n");
    let backends = if kernel_available() {
        "interp,rbpf,rbpf-jit,kernel"
    } else {
        "interp,rbpf,rbpf-jit"
    };
    let out = bpfdiff(&[&"diff", &f, &"--mem", &"01 02", &"--backends", &backends]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("comparison: agree"), "{text}");
    assert_eq!(
        text.matches("r0 = 0x2a").count(),
        backends.split(',').count(),
        "{text}"
    );
}

#[test]
fn diff_reports_a_real_rbpf_divergence_and_exits_one() {
    // rbpf 0.4.1 ignores the off field of DIV (RFC 9669 §4.1: off = 1 is SDIV):
    // -6 s/ 2 = -3 on the engine, 0x7ffffffffffffffd on rbpf.
    let s = Scratch::new("diff-sdiv");
    let f = s.write("p.casm", "mov %r0, -6\nsdiv %r0, 2\nexit\n");
    let args: [&dyn AsRef<std::ffi::OsStr>; 8] = [
        &"diff",
        &f,
        &"--backends",
        &"interp,rbpf",
        &"--json",
        &"--known",
        &"none",
        &"--format=conformance-asm",
    ];
    let out = bpfdiff(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["comparison"]["comparison"], "diverge");
    assert_eq!(json["comparison"]["differences"][0]["aspect"], "r0");
    // With the project's triaged rules (built in) it is a known divergence:
    // marked, counted, and not a failure.
    let out = bpfdiff(&[&"diff", &f, &"--backends", &"interp,rbpf"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("[known: rbpf-ignores-sdiv-smod-offset]"),
        "{text}"
    );
    assert!(
        text.contains("rbpf-ignores-sdiv-smod-offset (r0 on rbpf): 1 match(es)"),
        "{text}"
    );
}

#[test]
fn diff_rejects_an_unknown_backend_with_exit_two() {
    let s = Scratch::new("diff-bad");
    let f = s.write("p.s", "exit\n");
    let out = bpfdiff(&[&"diff", &f, &"--backends", &"interp,ubpf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown backend `ubpf`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn conformance_on_rbpf_lists_disagreements_without_dying() {
    let s = Scratch::new("conf-rbpf");
    s.write("ok.data", "-- asm\nmov %r0, 5\nexit\n-- result\n0x5\n");
    s.write(
        "neg.data",
        "-- asm\nlddw %r0, 0x8000000000000000\nneg %r0\nexit\n-- result\n0x8000000000000000\n",
    );
    for backend in ["rbpf", "rbpf-jit"] {
        let out = bpfdiff(&[&"conformance", &s.path(), &"--backend", &backend]);
        let text = stdout(&out);
        assert!(
            text.ends_with("passed, 1 failed\n") || text.contains("2 passed"),
            "{backend}: {text}"
        );
        assert!(out.status.code().is_some(), "the harness must not die");
    }
}

#[test]
fn conformance_on_the_kernel_skips_refusals_with_the_reason() {
    if !kernel_available() {
        return;
    }
    let s = Scratch::new("conf-kernel");
    s.write("ok.data", "-- asm\nmov %r0, 5\nexit\n-- result\n0x5\n");
    // SEMANTICS.md: the verifier refuses an immediate shift ≥ the width.
    s.write(
        "shift.data",
        "-- asm\nmov %r0, 1\nlsh %r0, 65\nexit\n-- result\n0x2\n",
    );
    let out = bpfdiff(&[&"conformance", &s.path(), &"--backend", &"kernel"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("skip shift.data: rejected by kernel (errno 22): invalid shift 65"),
        "{text}"
    );
    assert!(text.ends_with("1 passed, 0 failed, 1 skipped\n"), "{text}");
}

fn plugin(args: &[&str], program_hex: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfdiff-plugin"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(program_hex.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn plugin_speaks_the_bpf_conformance_protocol() {
    // r0 = r2 (memory length); exit. Memory first, then plugin options, as
    // the upstream runner orders them.
    let prog = "bf  20  00  00  00  00  00  00  95  00  00  00  00  00  00  00  ";
    let out = plugin(&["01  02  03  "], prog);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    let backend = if kernel_available() { "kernel" } else { "rbpf" };
    let out = plugin(&["01  02  03  ", "--backend", backend], prog);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "3\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Empty arguments (from double spaces in --plugin_options) are ignored,
    // and the program may come as `--program HEX` instead of stdin.
    let out = plugin(
        &["01  02  03  ", "", "--backend", "interp", "--program", prog],
        "",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "3\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Errors go to stderr with a non-zero exit.
    let out = plugin(&[], "8f 00 00 00 00 00 00 00");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown opcode 0x8f"));
    // The subcommand form works the same.
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfdiff"))
        .args(["plugin", "aa bb"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(prog.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n");
}

/// A slot the engine cannot decode is not bad input for `diff`: it is
/// part of what is compared. `exit` with imm = 1 (RFC 9669 §3: reserved
/// fields must be zero) is refused by the engine and the kernel; rbpf runs
/// it, which is the known rule `rbpf-accepts-nonzero-reserved-fields`.
/// Before, `diff` refused the file with exit 2, so a regression case of a
/// too-lax backend could not be diffed at all. `run` still refuses it.
#[test]
fn diff_compares_a_program_the_engine_cannot_decode() {
    let s = Scratch::new("diff-undecodable");
    let f = s.write(
        "reserved.data",
        "-- raw\n0x00000007000000b7\n0x0000000100000095\n-- error\nreserved field\n",
    );
    let out = bpfdiff(&[&"diff", &f, &"--backends", &"interp,rbpf"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("insn 1: exit (0x95) uses reserved field imm = 1"),
        "the engine's refusal is named: {}",
        stderr(&out)
    );
    assert!(
        text.contains("[known: rbpf-accepts-nonzero-reserved-fields]"),
        "{text}"
    );
    let run = bpfdiff(&[&"run", &f]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
}

#[test]
fn diff_calls_a_layout_dependent_difference_inconclusive_as_replay_does() {
    // r0 = 1 when the low half of the input pointer is zero: the engine's
    // interpreter puts the input at 0x100000000, its JIT at a host address.
    // The result depends on where memory lies, not on a bug, so `diff`
    // says inconclusive (with the instruction) and exits 0, as campaigns
    // and `replay` do.
    let s = Scratch::new("diff-address-branch");
    let f = s.write(
        "p.casm",
        "mov %r0, 0\njne32 %r1, 0, L3\nmov %r0, 1\nL3:\nexit\n",
    );
    let args: [&dyn AsRef<std::ffi::OsStr>; 8] = [
        &"diff",
        &f,
        &"--backends",
        &"interp,jit",
        &"--mem",
        &"00 00",
        &"--known",
        &"none",
    ];
    let out = bpfdiff(&args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("r0 = 0x1"), "the engine's run: {text}");
    assert!(text.contains("comparison: inconclusive"), "{text}");
    assert!(text.contains("insn 1 branches on a value"), "{text}");
}
