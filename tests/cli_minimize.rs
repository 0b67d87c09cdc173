//! `bpfdiff minimize`: the targets of issue 11 (a generated 100-instruction
//! rbpf divergence shrinks to 5 instructions or fewer; a kernel divergence
//! shrinks too), every input and output format, determinism, and the exit
//! codes (1 when nothing diverges, 2 on bad input).

mod common;
mod minimize_support;

use bpfdiff::fuzz_glue::regression_data;
use common::{assert_input_error, bpfdiff, stderr, stdout, Scratch};
use std::time::Instant;

/// Minimizes `file` with `args` and returns stdout, checking exit 0.
fn minimized(file: &std::path::Path, args: &[&str]) -> String {
    let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"minimize", &file];
    for a in args {
        all.push(a);
    }
    let out = bpfdiff(&all);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    stdout(&out)
}

/// Instructions in kernel-syntax text (comment lines excluded).
fn instructions(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with(';'))
        .count()
}

#[test]
fn a_generated_100_instruction_rbpf_divergence_shrinks_to_5_or_fewer() {
    let (seed, case) = minimize_support::generated_rbpf_case(0);
    assert!(case.program.len() >= 100, "seed {seed}");
    let dir = Scratch::new("minimize-rbpf");
    let file = dir.write("generated.data", regression_data(&case).unwrap());
    let start = Instant::now();
    let text = minimized(&file, &["--backends", "interp,rbpf"]);
    let took = start.elapsed();
    let n = instructions(&text);
    eprintln!(
        "seed {seed}: {} slots -> {n} instructions in {took:?}:\n{text}",
        case.program.len()
    );
    assert!(n <= 5, "{n} instructions:\n{text}");
    // The process (debug build, rbpf worker start-up included) must stay
    // within a few seconds; the 1 s target is measured in release by
    // `cargo bench --bench minimize`.
    assert!(took.as_secs_f64() < 20.0, "{took:?}");
}

