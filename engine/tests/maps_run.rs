//! The interpreter's map helpers over `-- maps` definitions, with the
//! kernel's semantics (kernel/bpf/arraymap.c, kernel/bpf/hashtab.c).

use bpfdiff_engine::data::parse_data;
use bpfdiff_engine::interp::{ExecResult, FaultKind, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::maps::MapSet;
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::prog_type::ProgType;

/// Runs a `.data` text as a syscall program; returns the result and maps.
fn run(text: &str) -> (ExecResult, MapSet) {
    let t = parse_data(text).unwrap();
    let mut env = RunEnv::new(ProgType::Syscall, &[], Some(&[])).unwrap();
    env.maps = MapSet::new(&t.maps);
    let e = Interpreter::new(&t.program)
        .unwrap()
        .run_env(&mut env, DEFAULT_BUDGET);
    (e.result, env.maps)
}

fn r0(r: ExecResult) -> i64 {
    match r {
        ExecResult::Returned {
            r0,
            r0_derived: false,
        } => r0 as i64,
        other => panic!("{other}"),
    }
}

const LOOKUP_KEY1: &str = "
stw [%r10-4], 1
mov %r2, %r10
add %r2, -4
lddw_map_fd %r1, 0
call 1
";

#[test]
fn array_lookup_reads_and_writes_the_value() {
    // array_map_lookup_elem: a pointer to element `key`'s value.
    let text = format!(
        "-- maps\narray key=4 value=8 entries=2\n01 00 00 00 = 2a 00 00 00 00 00 00 00\n-- asm\n{LOOKUP_KEY1}\
         jeq %r0, 0, +3\nldxdw %r6, [%r0]\nstdw [%r0], 7\nmov %r0, %r6\nexit\n-- result\n0x2a\n"
    );
    let (r, maps) = run(&text);
    assert_eq!(r0(r), 0x2a);
    assert_eq!(maps.maps[0].slots[1].value, 7u64.to_le_bytes());
}

#[test]
fn a_value_pointer_bounds_the_access_to_value_size() {
    let text = format!(
        "-- maps\narray key=4 value=8 entries=2\n-- asm\n{LOOKUP_KEY1}jeq %r0, 0, +1\nldxdw %r0, [%r0+1]\nexit\n-- result\n0\n"
    );
    match run(&text).0 {
        ExecResult::Fault(f) => assert_eq!(f.kind, FaultKind::OutOfBounds),
        other => panic!("{other}"),
    }
}

#[test]
fn lookup_misses_return_null() {
    // A hash without the key, and an array index at max_entries, give NULL.
    for def in [
        "hash key=4 value=8 entries=2",
        "array key=4 value=8 entries=1",
    ] {
        let text = format!("-- maps\n{def}\n-- asm\n{LOOKUP_KEY1}exit\n-- result\n0\n");
        assert_eq!(r0(run(&text).0), 0, "{def}");
    }
}

#[test]
fn update_flags_and_errors() {
    // htab_map_update_elem: BPF_NOEXIST on a present key is -EEXIST,
    // a new key in a full map -E2BIG; array delete is -EINVAL.
    let update = |flags: i32| {
        format!(
            "stw [%r10-4], 1\nstdw [%r10-16], 5\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -16\n\
             mov %r4, {flags}\nlddw_map_fd %r1, 0\ncall 2\n"
        )
    };
    let hash = "-- maps\nhash key=4 value=8 entries=1\n";
    let (r, maps) = run(&format!("{hash}-- asm\n{}exit\n-- result\n0\n", update(1)));
    assert_eq!(r0(r), 0);
    assert_eq!(maps.maps[0].contents()[0].1, 5u64.to_le_bytes());
    let full = "-- maps\nhash key=4 value=8 entries=1\n02 00 00 00 = 00 00 00 00 00 00 00 00\n";
    assert_eq!(
        r0(run(&format!("{full}-- asm\n{}exit\n-- result\n0\n", update(0))).0),
        -7
    );
    let present = "-- maps\nhash key=4 value=8 entries=1\n01 00 00 00 = 00 00 00 00 00 00 00 00\n";
    assert_eq!(
        r0(run(&format!(
            "{present}-- asm\n{}exit\n-- result\n0\n",
            update(1)
        ))
        .0),
        -17
    );
    assert_eq!(
        r0(run(&format!("{hash}-- asm\n{}exit\n-- result\n0\n", update(2))).0),
        -2
    );
    let delete = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw_map_fd %r1, 0\ncall 3\nexit\n";
    let array = "-- maps\narray key=4 value=8 entries=1\n";
    assert_eq!(
        r0(run(&format!("{array}-- asm\n{delete}-- result\n0\n")).0),
        -22
    );
}

#[test]
fn ld_map_value_addresses_element_zero() {
    // ld_imm64 src=2: the address of the array's element 0 plus the offset.
    let text = "-- maps\narray key=4 value=8 entries=1\n00 00 00 00 = 01 02 03 04 05 06 07 08\n\
                -- asm\nlddw_map_value %r1, 0, 4\nldxw %r0, [%r1]\nexit\n-- result\n0\n";
    assert_eq!(r0(run(text).0), 0x0807_0605);
}

#[test]
fn malformed_maps_name_their_line() {
    let e = parse_data("-- maps\narray key=4 value=8\n-- asm\nexit\n-- result\n0\n").unwrap_err();
    assert_eq!(e.line(), Some(2), "{e}");
    assert!(e.to_string().starts_with("line 2: invalid maps:"), "{e}");
}

#[test]
fn without_maps_a_map_helper_is_an_unknown_helper_as_in_the_jit() {
    use bpfdiff_engine::jit::{JitProgram, Mode};
    let t = parse_data("-- asm\ncall 1\nexit\n-- result\n0\n").unwrap();
    let interp = Interpreter::new(&t.program)
        .unwrap()
        .run(&mut [], DEFAULT_BUDGET);
    let jit = JitProgram::compile(&t.program, Mode::Checked)
        .unwrap()
        .run(&mut [], DEFAULT_BUDGET);
    match interp.result {
        ExecResult::Fault(f) => assert_eq!(f.kind, FaultKind::UnknownHelper),
        other => panic!("{other}"),
    }
    assert_eq!(interp.result, jit.result);
}
