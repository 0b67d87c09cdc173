//! Every fuzz target runs here for about a second as a plain test (the
//! regalloc2 practice), through the same library functions the cargo-fuzz
//! binaries call, on its seed corpus and the custom mutator's output, so
//! that no target rots between fuzzing runs. Also checks that the seed
//! files are the cases of the programs they were made from
//! (`BPFDIFF_BLESS_SEEDS=1 cargo test --test fuzz_smoke` rewrites them).

use bpfdiff::campaign::case_seed;
use bpfdiff::fuzz_glue::{self, FuzzTarget};
use bpfdiff::gen::{seeded, Case, Knobs, Tier};
use bpfdiff_engine::asm::{conformance, kernel};
use bpfdiff_engine::data::{self, Expected};
use bpfdiff_engine::interp::{run_program, ExecResult, DEFAULT_BUDGET};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

/// How long each target runs.
const BUDGET: Duration = Duration::from_millis(1000);
/// Most inputs per target, so that slow and fast machines test nearly the
/// same inputs.
const MAX_INPUTS: usize = 3000;

fn setup() {
    static WORKER: Once = Once::new();
    // rbpf runs in a worker process: the bpfdiff binary serves the protocol.
    WORKER.call_once(|| {
        std::env::set_var(
            bpfdiff_oracle::backend::worker::WORKER_ENV,
            env!("CARGO_BIN_EXE_bpfdiff"),
        )
    });
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let seeds: Vec<Vec<u8>> = files_in(&root().join("corpus/seeds").join(target))
        .iter()
        .map(|p| std::fs::read(p).expect("readable seed"))
        .collect();
    assert!(!seeds.is_empty(), "corpus/seeds/{target} is empty");
    seeds
}

/// Runs `body` on the seeds interleaved with mutations of them, for
/// [`BUDGET`] (at most [`MAX_INPUTS`] inputs).
fn fuzz_for_a_while(
    target: &str,
    mutator: Option<FuzzTarget>,
    mut body: impl FnMut(&[u8]),
) -> usize {
    let seeds = seeds(target);
    let start = Instant::now();
    let mut buf = vec![0u8; 4096];
    let mut i = 0u64;
    while i < 2 || (start.elapsed() < BUDGET && (i as usize) < MAX_INPUTS) {
        let seed = &seeds[(i / 2) as usize % seeds.len()];
        if i % 2 == 0 {
            body(seed);
            i += 1;
            continue;
        }
        let mut len = seed.len().min(buf.len());
        buf[..len].copy_from_slice(&seed[..len]);
        match mutator {
            Some(t) => {
                for round in 0..3 {
                    len = fuzz_glue::mutate(t, &mut buf, len, 4096, (i * 3 + round) as u32);
                }
            }
            None => {
                // Byte-level: flip, insert and drop bytes at PRNG positions.
                let noise = seeded::bytes(i, 16);
                for pair in noise.chunks(2) {
                    let at = pair[0] as usize % len.max(1);
                    match pair[1] % 3 {
                        0 if len > 0 => buf[at] ^= pair[1],
                        1 if len < buf.len() => {
                            buf.copy_within(at..len, at + 1);
                            buf[at] = pair[1];
                            len += 1;
                        }
                        _ if len > 0 => {
                            buf.copy_within(at + 1..len, at);
                            len -= 1;
                        }
                        _ => {}
                    }
                }
            }
        }
        body(&buf[..len]);
        i += 1;
    }
    i as usize
}

#[test]
fn diff_target_runs() {
    setup();
    let runs = fuzz_for_a_while("diff", Some(FuzzTarget::Diff), fuzz_glue::fuzz_diff);
    eprintln!("diff: {runs} inputs");
}

#[test]
fn interp_vs_jit_target_runs() {
    let runs = fuzz_for_a_while(
        "interp_vs_jit",
        Some(FuzzTarget::InterpVsJit),
        fuzz_glue::fuzz_interp_vs_jit,
    );
    eprintln!("interp_vs_jit: {runs} inputs");
}

