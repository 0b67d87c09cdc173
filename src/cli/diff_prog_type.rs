//! `bpfdiff diff --prog-type T`: a program of a native type
//! (docs/program-types.md) on the engine (verifier + interpreter) and on
//! the kernel (loaded as its type, BPF_PROG_TEST_RUN on the same packet).
//! Backends that run only the input model say so and are not compared.
//! With maps (`-- maps`, `--maps`), the kernel gets real maps with the
//! same initial contents, and the contents after the run are compared key
//! by key (oracle::map_contents).

use super::{output, EXIT_TESTS_FAILED};
use bpfdiff_engine::interp::{ExecResult, Interpreter, DEFAULT_BUDGET};
use bpfdiff_engine::maps::MapDef;
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::verifier::{verify_with_maps, RejectClass, Verdict, VerifyOptions};
use bpfdiff_engine::Program;
use bpfdiff_oracle::backend::kernel::user_maps::{on_cpu0, UserMaps};
use bpfdiff_oracle::backend::kernel::{native, reason_from_log};
use bpfdiff_oracle::map_contents::{diff_maps, MapContents};
use std::process::ExitCode;

/// What one backend did.
enum Row {
    Refused(String),
    Returned {
        retval: u32,
        derived: bool,
        packet: Option<Vec<u8>>,
        ctx: Option<Vec<u8>>,
        maps: Vec<MapContents>,
    },
    Other(String),
    NotRun(String),
}

fn engine(program: &Program, env: &RunEnv, maps: &[MapDef]) -> Row {
    let t = env.prog_type;
    match verify_with_maps(program, &VerifyOptions::default(), t, maps).verdict {
        Verdict::Rejected {
            class: RejectClass::Unsupported,
            message,
            ..
        } => return Row::NotRun(format!("the engine's verifier cannot judge it: {message}")),
        Verdict::Rejected { pc, message, .. } => {
            return Row::Refused(format!("insn {pc}: {message}"))
        }
        Verdict::Accepted => {}
    }
    let vm = match Interpreter::new(program) {
        Ok(vm) => vm,
        Err(e) => return Row::Refused(e.to_string()),
    };
    let mut env = env.clone();
    let e = vm.run_env(&mut env, DEFAULT_BUDGET);
    match e.result {
        ExecResult::Returned { r0, r0_derived } => Row::Returned {
            retval: r0 as u32,
            derived: r0_derived,
            packet: env.packet_after(),
            // As the kernel backend reports it: no ctx_out for an empty ctx.
            ctx: (!t.has_packet() && !env.mem.is_empty()).then(|| env.mem.clone()),
            maps: MapContents::of_engine_set(&env.maps),
        },
        other => Row::Other(other.to_string()),
    }
}

fn kernel(program: &Program, env: &RunEnv, maps: &[MapDef]) -> Row {
    let t = env.prog_type;
    let user_maps = match UserMaps::create(maps) {
        Ok(m) => m,
        Err(why) => return Row::NotRun(why),
    };
    let insns = match user_maps.patch(&program.insns) {
        Ok(i) => i,
        Err(why) => return Row::NotRun(why),
    };
    // The verdict comes from a load without a log: a level-1 log that
    // overflows its buffer fails the load with ENOSPC even when the
    // program verifies (a long loop prints a state at every branch). A
    // refused program is loaded again with the log for its reason.
    let fd = match native::load(t, &insns, 0) {
        Ok(fd) => fd,
        Err(e) if e.errno == libc::EPERM => return Row::NotRun("bpf() not permitted".to_string()),
        Err(_) => {
            let log = native::load(t, &insns, 1)
                .err()
                .and_then(|e| e.log)
                .unwrap_or_default();
            return Row::Refused(reason_from_log(&log));
        }
    };
    let (packet, ctx): (Vec<u8>, Vec<u8>) = if t.has_packet() {
        // The packet as given: the hidden Ethernet header, then the rest.
        (
            [env.hidden_head.as_slice(), env.mem.as_slice()].concat(),
            Vec::new(),
        )
    } else {
        (Vec::new(), env.mem.clone())
    };
    // Pinned to CPU 0: a per-CPU map's copy there is the one compared.
    match on_cpu0(|| native::test_run(&fd, t, &packet, &ctx)) {
        Ok(run) => match user_maps.read() {
            Ok(maps) => Row::Returned {
                retval: run.retval,
                derived: false,
                packet: run.data_out,
                ctx: (!t.has_packet()).then_some(run.ctx_out).flatten(),
                maps,
            },
            Err(why) => Row::Other(why),
        },
        Err(errno) => Row::Other(format!("BPF_PROG_TEST_RUN failed (errno {errno})")),
    }
}

