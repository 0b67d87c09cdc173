//! `bpfdiff diff --prog-type T`: a program of a native type
//! (docs/program-types.md) on the engine (verifier + interpreter) and on
//! the kernel (loaded as its type, BPF_PROG_TEST_RUN on the same packet),
//! compared by the library's [`native_diff`] (shared with the packet tiers
//! of `campaign`). Backends that run only the input model say so and are
//! not compared. With maps (`-- maps`, `--maps`), the kernel gets real
//! maps with the same initial contents, and the contents after the run
//! are compared key by key (aspect `maps`).

use super::{output, EXIT_TESTS_FAILED};
use bpfdiff::native_diff;
use bpfdiff_engine::maps::MapDef;
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::Program;
use bpfdiff_oracle::map_contents::MapContents;
use bpfdiff_oracle::{Comparison, Execution, Outcome, Verdict};
use std::process::ExitCode;

/// One backend's line: its verdict or run, and its maps after the run.
fn summary(o: &Outcome, maps: &[MapContents]) -> String {
    if let Verdict::Rejected { reason, .. } = &o.verdict {
        return format!("rejected: {reason}");
    }
    match &o.execution {
        Execution::Returned { r0, .. } => {
            let d = if r0.derived { " (pointer-derived)" } else { "" };
            let m = if maps.is_empty() {
                String::new()
            } else {
                let n: usize = maps.iter().map(|m| m.elements.len()).sum();
                format!(", {} maps with {n} elements after the run", maps.len())
            };
            format!("retval {:#x}{d}{m}", r0.bits)
        }
        other => other.to_string(),
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
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let check = native_diff::check(program, env, maps, &names, true);
    let mut text = format!("program type: {}\n", env.prog_type);
    for (o, m) in check.outcomes.iter().zip(&check.maps) {
        text.push_str(&format!("{:8}  {}\n", o.backend, summary(o, m)));
    }
    let diverge = match &check.comparison {
        Comparison::Agree { .. } => {
            text.push_str("comparison: agree\n");
            false
        }
        Comparison::Inconclusive { why } => {
            text.push_str("comparison: inconclusive");
            if !why.is_empty() {
                text.push_str(&format!(" ({})", why.join("; ")));
            }
            text.push('\n');
            false
        }
        Comparison::Diverge { differences } => {
            text.push_str("comparison: DIVERGE\n");
            for d in differences {
                text.push_str(&format!("  {d}\n"));
            }
            true
        }
    };
    output::println(text.trim_end())?;
    Ok(if diverge {
        ExitCode::from(EXIT_TESTS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
