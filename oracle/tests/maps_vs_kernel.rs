//! Ground truth for maps (docs/program-types.md, "Maps"): the kernel
//! creates the declared maps, runs the program with its `ld_imm64` map
//! indices patched to their fds, and the map contents afterwards are
//! compared key by key with the engine's.
//!
//! - corpus/conformance-maps: same verdict, same retval, same packet and
//!   same map contents on the engine and the kernel;
//! - the verifier's map messages (engine/tests/verifier_maps.rs): the
//!   kernel's last log line is the engine's message.
//!
//! When `bpf()` is not permitted the tests print `SKIPPED` and return.

use bpfdiff_engine::data::{parse_data, parse_data_file, DataTest};
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::maps::MapSet;
use bpfdiff_engine::prog_type::env::{RunEnv, DEFAULT_PACKET_LEN};
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::verifier::{verify_with_maps, Verdict, VerifyOptions};
use bpfdiff_engine::Insn;
use bpfdiff_oracle::backend::kernel::user_maps::{on_cpu0, UserMaps};
use bpfdiff_oracle::backend::kernel::{native, reason_from_log};
use bpfdiff_oracle::map_contents::{diff_maps, MapContents};
use std::os::fd::AsFd;
use std::path::Path;

fn bpf_available() -> bool {
    let trivial = [Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)];
    match native::load(ProgType::SocketFilter, &trivial, 0) {
        Ok(_) => true,
        Err(e) => {
            // SAFETY: geteuid has no preconditions.
            assert!(unsafe { libc::geteuid() } != 0, "root but bpf() refused");
            println!("SKIPPED: bpf() not permitted (errno {})", e.errno);
            false
        }
    }
}

fn engine_verdict(t: &DataTest) -> Result<(), String> {
    match verify_with_maps(&t.program, &VerifyOptions::default(), t.prog_type, &t.maps).verdict {
        Verdict::Accepted => Ok(()),
        Verdict::Rejected { message, .. } => Err(message),
    }
}

/// Loads `t` into the kernel with fresh maps: the fd or the log's last line.
fn kernel_load(t: &DataTest) -> (UserMaps, Result<std::os::fd::OwnedFd, String>) {
    let maps = UserMaps::create(&t.maps).expect("create maps");
    let insns = maps.patch(&t.program.insns).expect("patch");
    let r = native::load(t.prog_type, &insns, 1)
        .map_err(|e| reason_from_log(e.log.as_deref().unwrap_or("")));
    if let Ok(fd) = &r {
        maps.fill_programs(fd.as_fd()).expect("fill prog_array");
    }
    (maps, r)
}

