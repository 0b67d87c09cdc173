//! `--prog-type`, `--packet` and `--ctx` on `run` and `verify`
//! (docs/program-types.md).

mod common;

use common::{assert_success, bpfdiff, Scratch};

const XDP_READ: &str = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 2\n\
                        if r4 > r3 goto l_out\nr0 = *(u8 *)(r2 + 1)\nexit\nl_out:\nr0 = 9\nexit\n";

#[test]
fn run_xdp_reads_the_packet_default_64_zero_bytes() {
    // xdp_md: data/data_end load as packet pointers (xdp_is_valid_access).
    let dir = Scratch::new("pt-xdp");
    let prog = dir.write("p.s", XDP_READ);
    let out = bpfdiff(&[&"run", &prog, &"--prog-type", &"xdp"]);
    assert_eq!(assert_success(&out), "0x0\n");
    let out = bpfdiff(&[
        &"run",
        &prog,
        &"--prog-type",
        &"xdp",
        &"--packet",
        &"00ab0000000000000000000000000000",
    ]);
    assert_eq!(assert_success(&out), "0xab\n");
    let out = bpfdiff(&[&"verify", &prog, &"--prog-type", &"xdp"]);
    assert_eq!(assert_success(&out), "accepted\n");
}

#[test]
fn run_prints_the_32_bit_retval_for_native_types() {
    // BPF_PROG_TEST_RUN's retval is the low 32 bits of r0.
    let dir = Scratch::new("pt-retval");
    let prog = dir.write("p.s", "r0 = 0x100000003 ll\nexit\n");
    let out = bpfdiff(&[&"run", &prog, &"--prog-type", &"socket"]);
    assert_eq!(assert_success(&out), "0x3\n");
}

#[test]
fn verify_refuses_an_off_by_one_packet_read_with_the_kernel_message() {
    let dir = Scratch::new("pt-off-by-one");
    let prog = dir.write("p.s", XDP_READ.replace("(r2 + 1)", "(r2 + 2)"));
    let out = bpfdiff(&[&"verify", &prog, &"--prog-type", &"tc"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    // As tc, offsets 0 and 4 are len and pkt_type: scalars, not pointers.
    assert!(text.contains("invalid mem access 'scalar'"), "{text}");
    let out = bpfdiff(&[&"verify", &prog, &"--prog-type", &"xdp"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("R2 offset is outside of the packet"),
        "{text}"
    );
}

#[test]
fn packet_options_that_do_not_fit_the_type_are_bad_input() {
    let dir = Scratch::new("pt-bad");
    let prog = dir.write("p.s", "r0 = 0\nexit\n");
    for args in [
        vec!["--prog-type", "xdp", "--mem", "00"],
        vec!["--packet", "00"],
        vec!["--prog-type", "xdp", "--packet", "0000"],
        vec!["--prog-type", "kprobe"],
        vec!["--prog-type", "tc", "--ctx", "00"],
    ] {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"run", &prog];
        for a in &args {
            all.push(a);
        }
        let out = bpfdiff(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn a_data_file_names_its_type_and_packet() {
    let dir = Scratch::new("pt-data");
    // EtherType 0x88b5: a 14-byte IPv4 packet is too short for an skb
    // test run (the kernel refuses it with EINVAL; env::min_packet_len).
    let test = dir.write(
        "t.data",
        "-- prog-type\nsched_cls\n-- packet\n00 00 00 00 00 00 00 00 00 00 00 00 88 b5\n\
         -- asm\nldxw %r0, [%r1+0]\nexit\n-- result\n0xe\n",
    );
    let out = bpfdiff(&[&"run", &test]);
    assert_eq!(assert_success(&out), "0xe\n");
    let out = bpfdiff(&[&"run", &test, &"--prog-type", &"socket"]);
    assert_eq!(assert_success(&out), "0x0\n");
}

#[test]
fn selftest_ctx_symbols_assemble_to_their_offsets() {
    // BPF selftests write `%[__sk_buff_data]` for
    // `offsetof(struct __sk_buff, data)` (76, include/uapi/linux/bpf.h).
    let dir = Scratch::new("pt-symbols");
    let prog = dir.write(
        "p.s",
        "\"r2 = *(u32 *)(r1 + %[__sk_buff_data]);\"\n\"r3 = *(u32 *)(r1 + %[__sk_buff_data_end]);\"\n\
         \"r3 -= r2;\"\n\"r0 = *(u32 *)(r1 + %[__sk_buff_len]);\"\n\"exit;\"\n",
    );
    let out = bpfdiff(&[&"disasm", &prog]);
    let text = assert_success(&out);
    assert!(text.contains("r2 = *(u32 *)(r1 +76)"), "{text}");
    let out = bpfdiff(&[&"run", &prog, &"--prog-type", &"tc", &"--verify"]);
    assert_eq!(assert_success(&out), "0x40\n");
}

#[test]
fn diff_compares_a_native_program_with_the_kernel_only() {
    let k = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    if let Some(why) = k.unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let dir = Scratch::new("pt-diff");
    let prog = dir.write("p.s", XDP_READ);
    let out = bpfdiff(&[
        &"diff",
        &prog,
        &"--prog-type",
        &"xdp",
        &"--backends",
        &"interp,rbpf,kernel",
    ]);
    let text = assert_success(&out);
    assert!(
        text.contains("rbpf      not run: program type xdp: runs the input model only"),
        "{text}"
    );
    assert!(text.contains("kernel    retval 0x0"), "{text}");
    assert!(text.ends_with("comparison: agree\n"), "{text}");
}

#[test]
fn diff_takes_the_kernel_verdict_from_a_load_without_a_log() {
    // A level-1 verifier log prints every processed instruction; once it
    // overflows its buffer BPF_PROG_LOAD fails with ENOSPC although the
    // program verifies (the log is rotated and truncated). A 30000-round
    // counting loop (90k instructions) is accepted and returns 30000.
    let k = bpfdiff_oracle::backend::kernel::KernelBackend::new(Default::default());
    if let Some(why) = k.unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let dir = Scratch::new("pt-diff-log");
    let prog = dir.write("p.s", "r0 = 0\nl:\nr0 += 1\nif r0 < 30000 goto l\nexit\n");
    let out = bpfdiff(&[
        &"diff",
        &prog,
        &"--prog-type",
        &"socket",
        &"--backends",
        &"interp,kernel",
    ]);
    let text = assert_success(&out);
    assert!(text.contains("kernel    retval 0x7530"), "{text}");
    assert!(text.ends_with("comparison: agree\n"), "{text}");
}
