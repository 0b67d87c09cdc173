//! The CI files cannot run here, so they are linted: every YAML file under
//! .github/workflows and .clusterfuzzlite parses; every workflow has `on`
//! and `jobs`, every job `runs-on` and `steps`, every action a pinned
//! version; every `run:` step that names a repository script names a file
//! that exists and is executable; ci.yml runs the README's two commands
//! (set-up first); the nightly runs scripts/nightly.sh and opens an
//! issue on exit 1; ClusterFuzzLite builds Rust with an executable build.sh.

use serde_yaml::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The YAML files directly under `dir` (relative to the repository).
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    files
}

fn parse(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The shell words of a `run:` script: split at blanks, quotes and
/// operators, so that `a && scripts/x.sh --flag` yields `scripts/x.sh`.
fn words(script: &str) -> impl Iterator<Item = &str> {
    script
        .split(|c: char| c.is_whitespace() || "\"';&|()`".contains(c))
        .filter(|w| !w.is_empty())
}

/// The repository scripts a `run:` script names (`scripts/…`,
/// `.clusterfuzzlite/…`, with or without `./`).
fn scripts_named(script: &str) -> Vec<String> {
    words(script)
        .map(|w| w.trim_start_matches("./"))
        .filter(|w| w.starts_with("scripts/") || w.starts_with(".clusterfuzzlite/"))
        .map(str::to_string)
        .collect()
}

/// Every problem with one workflow document (empty when it is fine).
fn workflow_problems(name: &str, doc: &Value, repo: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    // YAML 1.2 (serde_yaml) reads `on` as a string; YAML 1.1 as `true`.
    if doc.get("on").is_none() && doc.get(Value::Bool(true)).is_none() {
        problems.push(format!("{name}: no `on`"));
    }
    let Some(jobs) = doc.get("jobs").and_then(Value::as_mapping) else {
        problems.push(format!("{name}: no `jobs`"));
        return problems;
    };
    if jobs.is_empty() {
        problems.push(format!("{name}: `jobs` is empty"));
    }
    for (job_name, job) in jobs {
        let job_name = job_name.as_str().unwrap_or("?");
        if job.get("runs-on").is_none() {
            problems.push(format!("{name}: job {job_name} has no `runs-on`"));
        }
        let Some(steps) = job.get("steps").and_then(Value::as_sequence) else {
            problems.push(format!("{name}: job {job_name} has no `steps`"));
            continue;
        };
        for (i, step) in steps.iter().enumerate() {
            let place = format!("{name}: job {job_name} step {i}");
            match (step.get("run"), step.get("uses")) {
                (Some(run), None) => {
                    let Some(script) = run.as_str() else {
                        problems.push(format!("{place}: `run` is not text"));
                        continue;
                    };
                    for s in scripts_named(script) {
                        let path = repo.join(&s);
                        match std::fs::metadata(&path) {
                            Err(_) => {
                                problems.push(format!("{place}: runs {s}, which does not exist"))
                            }
                            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                                problems.push(format!("{place}: runs {s}, which is not executable"))
                            }
                            Ok(_) => {}
                        }
                    }
                }
                (None, Some(uses)) => {
                    let action = uses.as_str().unwrap_or("");
                    if !action.contains('@') {
                        problems.push(format!("{place}: action {action:?} has no version"));
                    }
                }
                _ => problems.push(format!("{place}: needs exactly one of `run` and `uses`")),
            }
        }
    }
    problems
}

/// The `run:` texts of every step of every job, in order.
fn runs(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (_, job) in doc["jobs"].as_mapping().into_iter().flatten() {
        for step in job["steps"].as_sequence().into_iter().flatten() {
            if let Some(r) = step.get("run").and_then(Value::as_str) {
                out.push(r.to_string());
            }
        }
    }
    out
}

/// The commands of README.md's fenced `sh` blocks, in order.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match (&mut block, line.trim()) {
            (None, "```sh") => block = Some(String::new()),
            (Some(b), "```") => {
                commands.push(b.trim().to_string());
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    commands
}

/// Whether `script` runs `command` as a whole command: preceded by the start,
/// a blank or an operator, and followed by the end, a blank or an operator.
fn runs_command(script: &str, command: &str) -> bool {
    script.match_indices(command).any(|(i, _)| {
        let before = script[..i].chars().last();
        let after = script[i + command.len()..].chars().next();
        before.is_none_or(|c| c.is_whitespace() || "&|;(".contains(c))
            && after.is_none_or(|c| c.is_whitespace() || "&|;)".contains(c))
    })
}

