//! Ground truth for the program-type model (docs/program-types.md): each
//! program is loaded into the kernel as its own type (no wrapper) and run
//! with `BPF_PROG_TEST_RUN` on the same packet as the engine.
//!
//! - every ctx access (offset -8..=200, sizes 1/2/4/8, load and store) of
//!   each type: the engine's verifier accepts exactly what the kernel's
//!   `*_is_valid_access` accepts, with the kernel's message;
//! - every readable non-opaque ctx word: the interpreter loads the value
//!   `BPF_PROG_TEST_RUN` gives, on a 64-byte zero packet and on an IPv4
//!   one;
//! - the conformance tests of corpus/conformance-prog-types and the
//!   selftest-style programs of corpus/prog-types-verifier: same verdict,
//!   and for accepted ones the same retval and packet after the run.
//!
//! When `bpf()` is not permitted the tests print `SKIPPED` and return.

use bpfdiff_engine::asm::kernel;
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::prog_type::ctx::{valid_access, Loaded};
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::verifier::{verify_as, RejectClass, Verdict, VerifyOptions};
use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::kernel::user_maps::{on_cpu0, UserMaps};
use bpfdiff_oracle::backend::kernel::{native, reason_from_log};
use std::os::fd::AsFd;
use std::path::Path;

const TYPES: [ProgType; 4] = [
    ProgType::SocketFilter,
    ProgType::SchedCls,
    ProgType::Xdp,
    ProgType::Syscall,
];

fn bpf_available() -> bool {
    let trivial = [Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)];
    match native::load(ProgType::SocketFilter, &trivial, 0) {
        Ok(_) => true,
        Err(e) => {
            // SAFETY: geteuid has no preconditions.
            assert!(
                unsafe { libc::geteuid() } != 0,
                "root but bpf() refused: {}",
                e.errno
            );
            println!("SKIPPED: bpf() not permitted (errno {})", e.errno);
            false
        }
    }
}

/// The kernel's verdict: `Ok(())` or the last line of its log. The
/// verdict comes from a load without a log (a level-1 log that overflows
/// its buffer is ENOSPC even for a program that verifies), the reason
/// from a second load with one.
fn kernel_verdict(t: ProgType, p: &Program) -> Result<std::os::fd::OwnedFd, String> {
    native::load(t, &p.insns, 0).map_err(|_| {
        let log = native::load(t, &p.insns, 1).err().and_then(|e| e.log);
        reason_from_log(log.as_deref().unwrap_or(""))
    })
}

fn engine_verdict(t: ProgType, p: &Program) -> Result<(), String> {
    match verify_as(p, &VerifyOptions::default(), t).verdict {
        Verdict::Accepted => Ok(()),
        Verdict::Rejected { message, .. } => Err(message),
    }
}

/// True when the engine's verifier says it cannot judge the program.
fn engine_unsupported(t: ProgType, p: &Program) -> bool {
    matches!(
        verify_as(p, &VerifyOptions::default(), t).verdict,
        Verdict::Rejected {
            class: RejectClass::Unsupported,
            ..
        }
    )
}

