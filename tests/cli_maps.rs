//! `-- maps` / `--maps FILE` through `run`, `verify` and `diff`
//! (docs/program-types.md, "Maps").

mod common;

use common::{assert_input_error, assert_success, bpfdiff, Scratch};

const UPDATE: &str = "# kernel/bpf/hashtab.c htab_map_update_elem
-- prog-type
syscall
-- maps
hash key=4 value=8 entries=2
-- asm
stw [%r10-4], 7
stdw [%r10-16], 0x55
mov %r2, %r10
add %r2, -4
mov %r3, %r10
add %r3, -16
mov %r4, 1
lddw_map_fd %r1, 0
call 2
exit
-- result
0
";

#[test]
fn run_prints_the_maps_after_the_run() {
    let dir = Scratch::new("maps-run");
    let f = dir.write("u.data", UPDATE);
    let out = bpfdiff(&[&"run", &f, &"--verify"]);
    assert_eq!(
        assert_success(&out),
        "0x0\nmap 0 key 07000000: value 5500000000000000\n"
    );
    // BPF_NOEXIST on a key --maps already holds: -EEXIST, map unchanged.
    let json = dir.write(
        "m.json",
        r#"[{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 2,
            "elements": [{"key": "07000000", "value": "0100000000000000"}]}]"#,
    );
    let out = bpfdiff(&[&"run", &f, &"--maps", &json]);
    assert_eq!(
        assert_success(&out),
        "0xffffffef\nmap 0 key 07000000: value 0100000000000000\n"
    );
}

#[test]
fn bad_maps_are_input_errors_naming_the_place() {
    let dir = Scratch::new("maps-bad");
    let f = dir.write("b.data", UPDATE.replace("entries=2", "entries=x"));
    let out = bpfdiff(&[&"run", &f]);
    assert_input_error(&out, "b.data:5: invalid maps");
    let good = dir.write("u.data", UPDATE);
    let json = dir.write("m.json", "[{\"type\": \"hash\",\n");
    let out = bpfdiff(&[&"run", &good, &"--maps", &json]);
    assert_input_error(&out, "m.json:2:");
    let out = bpfdiff(&[&"run", &good, &"--backend", &"jit"]);
    assert_input_error(&out, "the JIT does not run programs with maps");
}

#[test]
fn diff_compares_map_contents_with_the_kernel() {
    let k = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    if let Some(why) = k.unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let dir = Scratch::new("maps-diff");
    let f = dir.write("u.data", UPDATE);
    let out = bpfdiff(&[&"diff", &f, &"--backends", &"interp,kernel"]);
    let text = assert_success(&out);
    assert!(
        text.contains("kernel    retval 0x0, 1 maps with 1 elements after the run"),
        "{text}"
    );
    assert!(text.ends_with("comparison: agree\n"), "{text}");
}