#[test]
fn a_kernel_divergence_buried_in_100_instructions_shrinks_within_30_s() {
    let Some((seed, case)) = minimize_support::buried_kernel_case(0) else {
        return;
    };
    assert!(case.program.len() >= 100, "seed {seed}");
    let dir = Scratch::new("minimize-kernel");
    let file = dir.write("buried.data", regression_data(&case).unwrap());
    let out_file = dir.path().join("min.data");
    let start = Instant::now();
    let out = bpfdiff(&[
        &"minimize",
        &file,
        &"--backends",
        &"interp,kernel",
        &"-o",
        &out_file,
    ]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let min = bpfdiff::minimize::case_file::read_case(&out_file, None).unwrap();
    eprintln!(
        "seed {seed}: {} slots -> {} in {took:?}\n{}",
        case.program.len(),
        min.program.len(),
        stderr(&out)
    );
    assert!(min.program.len() <= 4, "{:?}", min.program);
    assert!(took.as_secs_f64() <= 30.0, "{took:?}");
    // Still the same finding: the engine refuses, the kernel accepts.
    // (`bpfdiff diff` and `run` refuse the file, naming the reserved field.)
    minimize_support::use_worker();
    let names = ["interp".to_string(), "kernel".to_string()];
    let mut h = bpfdiff::fuzz_glue::DiffHarness::new(
        &names,
        bpfdiff::known_rules::builtin().unwrap(),
        false,
    )
    .unwrap();
    let check = h.check(&min);
    let bpfdiff_oracle::Comparison::Diverge { differences } = &check.comparison else {
        panic!("{:?}", check.comparison)
    };
    assert_eq!(
        differences[0].known.as_deref(),
        Some("kernel-skips-dead-code-reserved-fields")
    );
}

/// A hand-written rbpf divergence with filler to remove (rule
/// rbpf-jmp-imm-zero-extended: RFC 9669 §4.3 sign-extends the immediate).
const RBPF_JEQ: &str = "r6 = 3\nr7 = r6\nw1 = -1\nr7 += 9\nr0 = 0\n\
    *(u64 *)(r10 -8) = r7\nif r1 == -1 goto +1\nr0 = 1\nr0 += r6\nexit\n";

#[test]
fn every_output_format_loads_back_with_run_and_the_output_is_deterministic() {
    minimize_support::use_worker();
    let dir = Scratch::new("minimize-formats");
    let file = dir.write("jeq.s", RBPF_JEQ);
    let printed = minimized(&file, &["--backends", "interp,rbpf"]);
    assert_eq!(printed, minimized(&file, &["--backends", "interp,rbpf"]));
    assert!(instructions(&printed) <= 5, "{printed}");
    let printed_file = dir.write("printed.s", &printed);
    let reference = stdout(&bpfdiff(&[&"run", &printed_file]));
    for name in ["m.data", "m.bin", "m.s", "m.json"] {
        let out = dir.path().join(name);
        minimized(
            &file,
            &["--backends", "interp,rbpf", "-o", out.to_str().unwrap()],
        );
        let read_back = bpfdiff::minimize::case_file::read_case(&out, None).unwrap();
        assert!(read_back.program.len() <= 5, "{name}");
        if name.ends_with(".json") {
            continue; // `run` does not read case.json; read_case did.
        }
        let run = bpfdiff(&[&"run", &out]);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", stderr(&run));
        assert_eq!(stdout(&run), reference, "{name}");
    }
    // The minimized case still diverges the same way.
    let again = bpfdiff(&[
        &"diff",
        &dir.path().join("m.data"),
        &"--backends",
        &"interp,rbpf",
    ]);
    assert!(stdout(&again).contains("[known: rbpf-jmp-imm-zero-extended]"));
}

#[test]
fn progress_goes_to_stderr_with_size_and_time() {
    minimize_support::use_worker();
    let dir = Scratch::new("minimize-progress");
    let file = dir.write("jeq.s", RBPF_JEQ);
    let out = bpfdiff(&[&"minimize", &file, &"--backends", &"interp,rbpf"]);
    let err = stderr(&out);
    assert!(err.contains("minimize: round 1 ddmin"), "{err}");
    assert!(err.contains(" slots, ") && err.contains(" s"), "{err}");
    assert!(!stdout(&out).contains("minimize:"));
}

#[test]
fn a_case_that_does_not_diverge_exits_1() {
    let dir = Scratch::new("minimize-agree");
    let file = dir.write("agree.s", "r0 = 1\nexit\n");
    let out = bpfdiff(&[&"minimize", &file, &"--backends", &"interp,jit"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing to minimize: the case does not diverge on interp,jit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_input_exits_2_naming_the_place() {
    let dir = Scratch::new("minimize-bad");
    let json = dir.write("case.json", "{\n  \"program\": [\"b700\"]\n}\n");
    assert_input_error(
        &bpfdiff(&[&"minimize", &json, &"--backends", &"interp,jit"]),
        "program[0]: expected 16 hex digits",
    );
    let asm = dir.write("bad.s", "r0 = 1\nfrob r1\nexit\n");
    assert_input_error(&bpfdiff(&[&"minimize", &asm]), "bad.s:2:");
    let good = dir.write("good.s", RBPF_JEQ);
    assert_input_error(
        &bpfdiff(&[&"minimize", &good, &"-o", &"out.elf"]),
        "out.elf: cannot tell the output format",
    );
    let unknown = dir.write("case.xyz", "x");
    assert_input_error(
        &bpfdiff(&[&"minimize", &unknown]),
        "case.xyz: cannot tell the format",
    );
}

#[test]
fn fuzz_artifacts_are_read_as_fuzz_inputs() {
    minimize_support::use_worker();
    let dir = Scratch::new("minimize-fuzz");
    let program = bpfdiff_engine::asm::kernel::assemble(RBPF_JEQ).unwrap();
    let case = bpfdiff::gen::Case::new(program, vec![5, 6, 7]);
    let artifact = dir.write("crash-0123", case.to_fuzz_bytes());
    let text = minimized(
        &artifact,
        &["--backends", "interp,rbpf", "--format", "fuzz-diff"],
    );
    assert!(instructions(&text) <= 5, "{text}");
}

/// The predicate is the divergence signature on the same backends, not
/// just "still diverges in the same aspect": a candidate whose r0 differs
/// on the same backend because of another bug (another opcode row) is a
/// different divergence and must not replace the case.
#[test]
fn a_candidate_diverging_differently_in_the_same_aspect_is_refused() {
    use bpfdiff::minimize::{Case, DiffPredicate, Predicate};
    use bpfdiff_engine::asm::kernel::assemble;
    std::env::set_var(
        bpfdiff_oracle::backend::worker::WORKER_ENV,
        env!("CARGO_BIN_EXE_bpfdiff"),
    );
    let case = |asm: &str| Case::new(assemble(asm).unwrap(), Vec::new());
    let names: Vec<String> = ["interp", "rbpf-jit"].map(String::from).to_vec();
    // RFC 9669 §4.1: a 32-bit MOD by zero leaves dst's low 32 bits,
    // zero-extended (0x1234); rbpf 0.4.1's JIT keeps all 64 bits.
    let original = case("r1 = 0xffffffff00001234 ll\nw1 %= 0\nr0 = r1\nexit\n");
    let rules = bpfdiff_oracle::KnownRules::default();
    let (mut predicate, _) = DiffPredicate::new(&names, rules, &original).unwrap();
    assert!(predicate.holds(&original));
    // The same bug with another register and value: the same signature.
    let same = case("r3 = 0x8000000000000099 ll\nw3 %= 0\nr0 = r3\nexit\n");
    assert!(predicate.holds(&same), "{}", predicate.target());
    // RFC 9669 §4.1: `w0 = w1` zero-extends; rbpf's JIT copies all 64 bits.
    // r0 differs on rbpf-jit too, but through mov32_reg: another bug.
    let other_bug = case("r1 = 0xffffffff00001234 ll\nw0 = w1\nexit\n");
    assert!(!predicate.holds(&other_bug), "{}", predicate.target());
}
