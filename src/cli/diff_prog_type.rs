//! `bpfdiff diff --prog-type T`: a program of a native type
//! (docs/program-types.md) on the engine (verifier + interpreter) and on
//! the kernel (loaded as its type, BPF_PROG_TEST_RUN on the same packet).
//! The comparison is the library's ([`bpfdiff::native_diff`]), shared
//! with the packet tiers of `bpfdiff campaign`. Backends that run only
//! the input model say so and are not compared.

use super::{output, EXIT_TESTS_FAILED};
use bpfdiff::native_diff;
use bpfdiff_engine::prog_type::env::RunEnv;
use bpfdiff_engine::Program;
use bpfdiff_oracle::{Comparison, Execution, Outcome, Verdict};
use std::process::ExitCode;

fn summary(o: &Outcome) -> String {
    match (&o.verdict, &o.execution) {
        (Verdict::Rejected { reason, .. }, _) => format!("rejected: {reason}"),
        (_, Execution::Returned { r0, .. }) => {
            let d = if r0.derived { " (pointer-derived)" } else { "" };
            format!("retval {:#x}{d}", r0.bits)
        }
        (_, Execution::NotRun { why }) => format!("not run: {why}"),
        (_, e) => e.to_string(),
    }
}

/// Runs `program` as `env.prog_type` on the backends `names`; exit 1 when
/// the engine and the kernel differ.
pub fn execute(program: &Program, env: &RunEnv, names: &[String]) -> anyhow::Result<ExitCode> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let check = native_diff::check(program, env, &names, true);
    let mut text = format!("program type: {}\n", env.prog_type);
    for o in &check.outcomes {
        text.push_str(&format!("{:8}  {}\n", o.backend, summary(o)));
    }
    let diverged = match &check.comparison {
        Comparison::Inconclusive { why } => {
            text.push_str(&format!("comparison: inconclusive ({})\n", why.join("; ")));
            false
        }
        Comparison::Agree { .. } => {
            text.push_str("comparison: agree\n");
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
    Ok(if diverged {
        ExitCode::from(EXIT_TESTS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