#[test]
fn kernel_target_runs() {
    if let Some(why) = fuzz_glue::kernel_unavailable() {
        eprintln!("SKIPPED (kernel target idles): {why}");
    }
    let runs = fuzz_for_a_while("kernel", Some(FuzzTarget::Kernel), fuzz_glue::fuzz_kernel);
    eprintln!("kernel: {runs} inputs");
}

#[test]
fn parsers_target_runs() {
    let runs = fuzz_for_a_while("parsers", None, fuzz_glue::check_parsers);
    eprintln!("parsers: {runs} inputs");
}

/// Every seed file, by path relative to `corpus/seeds`, and its bytes.
fn expected_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let programs = files_in(&root().join("corpus/seeds/programs"));
    let conformance = files_in(&root().join("corpus/conformance"));
    let literal = |path: &Path| {
        let test = data::parse_data_file(path).expect("a readable .data source");
        Case::new(test.program, test.mem).to_fuzz_bytes()
    };
    let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    for p in programs.iter().chain(&conformance) {
        for target in ["diff", "interp_vs_jit"] {
            out.push((format!("{target}/{}", stem(p)), literal(p)));
        }
    }
    for p in &programs {
        out.push((format!("kernel/{}", stem(p)), literal(p)));
        // The parsers target reads text: the .data file and both syntaxes.
        let text = std::fs::read(p).unwrap();
        out.push((format!("parsers/{}.data", stem(p)), text));
        let program = data::parse_data_file(p).unwrap().program;
        let asm = kernel::disassemble(&program).unwrap();
        out.push((format!("parsers/{}.s", stem(p)), asm.into_bytes()));
        let casm = conformance::disassemble(&program).unwrap();
        out.push((format!("parsers/{}.casm", stem(p)), casm.into_bytes()));
    }
    let knobs = Knobs::default();
    for i in 0..48 {
        let case = seeded::case(Tier::Verifier, &knobs, case_seed(0xfeed, i));
        out.push((format!("kernel/verifier-tier-{i}"), case.to_fuzz_bytes()));
    }
    for i in 0..16 {
        let case = seeded::case(Tier::Grammar, &knobs, case_seed(0xfeed, i));
        for target in ["diff", "interp_vs_jit"] {
            out.push((format!("{target}/grammar-tier-{i}"), case.to_fuzz_bytes()));
        }
    }
    out
}

#[test]
fn seed_files_are_the_cases_of_their_sources() {
    let bless = std::env::var_os("BPFDIFF_BLESS_SEEDS").is_some();
    let dir = root().join("corpus/seeds");
    let (mut stale, mut missing) = (Vec::new(), 0);
    for (rel, bytes) in expected_seeds() {
        let path = dir.join(&rel);
        match std::fs::read(&path) {
            Ok(have) if have == bytes => {}
            _ if bless => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &bytes).unwrap();
            }
            Ok(_) => stale.push(rel),
            Err(_) => missing += 1,
        }
    }
    if missing > 0 {
        // A source added since the last bless (a new conformance test):
        // not an error, the seed set just misses it.
        eprintln!("{missing} seed file(s) not written yet; BPFDIFF_BLESS_SEEDS=1 writes them");
    }
    assert!(
        stale.is_empty(),
        "seed files differ from their sources (run with BPFDIFF_BLESS_SEEDS=1): {stale:?}"
    );
}

#[test]
fn hand_written_seed_programs_give_their_stated_results() {
    for p in files_in(&root().join("corpus/seeds/programs")) {
        let test = data::parse_data_file(&p).unwrap();
        let mut mem = test.mem.clone();
        let e = run_program(&test.program, &mut mem, DEFAULT_BUDGET).unwrap();
        match (test.expected, e.result) {
            (Expected::Result(want), ExecResult::Returned { r0, .. }) => {
                assert_eq!(r0, want, "{}", p.display())
            }
            (want, got) => panic!("{}: expected {want:?}, got {got}", p.display()),
        }
    }
}
