//! `bpfdiff verify FILE`: run the engine's verifier (a model of Linux
//! 6.18's) on a program, as the kernel backend would load it.

use super::mem::MemArgs;
use super::output;
use super::prog_type_args::ProgTypeArgs;
use super::FormatArg;
use anyhow::anyhow;
use bpfdiff::input::read_program;
use bpfdiff_engine::verifier::{verify_with_maps, RejectClass, Verdict, VerifyOptions};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfdiff verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The program: `.data`, raw bytecode (`.bin`/`.raw`/`.bpf`), kernel
    /// assembly (`.s`/`.asm`/`.txt`) or dialect assembly (`.casm`).
    pub file: PathBuf,
    /// The input memory: only its length matters (r1 points to that many
    /// bytes, r2 holds the length).
    #[command(flatten)]
    pub memory: MemArgs,
    /// Print the verifier log: 1 the failing path, 2 every instruction
    /// with its state (the kernel's formats).
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(u32).range(1..=2))]
    pub log: Option<u32>,
    /// Print `{"verdict": …, "pc": …, "class": …, "message": …}` instead of
    /// a line of text.
    #[arg(long)]
    pub json: bool,
    /// The input format, when the extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// The program type (verified as the kernel loads a program of that
    /// type, r1 = its ctx) and its packet/ctx.
    #[command(flatten)]
    pub prog_type: ProgTypeArgs,
}

/// Exit 0 accepted, 1 refused, 2 bad input or unsupported.
pub fn execute(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let input = read_program(&args.file, args.format.map(Into::into))?;
    let resolved = args.prog_type.resolve(&input, &args.memory)?;
    let opts = VerifyOptions {
        privileged: true,
        input_len: Some(resolved.env.mem.len()),
        log_level: args.log.unwrap_or(0),
    };
    let result = verify_with_maps(&input.program, &opts, resolved.prog_type, &resolved.maps);
    if !result.log.is_empty() {
        eprint!("{}", result.log);
    }
    if let Verdict::Rejected {
        pc,
        class: RejectClass::Unsupported,
        message,
    } = &result.verdict
    {
        return Err(anyhow!(
            "{}: instruction {pc}: not supported by the engine's verifier: {message}",
            args.file.display()
        ));
    }
    let line = match (&result.verdict, args.json) {
        (Verdict::Accepted, true) => r#"{"verdict": "accepted"}"#.to_string(),
        (Verdict::Accepted, false) => "accepted".to_string(),
        (Verdict::Rejected { pc, class, message }, true) => format!(
            r#"{{"verdict": "rejected", "pc": {pc}, "class": {}, "message": {}}}"#,
            serde_json::Value::from(class.as_str()),
            serde_json::Value::from(message.as_str())
        ),
        (Verdict::Rejected { pc, class, message }, false) => {
            format!("rejected: insn {pc}: {message} ({class})")
        }
    };
    output::println(&line)?;
    Ok(if result.verdict.is_accepted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