#[test]
fn map_conformance_tests_agree_with_the_kernel() {
    if !bpf_available() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/conformance-maps");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    assert!(files.len() >= 20);
    let mut problems = Vec::new();
    let mut compared = 0;
    for f in &files {
        let t = parse_data_file(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let (kmaps, loaded) = kernel_load(&t);
        let fd = match (loaded, engine_verdict(&t)) {
            (Ok(fd), Ok(())) => fd,
            (k, e) => {
                problems.push(format!("{name}: kernel {:?}, engine {e:?}", k.map(drop)));
                continue;
            }
        };
        let packet = if t.prog_type.has_packet() {
            t.packet
                .clone()
                .unwrap_or_else(|| vec![0; DEFAULT_PACKET_LEN])
        } else {
            Vec::new()
        };
        let ctx = if t.prog_type.has_packet() {
            Vec::new()
        } else {
            t.mem.clone()
        };
        let run = match on_cpu0(|| native::test_run(&fd, t.prog_type, &packet, &ctx)) {
            Ok(run) => run,
            Err(errno) => {
                problems.push(format!("{name}: BPF_PROG_TEST_RUN failed: errno {errno}"));
                continue;
            }
        };
        let mut env = RunEnv::new(
            t.prog_type,
            &packet,
            (!t.prog_type.has_packet()).then_some(ctx.as_slice()),
        )
        .unwrap();
        env.maps = MapSet::new(&t.maps);
        let e = Interpreter::new(&t.program)
            .unwrap()
            .run_env(&mut env, DEFAULT_BUDGET);
        match e.result {
            ExecResult::Returned {
                r0,
                r0_derived: false,
            } if r0 as u32 == run.retval => {}
            other => problems.push(format!(
                "{name}: kernel retval {:#x}, engine {other}",
                run.retval
            )),
        }
        if run.data_out != env.packet_after() {
            problems.push(format!("{name}: packets differ"));
        }
        let kernel_maps = kmaps.read().expect("read maps");
        compared += kernel_maps.iter().map(|m| m.elements.len()).sum::<usize>();
        for d in diff_maps(&MapContents::of_engine_set(&env.maps), &kernel_maps) {
            problems.push(format!("{name}: engine vs kernel: {d}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared >= 30, "only {compared} map elements compared");
}

const MAPS: &str = "-- maps\narray key=4 value=8 entries=2\nhash key=4 value=8 entries=2\n";
const LOOKUP: &str = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw_map_fd %r1, 1\ncall 1\n";

// kernel/bpf/verifier.c: check_mem_access ("R%d invalid mem access '%s'"),
// check_reg_type ("R%d type=%s expected=%s"), check_helper_mem_access,
// adjust_ptr_min_max_vals, check_cond_jmp_op / mark_ptr_or_null_regs,
// check_ld_imm.
#[test]
fn map_verifier_messages_match_the_kernel() {
    if !bpf_available() {
        return;
    }
    let programs = [
        format!("{LOOKUP}ldxdw %r0, [%r0]\nexit\n"),
        format!("{LOOKUP}jeq %r0, 0, +1\nldxdw %r0, [%r0]\nexit\n"),
        format!("{LOOKUP}mov %r6, %r0\njne %r0, 0, +2\nmov %r0, 0\nexit\nldxdw %r0, [%r6]\nexit\n"),
        format!("{LOOKUP}add %r0, 1\nmov %r0, 0\nexit\n"),
        format!("{LOOKUP}jeq %r0, 0, +1\nldxdw %r0, [%r0+4]\nexit\n"),
        format!("{LOOKUP}jne %r0, 0, +1\nldxdw %r0, [%r0]\nexit\n"),
        "mov %r1, 0\nmov %r2, %r10\nadd %r2, -4\ncall 1\nexit\n".to_string(),
        "lddw_map_fd %r1, 0\nmov %r2, 0\ncall 1\nexit\n".to_string(),
        "lddw_map_fd %r1, 0\ncall 1\nexit\n".to_string(),
        "lddw_map_fd %r1, 0\nmov %r2, %r10\nadd %r2, -2\ncall 1\nexit\n".to_string(),
        "lddw_map_fd %r1, 0\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r0, 0\nexit\n".to_string(),
        "lddw_map_fd %r1, 0\nadd %r1, 8\nmov %r0, 0\nexit\n".to_string(),
        "lddw_map_value %r1, 0, 8\nmov %r0, 0\nexit\n".to_string(),
        "lddw_map_value %r1, 1, 0\nmov %r0, 0\nexit\n".to_string(),
        "lddw_map_value %r1, 0, 4\nldxw %r0, [%r1]\nexit\n".to_string(),
        "lddw_map_value %r1, 0, 4\nldxdw %r0, [%r1]\nexit\n".to_string(),
        "stw [%r10-4], 0\nstdw [%r10-16], 1\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -12\nmov %r4, 0\nlddw_map_fd %r1, 0\ncall 2\nexit\n".to_string(),
        "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nmov %r3, 1\nmov %r4, 0\nlddw_map_fd %r1, 0\ncall 2\nexit\n".to_string(),
        "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw_map_fd %r1, 1\ncall 3\nexit\n".to_string(),
    ];
    let mut mismatches = Vec::new();
    for (t, asm) in [ProgType::Xdp, ProgType::Syscall]
        .into_iter()
        .flat_map(|t| programs.iter().map(move |a| (t, a)))
    {
        let test = parse_data(&format!(
            "-- prog-type\n{t}\n{MAPS}-- asm\n{asm}-- result\n0\n"
        ))
        .unwrap();
        let (_maps, k) = kernel_load(&test);
        let k = k.map(drop);
        let e = engine_verdict(&test);
        if k != e {
            mismatches.push(format!("{t}:\n{asm}kernel {k:?}\nengine {e:?}\n"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

// net/core/filter.c bpf_skb_load_bytes_proto (ARG_PTR_TO_CTX, ARG_ANYTHING,
// ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE) through kernel/bpf/verifier.c
// check_func_arg, check_ptr_off_reg, check_mem_size_reg and the helper's
// program types (sk_filter_func_proto, tc_cls_act_func_proto).
#[test]
fn skb_load_bytes_verifier_messages_match_the_kernel() {
    if !bpf_available() {
        return;
    }
    let call = |setup: &str| format!("{setup}call 26\nmov %r0, 0\nexit\n");
    let ok = "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 8\n";
    let programs = [
        call(ok),
        call(&format!("add %r1, 4\n{ok}")),
        call(&format!("mov %r1, %r10\n{ok}")),
        call("mov %r2, 0\nmov %r3, 0\nmov %r4, 8\n"),
        call("mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 0\n"),
        call("mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, -1\n"),
        call("mov %r2, 0\nmov %r3, %r10\nadd %r3, -2\nmov %r4, 4\n"),
        call("mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nldxw %r4, [%r1+0]\nadd %r4, 1\n"),
        call("mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nldxw %r4, [%r1+0]\nand %r4, 7\nadd %r4, 1\n"),
        call("mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 16\n"),
        format!("{ok}call 26\nldxdw %r0, [%r10-8]\nexit\n"),
    ];
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for t in [ProgType::SocketFilter, ProgType::SchedCls, ProgType::Xdp] {
        for asm in &programs {
            let test =
                parse_data(&format!("-- prog-type\n{t}\n-- asm\n{asm}-- result\n0\n")).unwrap();
            let (_maps, k) = kernel_load(&test);
            let k = k.map(drop);
            let e = engine_verdict(&test);
            checked += 1;
            if k != e {
                mismatches.push(format!("{t}:\n{asm}kernel {k:?}\nengine {e:?}\n"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(checked, 33);
}

// kernel/bpf/core.c bpf_tail_call_proto (ARG_PTR_TO_CTX, ARG_CONST_MAP_PTR,
// ARG_ANYTHING, RET_VOID) through kernel/bpf/verifier.c check_func_arg,
// record_func_map ("expected prog array map for tail call"),
// check_map_func_compatibility ("cannot pass map_type %d into func
// %s#%d"), the registers after the call (r0 NOT_INIT for RET_VOID, r1-r5
// clobbered) and check_ld_imm (a prog_array has no direct value access).
#[test]
fn tail_call_verifier_messages_match_the_kernel() {
    if !bpf_available() {
        return;
    }
    let maps = "-- maps\narray key=4 value=8 entries=2\nprog_array key=4 value=4 entries=2\n";
    let call = |setup: &str, after: &str| format!("{setup}call 12\n{after}");
    let ret0 = "mov %r0, 0\nexit\n";
    let ok = "lddw_map_fd %r2, 1\nmov %r3, 0\n";
    let key = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\n";
    let programs = [
        call(ok, ret0),
        call("lddw_map_fd %r2, 1\nmov %r3, 5\n", ret0),
        call("lddw_map_fd %r2, 0\nmov %r3, 0\n", ret0),
        call(ok, "exit\n"),
        call(ok, "mov %r0, %r1\nexit\n"),
        call(&format!("mov %r1, %r10\n{ok}"), ret0),
        call(&format!("add %r1, 4\n{ok}"), ret0),
        call("mov %r2, 0\nmov %r3, 0\n", ret0),
        call("lddw_map_fd %r2, 1\n", ret0),
        format!("{key}lddw_map_fd %r1, 1\ncall 1\n{ret0}"),
        format!("{key}lddw_map_fd %r1, 1\ncall 3\n{ret0}"),
        format!("{key}mov %r3, %r2\nmov %r4, 0\nlddw_map_fd %r1, 1\ncall 2\n{ret0}"),
        format!("lddw_map_value %r1, 1, 0\n{ret0}"),
    ];
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for t in [ProgType::SocketFilter, ProgType::SchedCls, ProgType::Xdp] {
        for asm in &programs {
            let test = parse_data(&format!(
                "-- prog-type\n{t}\n{maps}-- asm\n{asm}-- result\n0\n"
            ))
            .unwrap();
            let (_maps, k) = kernel_load(&test);
            let k = k.map(drop);
            let e = engine_verdict(&test);
            checked += 1;
            if k != e {
                mismatches.push(format!("{t}:\n{asm}kernel {k:?}\nengine {e:?}\n"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(checked, 39);
}
