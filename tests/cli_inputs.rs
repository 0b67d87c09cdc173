//! What `run`, `diff` and `conformance` accept as input: the budget's
//! documented meaning, memory in one hex syntax everywhere, `--mem-file` on
//! `diff`, repeated `.data` sections, and regression files that load back.

mod common;

use bpfdiff::fuzz_glue::regression_data;
use bpfdiff::gen::case::Case;
use bpfdiff::gen::Knobs;
use bpfdiff::input::{read_program, InputError};
use common::{assert_input_error, assert_success, bpfdiff, slot, stdout, Scratch};

#[test]
fn budget_is_checked_at_backward_jumps_and_calls_only() {
    // docs/cli.md "--budget": straight-line code always runs to its end.
    let dir = Scratch::new("budget");
    let mut straight = Vec::new();
    for _ in 0..1000 {
        straight.extend(slot(0x07, 0, 0, 0, 1)); // r0 += 1 (RFC 9669 ALU64 ADD K)
    }
    straight.extend(slot(0x95, 0, 0, 0, 0));
    let big = dir.write("big.bin", &straight);
    let out = bpfdiff(&[&"run", &big, &"--budget", &"10"]);
    assert_eq!(assert_success(&out), "0x3e8\n");
    // A loop (a taken backward jump) stops once the count passes the budget.
    let spin = dir.write("spin.bin", slot(0x05, 0, 0, -1, 0));
    let out = bpfdiff(&[&"run", &spin, &"--budget", &"10"]);
    assert_eq!(assert_success(&out), "out of budget\n");
    // A budget of 0 is refused.
    let out = bpfdiff(&[&"run", &big, &"--budget", &"0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bpfdiff(&[&"conformance", &dir.path(), &"--budget", &"0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn memory_has_one_syntax_in_mem_mem_file_and_data_files() {
    let dir = Scratch::new("mem-syntax");
    let prog = dir.write("p.s", "r0 = *(u16 *)(r1 +0)\nexit\n");
    for mem in ["aabb", "aa bb", "0xaabb", "0XAA,bb"] {
        let out = bpfdiff(&[&"run", &prog, &"--mem", &mem]);
        assert_eq!(assert_success(&out), "0xbbaa\n", "--mem {mem}");
    }
    let file = dir.write("m.hex", "0xaabb # two bytes\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem-file", &file]);
    assert_eq!(assert_success(&out), "0xbbaa\n");
    let data = dir.write(
        "t.data",
        "-- asm\nldxh %r0, [%r1]\nexit\n-- mem\naabb\n-- result\n0xbbaa\n",
    );
    let out = bpfdiff(&[&"run", &data]);
    assert_eq!(assert_success(&out), "0xbbaa\n");
}

#[test]
fn diff_takes_mem_file_for_memory_too_large_for_the_command_line() {
    let dir = Scratch::new("diff-mem-file");
    let prog = dir.write("p.s", "r0 = r2\nexit\n");
    // 200 KiB of hex text: more than one argument may hold (128 KiB).
    let len = 100 * 1024;
    let file = dir.write("big.hex", "00".repeat(len));
    let out = bpfdiff(&[
        &"diff",
        &prog,
        &"--backends",
        &"interp",
        &"--mem-file",
        &file,
    ]);
    let text = assert_success(&out);
    assert!(text.contains(&format!("0x{len:x}")), "{text}");
    let out = bpfdiff(&[&"diff", &prog, &"--mem", &"00", &"--mem-file", &file]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_second_result_section_is_an_error_naming_its_line() {
    let dir = Scratch::new("dup-result");
    let data = dir.write("t.data", "-- asm\nexit\n-- result\n0x1\n-- result\n0x2\n");
    let out = bpfdiff(&[&"run", &data]);
    assert_input_error(
        &out,
        "t.data:5: second `-- result` section (the first is at line 3)",
    );
}

#[test]
fn every_suggested_regression_file_loads_back() {
    let dir = Scratch::new("regressions");
    let knobs = Knobs::default();
    let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0, 0, 0]];
    // Deterministic pseudo-random fuzz inputs of every mode (xorshift64).
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..400 {
        let len = (i * 7) % 90;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        inputs.push(bytes);
    }
    let mut files = 0;
    for (i, bytes) in inputs.iter().enumerate() {
        let case = Case::from_fuzz_bytes(bytes, &knobs);
        let Some(text) = regression_data(&case) else {
            assert!(
                case.program.is_empty(),
                "input {i}: no file for a real program"
            );
            continue;
        };
        let path = dir.write(&format!("r{i}.data"), &text);
        match read_program(&path, None) {
            Ok(input) => {
                assert_eq!(input.program, case.program, "input {i}:\n{text}");
                assert_eq!(input.mem.as_deref(), Some(case.input.as_slice()));
            }
            // An undecodable program loads but is refused for running, and
            // its file expects exactly that error.
            Err(InputError::Decode { .. }) => assert!(text.contains("-- error"), "{text}"),
            Err(e) => panic!("input {i}: `bpfdiff run` cannot load the suggestion: {e}\n{text}"),
        }
        files += 1;
    }
    assert!(files > 300, "only {files} files were checked");
    // The empty program: no file is suggested, and the finding says why.
    assert!(regression_data(&Case::default()).is_none());
    // The files pass as conformance tests on the engine they were written from.
    let out = bpfdiff(&[&"conformance", &dir.path()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
}