fn asm(text: &str) -> Program {
    kernel::assemble(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn size_name(size: usize) -> &'static str {
    match size {
        1 => "u8",
        2 => "u16",
        4 => "u32",
        _ => "u64",
    }
}

// net/core/filter.c: bpf_skb_is_valid_access, sk_filter_is_valid_access,
// tc_cls_act_is_valid_access, xdp_is_valid_access; kernel/bpf/verifier.c
// check_ctx_access: `invalid bpf_context access off=%d size=%d`.
#[test]
fn ctx_access_verdicts_match_the_kernel() {
    if !bpf_available() {
        return;
    }
    let mut mismatches = Vec::new();
    let (mut checked, mut unsupported) = (0, 0);
    for t in TYPES {
        for off in -8i64..=200 {
            for size in [1usize, 2, 4, 8] {
                for write in [false, true] {
                    let ty = size_name(size);
                    let text = if write {
                        format!("r2 = 1\n*({ty} *)(r1 {off:+}) = r2\nr0 = 0\nexit\n")
                    } else {
                        format!("r0 = *({ty} *)(r1 {off:+})\nr0 = 0\nexit\n")
                    };
                    let p = asm(&text);
                    if engine_unsupported(t, &p) {
                        // `__sk_buff->sk` (a socket pointer) is not modeled.
                        unsupported += 1;
                        continue;
                    }
                    let k = kernel_verdict(t, &p).map(drop);
                    let e = engine_verdict(t, &p);
                    checked += 1;
                    if k != e {
                        mismatches.push(format!(
                            "{t} off={off} size={size} write={write}: kernel {k:?}, engine {e:?}"
                        ));
                    }
                }
            }
        }
    }
    println!("{checked} ctx accesses agree-checked, {unsupported} unsupported by the engine");
    assert!(unsupported <= 2, "only the two `sk` reads are unsupported");
    assert!(
        mismatches.is_empty(),
        "{} of {checked} ctx accesses differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// An IPv4/TCP packet of 64 bytes (Ethernet, EtherType 0x0800).
fn ipv4_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12] = 0x08;
    p[14] = 0x45;
    p[23] = 6;
    p
}

// net/bpf/test_run.c, bpf_prog_test_run_skb / bpf_prog_test_run_xdp: the
// ctx a program sees for a packet without ctx_in.
#[test]
fn ctx_values_match_the_kernel() {
    if !bpf_available() {
        return;
    }
    let mut mismatches = Vec::new();
    for t in [ProgType::SocketFilter, ProgType::SchedCls, ProgType::Xdp] {
        for packet in [vec![0u8; 64], ipv4_packet()] {
            for off in (0..192).step_by(4) {
                if valid_access(t, off, 4, false) != Some(Loaded::Scalar) {
                    continue;
                }
                let p = asm(&format!("r0 = *(u32 *)(r1 +{off})\nexit\n"));
                let fd = kernel_verdict(t, &p).expect("kernel accepts a valid ctx read");
                let k = native::test_run(&fd, t, &packet, &[]).expect("test run");
                let mut env = RunEnv::new(t, &packet, None).unwrap();
                let e = Interpreter::new(&p)
                    .unwrap()
                    .run_env(&mut env, DEFAULT_BUDGET);
                match e.result {
                    ExecResult::Returned {
                        r0_derived: true, ..
                    } => {} // opaque
                    ExecResult::Returned { r0, .. } if r0 as u32 == k.retval => {}
                    other => mismatches.push(format!(
                        "{t} off={off} packet[12]={}: kernel {:#x}, engine {other}",
                        packet[12], k.retval
                    )),
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Verdict and run agreement over the `.s` programs of `dir`, each naming
/// its type in a first line `// prog-type: T`. Returns (verdict agree,
/// total, retval agree, accepted by both).
fn agreement(dir: &Path) -> (usize, usize, usize, usize, Vec<String>) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "s"))
        .collect();
    files.sort();
    let (mut same, mut total, mut ret_same, mut both) = (0, 0, 0, 0);
    let mut notes = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let t = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("// prog-type:"))
            .map(|n| ProgType::parse(n).unwrap())
            .unwrap_or_else(|| panic!("{}: no `// prog-type:` line", f.display()));
        let p = asm(&text);
        total += 1;
        let k = kernel_verdict(t, &p);
        let e = engine_verdict(t, &p);
        if k.is_ok() == e.is_ok() {
            same += 1;
        } else {
            notes.push(format!(
                "{}: kernel {:?}, engine {:?}",
                f.display(),
                k.as_ref().map(drop),
                e
            ));
        }
        if let (Ok(fd), Ok(())) = (&k, &e) {
            both += 1;
            // A 64-byte zero packet; a syscall program gets 64 zero ctx bytes.
            let zeros = vec![0u8; 64];
            let (packet, ctx): (&[u8], &[u8]) = if t.has_packet() {
                (&zeros, &[])
            } else {
                (&[], &zeros)
            };
            let kr = native::test_run(fd, t, packet, ctx).expect("test run");
            let mut env = RunEnv::new(
                t,
                packet,
                t.has_packet()
                    .then_some(ctx)
                    .or(Some(ctx))
                    .filter(|_| !t.has_packet()),
            )
            .unwrap();
            let er = Interpreter::new(&p)
                .unwrap()
                .run_env(&mut env, DEFAULT_BUDGET);
            let agree = match er.result {
                ExecResult::Returned { r0, r0_derived } => {
                    r0_derived
                        || (r0 as u32 == kr.retval
                            && env.packet_after() == kr.data_out
                            && (t.has_packet() || Some(&env.mem) == kr.ctx_out.as_ref()))
                }
                _ => false,
            };
            if agree {
                ret_same += 1;
            } else {
                notes.push(format!(
                    "{}: retval kernel {:#x}, engine {}",
                    f.display(),
                    kr.retval,
                    er.result
                ));
            }
        }
    }
    (same, total, ret_same, both, notes)
}

#[test]
fn selftest_style_programs_agree_with_the_kernel() {
    if !bpf_available() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/prog-types-verifier");
    let (same, total, ret_same, both, notes) = agreement(&dir);
    println!(
        "verdicts: {same}/{total} agree; retvals: {ret_same}/{both} agree\n{}",
        notes.join("\n")
    );
    assert!(total > 0);
    assert!(notes.is_empty(), "{}", notes.join("\n"));
}

// corpus/conformance-prog-types: the kernel accepts each test as its type
// and BPF_PROG_TEST_RUN returns its `-- result` (the engine side is
// engine/tests/prog_type_conformance.rs).
#[test]
fn prog_type_conformance_tests_agree_with_the_kernel() {
    use bpfdiff_engine::data::{parse_data_file, Expected};
    if !bpf_available() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/conformance-prog-types");
    let mut failures = Vec::new();
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let f = entry.unwrap().path();
        if f.extension().is_none_or(|x| x != "data") {
            continue;
        }
        n += 1;
        let test = parse_data_file(&f).unwrap();
        let t = test.prog_type;
        // The test's maps, patched in; a prog_array's `self` slots get
        // the program once it is loaded.
        let maps = UserMaps::create(&test.maps).expect("create maps");
        let program = Program::new(maps.patch(&test.program.insns).expect("patch"));
        let fd = match kernel_verdict(t, &program) {
            Ok(fd) => fd,
            Err(why) => {
                failures.push(format!("{}: kernel refuses: {why}", f.display()));
                continue;
            }
        };
        maps.fill_programs(fd.as_fd()).expect("fill prog_array");
        let packet = if t.has_packet() {
            test.packet.clone().unwrap_or_else(|| vec![0; 64])
        } else {
            Vec::new()
        };
        let ctx = if t.has_packet() {
            Vec::new()
        } else {
            test.mem.clone()
        };
        let run = on_cpu0(|| native::test_run(&fd, t, &packet, &ctx)).expect("test run");
        let Expected::Result(want) = test.expected else {
            panic!("{}: expects an error", f.display())
        };
        if u64::from(run.retval) != want {
            failures.push(format!(
                "{}: kernel retval {:#x}, test says {want:#x}",
                f.display(),
                run.retval
            ));
        }
    }
    assert!(n >= 20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// kernel/bpf/verifier.c try_match_pkt_pointers / find_good_pkt_pointers /
// check_packet_access: a sweep of bounds checks (every comparison, both
// operand orders, the access in either branch) against reads of every
// size at offsets around the checked length, on xdp and tc.
#[test]
fn packet_bounds_sweep_matches_the_kernel() {
    if !bpf_available() {
        return;
    }
    let mut mismatches = Vec::new();
    let mut n = 0;
    for (t, head) in [
        (
            ProgType::Xdp,
            "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\n",
        ),
        (
            ProgType::SchedCls,
            "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\n",
        ),
    ] {
        for check in [0, 1, 7, 8] {
            for (op, swap) in [
                (">", false),
                (">=", false),
                ("<", false),
                ("<=", false),
                (">", true),
                (">=", true),
                ("<", true),
                ("<=", true),
            ] {
                let cmp = if swap {
                    format!("if r3 {op} r4 goto l_t")
                } else {
                    format!("if r4 {op} r3 goto l_t")
                };
                for in_taken in [false, true] {
                    for size in [1usize, 2, 4, 8] {
                        for off in [-1i64, 0, 1, 3, 4, 6, 7, 8, 9] {
                            let access =
                                format!("r0 = *({} *)(r2 {off:+})\nexit\n", size_name(size));
                            let (fall, taken) = if in_taken {
                                ("r0 = 0\nexit\n".to_string(), access)
                            } else {
                                (access, "r0 = 0\nexit\n".to_string())
                            };
                            let text =
                                format!("{head}r4 = r2\nr4 += {check}\n{cmp}\n{fall}l_t:\n{taken}");
                            let p = asm(&text);
                            n += 1;
                            let k = kernel_verdict(t, &p).map(drop);
                            let e = engine_verdict(t, &p);
                            if k.is_ok() != e.is_ok() {
                                mismatches
                                    .push(format!("{t}:\n{text}kernel {k:?}, engine {e:?}\n"));
                            }
                        }
                    }
                }
            }
        }
    }
    println!("{n} bounds checks, {} verdicts differ", mismatches.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

// adjust_ptr_min_max_vals on packet pointers (a variable offset gives a
// new id and range 0; MAX_PACKET_OFF limits what find_good_pkt_pointers
// accepts) and check_packet_access's negative-offset rule: variable
// offsets of several widths, re-checked or not, added or subtracted.
#[test]
fn variable_offset_packet_sweep_matches_the_kernel() {
    if !bpf_available() {
        return;
    }
    let head = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 8\n\
                if r4 > r3 goto l_out\nr5 = *(u32 *)(r2 + 0)\n";
    let mut mismatches = Vec::new();
    let (mut n, mut accepted) = (0, 0);
    for bound in [
        "r5 &= 15\n",
        "r5 &= 0xff\n",
        "r5 &= 0xffff\n",
        "r5 &= 0x1ffff\n",
        "",
        "r5 s>>= 1\n",
        "if r5 > 100 goto l_out\n",
        "r5 = -4\n",
        "r5 = 4\n",
    ] {
        for (apply, via) in [
            ("r2 += r5\n", "add"),
            ("r5 += r2\nr2 = r5\n", "scalar+pkt"),
            ("r2 -= r5\n", "sub"),
        ] {
            for recheck in [None, Some(0), Some(2), Some(4)] {
                for off in [-1i64, 0, 1, 2, 3] {
                    let check = match recheck {
                        Some(c) => format!("r6 = r2\nr6 += {c}\nif r6 > r3 goto l_out\n"),
                        None => String::new(),
                    };
                    let text = format!(
                        "{head}{bound}{apply}{check}r0 = *(u16 *)(r2 {off:+})\nexit\nl_out:\nr0 = 0\nexit\n"
                    );
                    let p = asm(&text);
                    n += 1;
                    let k = kernel_verdict(ProgType::Xdp, &p);
                    accepted += usize::from(k.is_ok());
                    let e = engine_verdict(ProgType::Xdp, &p);
                    if k.is_ok() != e.is_ok() {
                        mismatches.push(format!(
                            "({via})\n{text}kernel {:?}, engine {e:?}\n",
                            k.map(drop)
                        ));
                    }
                }
            }
        }
    }
    println!(
        "{n} variable-offset programs ({accepted} accepted by the kernel), {} verdicts differ",
        mismatches.len()
    );
    assert!(accepted > 0 && accepted < n);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
