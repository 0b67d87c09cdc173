//! Happy paths of `bpfdiff run`, `asm`, `disasm` and `conformance`.

mod common;

use common::{assert_success, bpfdiff, slot, stdout, Scratch};

#[test]
fn run_prints_r0_in_hex() {
    let dir = Scratch::new("run-r0");
    let prog = dir.write("p.s", "r0 = 42\nexit\n");
    let out = bpfdiff(&[&"run", &prog]);
    assert_eq!(assert_success(&out), "0x2a\n");
}

#[test]
fn run_reads_memory_from_the_argument_or_a_file() {
    // DESIGN.md "Input": r1 points to the memory, r2 holds its length.
    let dir = Scratch::new("run-mem");
    let prog = dir.write("p.s", "r0 = *(u8 *)(r1 +1)\nr0 += r2\nexit\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem", &"aa bb cc"]);
    assert_eq!(assert_success(&out), "0xbe\n"); // 0xbb + 3
    let mem = dir.write("m.hex", "# two bytes\n01\n02\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem-file", &mem]);
    assert_eq!(assert_success(&out), "0x4\n");
}

#[test]
fn run_reports_faults_and_budget_with_exit_0() {
    let dir = Scratch::new("run-fault");
    // A 4-byte load at offset 6 of 8 bytes of memory is out of bounds.
    let prog = dir.write("f.s", "r0 = *(u32 *)(r1 +6)\nexit\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem", &"0000000000000000"]);
    let text = assert_success(&out);
    assert!(text.starts_with("fault: out-of-bounds"), "{text}");
    assert!(text.contains("(insn 0)"), "{text}");
    let spin = dir.write("spin.bin", slot(0x05, 0, 0, -1, 0));
    let out = bpfdiff(&[&"run", &spin, &"--budget", &"100"]);
    assert_eq!(assert_success(&out), "out of budget\n");
}

#[test]
fn run_marks_pointer_derived_results() {
    let dir = Scratch::new("run-ptr");
    let prog = dir.write("p.s", "r0 = r1\nexit\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem", &"00"]);
    let text = assert_success(&out);
    assert!(text.trim_end().ends_with("(pointer-derived)"), "{text}");
}

#[test]
fn run_json_has_every_field() {
    let dir = Scratch::new("run-json");
    let prog = dir.write("p.s", "*(u8 *)(r1 +0) = 7\nr0 = 5\nexit\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem", &"0001", &"--json"]);
    let text = assert_success(&out);
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(v["result"], "returned");
    assert_eq!(v["r0"], "0x5");
    assert_eq!(v["r0_derived"], false);
    assert!(v["fault"].is_null());
    assert_eq!(v["insns_executed"], 3);
    assert_eq!(v["mem_after"], "0701");

    let prog = dir.write("f.s", "r0 = *(u64 *)(r1 +0)\nexit\n");
    let out = bpfdiff(&[&"run", &prog, &"--json", &"--mem", &"00"]);
    let v: serde_json::Value = serde_json::from_str(&assert_success(&out)).unwrap();
    assert_eq!(v["result"], "fault");
    assert_eq!(v["fault"]["kind"], "out-of-bounds");
    assert_eq!(v["fault"]["pc"], 0);
    assert_eq!(v["fault"]["size"], 8);
    assert!(v["r0"].is_null());
}

#[test]
fn run_data_file_uses_its_memory_unless_overridden() {
    let dir = Scratch::new("run-data");
    let test = dir.write(
        "t.data",
        "-- asm\nldxb %r0, [%r1+2]\nexit\n-- mem\naa bb 11 cc\n-- result\n0x11\n",
    );
    let out = bpfdiff(&[&"run", &test]);
    assert_eq!(assert_success(&out), "0x11\n");
    let out = bpfdiff(&[&"run", &test, &"--mem", &"000000ff"]);
    // The override replaces the memory: byte 2 is now 0.
    assert_eq!(assert_success(&out), "0x0\n");
}

#[test]
fn run_dialect_and_raw_inputs() {
    let dir = Scratch::new("run-formats");
    let casm = dir.write("p.casm", "mov %r0, 7\nadd %r0, 1\nexit\n");
    assert_eq!(assert_success(&bpfdiff(&[&"run", &casm])), "0x8\n");
    let raw = dir.write(
        "p.raw",
        [slot(0xb7, 0, 0, 0, 9), slot(0x95, 0, 0, 0, 0)].concat(),
    );
    assert_eq!(assert_success(&bpfdiff(&[&"run", &raw])), "0x9\n");
    // --format overrides the extension.
    let txt = dir.write("p.prog", "mov %r0, 3\nexit\n");
    let out = bpfdiff(&[&"run", &txt, &"--format", &"conformance-asm"]);
    assert_eq!(assert_success(&out), "0x3\n");
}

