//! The engine JIT from the command line: `run --backend jit`, `jit-dump`,
//! and the `jit` backend in `diff`.

mod common;

use common::{bpfdiff, stdout, Scratch};

#[test]
fn run_on_the_jit_matches_the_interpreter() {
    let s = Scratch::new("jit-run");
    let f = s.write("p.s", "r0 = r2\nr0 += 40\n*(u8 *)(r1 +0) = 7\nexit\n");
    for backend in ["interp", "jit"] {
        let out = bpfdiff(&[&"run", &f, &"--mem", &"00 01", &"--backend", &backend]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(stdout(&out), "0x2a\n", "{backend}");
    }
    // Faults come back with the same kind and instruction from both.
    let f = s.write("oob.s", "r0 = *(u64 *)(r1 +8)\nexit\n");
    let i = stdout(&bpfdiff(&[
        &"run",
        &f,
        &"--mem",
        &"00",
        &"--backend",
        &"interp",
    ]));
    let j = stdout(&bpfdiff(&[
        &"run",
        &f,
        &"--mem",
        &"00",
        &"--backend",
        &"jit",
    ]));
    assert!(i.contains("out-of-bounds") && i.contains("insn 0"), "{i}");
    assert_eq!(i, j);
}

#[test]
fn jit_dump_shows_machine_code_under_each_instruction() {
    let s = Scratch::new("jit-dump");
    let f = s.write("p.s", "r0 = 42\nexit\n");
    let out = bpfdiff(&[&"jit-dump", &f]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(text.contains("0: (b7) r0 = 42"), "{text}");
    assert!(text.contains("1: (95) exit"), "{text}");
    assert!(text.contains("mov"), "{text}");
    let out = bpfdiff(&[&"jit-dump", &f, &"--unchecked"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn diff_with_the_jit_agrees() {
    let s = Scratch::new("jit-diff");
    let f = s.write("p.casm", "mov %r0, -6\nsdiv %r0, 2\nlsh32 %r0, 33\nexit\n");
    let out = bpfdiff(&[&"diff", &f, &"--backends", &"interp,jit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("comparison: agree"));
}
