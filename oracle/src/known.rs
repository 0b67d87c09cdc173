//! Known divergences: named, explained rules that mark a difference as
//! already triaged. Rules are data (a JSON file, `corpus/known-divergences.json`
//! by default); each match is counted and shown in every summary, so nothing
//! is dropped silently. The list starts empty and grows only from
//! divergences that were observed and triaged.

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
    /// The file could not be read.
    #[error("{path}: {source}")]
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

/// The rules, with a match counter per rule.
#[derive(Clone, Debug, Default)]
pub struct KnownRules {
    rules: Vec<KnownRule>,
    hits: Vec<u64>,
}

impl KnownRules {
    /// Rules from a list.
    pub fn new(rules: Vec<KnownRule>) -> KnownRules {
        let hits = vec![0; rules.len()];
        KnownRules { rules, hits }
    }

    /// Reads a rules file (a JSON array); a missing file means no rules.
    pub fn load(path: &Path) -> Result<KnownRules, KnownRulesError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(KnownRules::default()),
            Err(source) => {
                return Err(KnownRulesError::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let rules: Vec<KnownRule> =
            serde_json::from_str(&text).map_err(|e| KnownRulesError::Parse {
                path: path.display().to_string(),
                line: e.line(),
                message: e.to_string(),
            })?;
        Ok(KnownRules::new(rules))
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
        if self.rules.is_empty() {
            return "known divergences: none defined".to_string();
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
            "known divergences: {} rule(s), {} matched{}\n  {} rule(s) without a match",
            self.rules.len(),
            matched.len(),
            matched.concat(),
            self.rules.len() - matched.len()
        )
    }
}