#[test]
fn kernel_syntax_round_trip_asm_bytes_disasm() {
    let dir = Scratch::new("roundtrip-kernel");
    let src = dir.write(
        "p.s",
        "r0 = 42\nr1 = 0x123456789 ll\nif r1 > r0 goto pc+1\nr0 += 1\nexit\n",
    );
    let bin = dir.path().join("p.bin");
    assert_success(&bpfdiff(&[&"asm", &src, &"-o", &bin]));
    let bytes = std::fs::read(&bin).unwrap();
    assert_eq!(bytes.len(), 6 * 8, "ld_imm64 takes two slots");
    assert_eq!(&bytes[..8], &slot(0xb7, 0, 0, 0, 42));
    assert_eq!(&bytes[40..], &slot(0x95, 0, 0, 0, 0));

    let listing = assert_success(&bpfdiff(&[&"disasm", &bin]));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 5, "{listing}");
    assert_eq!(lines[0], "0: (b7) r0 = 42");
    assert!(
        lines[1].starts_with("1: (18) r1 = 0x123456789"),
        "{listing}"
    );
    assert!(lines[2].starts_with("3: (2d) "), "{listing}");
    assert_eq!(lines[4], "5: (95) exit");

    // The listing assembles back to the same bytes.
    let relisted = dir.write("again.s", &listing);
    let bin2 = dir.path().join("again.bin");
    assert_success(&bpfdiff(&[&"asm", &relisted, &"-o", &bin2]));
    assert_eq!(std::fs::read(&bin2).unwrap(), bytes);
}

#[test]
fn dialect_round_trip_asm_bytes_disasm() {
    let dir = Scratch::new("roundtrip-dialect");
    let src = dir.write(
        "p.casm",
        "mov %r0, 1\nlddw %r2, 0x100000000\njne %r0, 1, +1\nstxdw [%r10-8], %r2\nexit\n",
    );
    let bin = dir.path().join("p.bin");
    assert_success(&bpfdiff(&[&"asm", &src, &"-o", &bin]));
    let bytes = std::fs::read(&bin).unwrap();
    assert_eq!(bytes.len(), 6 * 8);
    let listing = assert_success(&bpfdiff(&[&"disasm", &bin, &"--syntax", &"conformance"]));
    let relisted = dir.write("again.casm", &listing);
    let bin2 = dir.path().join("again.bin");
    assert_success(&bpfdiff(&[&"asm", &relisted, &"-o", &bin2]));
    assert_eq!(std::fs::read(&bin2).unwrap(), bytes, "{listing}");
}

#[test]
fn conformance_reports_failures_and_exits_1() {
    let dir = Scratch::new("conformance-fail");
    dir.write(
        "a-pass.data",
        "-- asm\nmov %r0, 1\nadd %r0, 2\nexit\n-- result\n0x3\n",
    );
    dir.write("b-fail.data", "-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n");
    dir.write("notes.txt", "not a test");
    let out = bpfdiff(&[&"conformance", &dir.path()]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "FAIL b-fail.data: expected 0x2, got 0x1",
            "1 passed, 1 failed"
        ]
    );
}

#[test]
fn conformance_all_passing_exits_0() {
    let dir = Scratch::new("conformance-pass");
    dir.write("one.data", "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n");
    // `-- error`: passes when the run fails with a message containing the text.
    dir.write(
        "two.data",
        "-- asm\nldxw %r0, [%r1+6]\nexit\n-- mem\n00 00 00 00 00 00 00 00\n-- error\nout-of-bounds\n",
    );
    let out = bpfdiff(&[&"conformance", &dir.path(), &"--verbose"]);
    let text = assert_success(&out);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["ok one.data", "ok two.data", "2 passed, 0 failed"]
    );
}

#[test]
fn conformance_counts_invalid_files_as_failures() {
    let dir = Scratch::new("conformance-invalid");
    dir.write("bad.data", "-- asm\nfrobnicate\nexit\n-- result\n0x0\n");
    dir.write("spin.data", "-- asm\nja -1\n-- result\n0x0\n");
    let out = bpfdiff(&[&"conformance", &dir.path(), &"--budget", &"50"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("FAIL bad.data: invalid test file: "),
        "{text}"
    );
    assert!(text.contains("bad.data:2"), "{text}");
    assert!(
        text.contains("FAIL spin.data: expected 0x0, got error: out of budget"),
        "{text}"
    );
    assert!(text.ends_with("0 passed, 2 failed\n"), "{text}");
}

#[test]
fn conformance_on_an_empty_directory_is_bad_input() {
    // Zero tests found tested nothing: exit 2, naming the directory.
    let dir = Scratch::new("conformance-empty");
    let out = bpfdiff(&[&"conformance", &dir.path()]);
    common::assert_input_error(&out, "no *.data tests");
}
