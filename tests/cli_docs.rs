//! docs/cli.md documents every command and every flag the help text shows:
//! this test reads `bpfdiff --help` and `bpfdiff CMD --help` and fails on
//! any command or `--flag` that docs/cli.md does not mention.

mod common;

use common::{assert_success, bpfdiff};

fn docs() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md");
    std::fs::read_to_string(path).expect("read docs/cli.md")
}

/// The subcommands listed under `Commands:` in `bpfdiff --help`.
fn subcommands() -> Vec<String> {
    let help = assert_success(&bpfdiff(&[&"--help"]));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every `--flag` defined in a help text (lines that start with `-`).
fn flags(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in help.lines().map(str::trim_start) {
        if !line.starts_with('-') {
            continue;
        }
        let definition = line.split("  ").next().unwrap_or(line);
        for word in definition.split(|c: char| c == ',' || c.is_whitespace()) {
            if let Some(name) = word.strip_prefix("--") {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                out.push(format!("--{name}"));
            }
        }
    }
    out
}

/// True when `flag` occurs in `text` as a whole flag (not a prefix of a longer one).
fn mentions(text: &str, flag: &str) -> bool {
    text.match_indices(flag).any(|(at, _)| {
        let next = text[at + flag.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[test]
fn every_command_and_flag_is_documented() {
    let docs = docs();
    let commands = subcommands();
    assert!(commands.len() >= 8, "commands found: {commands:?}");
    let mut missing = Vec::new();
    let top = assert_success(&bpfdiff(&[&"--help"]));
    for flag in flags(&top) {
        if !mentions(&docs, &flag) {
            missing.push(format!("bpfdiff {flag}"));
        }
    }
    for command in &commands {
        if !docs.contains(&format!("## `bpfdiff {command}")) {
            missing.push(format!("section `## `bpfdiff {command} ...``"));
        }
        if !docs.contains(&format!("| `{command}` |")) {
            missing.push(format!("`{command}` in the command table"));
        }
        let help = assert_success(&bpfdiff(&[command, &"--help"]));
        let found = flags(&help);
        assert!(found.contains(&"--help".to_string()), "{command}: {help}");
        for flag in found {
            if !mentions(&docs, &flag) {
                missing.push(format!("bpfdiff {command} {flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "missing from docs/cli.md: {missing:#?}");
}

#[test]
fn the_flag_reader_sees_short_and_long_forms() {
    let help = "Options:\n  -o, --output <OUT>  Where\n      --mem-file <FILE>\n          text --not-a-flag\n";
    assert_eq!(flags(help), ["--output", "--mem-file"]);
    assert!(mentions("use `--mem` here", "--mem"));
    assert!(!mentions("use `--mem-file` here", "--mem"));
}

#[test]
fn the_readme_set_up_command_builds_every_binary_the_readme_names() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let setup = readme
        .lines()
        .find(|l| l.starts_with("scripts/setup.sh"))
        .expect("the set-up command");
    let named: Vec<&str> = readme
        .split("target/release/")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .next()
        })
        .collect();
    assert!(!named.is_empty());
    for bin in named {
        let built = setup.contains("cargo build --release --bins")
            || setup.contains(&format!("--bin {bin}"));
        assert!(
            built,
            "README names target/release/{bin}, but `{setup}` does not build it"
        );
    }
}