#[test]
fn every_workflow_parses_and_names_scripts_that_exist() {
    let files = yaml_files(".github/workflows");
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["ci.yml", "nightly.yml", "cflite_pr.yml", "cflite_batch.yml"] {
        assert!(
            names.iter().any(|n| n == expected),
            "no .github/workflows/{expected}"
        );
    }
    let mut problems = Vec::new();
    for (path, name) in files.iter().zip(&names) {
        problems.extend(workflow_problems(name, &parse(path), root()));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_lint_catches_what_it_is_for() {
    let scratch = std::env::temp_dir().join(format!("bpfdiff-lint-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("scripts")).unwrap();
    std::fs::write(scratch.join("scripts/plain.sh"), "#!/bin/sh\n").unwrap();
    let doc: Value = serde_yaml::from_str(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n\
         \x20     - run: scripts/missing.sh && ./scripts/plain.sh --x\n\
         \x20     - uses: actions/checkout\n  b:\n    steps: []\n",
    )
    .unwrap();
    let problems = workflow_problems("t.yml", &doc, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(
        problems,
        [
            "t.yml: job a step 0: runs scripts/missing.sh, which does not exist",
            "t.yml: job a step 0: runs scripts/plain.sh, which is not executable",
            "t.yml: job a step 1: action \"actions/checkout\" has no version",
            "t.yml: job b has no `runs-on`",
        ]
    );
    let empty: Value = serde_yaml::from_str("name: x\n").unwrap();
    assert_eq!(
        workflow_problems("e.yml", &empty, root()),
        ["e.yml: no `on`", "e.yml: no `jobs`"]
    );
    assert!(runs_command(
        "sudo -E env \"PATH=$PATH\" cargo test --workspace",
        "cargo test --workspace"
    ));
    assert!(!runs_command(
        "cargo test --workspace-foo",
        "cargo test --workspace"
    ));
    assert!(!runs_command(
        "echo xcargo test --workspace",
        "cargo test --workspace"
    ));
}

#[test]
fn ci_runs_the_readme_test_command_after_setup_on_push_and_pull_request() {
    let commands = readme_commands();
    assert!(
        commands.len() >= 2,
        "README.md has fewer than two sh blocks"
    );
    let setup_command = &commands[0];
    let test_command = &commands[1];
    assert_eq!(
        test_command.lines().count(),
        1,
        "README's second command: {test_command}"
    );
    let ci = parse(&root().join(".github/workflows/ci.yml"));
    for event in ["push", "pull_request"] {
        assert!(
            ci["on"].get(event).is_some(),
            "ci.yml does not run on {event}"
        );
    }
    let runs = runs(&ci);
    let setup = runs
        .iter()
        .position(|r| scripts_named(r).iter().any(|s| s == "scripts/setup.sh"));
    let test = runs.iter().position(|r| runs_command(r, test_command));
    let (Some(setup), Some(test)) = (setup, test) else {
        panic!("ci.yml must run scripts/setup.sh and then `{test_command}`: {runs:?}");
    };
    assert!(
        setup < test,
        "ci.yml runs the tests before scripts/setup.sh"
    );
    assert!(
        runs.iter().any(|r| runs_command(r, setup_command)),
        "ci.yml does not run README's first command `{setup_command}`"
    );
}

#[test]
fn the_nightly_runs_the_script_uploads_and_opens_an_issue_on_a_finding() {
    let doc = parse(&root().join(".github/workflows/nightly.yml"));
    assert!(
        doc["on"].get("schedule").is_some(),
        "nightly.yml has no cron schedule"
    );
    let text = std::fs::read_to_string(root().join(".github/workflows/nightly.yml")).unwrap();
    let runs = runs(&doc);
    assert!(runs
        .iter()
        .any(|r| scripts_named(r).iter().any(|s| s == "scripts/nightly.sh")));
    assert!(text.contains("actions/upload-artifact@") && text.contains("nightly/"));
    assert!(text.contains("actions/cache@") && text.contains("fuzz/corpus"));
    assert!(text.contains("steps.nightly.outputs.code == '1'") && text.contains("gh issue create"));
}

#[test]
fn clusterfuzzlite_builds_rust_with_an_executable_build_script() {
    let files = yaml_files(".clusterfuzzlite");
    assert!(!files.is_empty(), "no YAML under .clusterfuzzlite");
    for f in &files {
        parse(f);
    }
    let project = parse(&root().join(".clusterfuzzlite/project.yaml"));
    assert_eq!(project["language"].as_str(), Some("rust"));
    let build = root().join(".clusterfuzzlite/build.sh");
    let mode = std::fs::metadata(&build)
        .expect(".clusterfuzzlite/build.sh")
        .permissions()
        .mode();
    assert_ne!(mode & 0o111, 0, "build.sh is not executable");
    let script = std::fs::read_to_string(&build).unwrap();
    assert!(script.contains("cargo fuzz build") && script.contains("$OUT"));
    let docker = std::fs::read_to_string(root().join(".clusterfuzzlite/Dockerfile")).unwrap();
    assert!(docker.contains("FROM gcr.io/oss-fuzz-base/base-builder-rust"));
    assert!(docker.contains("COPY .clusterfuzzlite/build.sh $SRC/"));
    for wf in ["cflite_pr.yml", "cflite_batch.yml"] {
        let doc = parse(&root().join(".github/workflows").join(wf));
        let text = serde_yaml::to_string(&doc).unwrap();
        assert!(
            text.contains("google/clusterfuzzlite/actions/build_fuzzers@"),
            "{wf}"
        );
        assert!(
            text.contains("google/clusterfuzzlite/actions/run_fuzzers@"),
            "{wf}"
        );
        assert!(text.contains("language: rust"), "{wf} does not build Rust");
    }
}
