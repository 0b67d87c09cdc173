//! Known divergences: named, explained rules that mark a difference as
//! already triaged. Rules are data (JSON: the project's
//! `corpus/known-divergences.json`, which the `bpfdiff` binary embeds, plus
//! any file a user names); each match is counted and shown in every summary,
//! so nothing is dropped silently. The list grows only from divergences that
//! were observed and triaged.

use crate::compare::{Comparison, Difference};
use bpfdiff_engine::Program;
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

/// One triaged divergence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownRule {
    /// A short unique name (kebab-case).
    pub name: String,
    /// Why the backends differ and which side is right.
    pub reason: String,
    /// The backend whose difference this explains.
    pub backend: String,
    /// The aspect (`verdict`, `ending`, `r0`, `memory`, `fault-kind`,
    /// `fault-pc`, `unsafe-accepted`, `crash`).
    pub aspect: String,
    /// The rule applies only when the program uses one of these opcode-table
    /// rows (by `OpcodeRow::name()` or mnemonic); empty = any program.
    #[serde(default)]
    pub program_uses: Vec<String>,
    /// The rule applies only when the difference's detail contains this text.
    #[serde(default)]
    pub detail_contains: Option<String>,
}

/// Why the rules file could not be read.
#[derive(Debug, Error)]
pub enum KnownRulesError {
    /// The file could not be read (a missing file included: a rules file
    /// that was named must exist).
    #[error("{path}: cannot read the known-divergence rules: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not valid JSON for a rule list.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
}

/// The rules, with a match counter per rule and the names of the sources
/// they came from (for summaries).
#[derive(Clone, Debug, Default)]
pub struct KnownRules {
    rules: Vec<KnownRule>,
    hits: Vec<u64>,
    sources: Vec<String>,
}

impl KnownRules {
    /// Rules from a list.
    pub fn new(rules: Vec<KnownRule>) -> KnownRules {
        let hits = vec![0; rules.len()];
        KnownRules {
            rules,
            hits,
            sources: Vec::new(),
        }
    }

    /// Parses a rules list (a JSON array) from `text`; `origin` names it in
    /// errors and summaries.
    pub fn parse(text: &str, origin: &str) -> Result<KnownRules, KnownRulesError> {
        let rules: Vec<KnownRule> =
            serde_json::from_str(text).map_err(|e| KnownRulesError::Parse {
                path: origin.to_string(),
                line: e.line(),
                message: e.to_string(),
            })?;
        let mut known = KnownRules::new(rules);
        known.sources.push(origin.to_string());
        Ok(known)
    }

    /// Reads a rules file (a JSON array). A missing file is an error: a file
    /// that was named but is not there must not silently mean "no rules".
    pub fn load(path: &Path) -> Result<KnownRules, KnownRulesError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KnownRulesError::Io {
            path: origin.clone(),
            source,
        })?;
        KnownRules::parse(&text, &origin)
    }

    /// Adds `more` after these rules; a rule of `more` with the name of an
    /// existing rule replaces it (so a newer copy of the same file
    /// overrides, and naming it twice does not count matches twice).
    pub fn extend(&mut self, more: KnownRules) {
        for (rule, hits) in more.rules.into_iter().zip(more.hits) {
            match self.rules.iter().position(|r| r.name == rule.name) {
                Some(i) => {
                    self.rules[i] = rule;
                    self.hits[i] = hits;
                }
                None => {
                    self.rules.push(rule);
                    self.hits.push(hits);
                }
            }
        }
        self.sources.extend(more.sources);
    }

    /// Where the rules came from, in the order added (empty for rules built
    /// with [`KnownRules::new`] or [`Default`]).
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The rules.
    pub fn rules(&self) -> &[KnownRule] {
        &self.rules
    }

    fn matches(rule: &KnownRule, program: &Program, d: &Difference) -> bool {
        if rule.backend != d.backend || rule.aspect != d.aspect.name() {
            return false;
        }
        if let Some(text) = &rule.detail_contains {
            if !d.detail.contains(text.as_str()) {
                return false;
            }
        }
        if rule.program_uses.is_empty() {
            return true;
        }
        let Ok(decoded) = program.decode() else {
            return false;
        };
        decoded.iter().any(|(_, i)| {
            rule.program_uses
                .iter()
                .any(|u| *u == i.row.name() || u == i.row.mnemonic)
        })
    }

    /// Marks each difference that a rule explains, counting the match.
    pub fn apply(&mut self, program: &Program, comparison: &mut Comparison) {
        let Comparison::Diverge { differences } = comparison else {
            return;
        };
        for d in differences.iter_mut() {
            if let Some(i) = self.rules.iter().position(|r| Self::matches(r, program, d)) {
                d.known = Some(self.rules[i].name.clone());
                self.hits[i] += 1;
            }
        }
    }

    /// The match count of each rule, in rule order.
    pub fn hits(&self) -> &[u64] {
        &self.hits
    }

    /// For summaries: every rule that matched, with its count and reason,
    /// then how many rules did not match.
    pub fn summary(&self) -> String {
        let from = if self.sources.is_empty() {
            String::new()
        } else {
            format!(" from {}", self.sources.join(" + "))
        };
        if self.rules.is_empty() {
            return format!("known divergences: none defined{from}");
        }
        let matched: Vec<String> = self
            .rules
            .iter()
            .zip(&self.hits)
            .filter(|(_, &n)| n > 0)
            .map(|(r, n)| {
                format!(
                    "\n  {} ({} on {}): {n} match(es) — {}",
                    r.name, r.aspect, r.backend, r.reason
                )
            })
            .collect();
        format!(
            "known divergences: {} rule(s){from}, {} matched{}\n  {} rule(s) without a match",
            self.rules.len(),
            matched.len(),
            matched.concat(),
            self.rules.len() - matched.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, reason: &str) -> KnownRule {
        KnownRule {
            name: name.into(),
            reason: reason.into(),
            backend: "rbpf".into(),
            aspect: "r0".into(),
            program_uses: Vec::new(),
            detail_contains: None,
        }
    }

    #[test]
    fn a_missing_rules_file_is_an_error_naming_it() {
        let path =
            std::env::temp_dir().join(format!("bpfdiff-no-such-rules-{}.json", std::process::id()));
        let e = KnownRules::load(&path).unwrap_err();
        assert!(matches!(e, KnownRulesError::Io { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with(&path.display().to_string()), "{text}");
        assert!(text.contains("known-divergence rules"), "{text}");
    }

    #[test]
    fn extending_adds_rules_and_replaces_same_named_ones() {
        let mut base = KnownRules::parse(
            &serde_json::to_string(&vec![rule("a", "old"), rule("b", "b")]).unwrap(),
            "built-in",
        )
        .unwrap();
        let more = KnownRules::parse(
            &serde_json::to_string(&vec![rule("a", "new"), rule("c", "c")]).unwrap(),
            "extra.json",
        )
        .unwrap();
        base.extend(more);
        let names: Vec<_> = base.rules().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(base.rules()[0].reason, "new");
        assert_eq!(base.hits(), [0, 0, 0]);
        assert_eq!(base.sources(), ["built-in", "extra.json"]);
        assert!(base
            .summary()
            .starts_with("known divergences: 3 rule(s) from built-in + extra.json, 0 matched"));
    }

    #[test]
    fn parse_errors_name_the_origin_and_line() {
        let e = KnownRules::parse("[\n  {\"name\": 1}\n]", "x.json").unwrap_err();
        assert!(e.to_string().starts_with("x.json:2: "), "{e}");
    }
}