fn summary(row: &Row) -> String {
    match row {
        Row::Refused(why) => format!("rejected: {why}"),
        Row::Returned {
            retval,
            derived,
            maps,
            ..
        } => {
            let d = if *derived { " (pointer-derived)" } else { "" };
            let m = if maps.is_empty() {
                String::new()
            } else {
                let n: usize = maps.iter().map(|m| m.elements.len()).sum();
                format!(", {} maps with {n} elements after the run", maps.len())
            };
            format!("retval {retval:#x}{d}{m}")
        }
        Row::Other(what) => what.clone(),
        Row::NotRun(why) => format!("not run: {why}"),
    }
}

/// Runs `program` as `env.prog_type` on the backends `names`; exit 1 when
/// the engine and the kernel differ.
pub fn execute(
    program: &Program,
    env: &RunEnv,
    maps: &[MapDef],
    names: &[String],
) -> anyhow::Result<ExitCode> {
    let t: ProgType = env.prog_type;
    let rows: Vec<(String, Row)> = names
        .iter()
        .map(|n| {
            let row = match n.as_str() {
                "interp" => engine(program, env, maps),
                "kernel" => kernel(program, env, maps),
                _ => Row::NotRun(format!("program type {t}: runs the input model only")),
            };
            (n.clone(), row)
        })
        .collect();
    let mut text = format!("program type: {t}\n");
    for (n, r) in &rows {
        text.push_str(&format!("{n:8}  {}\n", summary(r)));
    }
    let compared: Vec<&Row> = rows
        .iter()
        .map(|(_, r)| r)
        .filter(|r| !matches!(r, Row::NotRun(_)))
        .collect();
    let mut differences = Vec::new();
    if let [a, rest @ ..] = compared.as_slice() {
        for b in rest {
            match (a, b) {
                (Row::Refused(_), Row::Refused(_)) => {}
                (
                    Row::Returned {
                        retval: ra,
                        derived: da,
                        packet: pa,
                        ctx: ca,
                        maps: ma,
                    },
                    Row::Returned {
                        retval: rb,
                        derived: db,
                        packet: pb,
                        ctx: cb,
                        maps: mb,
                    },
                ) => {
                    if !da && !db && ra != rb {
                        differences.push(format!("retval {ra:#x} vs {rb:#x}"));
                    }
                    if pa != pb {
                        differences.push("packet after the run differs".to_string());
                    }
                    if ca != cb {
                        differences.push("ctx after the run differs".to_string());
                    }
                    for d in diff_maps(ma, mb) {
                        differences.push(format!("maps: {d}"));
                    }
                }
                _ => differences.push(format!("{} vs {}", summary(a), summary(b))),
            }
        }
    }
    if compared.len() < 2 {
        text.push_str("comparison: inconclusive (fewer than two backends ran it)\n");
    } else if differences.is_empty() {
        text.push_str("comparison: agree\n");
    } else {
        text.push_str("comparison: DIVERGE\n");
        for d in &differences {
            text.push_str(&format!("  {d}\n"));
        }
    }
    output::println(text.trim_end())?;
    Ok(if differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_TESTS_FAILED)
    })
}
