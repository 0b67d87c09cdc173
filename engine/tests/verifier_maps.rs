//! The verifier's map pointers, maybe-null lookups, null checks and map
//! helper arguments (Linux 6.18 kernel/bpf/verifier.c: check_ld_imm,
//! check_helper_call / check_func_arg / check_reg_type,
//! mark_ptr_or_null_regs, check_mem_access, adjust_ptr_min_max_vals).
//! The messages were measured on this machine's kernel with
//! oracle/tests/maps_vs_kernel.rs.

use bpfdiff_engine::data::parse_data;
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::verifier::{verify_with_maps, Verdict, VerifyOptions};

const MAPS: &str = "-- maps\narray key=4 value=8 entries=2\nhash key=4 value=8 entries=2\n";

fn verdict(asm: &str) -> Verdict {
    let t = parse_data(&format!("{MAPS}-- asm\n{asm}-- result\n0\n")).unwrap();
    verify_with_maps(
        &t.program,
        &VerifyOptions::default(),
        ProgType::Xdp,
        &t.maps,
    )
    .verdict
}

fn message(asm: &str) -> String {
    match verdict(asm) {
        Verdict::Rejected { message, .. } => message,
        other => panic!("{other:?}"),
    }
}

const LOOKUP: &str = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw_map_fd %r1, 1\ncall 1\n";

#[test]
fn a_lookup_result_is_maybe_null_until_checked() {
    assert_eq!(
        message(&format!("{LOOKUP}ldxdw %r0, [%r0]\nexit\n")),
        "R0 invalid mem access 'map_value_or_null'"
    );
    assert_eq!(
        verdict(&format!("{LOOKUP}jeq %r0, 0, +1\nldxdw %r0, [%r0]\nexit\n")),
        Verdict::Accepted
    );
    // The null check also resolves a copy made before it (same id).
    assert_eq!(
        verdict(&format!(
            "{LOOKUP}mov %r6, %r0\njne %r0, 0, +2\nmov %r0, 0\nexit\nldxdw %r0, [%r6]\nexit\n"
        )),
        Verdict::Accepted
    );
    assert_eq!(
        message(&format!("{LOOKUP}add %r0, 1\nmov %r0, 0\nexit\n")),
        "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first"
    );
}

#[test]
fn a_checked_value_is_bounded_by_value_size() {
    assert_eq!(
        message(&format!(
            "{LOOKUP}jeq %r0, 0, +1\nldxdw %r0, [%r0+4]\nexit\n"
        )),
        "R0 min value is outside of the allowed memory range"
    );
}

#[test]
fn map_helper_arguments_are_typed() {
    assert_eq!(
        message("mov %r1, 0\nmov %r2, %r10\nadd %r2, -4\ncall 1\nexit\n"),
        "R1 type=scalar expected=map_ptr"
    );
    assert_eq!(
        message("lddw_map_fd %r1, 0\nmov %r2, 0\ncall 1\nexit\n"),
        "R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
    );
    assert_eq!(message("lddw_map_fd %r1, 0\ncall 1\nexit\n"), "R2 !read_ok");
    assert_eq!(
        message("lddw_map_fd %r1, 0\nmov %r2, %r10\nadd %r2, -2\ncall 1\nexit\n"),
        "invalid read from stack R2 off=-2 size=4"
    );
}

#[test]
fn ld_imm64_map_forms_are_resolved_against_the_maps() {
    assert_eq!(
        message("lddw_map_fd %r1, 2\nmov %r0, 0\nexit\n"),
        "fd 2 is not pointing to valid bpf_map"
    );
    assert_eq!(
        message("lddw_map_value %r1, 0, 8\nmov %r0, 0\nexit\n"),
        "invalid access to map value pointer, value_size=8 off=8"
    );
    // array_map_direct_value_addr: only a one-element array.
    assert_eq!(
        message("lddw_map_value %r1, 0, 4\nldxw %r0, [%r1]\nexit\n"),
        "invalid access to map value pointer, value_size=8 off=4"
    );
}

/// An array (map 0, 2 entries) lookup with the key set up by `key` at
/// `r10 + at`, whose result is used without a null check.
fn unchecked_array_lookup(key: &str, at: i32) -> Verdict {
    verdict(&format!(
        "{key}mov %r2, %r10\nadd %r2, {at}\nlddw_map_fd %r1, 0\ncall 1\nldxdw %r0, [%r0]\nexit\n"
    ))
}

// Linux 6.14 and later (kernel/bpf/verifier.c: check_func_arg calls
// get_constant_map_key for ARG_PTR_TO_MAP_KEY when
// can_elide_value_nullness(map type), i.e. ARRAY and PERCPU_ARRAY;
// check_helper_call then drops PTR_MAYBE_NULL from a map_lookup_elem
// result when the key is a constant below max_entries). The key is known
// when its bytes are STACK_ZERO, or a spilled scalar of exactly the key's
// size whose value is constant. Measured on Linux 6.18: the kernel
// accepts the constant in-range cases and refuses the others with
// "R0 invalid mem access 'map_value_or_null'".
#[test]
fn an_array_lookup_with_a_known_key_below_max_entries_is_not_null() {
    // A BPF_ST of 1 into an aligned slot is a spilled constant.
    assert_eq!(
        unchecked_array_lookup("stw [%r10-8], 1\n", -8),
        Verdict::Accepted
    );
    // A register spill of a known constant.
    assert_eq!(
        unchecked_array_lookup("mov %r3, 1\nstxw [%r10-8], %r3\n", -8),
        Verdict::Accepted
    );
    // Zeroed bytes (an unaligned BPF_ST of 0): key 0.
    assert_eq!(
        unchecked_array_lookup("stw [%r10-4], 0\n", -4),
        Verdict::Accepted
    );
    let or_null = |v: Verdict| match v {
        Verdict::Rejected { message, .. } => {
            assert_eq!(message, "R0 invalid mem access 'map_value_or_null'")
        }
        other => panic!("{other:?}"),
    };
    // Key 2 is not below max_entries.
    or_null(unchecked_array_lookup("stw [%r10-8], 2\n", -8));
    // A negative constant (the spilled register's value is 64-bit).
    or_null(unchecked_array_lookup("stw [%r10-8], -1\n", -8));
    // An unknown key (a ctx field: xdp_md.ingress_ifindex).
    or_null(unchecked_array_lookup(
        "ldxw %r3, [%r1+12]\nstxw [%r10-8], %r3\n",
        -8,
    ));
    // A nonzero BPF_ST at an unaligned offset is STACK_MISC: not known.
    or_null(unchecked_array_lookup("stw [%r10-4], 1\n", -4));
    // A hash map's lookup stays maybe-null with a constant key.
    assert_eq!(
        message(
            "stw [%r10-8], 1\nmov %r2, %r10\nadd %r2, -8\nlddw_map_fd %r1, 1\ncall 1\nldxdw %r0, [%r0]\nexit\n"
        ),
        "R0 invalid mem access 'map_value_or_null'"
    );
}
