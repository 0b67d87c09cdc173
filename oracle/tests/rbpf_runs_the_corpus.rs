//! Every corpus/conformance test runs on rbpf's interpreter and JIT without
//! the harness dying, and every difference from the engine is explained by
//! a triaged rule in corpus/known-divergences.json (docs/oracles.md lists
//! them and says which side is right).

use bpfdiff_engine::data::parse_data_file;
use bpfdiff_oracle::{diff, registry, KnownRules};
use std::path::{Path, PathBuf};

#[test]
fn rbpf_backends_run_the_whole_corpus_and_every_difference_is_triaged() {
    std::env::set_var(
        bpfdiff_oracle::backend::worker::WORKER_ENV,
        env!("CARGO_BIN_EXE_bpfdiff-worker"),
    );
    std::env::set_var(registry::WORKER_TIMEOUT_ENV, "300");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut rules = KnownRules::load(&root.join("corpus/known-divergences.json")).unwrap();
    let mut backends: Vec<_> = ["interp", "rbpf", "rbpf-jit"]
        .iter()
        .map(|n| registry::create(n).unwrap())
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("corpus/conformance"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    files.sort();
    let mut new = Vec::new();
    let mut known = 0;
    for path in &files {
        let test = parse_data_file(path).unwrap();
        let r = diff(&mut backends, &test.program, &test.mem, &mut rules);
        if r.comparison.has_new_divergence() {
            new.push(format!("{}: {:?}", name(path), r.comparison));
        } else if matches!(r.comparison, bpfdiff_oracle::Comparison::Diverge { .. }) {
            known += 1;
        }
    }
    eprintln!(
        "{} files; {known} with only known divergences\n{}",
        files.len(),
        rules.summary()
    );
    assert!(files.len() > 200);
    assert!(
        known > 0,
        "rbpf's known divergences must show up on the corpus"
    );
    assert!(new.is_empty(), "untriaged divergences:\n{}", new.join("\n"));
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}
