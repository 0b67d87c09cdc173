//! Which known-divergence rules a run uses.
//!
//! The project's triaged rules (`corpus/known-divergences.json`) are built
//! into the binary, so a run gives the same answer from any directory. On
//! top of them a user may name rule files (`--known FILE`, or the
//! `BPFDIFF_KNOWN` environment variable); a named file must exist. A file's
//! rule with the name of a built-in rule replaces it, so naming the
//! checkout's own (perhaps edited) copy of the file is harmless.
//! `--no-builtin-rules` keeps only the named files; `none` as the file name
//! runs with no rules at all.

use bpfdiff_oracle::known::KnownRulesError;
use bpfdiff_oracle::KnownRules;
use std::path::Path;
use thiserror::Error;

/// The project's rules file, as it was when this binary was built.
pub const BUILTIN_RULES_JSON: &str = include_str!("../corpus/known-divergences.json");

/// How the built-in rules are named in summaries and errors.
pub const BUILTIN_ORIGIN: &str = "built-in corpus/known-divergences.json";

/// The environment variable that names a rules file (or `none`) when no
/// `--known` is given.
pub const KNOWN_ENV: &str = "BPFDIFF_KNOWN";

/// The `--known` value that selects no rules at all.
pub const NONE: &str = "none";

/// Why the rules could not be chosen.
#[derive(Debug, Error)]
pub enum RuleChoiceError {
    /// A named rules file is missing, unreadable or malformed.
    #[error(transparent)]
    File(#[from] KnownRulesError),
    /// `none` was combined with a file.
    #[error("--known none cannot be combined with rule files (got `{0}` too)")]
    NoneWithFiles(String),
}

/// The built-in rules.
pub fn builtin() -> Result<KnownRules, KnownRulesError> {
    KnownRules::parse(BUILTIN_RULES_JSON, BUILTIN_ORIGIN)
}

/// The rules for `known` (the `--known` values, in order) and
/// `no_builtin` (`--no-builtin-rules`): the built-in rules unless left out,
/// then each file's. `["none"]` alone means no rules.
pub fn choose(known: &[String], no_builtin: bool) -> Result<KnownRules, RuleChoiceError> {
    if known.iter().any(|k| k == NONE) {
        if let Some(file) = known.iter().find(|k| *k != NONE) {
            return Err(RuleChoiceError::NoneWithFiles(file.clone()));
        }
        return Ok(KnownRules::default());
    }
    let mut rules = if no_builtin {
        KnownRules::default()
    } else {
        builtin()?
    };
    for file in known {
        rules.extend(KnownRules::load(Path::new(file))?);
    }
    Ok(rules)
}

/// The rules for the fuzz targets and tests: the built-in rules plus the
/// file `BPFDIFF_KNOWN` names, or no rules when it says `none`.
pub fn from_env() -> Result<KnownRules, RuleChoiceError> {
    choose(&env_known(), false)
}

/// The `--known` values `BPFDIFF_KNOWN` stands for: its value, or nothing
/// when it is unset or empty.
pub fn env_known() -> Vec<String> {
    std::env::var(KNOWN_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_parse_and_are_the_default() {
        let rules = choose(&[], false).unwrap();
        assert!(rules
            .rules()
            .iter()
            .any(|r| r.name == "rbpf-jmp-imm-zero-extended"));
        assert_eq!(rules.rules().len(), builtin().unwrap().rules().len());
        assert_eq!(rules.sources(), [BUILTIN_ORIGIN]);
    }

    #[test]
    fn none_means_no_rules_and_does_not_mix_with_files() {
        assert!(choose(&["none".into()], false).unwrap().rules().is_empty());
        assert!(matches!(
            choose(&["none".into(), "x.json".into()], false),
            Err(RuleChoiceError::NoneWithFiles(f)) if f == "x.json"
        ));
    }

    #[test]
    fn a_named_file_adds_to_or_replaces_the_builtin_rules() {
        let dir = std::env::temp_dir().join(format!("bpfdiff-known-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("extra.json");
        std::fs::write(
            &file,
            r#"[{"name":"extra-rule","reason":"test","backend":"rbpf","aspect":"r0"}]"#,
        )
        .unwrap();
        let name = file.display().to_string();
        let n = builtin().unwrap().rules().len();
        let added = choose(std::slice::from_ref(&name), false).unwrap();
        assert_eq!(added.rules().len(), n + 1);
        let only = choose(std::slice::from_ref(&name), true).unwrap();
        assert_eq!(only.rules().len(), 1);
        let missing = dir.join("missing.json").display().to_string();
        let e = choose(std::slice::from_ref(&missing), false).unwrap_err();
        assert!(e.to_string().starts_with(&missing), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
