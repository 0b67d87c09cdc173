//! Bad input must give one clear line on stderr that names the place (file
//! and line, or instruction index), exit code 2, and never a panic.

mod common;

use common::{assert_input_error, bpfdiff, slot, Scratch};

fn concat(slots: &[[u8; 8]]) -> Vec<u8> {
    slots.concat()
}

#[test]
fn truncated_bytecode_names_the_instruction_index() {
    let dir = Scratch::new("truncated");
    let mut bytes = concat(&[slot(0xb7, 0, 0, 0, 1), slot(0x95, 0, 0, 0, 0)]);
    bytes.truncate(13);
    let file = dir.write("t.bin", &bytes);
    let out = bpfdiff(&[&"run", &file]);
    assert_input_error(&out, "t.bin: insn 1: truncated");
    let out = bpfdiff(&[&"disasm", &file]);
    assert_input_error(&out, "t.bin: insn 1: truncated");
}

#[test]
fn unknown_opcode_names_the_instruction_index() {
    // 0x8f would be NEG with a register source, which does not exist
    // (SEMANTICS.md: NEG exists only in the K form).
    let dir = Scratch::new("unknown-opcode");
    let file = dir.write(
        "u.bin",
        concat(&[slot(0xb7, 0, 0, 0, 0), slot(0x8f, 0, 0, 0, 0)]),
    );
    let out = bpfdiff(&[&"run", &file]);
    assert_input_error(&out, "u.bin: insn 1: unknown opcode 0x8f");
}

#[test]
fn nonzero_reserved_field_names_the_instruction_index() {
    // RFC 9669 §4.3: exit has every field reserved; imm = 1 is invalid.
    let dir = Scratch::new("reserved");
    let file = dir.write(
        "r.bin",
        concat(&[slot(0xb7, 0, 0, 0, 0), slot(0x95, 0, 0, 0, 1)]),
    );
    for cmd in ["run", "disasm"] {
        let out = bpfdiff(&[&cmd, &file]);
        assert_input_error(&out, "r.bin: insn 1: exit (0x95) uses reserved field imm");
    }
}

#[test]
fn unknown_mnemonic_names_file_and_line() {
    let dir = Scratch::new("mnemonic");
    let kernel = dir.write("k.s", "r0 = 1\nfrobnicate r1\nexit\n");
    let dialect = dir.write("c.casm", "mov %r0, 1\nfrobnicate %r1\nexit\n");
    for file in [&kernel, &dialect] {
        let name = file.file_name().unwrap().to_str().unwrap();
        let out = bpfdiff(&[&"run", &file]);
        assert_input_error(&out, &format!("{name}:2: "));
    }
    let out = bpfdiff(&[&"asm", &kernel, &"-o", &dir.path().join("k.bin")]);
    assert_input_error(&out, "k.s:2: ");
    assert!(!dir.path().join("k.bin").exists(), "no output on error");
}

#[test]
fn bad_operand_names_file_and_line() {
    let dir = Scratch::new("operand");
    // r11 is not a register (RFC 9669 §2: r0..r10).
    let kernel = dir.write("k.s", "r0 = 0\n\nr11 = 1\nexit\n");
    let out = bpfdiff(&[&"run", &kernel]);
    assert_input_error(&out, "k.s:3: ");
    // An immediate that does not fit 32 bits.
    let dialect = dir.write("c.casm", "# comment\nmov %r0, 0x123456789\nexit\n");
    let out = bpfdiff(&[&"run", &dialect]);
    assert_input_error(&out, "c.casm:2: ");
}

#[test]
fn bad_mem_hex_names_the_position() {
    let dir = Scratch::new("mem");
    let prog = dir.write("p.s", "r0 = 0\nexit\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem", &"00 1z"]);
    assert_input_error(&out, "--mem: column 5: `z` is not a hex digit");
    let out = bpfdiff(&[&"run", &prog, &"--mem", &"00 123"]);
    assert_input_error(&out, "--mem: column 4: `123` has an odd number");
    let mem = dir.write("m.hex", "00 01\n02 0g\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem-file", &mem]);
    assert_input_error(&out, "m.hex:2:5: `g` is not a hex digit");
}

#[test]
fn missing_files_are_named() {
    let dir = Scratch::new("missing");
    let missing = dir.path().join("nope.bin");
    let out = bpfdiff(&[&"run", &missing]);
    assert_input_error(&out, "nope.bin: cannot read");
    let prog = dir.write("p.s", "r0 = 0\nexit\n");
    let out = bpfdiff(&[&"run", &prog, &"--mem-file", &missing]);
    assert_input_error(&out, "nope.bin: cannot read");
    let out = bpfdiff(&[&"disasm", &missing]);
    assert_input_error(&out, "nope.bin: cannot read");
    let out = bpfdiff(&[&"conformance", &dir.path().join("no-such-dir")]);
    assert_input_error(&out, "no-such-dir: cannot read directory");
}

#[test]
fn malformed_data_file_names_file_and_line() {
    let dir = Scratch::new("data");
    let file = dir.write(
        "bad.data",
        "# a test\n-- asm\nmov %r0, 1\nexit\n-- result\nnot-a-number\n",
    );
    let out = bpfdiff(&[&"run", &file]);
    assert_input_error(&out, "bad.data:6");
    // An assembly error inside `-- asm` names the line of the .data file.
    let file = dir.write(
        "asm.data",
        "-- asm\nmov %r0, 1\nfrobnicate\nexit\n-- result\n0x1\n",
    );
    let out = bpfdiff(&[&"run", &file]);
    assert_input_error(&out, "asm.data:3");
}

#[test]
fn unknown_extension_asks_for_a_format() {
    let dir = Scratch::new("extension");
    let file = dir.write("p.o", concat(&[slot(0x95, 0, 0, 0, 0)]));
    let out = bpfdiff(&[&"run", &file]);
    assert_input_error(&out, "p.o: cannot tell the format");
    let out = bpfdiff(&[&"run", &file, &"--format", &"raw"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn empty_program_is_refused() {
    let dir = Scratch::new("empty");
    let file = dir.write("e.bin", b"");
    let out = bpfdiff(&[&"run", &file]);
    assert_input_error(&out, "e.bin: the program is empty");
}

#[test]
fn unwritable_output_is_named() {
    let dir = Scratch::new("unwritable");
    let src = dir.write("p.s", "r0 = 0\nexit\n");
    let out_path = dir.path().join("no-such-dir").join("p.bin");
    let out = bpfdiff(&[&"asm", &src, &"-o", &out_path]);
    assert_input_error(&out, "p.bin: cannot write");
}

#[test]
fn bad_arguments_exit_2() {
    let out = bpfdiff(&[&"run"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bpfdiff(&[&"run", &"x.bin", &"--budget", &"lots"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bpfdiff(&[&"frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!common::stderr(&out).contains("panicked"));
}
