//! `bpfdiff run FILE`: run a program once on the engine's interpreter.

use super::mem::MemArgs;
use super::output;
use super::prog_type_args::ProgTypeArgs;
use super::{Budget, FormatArg};
use anyhow::anyhow;
use bpfdiff::input::read_program;
use bpfdiff::run_report::{render_text, RunReport};
use bpfdiff_engine::hex::to_hex;
use bpfdiff_engine::interp::Interpreter;
use bpfdiff_engine::interp::{ExecResult, Execution};
use bpfdiff_engine::jit::{JitProgram, Mode};
use bpfdiff_engine::prog_type::{env::RunEnv, ProgType};
use bpfdiff_engine::verifier::{verify_with_maps, RejectClass, Verdict, VerifyOptions};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The program: `.data`, raw bytecode (`.bin`/`.raw`/`.bpf`), kernel
    /// assembly (`.s`/`.asm`/`.txt`) or dialect assembly (`.casm`).
    pub file: PathBuf,
    /// The input memory.
    #[command(flatten)]
    pub memory: MemArgs,
    /// The instruction budget (see `Budget`).
    #[command(flatten)]
    pub budget: Budget,
    /// Print a JSON object instead of one line of text.
    #[arg(long)]
    pub json: bool,
    /// The input format, when the extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Which of the engine's executors runs it (the JIT in checked mode).
    #[arg(long, value_enum, default_value = "interp")]
    pub backend: Executor,
    /// Run the engine's verifier first: a program it refuses is not run
    /// (exit 1, with the verifier's message); one it cannot judge is bad
    /// input (exit 2).
    #[arg(long)]
    pub verify: bool,
    /// The program type and its packet/ctx (docs/program-types.md). A
    /// native type runs on the interpreter only and prints the return
    /// value as BPF_PROG_TEST_RUN reports it: the low 32 bits of r0.
    #[command(flatten)]
    pub prog_type: ProgTypeArgs,
}

/// The engine's executors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// The checking interpreter (the reference).
    Interp,
    /// The x86-64 JIT, checked mode.
    Jit,
}

/// Runs the program; exit 0 whenever it ran, whatever it returned.
pub fn execute(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let input = read_program(&args.file, args.format.map(Into::into))?;
    let resolved = args.prog_type.resolve(&input, &args.memory)?;
    let prog_type = resolved.prog_type;
    let mut env = resolved.env;
    let maps = resolved.maps;
    if args.verify {
        let opts = VerifyOptions {
            privileged: true,
            input_len: Some(env.mem.len()),
            log_level: 0,
        };
        match verify_with_maps(&input.program, &opts, prog_type, &maps).verdict {
            Verdict::Accepted => {}
            Verdict::Rejected {
                pc,
                class: RejectClass::Unsupported,
                message,
            } => {
                return Err(anyhow!(
                    "{}: instruction {pc}: not supported by the engine's verifier: {message}",
                    args.file.display()
                ))
            }
            Verdict::Rejected { pc, class, message } => {
                output::println(&format!(
                    "refused by the verifier: insn {pc}: {message} ({class})"
                ))?;
                return Ok(ExitCode::from(1));
            }
        }
    }
    let budget = args.budget.budget;
    let place = |e| anyhow!("{}: {e}", args.file.display());
    if prog_type != ProgType::Input || !maps.is_empty() {
        if args.backend != Executor::Interp && !maps.is_empty() {
            return Err(anyhow!(
                "--backend jit: the JIT does not run programs with maps (their helpers are not compiled); use --backend interp"
            ));
        }
        if args.backend != Executor::Interp {
            return Err(anyhow!(
                "--backend jit: the JIT runs only the input model; a {prog_type} program runs on the interpreter"
            ));
        }
        let execution = Interpreter::new(&input.program)
            .map_err(place)?
            .run_env(&mut env, budget);
        return print_native(args, prog_type, &execution, &env);
    }
    let mut mem = env.mem;
    let execution = match args.backend {
        Executor::Interp => Interpreter::new(&input.program)
            .map_err(place)?
            .run(&mut mem, budget),
        Executor::Jit => JitProgram::compile(&input.program, Mode::Checked)
            .map_err(place)?
            .run(&mut mem, budget),
    };
    if args.json {
        output::println(&RunReport::new(&execution, &mem).to_json())?;
    } else {
        output::println(&render_text(&execution))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The maps after a run as text: `map I key K: value V` per element
/// (`(pointer-derived bytes)` where a value holds an address; `self` for
/// a prog_array slot).
fn maps_text(env: &RunEnv) -> Vec<String> {
    let mut out = Vec::new();
    for (i, m) in env.maps.maps.iter().enumerate() {
        for (k, v, marks) in m.contents() {
            let d = if marks.iter().any(|&t| t != 0) {
                " (pointer-derived bytes)"
            } else {
                ""
            };
            // A prog_array slot holds the program itself.
            let value = if m.def.map_type == bpfdiff_engine::maps::MapType::ProgArray {
                bpfdiff_engine::maps::text::SELF.to_string()
            } else {
                to_hex(v)
            };
            out.push(format!("map {i} key {}: value {value}{d}", to_hex(k)));
        }
    }
    out
}

/// The maps after a run as JSON: per map, a list of `{key, value}` hex
/// (a prog_array slot's value: `self`, as `--maps` takes it).
fn maps_json(env: &RunEnv) -> serde_json::Value {
    env.maps
        .maps
        .iter()
        .map(|m| {
            let prog_array = m.def.map_type == bpfdiff_engine::maps::MapType::ProgArray;
            m.contents()
                .into_iter()
                .map(|(k, v, _)| {
                    let value = if prog_array {
                        bpfdiff_engine::maps::text::SELF.to_string()
                    } else {
                        to_hex(v)
                    };
                    serde_json::json!({"key": to_hex(k), "value": value})
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .into()
}

/// The return value of a native-type run as BPF_PROG_TEST_RUN reports it
/// (`retval`: the low 32 bits of r0); text, or JSON with the full r0, the
/// packet after the run and the ctx after the run.
fn print_native(
    args: &RunArgs,
    prog_type: ProgType,
    execution: &Execution,
    env: &RunEnv,
) -> anyhow::Result<ExitCode> {
    let mut shown = execution.clone();
    // The input model (here only with maps) returns the full r0.
    let native = prog_type != ProgType::Input;
    if let ExecResult::Returned { r0, .. } = &mut shown.result {
        if native {
            *r0 = *r0 as u32 as u64;
        }
    }
    if args.json {
        let mem = env.packet_after().unwrap_or_else(|| env.mem.clone());
        let mut v: serde_json::Value =
            serde_json::from_str(&RunReport::new(execution, &mem).to_json())?;
        if let (Some(obj), ExecResult::Returned { r0, .. }, true) =
            (v.as_object_mut(), &execution.result, native)
        {
            obj.insert("retval".into(), format!("{:#x}", *r0 as u32).into());
        }
        if let Some(obj) = v.as_object_mut() {
            obj.insert("prog_type".into(), prog_type.name().into());
            if let Some(ctx) = &env.ctx {
                let hex: String = ctx.bytes.iter().map(|b| format!("{b:02x}")).collect();
                obj.insert("ctx_after".into(), hex.into());
            }
            if !env.maps.is_empty() {
                obj.insert("maps_after".into(), maps_json(env));
            }
        }
        output::println(&v.to_string())?;
    } else {
        output::println(&render_text(&shown))?;
        for line in maps_text(env) {
            output::println(&line)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
